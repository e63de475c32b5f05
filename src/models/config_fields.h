// config.json field access shared by the decoder family parsers (internal to
// src/models): optional keys (absent or null = the default) and the
// layer_types list of the families with sliding and full layers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "optimum/models/decoder.h"

namespace optimum::models {

inline bool present(const io::Json& j, const char* key) {
  return j.is_object() && j.contains(key) && !j.at(key).is_null();
}

inline bool bool_or(const io::Json& j, const char* key, bool def) {
  return present(j, key) ? j.at(key).get<bool>() : def;
}

inline int64_t int_or(const io::Json& j, const char* key, int64_t def) {
  return present(j, key) ? j.at(key).get<int64_t>() : def;
}

inline double num_or(const io::Json& j, const char* key, double def) {
  return present(j, key) ? j.at(key).get<double>() : def;
}

// The given layer_types (one entry per layer, else FormatError), or
// `fallback(i)` for each layer i when the key is absent or null.
template <class Fallback>
std::vector<std::string> layer_types_or(const io::Json& j, int64_t n_layers, const std::string& source,
                                        Fallback fallback) {
  std::vector<std::string> types;
  if (present(j, "layer_types")) {
    types = j.at("layer_types").get<std::vector<std::string>>();
    if (static_cast<int64_t>(types.size()) != n_layers) {
      throw FormatError(source + ": layer_types has " + std::to_string(types.size()) + " entries for " +
                        std::to_string(n_layers) + " layers");
    }
  } else {
    for (int64_t i = 0; i < n_layers; ++i) types.push_back(fallback(i));
  }
  return types;
}

// Each layer by its type: "sliding_attention" gets `window` and RoPE
// `sliding_rope`, "full_attention" RoPE 0; any other type is Unsupported.
inline void apply_layer_types(DecoderConfig& c, const std::vector<std::string>& types, int64_t window,
                              int sliding_rope, const std::string& source) {
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

}  // namespace optimum::models
