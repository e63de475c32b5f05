// The llama-shaped families: llama (Llama 2/3, SmolLM2), mistral (sliding
// window on every layer), qwen2 (q/k/v bias, use_sliding_window +
// max_window_layers / layer_types) and qwen3 (q/k RMSNorm per head). Keys
// and defaults are those of transformers' LlamaConfig, MistralConfig,
// Qwen2Config and Qwen3Config.
#include "config_fields.h"
#include "optimum/models/architecture.h"

namespace optimum::models {

namespace {

// Block descriptions: llama's, with sliding-window layers and q/k norms.
BlockOptions sliding(BlockOptions b) {
  b.attention.sliding_window = true;
  return b;
}
BlockOptions qk_norm(BlockOptions b) {
  b.attention.qk_norm = true;
  return b;
}

// MistralConfig / Qwen2Config: sliding_window absent = 4096, null = none.
int64_t sliding_window(const io::Json& j) {
  if (!j.contains("sliding_window")) return 4096;
  return j.at("sliding_window").is_null() ? 0 : j.at("sliding_window").get<int64_t>();
}

// Qwen2Config and Qwen3Config defaults (Qwen3 adds head_dim 128).
LlamaLikeDefaults qwen_defaults() {
  LlamaLikeDefaults d;
  d.vocab_size = 151936;
  d.intermediate_size = 22016;
  d.max_position_embeddings = 32768;
  return d;
}

// Qwen2Config / Qwen3Config: sliding_window only with use_sliding_window;
// layer_types (given, or from max_window_layers) marks the sliding layers.
void qwen_sliding_layers(DecoderConfig& c, const io::Json& j, const std::string& source) {
  io::with_json_context(source, [&] {
    const bool use = bool_or(j, "use_sliding_window", false);
    const int64_t window = use ? sliding_window(j) : 0;
    const int64_t max_window_layers = j.contains("max_window_layers") ? j.at("max_window_layers").get<int64_t>() : 28;
    const std::vector<std::string> types = layer_types_or(j, c.n_layers, source, [&](int64_t i) {
      return window > 0 && i >= max_window_layers ? "sliding_attention" : "full_attention";
    });
    apply_layer_types(c, types, window, /*sliding_rope=*/0, source);
    return 0;
  });
}

}  // namespace

Architecture llama_architecture() {
  DecoderFamily f;
  f.model_type = "llama";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    DecoderConfig c = parse_llama_like(j, source, LlamaLikeDefaults{});
    c.attention_bias = c.attention_out_bias = bool_or(j, "attention_bias", false);
    c.mlp_bias = bool_or(j, "mlp_bias", false);
    return c;
  };
  return decoder_architecture(std::move(f), decoder_blocks(), /*position_ids=*/true, /*text_classification=*/true);
}

Architecture mistral_architecture() {
  DecoderFamily f;
  f.model_type = "mistral";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    LlamaLikeDefaults d;
    d.intermediate_size = 14336;
    d.n_heads_kv = 8;
    d.max_position_embeddings = 4096 * 32;
    DecoderConfig c = parse_llama_like(j, source, d);
    const int64_t window = io::with_json_context(source, [&] { return sliding_window(j); });
    for (DecoderLayerOptions& l : c.layers) l.sliding_window = window;
    return c;
  };
  return decoder_architecture(std::move(f), sliding(decoder_blocks()), /*position_ids=*/true, /*text_classification=*/true);
}

Architecture qwen2_architecture() {
  DecoderFamily f;
  f.model_type = "qwen2";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    DecoderConfig c = parse_llama_like(j, source, qwen_defaults());
    c.attention_bias = true;  // q, k, v only
    qwen_sliding_layers(c, j, source);
    return c;
  };
  return decoder_architecture(std::move(f), sliding(decoder_blocks()), /*position_ids=*/true, /*text_classification=*/true);
}

Architecture qwen3_architecture() {
  DecoderFamily f;
  f.model_type = "qwen3";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    LlamaLikeDefaults d = qwen_defaults();
    d.head_dim = 128;
    DecoderConfig c = parse_llama_like(j, source, d);
    c.attention_bias = c.attention_out_bias = bool_or(j, "attention_bias", false);
    c.qk_norm = true;
    qwen_sliding_layers(c, j, source);
    return c;
  };
  return decoder_architecture(std::move(f), qk_norm(sliding(decoder_blocks())), /*position_ids=*/true, /*text_classification=*/true);
}

}  // namespace optimum::models
