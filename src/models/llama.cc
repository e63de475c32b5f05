// The llama-shaped families: llama (Llama 2/3, SmolLM2), mistral (sliding
// window on every layer), qwen2 (q/k/v bias, use_sliding_window +
// max_window_layers / layer_types) and qwen3 (q/k RMSNorm per head). Keys
// and defaults are those of transformers' LlamaConfig, MistralConfig,
// Qwen2Config and Qwen3Config.
#include "optimum/models/decoder.h"

namespace optimum::models {

namespace {

bool bool_or(const io::Json& j, const char* key, bool def) {
  return j.contains(key) && !j.at(key).is_null() ? j.at(key).get<bool>() : def;
}

// Qwen2Config / Qwen3Config: sliding_window only with use_sliding_window;
// layer_types (given, or from max_window_layers) marks the sliding layers.
void qwen_sliding_layers(DecoderConfig& c, const io::Json& j, const std::string& source) {
  io::with_json_context(source, [&] {
    const bool use = bool_or(j, "use_sliding_window", false);
    const int64_t window = use ? (j.contains("sliding_window") ? (j.at("sliding_window").is_null()
                                                                      ? 0
                                                                      : j.at("sliding_window").get<int64_t>())
                                                               : 4096)
                               : 0;
    const int64_t max_window_layers = j.contains("max_window_layers") ? j.at("max_window_layers").get<int64_t>() : 28;
    std::vector<std::string> types;
    if (j.contains("layer_types") && !j.at("layer_types").is_null()) {
      types = j.at("layer_types").get<std::vector<std::string>>();
      if (static_cast<int64_t>(types.size()) != c.n_layers) {
        throw FormatError(source + ": layer_types has " + std::to_string(types.size()) + " entries for " +
                          std::to_string(c.n_layers) + " layers");
      }
    } else {
      for (int64_t i = 0; i < c.n_layers; ++i) {
        types.push_back(window > 0 && i >= max_window_layers ? "sliding_attention" : "full_attention");
      }
    }
    for (int64_t i = 0; i < c.n_layers; ++i) {
      if (types[i] == "sliding_attention") {
        c.layers[i].sliding_window = window;
      } else if (types[i] != "full_attention") {
        throw Unsupported(source + ": layer_types[" + std::to_string(i) + "] '" + types[i] + "' is not supported");
      }
    }
    return 0;
  });
}

}  // namespace

DecoderFamily llama_family() {
  DecoderFamily f;
  f.model_type = "llama";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    DecoderConfig c = parse_llama_like(j, source, LlamaLikeDefaults{});
    c.attention_bias = c.attention_out_bias = bool_or(j, "attention_bias", false);
    c.mlp_bias = bool_or(j, "mlp_bias", false);
    return c;
  };
  return f;
}

DecoderFamily mistral_family() {
  DecoderFamily f;
  f.model_type = "mistral";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    LlamaLikeDefaults d;
    d.intermediate_size = 14336;
    d.n_heads_kv = 8;
    d.max_position_embeddings = 4096 * 32;
    DecoderConfig c = parse_llama_like(j, source, d);
    const int64_t window = io::with_json_context(source, [&] {
      if (!j.contains("sliding_window")) return int64_t{4096};
      return j.at("sliding_window").is_null() ? int64_t{0} : j.at("sliding_window").get<int64_t>();
    });
    for (DecoderLayerOptions& l : c.layers) l.sliding_window = window;
    return c;
  };
  return f;
}

DecoderFamily qwen2_family() {
  DecoderFamily f;
  f.model_type = "qwen2";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    LlamaLikeDefaults d;
    d.vocab_size = 151936;
    d.intermediate_size = 22016;
    d.max_position_embeddings = 32768;
    DecoderConfig c = parse_llama_like(j, source, d);
    c.attention_bias = true;  // q, k, v only
    qwen_sliding_layers(c, j, source);
    return c;
  };
  return f;
}

DecoderFamily qwen3_family() {
  DecoderFamily f;
  f.model_type = "qwen3";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    LlamaLikeDefaults d;
    d.vocab_size = 151936;
    d.intermediate_size = 22016;
    d.max_position_embeddings = 32768;
    d.head_dim = 128;
    DecoderConfig c = parse_llama_like(j, source, d);
    c.attention_bias = c.attention_out_bias = bool_or(j, "attention_bias", false);
    c.qk_norm = true;
    qwen_sliding_layers(c, j, source);
    return c;
  };
  return f;
}

}  // namespace optimum::models
