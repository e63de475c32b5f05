// config.json field access for the nested settings the key tables do not
// cover (internal to src/models: rope_parameters' inner keys): optional keys,
// absent or null = the default.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace optimum::models
