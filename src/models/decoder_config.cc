// The decoders' spec tables and their generic reader (decoder_spec.h), RoPE
// frequencies as transformers' modeling_rope_utils computes them, the
// weight loader driven by a family's name table.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <utility>

#include "config_fields.h"
#include "optimum/core/errors.h"
#include "optimum/models/decoder_spec.h"

namespace optimum::models {

namespace {

// Largest layer count a config may ask for (the deepest released models have ~128).
constexpr int64_t kMaxLayers = int64_t{1} << 16;

RopeType rope_type_from_name(const std::string& name, const std::string& source) {
  static const std::map<std::string, RopeType> types = {{"default", RopeType::Default},
                                                         {"linear", RopeType::Linear},
                                                         {"dynamic", RopeType::Dynamic},
                                                         {"llama3", RopeType::Llama3},
                                                         {"yarn", RopeType::Yarn},
                                                         {"longrope", RopeType::LongRope}};
  auto it = types.find(name);
  if (it == types.end()) {
    throw Unsupported(source + ": rope_type '" + name +
                      "' is not supported (supported: default, linear, dynamic, llama3, yarn, longrope)");
  }
  return it->second;
}

// LongRoPE (transformers' _compute_longrope_parameters): short/long factors of
// rotary_dims / 2 entries, factor defaulting to max / original positions,
// attention_factor to sqrt(1 + ln(factor) / ln(original)) when factor > 1.
void parse_longrope(const io::Json& params, const io::Json& config, const std::string& source, RopeConfig& r) {
  for (const char* key : {"short_factor", "long_factor"}) {
    if (!present(params, key) || !params.at(key).is_array()) {
      throw FormatError(source + ": longrope rope_parameters need a '" + key + "' list");
    }
  }
  r.short_factor = params.at("short_factor").get<std::vector<float>>();
  r.long_factor = params.at("long_factor").get<std::vector<float>>();
  const double orig = static_cast<double>(r.original_max_position_embeddings);
  if (!(orig > 0)) throw FormatError(source + ": longrope needs original_max_position_embeddings > 0");
  r.factor = present(params, "factor") ? params.at("factor").get<double>()
                                       : static_cast<double>(int_or(config, "max_position_embeddings", 0)) / orig;
  if (present(params, "attention_factor")) {
    r.attention_factor = params.at("attention_factor").get<double>();
  } else {
    r.attention_factor = r.factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(r.factor) / std::log(orig));
  }
}

}  // namespace

