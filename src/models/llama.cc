// The llama-shaped families: llama (Llama 2/3, SmolLM2), mistral (sliding
// window on every layer), qwen2 (q/k/v bias, use_sliding_window +
// max_window_layers / layer_types) and qwen3 (q/k RMSNorm per head). Their
// key tables are LlamaConfig's (decoder_spec.h) with the defaults and keys of
// transformers' MistralConfig, Qwen2Config and Qwen3Config.
#include "optimum/models/architecture.h"
#include "optimum/models/decoder_spec.h"

namespace optimum::models {

namespace {

using config::KeyCheck;
using config::KeyType;

// Block descriptions: llama's, with sliding-window layers and q/k norms.
BlockOptions sliding(BlockOptions b) {
  b.attention.sliding_window = true;
  return b;
}
BlockOptions qk_norm(BlockOptions b) {
  b.attention.qk_norm = true;
  return b;
}

config::ConfigSpec spec(std::vector<config::KeySpec> keys) {
  config::ConfigSpec s;
  s.keys = std::move(keys);
  return s;
}

// MistralConfig / Qwen2Config: sliding_window absent = 4096, null = none.
config::KeySpec sliding_window() {
  config::KeySpec k = key("sliding_window", KeyType::Integer, 4096, KeyCheck::NonNegative);
  k.null_means = 0;
  return k;
}

// Qwen2Config / Qwen3Config: their defaults; sliding_window only with
// use_sliding_window; layer_types (given, or from max_window_layers) marks
// the sliding layers.
std::vector<config::KeySpec> qwen_keys() {
  std::vector<config::KeySpec> k = with_defaults(
      llama_keys(), {{"vocab_size", 151936}, {"intermediate_size", 22016}, {"max_position_embeddings", 32768}});
  k.push_back(key("use_sliding_window", KeyType::Boolean, false));
  k.push_back(sliding_window());
  k.push_back(key("max_window_layers", KeyType::Integer, 28));
  config::KeySpec types = key("layer_types", KeyType::StringList, nullptr);
  types.per_layer = true;
  k.push_back(types);
  return k;
}

// Qwen2Config.layer_types' default: sliding from max_window_layers on, when a window is used.
std::string qwen_layer_type(const config::KeyValues& v, int64_t i) {
  const bool window = v.boolean("use_sliding_window") && v.integer("sliding_window") > 0;
  return window && i >= v.integer("max_window_layers") ? "sliding_attention" : "full_attention";
}

}  // namespace

Architecture llama_architecture() {
  DecoderFamily f;
  f.model_type = "llama";
  return decoder_architecture(std::move(f), decoder_blocks(), spec(llama_keys()), /*position_ids=*/true,
                              /*text_classification=*/true);
}

Architecture mistral_architecture() {
  DecoderFamily f;
  f.model_type = "mistral";
  // MistralConfig has no attention_bias / mlp_bias.
  std::vector<config::KeySpec> k = with_defaults(
      without(without(llama_keys(), "attention_bias"), "mlp_bias"),
      {{"intermediate_size", 14336}, {"num_key_value_heads", 8}, {"max_position_embeddings", 4096 * 32}});
  k.push_back(sliding_window());
  return decoder_architecture(std::move(f), sliding(decoder_blocks()), spec(std::move(k)), /*position_ids=*/true,
                              /*text_classification=*/true);
}

Architecture qwen2_architecture() {
  DecoderFamily f;
  f.model_type = "qwen2";
  f.layer_type = qwen_layer_type;
  // Biases on q, k and v only.
  std::vector<config::KeySpec> k = without(without(qwen_keys(), "attention_bias"), "mlp_bias");
  k.push_back(fixed("attention_bias", true));
  k.push_back(fixed("attention_out_bias", false));
  return decoder_architecture(std::move(f), sliding(decoder_blocks()), spec(std::move(k)), /*position_ids=*/true,
                              /*text_classification=*/true);
}

Architecture qwen3_architecture() {
  DecoderFamily f;
  f.model_type = "qwen3";
  f.layer_type = qwen_layer_type;
  std::vector<config::KeySpec> k = with_defaults(without(qwen_keys(), "mlp_bias"), {{"head_dim", 128}});
  return decoder_architecture(std::move(f), qk_norm(sliding(decoder_blocks())), spec(std::move(k)),
                              /*position_ids=*/true, /*text_classification=*/true);
}

}  // namespace optimum::models
