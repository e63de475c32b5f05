// The architecture registry (models/architecture.h): the one list of
// registration lines, the lookups every layer derives its lists from, and
// the shared-block descriptions.
#include "optimum/models/architecture.h"
#include "optimum/models/seq2seq.h"

#include <algorithm>
#include <mutex>

#include "optimum/core/errors.h"
#include "optimum/models/decoder_spec.h"

namespace optimum::models {

namespace {

std::vector<Architecture>& table() {
  static std::vector<Architecture> t;
  return t;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Fills what an entry's parts derive from it, checks it is whole, and adds it
// here and to the config and task registries.
void add(Architecture a) {
  if (a.model_type.empty()) throw InvalidArgument("an architecture entry has no model_type");
  if (static_cast<int>(a.encoder.has_value()) + static_cast<int>(a.decoder.has_value()) +
          static_cast<int>(a.seq2seq.has_value()) !=
      1) {
    throw InvalidArgument("architecture '" + a.model_type +
                          "' must have exactly one loader (encoder, decoder or encoder-decoder)");
  }
  for (const Architecture& e : table()) {
    if (e.model_type == a.model_type) throw InvalidArgument("architecture '" + a.model_type + "' registered twice");
  }
  a.exports.model_type = a.model_type;
  a.exports.is_decoder = a.is_decoder();
  a.exports.is_seq2seq = a.is_seq2seq();
  if (a.seq2seq) {
    a.seq2seq->model_type = a.model_type;
    if (a.exports.tasks.empty()) throw InvalidArgument("encoder-decoder '" + a.model_type + "' lists no tasks");
  } else if (a.encoder) {
    Family& f = *a.encoder;
    f.model_type = a.model_type;
    f.positions = a.blocks.embeddings.positions_from_padding_index ? PositionStyle::FromPaddingIndex
                                                                   : PositionStyle::Absolute;
    f.uses_token_types = a.blocks.embeddings.token_types;
    a.exports.tasks.clear();
    for (tasks::Task t : f.tasks) a.exports.tasks.push_back(tasks::task_name(t));
    a.config.model_type = a.model_type;
    config::register_config_spec(a.config);
  } else {
    a.decoder->model_type = a.model_type;
    if (a.exports.tasks.empty()) throw InvalidArgument("decoder '" + a.model_type + "' lists no tasks");
    a.config.model_type = a.model_type;
    check_decoder_spec(a.config);
    if (a.decoder->parse_config) {
      throw InvalidArgument("decoder '" + a.model_type + "' sets parse_config: it is derived from its key table");
    }
    a.decoder->parse_config = [spec = a.config, blocks = a.blocks, family = *a.decoder](
                                  const io::Json& config, const std::string& source) {
      return read_decoder_config(config, spec, blocks, family, source);
    };
  }
  tasks::register_architecture(a.exports);
  table().push_back(std::move(a));
}

// One registration line per architecture.
void register_all() {
  for (Architecture& a : bert_architectures()) add(std::move(a));
  add(distilbert_architecture());
  add(albert_architecture());
  add(mpnet_architecture());
  add(vit_architecture());
  add(llama_architecture());
  add(mistral_architecture());
  add(qwen2_architecture());
  add(qwen3_architecture());
  add(gpt2_architecture());
  add(phi3_architecture());
  add(gemma_architecture());
  add(gemma3_text_architecture());
  add(t5_architecture());
  add(bart_architecture());
  add(mbart_architecture());
  add(marian_architecture());
  // The encoder-decoders' ONNX rows (exporters/onnx.h), beside their native ones.
  for (const std::string& t : tasks::seq2seq_model_types()) tasks::register_seq2seq_onnx(t, 1e-4);
}

}  // namespace

void register_architectures() {
  static std::once_flag once;
  std::call_once(once, register_all);
}

const std::vector<Architecture>& architectures() {
  register_architectures();
  return table();
}

const Architecture* find_architecture(const std::string& model_type) {
  register_architectures();
  for (const Architecture& a : table()) {
    if (a.model_type == model_type) return &a;
  }
  return nullptr;
}

const Architecture& architecture(const std::string& model_type) {
  if (const Architecture* a = find_architecture(model_type)) return *a;
  throw Unsupported("model_type '" + model_type + "' is not supported (supported: " +
                    join(supported_model_types()) + ")");
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> out;
  for (const Architecture& a : architectures()) out.push_back(a.model_type);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> architecture_tasks(const Architecture& arch) { return arch.exports.tasks; }

Architecture decoder_architecture(DecoderFamily loader, BlockOptions blocks, config::ConfigSpec spec,
                                  bool position_ids, bool text_classification) {
  Architecture a;
  a.model_type = loader.model_type;
  a.blocks = blocks;
  a.config = std::move(spec);
  a.exports.position_ids = position_ids;
  a.exports.tasks = {"feature-extraction", "text-generation"};
  if (text_classification) a.exports.tasks.emplace_back("text-classification");
  a.decoder = std::move(loader);
  return a;
}

Architecture seq2seq_architecture(Seq2SeqFamily loader, BlockOptions blocks) {
  Architecture a;
  a.model_type = loader.model_type;
  a.blocks = blocks;
  a.exports.tasks = {"text2text-generation"};
  a.seq2seq = std::move(loader);
  return a;
}

// ------------------------------------------------ derived lookups (registry.h, decoder.h)

const Family& find_family(const std::string& model_type) {
  const Architecture* a = find_architecture(model_type);
  if (a != nullptr && a->encoder) return *a->encoder;
  std::vector<std::string> names;
  for (const Architecture& e : architectures()) {
    if (e.encoder) names.push_back(e.model_type);
  }
  std::sort(names.begin(), names.end());
  throw Unsupported("model_type '" + model_type + "' is not supported (supported: " + join(names) + ")");
}

const DecoderFamily& decoder_family(const std::string& model_type) {
  const Architecture* a = find_architecture(model_type);
  if (a != nullptr && a->decoder) return *a->decoder;
  throw Unsupported("decoder model_type '" + model_type + "' is not supported (supported: " +
                    join(decoder_model_types()) + ")");
}

std::vector<std::string> decoder_model_types() {
  std::vector<std::string> out;
  for (const Architecture& a : architectures()) {
    if (a.decoder) out.push_back(a.model_type);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool is_decoder_model_type(const std::string& model_type) {
  const Architecture* a = find_architecture(model_type);
  return a != nullptr && a->decoder.has_value();
}

// ------------------------------------------------ shared-block descriptions

BlockOptions encoder_blocks() {
  BlockOptions b;
  b.embeddings.positions = PositionKind::Learned;
  b.embeddings.token_types = true;
  b.embeddings.norm = true;
  b.norm.kind = NormKind::LayerNorm;
  return b;
}

BlockOptions decoder_blocks() {
  BlockOptions b;
  b.embeddings.positions = PositionKind::Rope;
  b.attention.causal = true;
  b.attention.grouped_kv = true;
  b.mlp.gated = true;
  b.norm.kind = NormKind::RmsNorm;
  b.norm.pre_norm = true;
  return b;
}

std::string describe(const BlockOptions& b) {
  std::vector<std::string> parts;
  const EmbeddingOptions& e = b.embeddings;
  switch (e.positions) {
    case PositionKind::Rope:
      parts.emplace_back("RoPE positions");
      break;
    case PositionKind::Learned:
      parts.emplace_back(e.positions_from_padding_index ? "learned positions from the padding index"
                                                        : "learned positions");
      break;
    case PositionKind::Sinusoidal:
      parts.emplace_back("sinusoidal positions");
      break;
    case PositionKind::None:
      parts.emplace_back("no positions");
      break;
  }
  if (e.patches) parts.emplace_back("patch embeddings with a CLS token");
  if (e.token_types) parts.emplace_back("token types");
  if (e.factorized) parts.emplace_back("factorized embeddings");
  if (e.scaled) parts.emplace_back("scaled embeddings");
  const AttentionOptions& at = b.attention;
  std::string attn = at.causal ? "causal" : "bidirectional";
  attn += at.grouped_kv ? " grouped-query attention" : " multi-head attention";
  if (at.relative_bias) attn += " with a relative position bias";
  if (at.qk_norm) attn += ", q/k norms";
  if (at.sliding_window) attn += ", sliding window";
  if (at.soft_capping) attn += ", soft-capping";
  parts.push_back(attn);
  parts.emplace_back(b.mlp.gated ? "gated MLP" : "plain MLP");
  std::string norm = b.norm.sandwich ? "sandwich " : b.norm.pre_norm ? "pre-" : "post-";
  switch (b.norm.kind) {
    case NormKind::LayerNorm:
      norm += "LayerNorm";
      break;
    case NormKind::RmsNorm:
      norm += "RMSNorm";
      break;
    case NormKind::RmsNormPlusOne:
      norm += "RMSNorm (1 + w)";
      break;
  }
  if (b.norm.final_norm) norm += ", final norm";
  parts.push_back(norm);
  return join(parts);
}

}  // namespace optimum::models