RopeConfig parse_rope(const io::Json& config, const std::string& source, double default_theta,
                      const std::string& layer_type) {
  return io::with_json_context(source, [&] {
    io::Json params = io::Json::object();
    if (present(config, "rope_scaling") && !config.at("rope_scaling").empty()) {
      params = config.at("rope_scaling");
    } else if (present(config, "rope_parameters")) {
      params = config.at("rope_parameters");
    }
    if (!params.is_object()) throw FormatError(source + ": rope_parameters must be an object");
    if (!layer_type.empty() && present(params, layer_type.c_str())) params = params.at(layer_type);
    RopeConfig r;
    const std::string type =
        present(params, "rope_type") ? params.at("rope_type").get<std::string>()
                                     : (present(params, "type") ? params.at("type").get<std::string>() : "default");
    r.type = rope_type_from_name(type, source);
    r.theta = num_or(params, "rope_theta", num_or(config, "rope_theta", default_theta));
    r.partial_rotary_factor = num_or(params, "partial_rotary_factor", num_or(config, "partial_rotary_factor", 1.0));
    const int64_t max_pos = int_or(config, "max_position_embeddings", 0);
    if (r.type == RopeType::Llama3 || r.type == RopeType::Yarn || r.type == RopeType::LongRope) {
      r.original_max_position_embeddings =
          present(config, "original_max_position_embeddings")
              ? config.at("original_max_position_embeddings").get<int64_t>()
              : int_or(params, "original_max_position_embeddings", max_pos);
    }
    if (r.type == RopeType::LongRope) {
      parse_longrope(params, config, source, r);
    } else if (r.type != RopeType::Default) {
      if (!params.contains("factor")) throw FormatError(source + ": rope_parameters of type '" + type + "' needs 'factor'");
      if (params.at("factor").is_null()) {
        if (r.type != RopeType::Yarn || r.original_max_position_embeddings <= 0) {
          throw FormatError(source + ": rope_parameters.factor is null");
        }
        r.factor = static_cast<double>(max_pos) / static_cast<double>(r.original_max_position_embeddings);
      } else {
        r.factor = params.at("factor").get<double>();
      }
    }
    if (r.type == RopeType::Llama3) {
      if (!present(params, "low_freq_factor") || !present(params, "high_freq_factor")) {
        throw FormatError(source + ": llama3 rope_parameters need low_freq_factor and high_freq_factor");
      }
      r.low_freq_factor = params.at("low_freq_factor").get<double>();
      r.high_freq_factor = params.at("high_freq_factor").get<double>();
    }
    if (r.type == RopeType::Yarn) {
      if (present(params, "attention_factor")) r.attention_factor = params.at("attention_factor").get<double>();
      // transformers: `get("beta_fast") or 32` (0 also falls back).
      r.beta_fast = num_or(params, "beta_fast", 0.0);
      if (r.beta_fast == 0.0) r.beta_fast = 32.0;
      r.beta_slow = num_or(params, "beta_slow", 0.0);
      if (r.beta_slow == 0.0) r.beta_slow = 1.0;
      r.mscale = num_or(params, "mscale", 0.0);
      r.mscale_all_dim = num_or(params, "mscale_all_dim", 0.0);
      r.truncate = present(params, "truncate") ? params.at("truncate").get<bool>() : true;
    }
    return r;
  });
}

RopeTable rope_inv_freq(const RopeConfig& rope, const DecoderConfig& config, int64_t seq_len) {
  RopeTable t;
  const auto dim = static_cast<int64_t>(static_cast<double>(config.head_dim) * rope.partial_rotary_factor);
  t.rotary_dims = dim;
  const int64_t half = (dim + 1) / 2;
  double base = rope.theta;
  if (rope.type == RopeType::Dynamic) {
    const double mpe = static_cast<double>(config.max_position_embeddings);
    const double len = std::max(static_cast<double>(seq_len), mpe);
    base = base * std::pow((rope.factor * len / mpe) - (rope.factor - 1.0),
                           static_cast<double>(dim) / static_cast<double>(dim - 2));
  }
  // transformers: 1 / base ** (arange(0, dim, 2).float() / dim), in f32.
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const auto e = static_cast<float>(static_cast<float>(2 * i) / static_cast<float>(dim));
    inv[i] = static_cast<float>(1.0 / static_cast<float>(std::pow(base, static_cast<double>(e))));
  }
  switch (rope.type) {
    case RopeType::Default:
    case RopeType::Dynamic:
      break;
    case RopeType::LongRope: {
      // The long factors once the sequence passes the original length (seq_len 0: at init, short).
      const std::vector<float>& ext =
          seq_len > rope.original_max_position_embeddings ? rope.long_factor : rope.short_factor;
      if (static_cast<int64_t>(ext.size()) != half) {
        throw FormatError("longrope: " + std::to_string(ext.size()) + " factors for " + std::to_string(half) +
                          " rotary frequencies");
      }
      // transformers: 1 / (ext_factors * base ** (arange(0, dim, 2) / dim)), in f32.
      for (int64_t i = 0; i < half; ++i) {
        const auto e = static_cast<float>(2 * i) / static_cast<float>(dim);
        const auto pos_freq = static_cast<float>(std::pow(base, static_cast<double>(e)));
        inv[i] = 1.0f / (ext[i] * pos_freq);
      }
      t.attention_scaling = static_cast<float>(rope.attention_factor);
      break;
    }
    case RopeType::Linear:
      for (float& f : inv) f = static_cast<float>(f / rope.factor);
      break;
    case RopeType::Llama3: {
      const double old_len = static_cast<double>(rope.original_max_position_embeddings);
      const double low_wavelen = old_len / rope.low_freq_factor;
      const double high_wavelen = old_len / rope.high_freq_factor;
      for (float& f : inv) {
        const float wavelen = static_cast<float>(2.0 * std::numbers::pi) / f;
        const float scaled = wavelen > low_wavelen ? static_cast<float>(f / rope.factor) : f;
        const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
        if (medium) {
          const float smooth = static_cast<float>((old_len / wavelen - rope.low_freq_factor) /
                                                  (rope.high_freq_factor - rope.low_freq_factor));
          f = (1.0f - smooth) * static_cast<float>(scaled / rope.factor) + smooth * scaled;
        } else {
          f = scaled;
        }
      }
      break;
    }
    case RopeType::Yarn: {
      const double factor = rope.factor;
      auto get_mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
      double attention_factor = rope.attention_factor;
      if (std::isnan(attention_factor)) {
        attention_factor = rope.mscale != 0.0 && rope.mscale_all_dim != 0.0
                               ? get_mscale(factor, rope.mscale) / get_mscale(factor, rope.mscale_all_dim)
                               : get_mscale(factor, 1.0);
      }
      t.attention_scaling = static_cast<float>(attention_factor);
      const double orig = static_cast<double>(rope.original_max_position_embeddings);
      auto correction_dim = [&](double rotations) {
        return (static_cast<double>(dim) * std::log(orig / (rotations * 2 * std::numbers::pi))) /
               (2 * std::log(rope.theta));
      };
      double low = correction_dim(rope.beta_fast);
      double high = correction_dim(rope.beta_slow);
      if (rope.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, static_cast<double>(dim - 1));
      if (low == high) high += 0.001;
      for (int64_t i = 0; i < half; ++i) {
        const float pos_freq = static_cast<float>(
            std::pow(rope.theta, static_cast<double>(static_cast<float>(2 * i) / static_cast<float>(dim))));
        const float extrapolation = 1.0f / pos_freq;
        const float interpolation = static_cast<float>(1.0 / (factor * pos_freq));
        const float ramp = static_cast<float>(std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0));
        const float extra_factor = 1.0f - ramp;
        inv[i] = interpolation * (1.0f - extra_factor) + extrapolation * extra_factor;
      }
      break;
    }
  }
  t.inv_freq = std::move(inv);
  return t;
}

