// phi3: llama blocks with fused checkpoint projections (self_attn.qkv_proj
// [q; k; v], mlp.gate_up_proj [gate; up]), partial rotary embeddings,
// longrope scaling (rope_type "su" and "yarn" are longrope, as Phi3Config
// renames them) and an optional sliding window on every layer. Keys and
// defaults are those of transformers' Phi3Config.
#include "optimum/models/architecture.h"
#include "optimum/models/decoder_spec.h"

namespace optimum::models {

Architecture phi3_architecture() {
  using config::KeyCheck;
  using config::KeyType;
  DecoderFamily f;
  f.model_type = "phi3";
  f.names.qkv = "self_attn.qkv_proj";
  f.names.gate_up = "mlp.gate_up_proj";
  config::ConfigSpec spec;
  // Phi3Config has no attention_bias / mlp_bias; sliding_window null = none.
  spec.keys = with_defaults(without(without(llama_keys(), "attention_bias"), "mlp_bias"),
                            {{"vocab_size", 32064},
                             {"hidden_size", 3072},
                             {"intermediate_size", 8192},
                             {"num_hidden_layers", 32},
                             {"num_attention_heads", 32},
                             {"max_position_embeddings", 4096},
                             {"norm_eps", 1e-5}});
  spec.keys.push_back(key("sliding_window", KeyType::Integer, 0, KeyCheck::NonNegative));
  // Phi3Config.convert_rope_params_to_dict: "su" / "yarn" mean longrope.
  spec.rope.type_aliases = {{"su", "longrope"}, {"yarn", "longrope"}};
  spec.rope.types = {"default", "longrope"};
  BlockOptions blocks = decoder_blocks();
  blocks.attention.sliding_window = true;
  return decoder_architecture(std::move(f), blocks, std::move(spec), /*position_ids=*/true,
                              /*text_classification=*/true);
}

}  // namespace optimum::models
