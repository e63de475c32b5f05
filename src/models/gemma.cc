// gemma and gemma3_text. Both: RMSNorm with a +1 offset on the weight,
// embeddings scaled by sqrt(hidden_size) (an f32 scalar, as transformers'
// ScaledWordEmbedding multiplies in the weights' dtype), GELU-tanh gated
// MLP, tied lm_head. gemma3_text adds sandwich norms (post-attention and
// pre/post-feedforward), per-head q/k norms, query_pre_attn_scalar as the
// attention scale, sliding and full layers (layer_types, or every
// sliding_window_pattern-th layer full) with their own RoPE (rope_parameters
// by layer type; the older rope_theta / rope_local_base_freq / rope_scaling
// keys as Gemma3TextConfig converts them) and optional final logit
// soft-capping (attn_logit_softcapping is ignored, as transformers'
// Gemma3Attention ignores it). Keys and defaults are transformers' GemmaConfig and
// Gemma3TextConfig.
#include "optimum/models/architecture.h"
#include "optimum/models/decoder_spec.h"

namespace optimum::models {

namespace {

using config::KeyCheck;
using config::KeyType;

// The keys GemmaConfig and Gemma3TextConfig share: LlamaConfig's with their
// defaults; bidirectional checkpoints (EmbeddingGemma & co.) are refused.
std::vector<config::KeySpec> gemma_keys(const io::Json& defaults) {
  std::vector<config::KeySpec> k = with_defaults(without(llama_keys(), "mlp_bias"),
                                                 {{"head_dim", 256},
                                                  {"hidden_act", "gelu_pytorch_tanh"},
                                                  {"norm_eps", 1e-6},
                                                  {"tie_word_embeddings", true}});
  k = with_defaults(std::move(k), defaults);
  config::KeySpec bidirectional = key("use_bidirectional_attention", KeyType::Boolean, false);
  bidirectional.refused = true;
  bidirectional.refused_why = "causal decoders only";
  k.push_back(bidirectional);
  return k;
}

// Scaled embeddings, RMSNorm (1 + w); gemma3 adds q/k norms, sandwich norms,
// sliding layers and final-logit soft-capping.
BlockOptions gemma_blocks(bool gemma3) {
  BlockOptions b = decoder_blocks();
  b.embeddings.scaled = true;
  b.norm.kind = NormKind::RmsNormPlusOne;
  b.attention.qk_norm = gemma3;
  b.attention.sliding_window = gemma3;
  b.attention.soft_capping = gemma3;
  b.norm.sandwich = gemma3;
  return b;
}

}  // namespace

Architecture gemma_architecture() {
  DecoderFamily f;
  f.model_type = "gemma";
  config::ConfigSpec spec;
  spec.keys = gemma_keys({{"vocab_size", 256000},
                          {"hidden_size", 3072},
                          {"intermediate_size", 24576},
                          {"num_hidden_layers", 28},
                          {"num_attention_heads", 16},
                          {"num_key_value_heads", 16},
                          {"max_position_embeddings", 8192}});
  return decoder_architecture(std::move(f), gemma_blocks(false), std::move(spec), /*position_ids=*/false,
                              /*text_classification=*/true);
}

Architecture gemma3_text_architecture() {
  DecoderFamily f;
  f.model_type = "gemma3_text";
  f.names.attn_out_norm = "post_attention_layernorm";
  f.names.mlp_norm = "pre_feedforward_layernorm";
  f.names.mlp_out_norm = "post_feedforward_layernorm";
  // Without layer_types: every sliding_window_pattern-th layer is full.
  f.layer_type = [](const config::KeyValues& v, int64_t i) -> std::string {
    return (i + 1) % v.integer("sliding_window_pattern") != 0 ? "sliding_attention" : "full_attention";
  };
  config::ConfigSpec spec;
  spec.keys = gemma_keys({{"vocab_size", 262208},
                          {"hidden_size", 2304},
                          {"intermediate_size", 9216},
                          {"num_hidden_layers", 26},
                          {"num_attention_heads", 8},
                          {"num_key_value_heads", 4},
                          {"max_position_embeddings", 131072},
                          {"rope_theta", 1e6}});
  spec.keys = without(std::move(spec.keys), "hidden_act");
  spec.keys.push_back(renamed("hidden_act", "hidden_activation", KeyType::String, "gelu_pytorch_tanh"));
  spec.keys.push_back(key("rope_local_base_freq", KeyType::Number, 1e4, KeyCheck::Positive));
  spec.keys.push_back(key("query_pre_attn_scalar", KeyType::Number, 256.0, KeyCheck::Positive));
  // transformers' Gemma3Attention never passes attn_logit_softcapping to its attention
  // function (gemma2 does): the key is read but has no effect there, nor here.
  config::KeySpec attn_cap = key("attn_logit_softcapping", KeyType::Number, nullptr, KeyCheck::NonNegative);
  attn_cap.ignored = true;
  spec.keys.push_back(attn_cap);
  spec.keys.push_back(key("final_logit_softcapping", KeyType::Number, nullptr, KeyCheck::NonNegative));
  spec.keys.push_back(key("sliding_window", KeyType::Integer, 4096, KeyCheck::NonNegative));
  spec.keys.push_back(key("sliding_window_pattern", KeyType::Integer, 6, KeyCheck::Positive));
  config::KeySpec types = key("layer_types", KeyType::StringList, nullptr);
  types.per_layer = true;
  spec.keys.push_back(types);
  // ropes[0]: full layers (rope_theta), ropes[1]: sliding layers (rope_local_base_freq).
  spec.rope.by_layer_type = {{"full_attention", "rope_theta"}, {"sliding_attention", "rope_local_base_freq"}};
  return decoder_architecture(std::move(f), gemma_blocks(true), std::move(spec), /*position_ids=*/false,
                              /*text_classification=*/false);
}

}  // namespace optimum::models