// ------------------------------------------------ spec tables (decoder_spec.h)

config::KeySpec key(const std::string& field, config::KeyType type, io::Json fallback, config::KeyCheck check) {
  return renamed(field, field, type, std::move(fallback), check);
}

config::KeySpec renamed(const std::string& field, const std::string& name, config::KeyType type, io::Json fallback,
                        config::KeyCheck check) {
  config::KeySpec k;
  k.field = field;
  k.key = name;
  k.type = type;
  k.fallback = std::move(fallback);
  k.check = check;
  return k;
}

config::KeySpec fixed(const std::string& field, io::Json value) {
  config::KeySpec k;
  k.field = field;
  k.type = value.is_boolean() ? config::KeyType::Boolean
           : value.is_string() ? config::KeyType::String
           : value.is_number_integer() ? config::KeyType::Integer
                                       : config::KeyType::Number;
  k.fallback = std::move(value);
  return k;
}

std::vector<config::KeySpec> llama_keys() {
  using config::KeyCheck;
  using config::KeyType;
  const io::Json none;
  return {
      key("vocab_size", KeyType::Integer, 32000, KeyCheck::Positive),
      key("hidden_size", KeyType::Integer, 4096, KeyCheck::Positive),
      key("intermediate_size", KeyType::Integer, 11008, KeyCheck::Positive),
      key("num_hidden_layers", KeyType::Integer, 32, KeyCheck::Positive),
      key("num_attention_heads", KeyType::Integer, 32, KeyCheck::Positive),
      key("num_key_value_heads", KeyType::Integer, none, KeyCheck::Positive),
      key("head_dim", KeyType::Integer, none, KeyCheck::Positive),
      key("max_position_embeddings", KeyType::Integer, 2048, KeyCheck::Positive),
      key("hidden_act", KeyType::String, "silu"),
      renamed("norm_eps", "rms_norm_eps", KeyType::Number, 1e-6, KeyCheck::NonNegative),
      key("tie_word_embeddings", KeyType::Boolean, false),
      key("attention_bias", KeyType::Boolean, false),
      key("mlp_bias", KeyType::Boolean, false),
      key("rope_theta", KeyType::Number, 10000.0, KeyCheck::Positive),
      key("partial_rotary_factor", KeyType::Number, none, KeyCheck::Positive),
      key("rope_parameters", KeyType::Object, none),
      key("rope_scaling", KeyType::Object, none),
  };
}

