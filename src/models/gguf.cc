// GGUF -> (config, HF-named f32 weights), as transformers 5.23's legacy GGUF
// path does it for llama, qwen2, qwen3, gemma3 and phi3: the config from
// integrations/ggml.py's GGUF_CONFIG_MAPPING, the weights from
// modeling_gguf_pytorch_utils.load_gguf_checkpoint (gguf-py's tensor-name
// map reversed, then the architecture's TensorProcessor).
#include "optimum/models/gguf.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "optimum/core/errors.h"
#include "optimum/io/gguf.h"

namespace optimum::models {

namespace {

using io::Json;

const std::vector<std::string> kSupported = {"gemma3", "llama", "phi3", "qwen2", "qwen3"};

using Renames = std::map<std::string, std::string>;

// GGUF_CONFIG_MAPPING's entries for the prefixes of the supported
// architectures (keys mapped to None there set nothing and are left out).
const std::map<std::string, Renames>& config_mapping() {
  static const std::map<std::string, Renames> mapping = [] {
    const Renames common = {
        {"context_length", "max_position_embeddings"},
        {"block_count", "num_hidden_layers"},
        {"feed_forward_length", "intermediate_size"},
        {"embedding_length", "hidden_size"},
        {"rope.freq_base", "rope_theta"},
        {"attention.head_count", "num_attention_heads"},
        {"attention.head_count_kv", "num_key_value_heads"},
        {"attention.layer_norm_rms_epsilon", "rms_norm_eps"},
        {"vocab_size", "vocab_size"},
    };
    Renames llama = common;
    llama["rope.dimension_count"] = "head_dim";  // only llama/mistral: rope dims == head_dim
    Renames gemma3 = common;
    gemma3["attention.key_length"] = "head_dim";
    gemma3["attention.sliding_window"] = "sliding_window";
    return std::map<std::string, Renames>{
        {"general", {{"architecture", "model_type"}, {"name", "_model_name_or_path"}}},
        {"tokenizer",
         {{"ggml.bos_token_id", "bos_token_id"},
          {"ggml.eos_token_id", "eos_token_id"},
          {"ggml.unknown_token_id", "unk_token_id"},
          {"ggml.padding_token_id", "pad_token_id"}}},
        {"llama", llama},
        {"mistral", llama},
        {"qwen2", common},
        {"qwen3", common},
        {"phi3", common},
        {"gemma3", gemma3},
    };
  }();
  return mapping;
}

// GGUF_TOKENIZER_MAPPING["tokenizer_config"].
const Renames kTokenizerConfig = {{"chat_template", "chat_template"},
                                  {"ggml.add_bos_token", "add_bos_token"},
                                  {"ggml.add_eos_token", "add_eos_token"}};

// Python's str.replace(old, new) (every occurrence).
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty() || from == to) return s;
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

bool valid_utf8(const std::string& s) {
  try {
    (void)Json(s).dump();
    return true;
  } catch (const Json::type_error&) {
    return false;
  }
}

// gguf-py's tensor-name map for the ForCausalLM model of `arch`, reversed:
// the HF name of GGUF base name `base` (suffix stripped), or "" when the
// model has no such parameter. `bias` asks for the ".bias" parameter.
std::string hf_base_name(const std::string& arch, const std::string& base, bool bias, int64_t n_layers) {
  if (!bias) {
    if (base == "token_embd") return "model.embed_tokens";
    if (base == "output_norm") return "model.norm";
    if (base == "output") return "lm_head";
  }
  if (base.rfind("blk.", 0) != 0) return "";
  const size_t dot = base.find('.', 4);
  if (dot == std::string::npos || dot == 4) return "";
  const std::string index = base.substr(4, dot - 4);
  if (index.size() > 9 || index.find_first_not_of("0123456789") != std::string::npos ||
      (index.size() > 1 && index[0] == '0') || std::stoll(index) >= n_layers) {
    return "";
  }
  const std::string part = base.substr(dot + 1);
  static const std::map<std::string, std::map<std::string, std::string>> tables = [] {
    const std::map<std::string, std::string> llama = {
        {"attn_norm", "input_layernorm"},       {"attn_q", "self_attn.q_proj"},
        {"attn_k", "self_attn.k_proj"},         {"attn_v", "self_attn.v_proj"},
        {"attn_output", "self_attn.o_proj"},    {"ffn_norm", "post_attention_layernorm"},
        {"ffn_gate", "mlp.gate_proj"},          {"ffn_up", "mlp.up_proj"},
        {"ffn_down", "mlp.down_proj"},
    };
    auto qwen3 = llama;
    qwen3["attn_q_norm"] = "self_attn.q_norm";
    qwen3["attn_k_norm"] = "self_attn.k_norm";
    auto gemma3 = qwen3;
    gemma3["ffn_norm"] = "pre_feedforward_layernorm";
    gemma3["post_attention_norm"] = "post_attention_layernorm";
    gemma3["post_ffw_norm"] = "post_feedforward_layernorm";
    const std::map<std::string, std::string> phi3 = {
        {"attn_norm", "input_layernorm"},    {"attn_qkv", "self_attn.qkv_proj"},
        {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
        {"ffn_up", "mlp.gate_up_proj"},      {"ffn_down", "mlp.down_proj"},
    };
    return std::map<std::string, std::map<std::string, std::string>>{
        {"llama", llama}, {"mistral", llama}, {"qwen2", llama},
        {"qwen3", qwen3}, {"gemma3", gemma3}, {"phi3", phi3}};
  }();
  const auto& table = tables.at(arch);
  auto it = table.find(part);
  if (it == table.end()) return "";
  // Qwen2 is the only one of these with biases (on q, k and v).
  if (bias && !(arch == "qwen2" && (part == "attn_q" || part == "attn_k" || part == "attn_v"))) return "";
  return "model.layers." + index + "." + it->second;
}

// A positive integer config value, or 0 when absent (transformers then skips
// the permutation); FormatError for anything else.
int64_t head_count(const Json& config, const char* key, const std::string& source) {
  if (!config.contains(key)) return 0;
  const Json& v = config[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
    throw FormatError("GGUF file " + source + ": config value '" + key + "' must be a positive integer, not " +
                      v.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  return v.get<int64_t>();
}

// LlamaTensorProcessor._reverse_permute_weights: undoes llama.cpp's
// interleaving of the rotary halves of each head's rows.
Tensor reverse_permute(const Tensor& w, int64_t n_head, const std::string& name, const std::string& source) {
  const int64_t rows = w.dim() ? w.size(0) : 1;
  if (w.dim() == 0 || rows % (2 * n_head) != 0) {
    throw FormatError("GGUF file " + source + ": tensor '" + name + "' has " + std::to_string(rows) +
                      " rows, not a multiple of 2 x " + std::to_string(n_head) + " heads");
  }
  const int64_t dim = rows / n_head / 2;
  const int64_t row_size = w.numel() / rows;
  Tensor out = Tensor::zeros(DType::F32, w.shape());
  const float* src = w.data<float>();
  float* dst = out.mutable_data<float>();
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < dim; ++j) {
        const int64_t to = h * 2 * dim + i * dim + j, from = h * 2 * dim + j * 2 + i;
        std::memcpy(dst + to * row_size, src + from * row_size, static_cast<size_t>(row_size) * 4);
      }
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> gguf_supported_architectures() { return kSupported; }

GgufCheckpoint load_gguf_checkpoint(const std::filesystem::path& file) {
  return load_gguf_checkpoint(io::GgufFile::open(file));
}

GgufCheckpoint load_gguf_checkpoint(const io::GgufFile& gguf) {
  const std::string& source = gguf.source();
  const Json& meta = gguf.metadata();
  auto fail = [&](const std::string& what) -> FormatError {
    return FormatError("GGUF file " + source + ": " + what);
  };

  GgufCheckpoint ck;
  if (!meta.contains("general.architecture") || !meta["general.architecture"].is_string()) {
    throw fail("no string key 'general.architecture'");
  }
  const std::string arch = meta["general.architecture"].get<std::string>();
  ck.architecture = arch;
  // llama.cpp writes Mistral models as llama; transformers tells them apart
  // by the name (`"mistral" in model_name`, a one-element list: equality).
  std::string updated = arch;
  if (arch.find("llama") != std::string::npos && meta.contains("general.name") &&
      meta["general.name"] == "mistral") {
    updated = "mistral";
  }
  if (std::find(kSupported.begin(), kSupported.end(), arch) == kSupported.end() && updated != "mistral") {
    std::string list;
    for (const auto& a : kSupported) list += (list.empty() ? "" : ", ") + a;
    const std::string shown = Json(arch).dump(-1, ' ', false, Json::error_handler_t::replace);
    throw Unsupported("GGUF file " + source + ": architecture '" + shown.substr(1, shown.size() - 2) +
                      "' is not supported (supported: " + list + ")");
  }

  Json config = Json::object();
  bool has_output = false;
  for (const auto& t : gguf.tensors()) has_output = has_output || t.name == "output.weight";
  config["tie_word_embeddings"] = !has_output;

  Json tokenizer_config = Json::object();
  const auto& mapping = config_mapping();
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    const std::string key = replace_all(it.key(), arch, updated);
    const size_t dot = key.find('.');
    const std::string prefix = key.substr(0, dot);
    const std::string rest = dot == std::string::npos ? "" : key.substr(dot + 1);
    // _gguf_parse_value over the field's items: a one-item array becomes its item.
    Json value = it.value();
    if (value.is_array() && value.size() == 1) value = Json(value[0]);
    if (value.is_string()) value = replace_all(value.get<std::string>(), arch, updated);
    auto check_utf8 = [&] {
      if (value.is_string() && !valid_utf8(value.get_ref<const std::string&>())) {
        throw fail("key '" + it.key() + "' is not valid UTF-8");
      }
    };
    auto group = mapping.find(prefix);
    if (group != mapping.end()) {
      auto r = group->second.find(rest);
      if (r != group->second.end()) {
        check_utf8();
        config[r->second] = value;
      }
    }
    if (prefix == "tokenizer") {
      auto r = kTokenizerConfig.find(rest);
      if (r != kTokenizerConfig.end()) {
        check_utf8();
        tokenizer_config[r->second] = value;
      }
    }
  }
  if (config.value("model_type", Json()) == "gemma3") config["model_type"] = "gemma3_text";
  if (!config.contains("vocab_size") && meta.contains("tokenizer.ggml.tokens") &&
      meta["tokenizer.ggml.tokens"].is_array()) {
    config["vocab_size"] = meta["tokenizer.ggml.tokens"].size();
  }

  // The HF model holds layers [0, num_hidden_layers): GGUF blocks past it have no parameter.
  int64_t n_layers = 0;
  if (config.contains("num_hidden_layers")) {
    const Json& v = config["num_hidden_layers"];
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      throw fail("key '" + arch + ".block_count' must be a non-negative integer");
    }
    n_layers = v.get<int64_t>();
  }
  const int64_t n_head = head_count(config, "num_attention_heads", source);
  const int64_t n_head_kv = head_count(config, "num_key_value_heads", source);

  std::map<std::string, Tensor> tensors;
  for (const auto& info : gguf.tensors()) {
    std::string base = info.name, suffix;
    bool bias = false;
    if (base.ends_with(".weight")) {
      suffix = ".weight";
    } else if (base.ends_with(".bias")) {
      suffix = ".bias";
      bias = true;
    }
    base.resize(base.size() - suffix.size());
    if (suffix.empty()) continue;
    const std::string hf = hf_base_name(updated, base, bias, n_layers);
    if (hf.empty()) continue;
    Tensor w = gguf.dequantize(info.name);
    if (arch == "llama" && n_head && n_head_kv) {
      if (info.name.find(".attn_q.") != std::string::npos) {
        w = reverse_permute(w, n_head, info.name, source);
      } else if (info.name.find(".attn_k.") != std::string::npos) {
        w = reverse_permute(w, n_head_kv, info.name, source);
      }
    }
    if (arch == "gemma3" && info.name.find("norm.weight") != std::string::npos) {
      float* p = w.mutable_data<float>();
      for (int64_t i = 0; i < w.numel(); ++i) p[i] = p[i] - 1.0f;
    }
    tensors[hf + suffix] = std::move(w);
  }

  ck.generation_config = Json::object();
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id"}) {
    if (config.contains(key)) ck.generation_config[key] = config[key];
  }
  ck.config = std::move(config);
  ck.tokenizer_config = std::move(tokenizer_config);
  ck.weights = io::WeightStore::from_tensors(std::move(tensors), source);
  return ck;
}

}  // namespace optimum::models
