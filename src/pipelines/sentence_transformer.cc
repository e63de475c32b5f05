// SentenceTransformer: modules.json -> module chain, and encode() as
// sentence_transformers' SentenceTransformer.encode runs it.
#include "optimum/pipelines/sentence_transformer.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/io/json.h"
#include "optimum/models/decoder_heads.h"

namespace optimum::pipelines {

namespace fs = std::filesystem;

namespace {

// Config file names the Transformer module is read from, first found wins
// (sentence-transformers keeps the older per-family names for compatibility).
constexpr const char* kTransformerConfigs[] = {
    "sentence_bert_config.json",      "sentence_roberta_config.json", "sentence_distilbert_config.json",
    "sentence_camembert_config.json", "sentence_albert_config.json",  "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json"};

enum class ModuleKind { Transformer, Pooling, Dense, Normalize };

struct ModuleEntry {
  std::string name;
  std::string path;
  std::string type;
  ModuleKind kind;
};

io::Json read_optional_json(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec) ? io::read_json(path) : io::Json::object();
}

// The class name of a modules.json type when it is a module this build runs.
std::optional<ModuleKind> module_kind(const std::string& type) {
  if (type.rfind("sentence_transformers.", 0) != 0) return std::nullopt;
  const std::string cls = type.substr(type.rfind('.') + 1);
  if (cls == "Transformer") return ModuleKind::Transformer;
  if (cls == "Pooling") return ModuleKind::Pooling;
  if (cls == "Dense") return ModuleKind::Dense;
  if (cls == "Normalize") return ModuleKind::Normalize;
  return std::nullopt;
}

// Reads modules.json; FormatError naming the file and the JSON path for a
// wrong type ("name" and "path" may be missing, as in older exports, but not
// of another type: sentence-transformers would fail on them too).
std::vector<ModuleEntry> read_modules(const fs::path& file) {
  const io::Json j = io::read_json(file);
  const std::string src = file.string();
  if (!j.is_array() || j.empty()) throw FormatError(src + ": expected a non-empty list of modules");
  return io::with_json_context(src, [&] {
    std::vector<ModuleEntry> out;
    for (size_t i = 0; i < j.size(); ++i) {
      const io::Json& m = j[i];
      if (!m.is_object()) {
        throw FormatError(src + ": /" + std::to_string(i) + ": expected an object, got " + m.type_name());
      }
      ModuleEntry e;
      e.type = m.at("type").get<std::string>();
      e.name = m.contains("name") ? m["name"].get<std::string>() : std::to_string(i);
      e.path = m.contains("path") ? m["path"].get<std::string>() : "";
      const auto kind = module_kind(e.type);
      if (!kind) {
        throw Unsupported(
            src + ": module '" + e.name + "' (path '" + e.path + "') has type '" + e.type +
            "', which optimum-cpp does not support (supported: Transformer, Pooling, Dense, Normalize)");
      }
      e.kind = *kind;
      out.push_back(e);
    }
    return out;
  });
}

// What sentence_bert_config.json (or its older per-family name) says.
struct TransformerSettings {
  bool do_lower_case = false;
  std::optional<size_t> max_seq_length;    // "max_seq_length"
  std::optional<size_t> model_max_length;  // processor_kwargs / tokenizer_args
};

// Reads the Transformer module's settings; FormatError / Unsupported name
// `src` and the field (wrong JSON types included).
TransformerSettings read_transformer_settings(const io::Json& sbert, const std::string& src) {
  if (!sbert.is_object()) throw FormatError(src + ": expected a JSON object");
  return io::with_json_context(src, [&] {
    TransformerSettings out;
    const std::string task = sbert.value("transformer_task", "feature-extraction");
    if (task != "feature-extraction") {
      throw Unsupported(src + ": transformer_task '" + task + "' is not supported (only feature-extraction)");
    }
    if (sbert.contains("modality_config") && sbert["modality_config"].is_object()) {
      for (const auto& [modality, cfg] : sbert["modality_config"].items()) {
        const std::string o = cfg.is_object() ? cfg.value("method_output_name", "last_hidden_state") : "";
        if (modality == "text" && o != "last_hidden_state") {
          throw Unsupported(src + ": modality_config text output '" + o +
                            "' is not supported (only last_hidden_state)");
        }
      }
    }
    out.do_lower_case = sbert.value("do_lower_case", false);
    auto length = [&](const io::Json& v, const std::string& field) -> std::optional<size_t> {
      if (!v.is_number_integer()) return std::nullopt;
      if (v.get<int64_t>() <= 0 && !v.is_number_unsigned()) {
        throw FormatError(src + ": '" + field + "' must be positive, got " + v.dump());
      }
      return v.get<size_t>();
    };
    if (sbert.contains("max_seq_length")) {
      out.max_seq_length = length(sbert["max_seq_length"], "max_seq_length");
    }
    for (const char* key : {"processor_kwargs", "tokenizer_args"}) {
      if (sbert.contains(key) && sbert[key].is_object() && sbert[key].contains("model_max_length")) {
        if (auto n = length(sbert[key]["model_max_length"], std::string(key) + ".model_max_length")) {
          out.model_max_length = n;
        }
      }
    }
    return out;
  });
}

// Code points of a UTF-8 string: Python's len(), the key encode() sorts by.
size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::shared_ptr<SentenceTransformer> SentenceTransformer::from_pretrained(
    const std::string& model_id, const SentenceTransformerOptions& options) {
  const modeling::ResolvedModel resolved = modeling::resolve(model_id, options.load.hub);
  const fs::path folder = resolved.folder;
  auto st = std::shared_ptr<SentenceTransformer>(new SentenceTransformer());
  st->path_ = folder;
  std::error_code ec;

  std::vector<ModuleEntry> modules;
  const bool has_modules = fs::exists(folder / "modules.json", ec);
  if (has_modules) {
    modules = read_modules(folder / "modules.json");
  } else {
    // A plain transformers checkpoint: sentence-transformers adds mean pooling.
    modules = {{"0", "", "sentence_transformers.models.Transformer", ModuleKind::Transformer},
               {"1", "", "sentence_transformers.models.Pooling", ModuleKind::Pooling}};
  }
  const std::string modules_src = (folder / "modules.json").string();
  if (modules[0].kind != ModuleKind::Transformer) {
    throw Unsupported(modules_src + ": the first module '" + modules[0].name + "' has type '" +
                      modules[0].type + "'; optimum-cpp needs a Transformer first");
  }

  // Transformer: the encoder, its tokenizer and sentence_bert_config.json.
  const fs::path tdir = safe_join(folder, modules[0].path, "module path in " + modules_src);
  io::Json sbert = io::Json::object();
  std::string sbert_src;
  for (const char* name : kTransformerConfigs) {
    if (fs::exists(tdir / name, ec)) {
      sbert = io::read_json(tdir / name);
      sbert_src = (tdir / name).string();
      break;
    }
  }
  const TransformerSettings settings = read_transformer_settings(sbert, sbert_src);
  modeling::LoadOptions lo = options.load;
  lo.task = tasks::Task::FeatureExtraction;
  lo.hub.subfolder.clear();  // already applied by resolve
  const io::Json tconfig = read_optional_json(tdir / "config.json");
  const std::string model_type = tconfig.is_object() && tconfig.contains("model_type") &&
                                         tconfig.at("model_type").is_string()
                                     ? tconfig.at("model_type").get<std::string>()
                                     : std::string();
  if (models::is_decoder_model_type(model_type) && lo.export_model) {
    throw Unsupported(tdir.string() + ": export of a decoder ('" + model_type + "') Transformer module");
  }
  // Every Transformer module loads through OptimizedModel: the encoder engine, or for a
  // decoder (Qwen3-Embedding & co.) the decoder's base-model session (feature-extraction).
  st->model_ = modeling::OptimizedModel::from_pretrained(tdir.string(), lo);
  if (const auto* d = dynamic_cast<const models::DecoderSession*>(&st->model_->session())) st->decoder_ = d->model();
  const auto inputs = st->model_->input_names();
  st->pass_token_type_ids_ = std::find(inputs.begin(), inputs.end(), "token_type_ids") != inputs.end();

  st->tokenizer_ = std::make_shared<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_pretrained(tdir));
  st->do_lower_case_ = settings.do_lower_case;
  if (st->do_lower_case_) st->tokenizer_->prepend_normalizer(io::Json{{"type", "Lowercase"}});