std::vector<config::KeySpec> with_defaults(std::vector<config::KeySpec> keys, const io::Json& defaults) {
  for (auto it = defaults.begin(); it != defaults.end(); ++it) keys = config::with_default(std::move(keys), it.key(), it.value());
  return keys;
}

std::vector<config::KeySpec> without(std::vector<config::KeySpec> keys, const std::string& field) {
  const auto n = keys.size();
  std::erase_if(keys, [&](const config::KeySpec& k) { return k.field == field; });
  if (keys.size() == n) throw InvalidArgument("key table has no field '" + field + "'");
  return keys;
}

const config::KeySpec* find_key(const std::vector<config::KeySpec>& keys, const std::string& field) {
  for (const config::KeySpec& k : keys) {
    if (k.field == field) return &k;
  }
  return nullptr;
}

namespace {

std::string rope_type_name(RopeType t) {
  switch (t) {
    case RopeType::Default:
      return "default";
    case RopeType::Linear:
      return "linear";
    case RopeType::Dynamic:
      return "dynamic";
    case RopeType::Llama3:
      return "llama3";
    case RopeType::Yarn:
      return "yarn";
    case RopeType::LongRope:
      return "longrope";
  }
  return "?";
}

// The table declares `field` and the engine uses it (not `ignored`).
bool reads(const config::ConfigSpec& spec, const config::KeyValues& v, const std::string& field) {
  const config::KeySpec* k = find_key(spec.keys, field);
  return k != nullptr && !k->ignored && v.has(field);
}

// config.json with the rope types the configuration class renames renamed
// (Phi3Config: su, yarn -> longrope).
io::Json renamed_rope_types(const io::Json& j, const std::map<std::string, std::string>& aliases) {
  io::Json config = j;
  if (aliases.empty()) return config;
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!present(config, key) || !config.at(key).is_object()) continue;
    io::Json& params = config.at(key);
    for (const char* type_key : {"rope_type", "type"}) {
      if (!present(params, type_key) || !params.at(type_key).is_string()) continue;
      auto it = aliases.find(params.at(type_key).get<std::string>());
      if (it != aliases.end()) params[type_key] = it->second;
    }
  }
  return config;
}

// Settings nested by layer type (Gemma3TextConfig.convert_rope_params_to_dict):
// rope_parameters by layer type (a flat object is the first type's),
// rope_scaling merged into the first type's, each type's theta from its
// field when the settings lack one.
std::vector<RopeConfig> ropes_by_layer_type(const config::ConfigSpec::Rope& spec,
                                            const config::KeyValues& v, int64_t max_positions,
                                            const std::string& source) {
  const std::string& first = spec.by_layer_type.front().first;
  io::Json rp = io::Json::object();
  if (v.has("rope_parameters")) {
    const io::Json& given = v.get("rope_parameters");
    bool nested = false;
    for (const auto& entry : spec.by_layer_type) nested = nested || given.contains(entry.first);
    if (nested) {
      rp = given;
    } else if (!given.empty()) {
      rp[first] = given;
    }
  }
  for (const auto& entry : spec.by_layer_type) {
    const std::string& lt = entry.first;
    if (!present(rp, lt.c_str())) rp[lt] = io::Json{{"rope_type", "default"}};
    if (!rp.at(lt).is_object()) throw FormatError(source + ": rope_parameters." + lt + " must be an object");
  }
  if (v.has("rope_scaling")) rp[first].update(v.get("rope_scaling"));
  std::vector<RopeConfig> ropes;
  for (const auto& [lt, theta_field] : spec.by_layer_type) {
    if (!present(rp[lt], "rope_theta")) rp[lt]["rope_theta"] = v.number(theta_field);
    io::Json one = io::Json::object();
    one["rope_parameters"] = rp.at(lt);
    one["max_position_embeddings"] = max_positions;
    ropes.push_back(parse_rope(renamed_rope_types(one, spec.type_aliases), source + " (rope_parameters." + lt + ")"));
  }
  return ropes;
}

