// Decoders' config specs as data: the key tables (config::KeySpec) of
// transformers' configuration classes, built from one shared LlamaConfig
// table that each family file edits (its defaults, its extra keys), and the
// one generic reader that turns a table's values into a DecoderConfig.
//
// The generic reader knows these fields (a table declares those its family
// reads; the key names and defaults are the table's):
//   vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
//   max_position_embeddings, hidden_act, norm_eps, tie_word_embeddings:
//     required in every table;
//   intermediate_size (null: 4 * hidden_size), num_key_value_heads (null:
//     num_attention_heads), head_dim (null: hidden_size / num_attention_heads);
//   attention_bias (q/k/v), attention_out_bias (absent: = attention_bias),
//   mlp_bias;
//   rope_theta, rope_parameters, rope_scaling, partial_rotary_factor (with
//     ConfigSpec::rope: renamed types, allowed types, per-layer-type settings);
//   sliding_window (every layer, or the sliding ones when the table has
//     layer_types), use_sliding_window (false: no window), layer_types
//     (per layer; absent: DecoderFamily::layer_type);
//   query_pre_attn_scalar (the attention scale), scale_attn_weights (false:
//     scale 1), final_logit_softcapping, attn_logit_softcapping.
// Any other key a table declares is read and checked (type, range, refused
// values) for the family's hooks.
#pragma once

#include <string>
#include <vector>

#include "optimum/config/config.h"
#include "optimum/models/blocks.h"
#include "optimum/models/decoder.h"

namespace optimum::models {

// A key spelled as its field.
config::KeySpec key(const std::string& field, config::KeyType type, io::Json fallback,
                    config::KeyCheck check = config::KeyCheck::None);
// A key spelled `name` in config.json for `field`.
config::KeySpec renamed(const std::string& field, const std::string& name, config::KeyType type, io::Json fallback,
                        config::KeyCheck check = config::KeyCheck::None);
// A field the family fixes (no key is read).
config::KeySpec fixed(const std::string& field, io::Json value);

// LlamaConfig's keys and defaults: the base table of the RoPE families.
std::vector<config::KeySpec> llama_keys();
// `keys` with the defaults of `defaults` (field -> value) replaced.
std::vector<config::KeySpec> with_defaults(std::vector<config::KeySpec> keys, const io::Json& defaults);
// `keys` without `field` (the family's class has no such key).
std::vector<config::KeySpec> without(std::vector<config::KeySpec> keys, const std::string& field);
// The entry of `field` in `keys`, or null.
const config::KeySpec* find_key(const std::vector<config::KeySpec>& keys, const std::string& field);

// Checks a decoder entry's table at registration: the required fields and
// the fields ConfigSpec::rope names are declared (InvalidArgument naming the
// model_type and the field).
void check_decoder_spec(const config::ConfigSpec& spec);

// config.json -> DecoderConfig by `spec` (keys and rope settings), the
// structure of `blocks` (positions, norm kind, gated MLP, q/k and sandwich
// norms, scaled embeddings) and the family's hooks. FormatError / Unsupported
// name `source` and the key.
DecoderConfig read_decoder_config(const io::Json& config, const config::ConfigSpec& spec, const BlockOptions& blocks,
                                  const DecoderFamily& family, const std::string& source);

}  // namespace optimum::models
