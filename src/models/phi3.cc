// phi3: llama blocks with fused checkpoint projections (self_attn.qkv_proj
// [q; k; v], mlp.gate_up_proj [gate; up]), partial rotary embeddings,
// longrope scaling (rope_type "su" and "yarn" are longrope, as Phi3Config
// renames them) and an optional sliding window on every layer. Keys and
// defaults are those of transformers' Phi3Config.
#include "config_fields.h"
#include "optimum/models/architecture.h"

namespace optimum::models {

namespace {

DecoderConfig parse_phi3(const io::Json& j, const std::string& source) {
  if (!j.is_object()) throw FormatError(source + ": config must be a JSON object");
  // Phi3Config.convert_rope_params_to_dict: "su" / "yarn" mean longrope.
  io::Json config = j;
  io::with_json_context(source, [&] {
    for (const char* key : {"rope_scaling", "rope_parameters"}) {
      if (!present(config, key) || !config.at(key).is_object()) continue;
      io::Json& params = config.at(key);
      for (const char* type_key : {"rope_type", "type"}) {
        if (present(params, type_key) && params.at(type_key).is_string()) {
          const std::string t = params.at(type_key).get<std::string>();
          if (t == "su" || t == "yarn") params[type_key] = "longrope";
        }
      }
    }
    return 0;
  });
  LlamaLikeDefaults d;
  d.vocab_size = 32064;
  d.hidden_size = 3072;
  d.intermediate_size = 8192;
  d.n_layers = 32;
  d.n_heads = 32;
  d.max_position_embeddings = 4096;
  d.rms_norm_eps = 1e-5;
  DecoderConfig c = parse_llama_like(config, source, d);
  c.raw = j;
  for (const RopeConfig& r : c.ropes) {
    if (r.type != RopeType::Default && r.type != RopeType::LongRope) {
      throw Unsupported(source + ": phi3 rope_type must be default or longrope (su, yarn)");
    }
  }
  const int64_t window = io::with_json_context(source, [&] {
    return int_or(j, "sliding_window", 0);
  });
  if (window < 0) throw FormatError(source + ": sliding_window must be positive, got " + std::to_string(window));
  for (DecoderLayerOptions& l : c.layers) l.sliding_window = window;
  return c;
}

}  // namespace

Architecture phi3_architecture() {
  DecoderFamily f;
  f.model_type = "phi3";
  f.parse_config = parse_phi3;
  f.names.qkv = "self_attn.qkv_proj";
  f.names.gate_up = "mlp.gate_up_proj";
  BlockOptions blocks = decoder_blocks();
  blocks.attention.sliding_window = true;
  return decoder_architecture(std::move(f), blocks, /*position_ids=*/true, /*text_classification=*/true);
}

}  // namespace optimum::models