std::vector<RopeConfig> read_ropes(const io::Json& j, const config::ConfigSpec& spec, const config::KeyValues& v,
                                   int64_t max_positions, const std::string& source) {
  std::vector<RopeConfig> ropes;
  if (!spec.rope.by_layer_type.empty()) {
    ropes = ropes_by_layer_type(spec.rope, v, max_positions, source);
  } else {
    const double theta = v.has("rope_theta") ? v.number("rope_theta") : 10000.0;
    ropes = {parse_rope(renamed_rope_types(j, spec.rope.type_aliases), source, theta)};
  }
  if (!spec.rope.types.empty()) {
    for (const RopeConfig& r : ropes) {
      const std::string name = rope_type_name(r.type);
      if (std::find(spec.rope.types.begin(), spec.rope.types.end(), name) != spec.rope.types.end()) continue;
      std::string allowed;
      for (const std::string& t : spec.rope.types) allowed += (allowed.empty() ? "" : " or ") + t;
      std::string aliases;
      for (const auto& [from, to] : spec.rope.type_aliases) aliases += ", " + from + " = " + to;
      throw Unsupported(source + ": rope_type '" + name + "' is not supported for " + spec.model_type +
                        " (supported: " + allowed + aliases + ")");
    }
  }
  return ropes;
}

// Each layer by its type: "sliding_attention" gets `window` and the last
// RoPE setting, "full_attention" the first; any other type is Unsupported.
void apply_layer_types(DecoderConfig& c, const std::vector<std::string>& types, int64_t window,
                       const std::string& source) {
  const int sliding_rope = static_cast<int>(c.ropes.size()) - 1;
  for (int64_t i = 0; i < c.n_layers; ++i) {
    if (types[i] == "sliding_attention") {
      c.layers[i].sliding_window = window;
      c.layers[i].rope = sliding_rope;
    } else if (types[i] == "full_attention") {
      c.layers[i].rope = 0;
    } else {
      throw Unsupported(source + ": layer_types[" + std::to_string(i) + "] '" + types[i] + "' is not supported");
    }
  }
}