  // max_seq_length: sentence_bert_config.json, else the tokenizer's
  // model_max_length (from tokenizer_args / processor_kwargs or
  // tokenizer_config.json) capped at max_position_embeddings.
  std::optional<size_t> max_len = settings.max_seq_length;
  if (!max_len) {
    max_len = settings.model_max_length;
    if (!max_len) {
      max_len = st->tokenizer_->config().model_max_length;
      const int64_t mpe =
          st->decoder_ ? st->decoder_->max_positions() : st->model_->config().max_position_embeddings;
      if (mpe > 0)
        max_len = std::min<size_t>(max_len.value_or(static_cast<size_t>(mpe)), static_cast<size_t>(mpe));
    }
  }
  st->set_max_seq_length(max_len);

  // Prompts and the similarity function.
  const fs::path cst = folder / "config_sentence_transformers.json";
  const io::Json cfg = read_optional_json(cst);
  if (cfg.contains("prompts") && cfg["prompts"].is_object()) {
    for (const auto& [k, v] : cfg["prompts"].items()) {
      if (!v.is_string()) throw FormatError(cst.string() + ": prompt '" + k + "' is not a string");
      st->prompts_[k] = v.get<std::string>();
    }
  }
  if (cfg.contains("default_prompt_name") && cfg["default_prompt_name"].is_string()) {
    st->default_prompt_name_ = cfg["default_prompt_name"].get<std::string>();
    if (!st->prompts_.count(*st->default_prompt_name_)) {
      throw FormatError(cst.string() + ": default_prompt_name '" + *st->default_prompt_name_ +
                        "' is not one of the prompts");
    }
  }
  if (cfg.contains("similarity_fn_name") && cfg["similarity_fn_name"].is_string()) {
    try {
      st->similarity_fn_ = similarity_function_from_name(cfg["similarity_fn_name"].get<std::string>());
    } catch (const InvalidArgument& e) {
      throw FormatError(cst.string() + ": " + e.what());
    }
  }

