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
#include <cmath>

#include "config_fields.h"
#include "optimum/models/architecture.h"

namespace optimum::models {

namespace {

// The defaults GemmaConfig and Gemma3TextConfig share.
LlamaLikeDefaults gemma_defaults() {
  LlamaLikeDefaults d;
  d.head_dim = 256;
  d.hidden_act = "gelu_pytorch_tanh";
  d.rms_norm_eps = 1e-6;
  d.tie_word_embeddings = true;
  return d;
}

// What gemma and gemma3_text share after parse_llama_like: RMSNorm with the
// +1 offset and scaled embeddings; bidirectional checkpoints are refused.
void gemma_common(DecoderConfig& c, const io::Json& j, const std::string& source) {
  // EmbeddingGemma & co. attend both ways: not a causal decoder.
  if (io::with_json_context(source, [&] { return bool_or(j, "use_bidirectional_attention", false); })) {
    throw Unsupported(source + ": use_bidirectional_attention = true is not supported (causal decoders only)");
  }
  c.norm = NormKind::RmsNormPlusOne;
  c.scale_embeddings = true;
}

DecoderConfig parse_gemma(const io::Json& j, const std::string& source) {
  LlamaLikeDefaults d = gemma_defaults();
  d.vocab_size = 256000;
  d.hidden_size = 3072;
  d.intermediate_size = 24576;
  d.n_layers = 28;
  d.n_heads = 16;
  d.n_heads_kv = 16;
  d.max_position_embeddings = 8192;
  DecoderConfig c = parse_llama_like(j, source, d);
  gemma_common(c, j, source);
  c.attention_bias = c.attention_out_bias =
      io::with_json_context(source, [&] { return bool_or(j, "attention_bias", false); });
  return c;
}

// Gemma3TextConfig.convert_rope_params_to_dict: rope_parameters by layer type,
// rope_scaling merged into full_attention's, rope_theta (default 1e6) for
// full layers, rope_local_base_freq (default 1e4) for sliding ones. A flat
// rope_parameters object is full_attention's.
io::Json gemma3_rope_parameters(const io::Json& j, const std::string& source) {
  io::Json rp = io::Json::object();
  if (present(j, "rope_parameters")) {
    const io::Json& given = j.at("rope_parameters");
    if (!given.is_object()) throw FormatError(source + ": rope_parameters must be an object");
    if (given.contains("full_attention") || given.contains("sliding_attention")) {
      rp = given;
    } else if (!given.empty()) {
      rp["full_attention"] = given;
    }
  }
  for (const char* lt : {"full_attention", "sliding_attention"}) {
    if (!present(rp, lt)) rp[lt] = io::Json{{"rope_type", "default"}};
    if (!rp.at(lt).is_object()) throw FormatError(source + ": rope_parameters." + lt + " must be an object");
  }
  if (present(j, "rope_scaling")) {
    if (!j.at("rope_scaling").is_object()) throw FormatError(source + ": rope_scaling must be an object");
    rp["full_attention"].update(j.at("rope_scaling"));
  }
  if (!present(rp["full_attention"], "rope_theta")) rp["full_attention"]["rope_theta"] = num_or(j, "rope_theta", 1e6);
  if (!present(rp["sliding_attention"], "rope_theta")) {
    rp["sliding_attention"]["rope_theta"] = num_or(j, "rope_local_base_freq", 1e4);
  }
  return rp;
}

DecoderConfig parse_gemma3_text(const io::Json& j, const std::string& source) {
  LlamaLikeDefaults d = gemma_defaults();
  d.vocab_size = 262208;
  d.hidden_size = 2304;
  d.intermediate_size = 9216;
  d.n_layers = 26;
  d.n_heads = 8;
  d.n_heads_kv = 4;
  d.act_key = "hidden_activation";
  d.max_position_embeddings = 131072;
  // parse_llama_like reads no rope here: its keys are per layer type (below).
  io::Json flat = j;
  if (flat.is_object()) {
    flat.erase("rope_parameters");
    flat.erase("rope_scaling");
  }
  DecoderConfig c = parse_llama_like(flat, source, d);
  c.raw = j;
  gemma_common(c, j, source);
  c.qk_norm = true;
  c.sandwich_norms = true;
  io::with_json_context(source, [&] {
    c.attention_bias = c.attention_out_bias = bool_or(j, "attention_bias", false);
    const double scalar = num_or(j, "query_pre_attn_scalar", 256.0);
    if (!(scalar > 0)) throw FormatError(source + ": query_pre_attn_scalar must be positive");
    c.attention_scale = std::pow(scalar, -0.5);
    // transformers' Gemma3Attention never passes attn_logit_softcapping to its attention
    // function (gemma2 does): the key is read but has no effect there, nor here.
    if (num_or(j, "attn_logit_softcapping", 0.0) < 0) throw FormatError(source + ": attn_logit_softcapping < 0");
    c.attn_logit_softcapping = 0.0;
    c.final_logit_softcapping = num_or(j, "final_logit_softcapping", 0.0);
    if (c.final_logit_softcapping < 0) {
      throw FormatError(source + ": logit soft-capping must be positive");
    }
    const int64_t window = int_or(j, "sliding_window", 4096);
    if (window < 0) throw FormatError(source + ": sliding_window must be positive, got " + std::to_string(window));

    // Layer types: given, or every sliding_window_pattern-th layer full.
    int64_t pattern = 0;
    if (!present(j, "layer_types")) {
      pattern = int_or(j, "sliding_window_pattern", 6);
      if (pattern <= 0) throw FormatError(source + ": sliding_window_pattern must be positive");
    }
    const std::vector<std::string> types = layer_types_or(j, c.n_layers, source, [&](int64_t i) {
      return (i + 1) % pattern != 0 ? "sliding_attention" : "full_attention";
    });

    // ropes[0]: full layers, ropes[1]: sliding layers.
    const io::Json rp = gemma3_rope_parameters(j, source);
    c.ropes.clear();
    for (const char* lt : {"full_attention", "sliding_attention"}) {
      io::Json one = io::Json::object();
      one["rope_parameters"] = rp.at(lt);
      one["max_position_embeddings"] = c.max_position_embeddings;
      c.ropes.push_back(parse_rope(one, source + " (rope_parameters." + lt + ")"));
    }
    apply_layer_types(c, types, window, /*sliding_rope=*/1, source);
    return 0;
  });
  return c;
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
  f.parse_config = parse_gemma;
  return decoder_architecture(std::move(f), gemma_blocks(false), /*position_ids=*/false, /*text_classification=*/true);
}

Architecture gemma3_text_architecture() {
  DecoderFamily f;
  f.model_type = "gemma3_text";
  f.parse_config = parse_gemma3_text;
  f.names.attn_out_norm = "post_attention_layernorm";
  f.names.mlp_norm = "pre_feedforward_layernorm";
  f.names.mlp_out_norm = "post_feedforward_layernorm";
  return decoder_architecture(std::move(f), gemma_blocks(true), /*position_ids=*/false, /*text_classification=*/false);
}

}  // namespace optimum::models