DecoderConfig read_unchecked(const io::Json& j, const config::ConfigSpec& spec, const BlockOptions& blocks,
                             const DecoderFamily& family, const std::string& source) {
  const config::KeyValues v = config::read_keys(j, spec.keys, source);
  DecoderConfig c;
  c.model_type = spec.model_type;
  c.vocab_size = v.integer("vocab_size");
  c.hidden_size = v.integer("hidden_size");
  c.n_layers = v.integer("num_hidden_layers");
  c.n_heads = v.integer("num_attention_heads");
  if (c.n_heads <= 0) throw FormatError(source + ": num_attention_heads must be positive, got " + std::to_string(c.n_heads));
  c.n_heads_kv = reads(spec, v, "num_key_value_heads") ? v.integer("num_key_value_heads") : c.n_heads;
  c.head_dim = reads(spec, v, "head_dim") ? v.integer("head_dim") : c.hidden_size / c.n_heads;
  // Absent (GPT2Config's n_inner None): 4 * hidden_size (a hidden_size that large is refused by validation).
  c.intermediate_size = reads(spec, v, "intermediate_size")            ? v.integer("intermediate_size")
                        : c.hidden_size <= (int64_t{1} << 40) ? 4 * c.hidden_size
                                                              : c.hidden_size;
  c.max_position_embeddings = v.integer("max_position_embeddings");
  try {
    c.act = kernels::activation_from_name(v.string("hidden_act"));
  } catch (const Unsupported& e) {
    throw Unsupported(source + ": " + v.key("hidden_act") + ": " + e.what());
  }
  c.norm_eps = v.number("norm_eps");
  c.tie_word_embeddings = v.boolean("tie_word_embeddings");
  // The structure is the entry's blocks.
  c.positions = blocks.embeddings.positions;
  c.norm = blocks.norm.kind;
  c.gated_mlp = blocks.mlp.gated;
  c.qk_norm = blocks.attention.qk_norm;
  c.sandwich_norms = blocks.norm.sandwich;
  c.scale_embeddings = blocks.embeddings.scaled;
  c.attention_bias = reads(spec, v, "attention_bias") && v.boolean("attention_bias");
  c.attention_out_bias =
      find_key(spec.keys, "attention_out_bias") != nullptr ? v.boolean("attention_out_bias") : c.attention_bias;
  c.mlp_bias = reads(spec, v, "mlp_bias") && v.boolean("mlp_bias");
  if (c.n_layers > kMaxLayers) {
    throw FormatError(source + ": " + v.key("num_hidden_layers") + " " + std::to_string(c.n_layers) + " is too large");
  }
  c.layers.assign(static_cast<size_t>(std::max<int64_t>(c.n_layers, 0)), DecoderLayerOptions{});
  // Attention scale: head_dim^-0.5, query_pre_attn_scalar^-0.5, or 1 without scaling.
  c.attention_scale = c.head_dim > 0 ? std::pow(static_cast<double>(c.head_dim), -0.5) : 0.0;
  if (reads(spec, v, "query_pre_attn_scalar")) c.attention_scale = std::pow(v.number("query_pre_attn_scalar"), -0.5);
  if (reads(spec, v, "scale_attn_weights") && !v.boolean("scale_attn_weights")) c.attention_scale = 1.0;
  if (reads(spec, v, "attn_logit_softcapping")) c.attn_logit_softcapping = v.number("attn_logit_softcapping");
  if (reads(spec, v, "final_logit_softcapping")) c.final_logit_softcapping = v.number("final_logit_softcapping");
  if (c.positions == PositionKind::Rope) c.ropes = read_ropes(j, spec, v, c.max_position_embeddings, source);
  // Sliding windows: every layer, or the sliding layers of layer_types.
  int64_t window = reads(spec, v, "sliding_window") ? v.integer("sliding_window") : 0;
  if (find_key(spec.keys, "use_sliding_window") != nullptr && !v.boolean("use_sliding_window")) window = 0;
  if (find_key(spec.keys, "layer_types") != nullptr) {
    std::vector<std::string> types;
    if (v.has("layer_types")) {
      types = v.strings("layer_types");
      if (static_cast<int64_t>(types.size()) != c.n_layers) {
        throw FormatError(source + ": layer_types has " + std::to_string(types.size()) + " entries for " +
                          std::to_string(c.n_layers) + " layers");
      }
    } else {
      for (int64_t i = 0; i < c.n_layers; ++i) {
        types.push_back(family.layer_type ? family.layer_type(v, i) : std::string("full_attention"));
      }
    }
    apply_layer_types(c, types, window, source);
  } else {
    for (DecoderLayerOptions& l : c.layers) l.sliding_window = window;
  }
  if (family.finish) family.finish(c, v);
  c.raw = j;
  return c;
}

}  // namespace

void check_decoder_spec(const config::ConfigSpec& spec) {
  std::vector<std::string> needed = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                     "max_position_embeddings", "hidden_act", "norm_eps", "tie_word_embeddings"};
  for (const auto& entry : spec.rope.by_layer_type) needed.push_back(entry.second);
  for (const std::string& f : needed) {
    if (find_key(spec.keys, f) == nullptr) {
      throw InvalidArgument("decoder '" + spec.model_type + "': its config key table has no '" + f + "'");
    }
  }
}

DecoderConfig read_decoder_config(const io::Json& config, const config::ConfigSpec& spec, const BlockOptions& blocks,
                                  const DecoderFamily& family, const std::string& source) {
  return io::with_json_context(source, [&] { return read_unchecked(config, spec, blocks, family, source); });
}