  // The modules after the Transformer.
  const int64_t hidden = st->decoder_ ? st->decoder_->config().hidden_size : st->model_->config().hidden_size;
  int64_t dim = hidden;
  bool pooled = false;
  st->module_names_.push_back("Transformer");
  for (size_t i = 1; i < modules.size(); ++i) {
    const ModuleEntry& m = modules[i];
    const fs::path mdir = safe_join(folder, m.path, "module path in " + modules_src);
    const std::string label = "sentence-transformers module '" + m.name + "' (" + m.type + ")";
    switch (m.kind) {
      case ModuleKind::Transformer:
        throw Unsupported(modules_src + ": " + label + ": only one Transformer module is supported");
      case ModuleKind::Pooling: {
        if (pooled || i != 1)
          throw Unsupported(modules_src + ": " + label + " must directly follow the Transformer");
        if (!has_modules) {
          st->pooling_.embedding_dimension = hidden;
          st->pooling_.modes = {PoolingMode::Mean};
        } else if (!fs::exists(mdir / "config.json", ec)) {
          throw NotFound(label + ": pooling config " + (mdir / "config.json").string() + " not found");
        } else {
          st->pooling_ =
              Pooling::from_json(io::read_json(mdir / "config.json"), (mdir / "config.json").string());
        }
        if (st->pooling_.embedding_dimension != hidden) {
          throw FormatError((mdir / "config.json").string() + ": embedding_dimension " +
                            std::to_string(st->pooling_.embedding_dimension) +
                            " differs from the model's hidden_size " + std::to_string(hidden));
        }
        dim = st->pooling_.output_dimension();
        pooled = true;
        break;
      }
      case ModuleKind::Dense: {
        if (!pooled) throw Unsupported(modules_src + ": " + label + " before Pooling is not supported");
        DenseLayer d = DenseLayer::load(mdir);
        if (d.in_features != dim) {
          throw FormatError((mdir / "config.json").string() + ": in_features " +
                            std::to_string(d.in_features) + " differs from the incoming embedding size " +
                            std::to_string(dim));
        }
        dim = d.out_features;
        st->chain_.push_back(static_cast<int>(st->dense_.size()));
        st->dense_.push_back(std::move(d));
        break;
      }
      case ModuleKind::Normalize: {
        if (!pooled) throw Unsupported(modules_src + ": " + label + " before Pooling is not supported");
        const io::Json nc = read_optional_json(mdir / "config.json");
        for (const char* key : {"module_input_name", "module_output_name"}) {
          if (nc.contains(key) && nc[key].is_string() && nc[key].get<std::string>() != "sentence_embedding") {
            throw Unsupported((mdir / "config.json").string() + ": " + key + " '" +
                              nc[key].get<std::string>() + "' is not supported (only 'sentence_embedding')");
          }
        }
        st->chain_.push_back(-1);
        st->normalize_ = true;
        break;
      }
    }
    st->module_names_.push_back(m.type.substr(m.type.rfind('.') + 1));
  }
  if (!pooled) {
    throw Unsupported(modules_src + ": no Pooling module; optimum-cpp returns sentence embeddings only");
  }
  st->dimension_ = dim;
  return st;
}