void validate_decoder_config(const DecoderConfig& c, const std::string& source) {
  // The sizes: positive, and bounded so that every size product stays far
  // from overflow (a 1T-parameter model fits).
  const std::pair<int64_t, const char*> sizes[] = {
      {c.vocab_size, "vocab_size"},          {c.hidden_size, "hidden_size"},
      {c.intermediate_size, "intermediate_size"},
      {c.n_layers, "num_hidden_layers"},    {c.n_heads, "num_attention_heads"},
      {c.n_heads_kv, "num_key_value_heads"}, {c.head_dim, "head_dim"},
  };
  auto positive = [&](int64_t v, const char* field) {
    if (v <= 0) throw FormatError(source + ": " + field + " must be positive, got " + std::to_string(v));
  };
  for (const auto& [v, field] : sizes) positive(v, field);
  positive(c.max_position_embeddings, "max_position_embeddings");
  constexpr int64_t kMaxDim = int64_t{1} << 24;
  auto bounded = [&](int64_t v, const char* field) {
    if (v > kMaxDim) throw FormatError(source + ": " + field + " " + std::to_string(v) + " is too large");
  };
  for (const auto& [v, field] : sizes) bounded(v, field);
  bounded(c.n_heads * c.head_dim, "num_attention_heads * head_dim");
  if (c.positions == PositionKind::Learned) bounded(c.max_position_embeddings, "max_position_embeddings");
  if (c.n_heads % c.n_heads_kv != 0) {
    throw FormatError(source + ": num_attention_heads " + std::to_string(c.n_heads) +
                      " is not a multiple of num_key_value_heads " + std::to_string(c.n_heads_kv));
  }
  if (static_cast<int64_t>(c.layers.size()) != c.n_layers) {
    throw FormatError(source + ": " + std::to_string(c.layers.size()) + " layer options for " +
                      std::to_string(c.n_layers) + " layers (layer_types?)");
  }
  if (c.ropes.empty()) throw FormatError(source + ": no RoPE settings");
  for (const DecoderLayerOptions& l : c.layers) {
    if (l.rope < 0 || l.rope >= static_cast<int>(c.ropes.size())) throw FormatError(source + ": bad layer rope index");
    if (l.sliding_window < 0) {
      throw FormatError(source + ": sliding_window must be positive, got " + std::to_string(l.sliding_window));
    }
  }
  if (c.positions == PositionKind::Rope) {
    for (const RopeConfig& r : c.ropes) {
      const auto dims = static_cast<int64_t>(static_cast<double>(c.head_dim) * r.partial_rotary_factor);
      if (dims <= 0 || dims > c.head_dim || dims % 2 != 0) {
        throw FormatError(source + ": rotary dimensions " + std::to_string(dims) + " (head_dim " +
                          std::to_string(c.head_dim) + " * partial_rotary_factor) must be even and in (0, head_dim]");
      }
      if (!(r.theta > 0) || !std::isfinite(r.theta)) throw FormatError(source + ": rope_theta must be positive");
      if (r.type != RopeType::Default && !(r.factor > 0)) throw FormatError(source + ": rope factor must be positive");
      if (r.type == RopeType::LongRope) {
        const auto half = static_cast<size_t>(dims / 2);
        if (r.short_factor.size() != half || r.long_factor.size() != half) {
          throw FormatError(source + ": longrope short_factor/long_factor have " +
                            std::to_string(r.short_factor.size()) + "/" + std::to_string(r.long_factor.size()) +
                            " entries, rotary dimensions need " + std::to_string(half));
        }
        if (!(r.attention_factor > 0) || !std::isfinite(r.attention_factor)) {
          throw FormatError(source + ": longrope attention_factor must be positive");
        }
      }
      if ((r.type == RopeType::Llama3 || r.type == RopeType::Yarn || r.type == RopeType::LongRope) &&
          r.original_max_position_embeddings <= 0) {
        throw FormatError(source + ": original_max_position_embeddings must be positive");
      }
      if (r.type == RopeType::Dynamic && dims <= 2) throw FormatError(source + ": dynamic RoPE needs head_dim > 2");
    }
  }
  if (!(c.norm_eps >= 0) || !std::isfinite(c.norm_eps)) throw FormatError(source + ": norm eps must be >= 0");
}



namespace {

std::string layer_name(const std::string& pattern, int64_t i, const std::string& leaf) {
  std::string p = pattern;
  const auto at = p.find("{i}");
  if (at != std::string::npos) p.replace(at, 3, std::to_string(i));
  return p + leaf;
}

DecoderNorm load_norm(const WeightSource& src, const std::string& name, int64_t dim, NormKind kind) {
  DecoderNorm n;
  n.weight = src.tensor(name + ".weight", {dim});
  if (kind == NormKind::LayerNorm) n.bias = src.tensor(name + ".bias", {dim});
  return n;
}

}  // namespace

DecoderWeights load_decoder_weights(const DecoderConfig& c, const DecoderWeightNames& names,
                                    const io::WeightStore& store) {
  WeightSource src(store, names.base_prefix);
  DecoderWeights w;
  w.embed_tokens = src.tensor(src.base(names.embed_tokens), {c.vocab_size, c.hidden_size});
  if (c.positions == PositionKind::Learned) {
    w.position_embeddings =
        src.tensor(src.base(names.position_embeddings), {c.max_position_embeddings, c.hidden_size});
  }
  const int64_t q_out = c.n_heads * c.head_dim;
  const int64_t kv_out = c.n_heads_kv * c.head_dim;
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto name = [&](const std::string& leaf) { return src.base(layer_name(names.layer, i, leaf)); };
    DecoderLayerWeights l;
    l.attn_norm = load_norm(src, name(names.attn_norm), c.hidden_size, c.norm);
    l.mlp_norm = load_norm(src, name(names.mlp_norm), c.hidden_size, c.norm);
    if (c.sandwich_norms) {
      l.attn_out_norm = load_norm(src, name(names.attn_out_norm), c.hidden_size, c.norm);
      l.mlp_out_norm = load_norm(src, name(names.mlp_out_norm), c.hidden_size, c.norm);
    }
    if (c.qk_norm) {
      l.q_norm = load_norm(src, name(names.q_norm), c.head_dim, c.norm);
      l.k_norm = load_norm(src, name(names.k_norm), c.head_dim, c.norm);
    }
    if (!names.qkv.empty()) {
      l.qkv = src.linear(name(names.qkv), c.hidden_size, q_out + 2 * kv_out, c.attention_bias);
    } else {
      const Linear q = src.linear(name(names.q), c.hidden_size, q_out, c.attention_bias);
      const Linear k = src.linear(name(names.k), c.hidden_size, kv_out, c.attention_bias);
      const Linear v = src.linear(name(names.v), c.hidden_size, kv_out, c.attention_bias);
      l.qkv = fuse_linears({&q, &k, &v});
    }
    l.o = src.linear(name(names.o), q_out, c.hidden_size, c.attention_out_bias);
    if (!c.gated_mlp) {
      l.gate_up = src.linear(name(names.up), c.hidden_size, c.intermediate_size, c.mlp_bias);
    } else if (!names.gate_up.empty()) {
      l.gate_up = src.linear(name(names.gate_up), c.hidden_size, 2 * c.intermediate_size, c.mlp_bias);
    } else {
      const Linear g = src.linear(name(names.gate), c.hidden_size, c.intermediate_size, c.mlp_bias);
      const Linear u = src.linear(name(names.up), c.hidden_size, c.intermediate_size, c.mlp_bias);
      l.gate_up = fuse_linears({&g, &u});
    }
    l.down = src.linear(name(names.down), c.intermediate_size, c.hidden_size, c.mlp_bias);
    w.layers.push_back(std::move(l));
  }
  w.final_norm = load_norm(src, src.base(names.final_norm), c.hidden_size, c.norm);
  if (c.tie_word_embeddings) {
    w.lm_head.weight = w.embed_tokens;
    w.lm_head.in = c.hidden_size;
    w.lm_head.out = c.vocab_size;
  } else if (src.has(names.lm_head + ".weight")) {
    w.lm_head = src.linear(names.lm_head, c.hidden_size, c.vocab_size, false);
  }
  return w;
}

}  // namespace optimum::models