void SentenceTransformer::set_max_seq_length(std::optional<size_t> length) {
  max_seq_length_ = length;
  if (length) {
    if (*length == 0) throw InvalidArgument("max_seq_length must be positive");
    tokenizers::TruncationParams t;
    t.max_length = *length;
    t.strategy = tokenizers::TruncationStrategy::LongestFirst;
    t.direction = tokenizer_->config().truncation_side;
    tokenizer_->enable_truncation(t);
  } else {
    tokenizer_->no_truncation();
  }
  // Batch-longest padding with the tokenizer's pad token, as transformers pads.
  tokenizers::PaddingParams p;
  const auto& special = tokenizer_->config().special_tokens;
  if (auto it = special.find("pad_token"); it != special.end()) {
    if (auto id = tokenizer_->token_to_id(it->second)) {
      p.pad_id = *id;
      p.pad_token = it->second;
    }
  } else if (tokenizer_->padding()) {
    p = *tokenizer_->padding();
  }
  p.length.reset();
  p.pad_to_multiple_of = 0;
  const auto& raw = tokenizer_->config().raw;
  if (raw.is_object() && raw.contains("pad_token_type_id") && raw["pad_token_type_id"].is_number_integer()) {
    p.pad_type_id = raw["pad_token_type_id"].get<uint32_t>();
  }
  p.direction = tokenizer_->config().padding_side;
  tokenizer_->enable_padding(p);
}

std::optional<size_t> SentenceTransformer::prompt_length(const std::string& prompt) const {
  // Tokens of the prompt alone, less a trailing special token (EOS, SEP...).
  const tokenizers::Encoding e = tokenizer_->encode(prompt);
  size_t n = e.size();
  if (n == 0) return n;
  std::set<uint32_t> special_ids;
  for (const auto& [key, content] : tokenizer_->config().special_tokens) {
    if (auto id = tokenizer_->token_to_id(content)) special_ids.insert(*id);
  }
  const auto& raw = tokenizer_->config().raw;
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"}) {
    if (!raw.is_object() || !raw.contains(key) || !raw[key].is_array()) continue;
    for (const auto& v : raw[key]) {
      const std::string content = v.is_string()   ? v.get<std::string>()
                                  : v.is_object() ? v.value("content", std::string())
                                                  : std::string();
      if (auto id = tokenizer_->token_to_id(content)) special_ids.insert(*id);
    }
  }
  if (special_ids.count(e.ids.back())) --n;
  return n;
}

Tensor SentenceTransformer::encode_batch(const std::vector<std::string>& texts,
                                         std::optional<size_t> prompt_len) const {
  std::vector<tokenizers::EncodeInput> in;
  in.reserve(texts.size());
  for (const auto& t : texts) in.push_back({t, std::nullopt});
  const std::vector<tokenizers::Encoding> enc = tokenizer_->encode_batch(in);
  const auto b = static_cast<int64_t>(enc.size());
  const auto len = static_cast<int64_t>(enc.empty() ? 0 : enc[0].size());
  Tensor ids = Tensor::zeros(DType::I64, {b, len});
  Tensor mask = Tensor::zeros(DType::I64, {b, len});
  Tensor types = Tensor::zeros(DType::I64, {b, len});
  for (int64_t r = 0; r < b; ++r) {
    const auto& e = enc[static_cast<size_t>(r)];
    if (static_cast<int64_t>(e.size()) != len) throw Error("tokenizer returned an unpadded batch");
    for (int64_t i = 0; i < len; ++i) {
      ids.mutable_data<int64_t>()[r * len + i] = e.ids[static_cast<size_t>(i)];
      mask.mutable_data<int64_t>()[r * len + i] = e.attention_mask[static_cast<size_t>(i)];
      types.mutable_data<int64_t>()[r * len + i] = e.type_ids[static_cast<size_t>(i)];
    }
  }
  std::map<std::string, Tensor> inputs = {{"input_ids", ids}, {"attention_mask", mask}};
  if (pass_token_type_ids_) inputs["token_type_ids"] = types;
  Tensor hidden;
  // Pooling reads attended tokens (and the first one) only: padding is not computed (a decoder
  // session runs each row's real tokens as one ragged sequence and never computes padding).
  for (auto& [name, t] : model_->forward(inputs, /*skip_padding=*/true)) {
    if (name == "last_hidden_state") hidden = t;
  }
  if (!hidden.defined()) throw Error("the model returned no last_hidden_state");
  return embed(hidden, mask, prompt_len);
}

const modeling::OptimizedModel& SentenceTransformer::model() const { return *model_; }

Tensor SentenceTransformer::embed(const Tensor& token_embeddings, const Tensor& attention_mask,
                                  std::optional<size_t> prompt_len) const {
  Tensor x = pooling_.forward(token_embeddings, attention_mask, prompt_len);
  for (int step : chain_) x = step < 0 ? normalize_rows(x) : dense_[static_cast<size_t>(step)].forward(x);
  return x;
}

tokenizers::Encoding SentenceTransformer::tokenize(const std::string& text) const {
  tokenizers::Encoding e = tokenizer_->encode(text);
  e.overflowing.clear();
  return e;
}

std::string SentenceTransformer::resolve_prompt(const EncodeOptions& options) const {
  if (options.prompt) return *options.prompt;
  if (options.prompt_name) {
    auto it = prompts_.find(*options.prompt_name);
    if (it == prompts_.end()) {
      std::string keys;
      for (const auto& [k, v] : prompts_) keys += (keys.empty() ? "" : ", ") + k;
      throw InvalidArgument("prompt name '" + *options.prompt_name + "' is not one of the configured prompts [" +
                            keys + "]");
    }
    return it->second;
  }
  if (default_prompt_name_) return prompts_.at(*default_prompt_name_);
  return "";
}

Tensor SentenceTransformer::encode(const std::vector<std::string>& sentences,
                                   const EncodeOptions& options) const {
  if (options.batch_size == 0) throw InvalidArgument("batch_size must be a positive integer, got 0");
  const auto n = static_cast<int64_t>(sentences.size());
  Tensor out = Tensor::zeros(DType::F32, {n, dimension_});
  if (n == 0) return out;

  // The prompt: explicit, else by name, else the default prompt name.
  const std::string prompt = resolve_prompt(options);
  const std::optional<size_t> prompt_len = prompt_tokens(prompt);

  // Longest first (by characters, as sentence-transformers sorts), so each
  // batch pads little; results go back to input order.
  std::vector<size_t> order(sentences.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::vector<size_t> lengths(sentences.size());
  for (size_t i = 0; i < sentences.size(); ++i) lengths[i] = utf8_length(sentences[i]);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });

  float* o = out.mutable_data<float>();
  for (size_t start = 0; start < order.size(); start += options.batch_size) {
    const size_t stop = std::min(order.size(), start + options.batch_size);
    std::vector<std::string> texts;
    for (size_t k = start; k < stop; ++k) texts.push_back(prompt + sentences[order[k]]);
    Tensor emb = encode_batch(texts, prompt_len);
    if (options.normalize_embeddings) emb = normalize_rows(emb);
    const float* e = emb.data<float>();
    for (size_t k = start; k < stop; ++k) {
      std::copy(e + static_cast<int64_t>(k - start) * dimension_,
                e + static_cast<int64_t>(k - start + 1) * dimension_,
                o + static_cast<int64_t>(order[k]) * dimension_);
    }
  }
  return out;
}

}  // namespace optimum::pipelines
