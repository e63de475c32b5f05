// The declarative key tables (config/config.h): read_keys and KeyValues.
#include <cmath>
#include <limits>

#include "optimum/config/config.h"
#include "optimum/core/errors.h"

namespace optimum::config {

namespace {

const char* type_name(KeyType t) {
  switch (t) {
    case KeyType::Integer:
      return "an integer";
    case KeyType::Number:
      return "a number";
    case KeyType::Boolean:
      return "a boolean";
    case KeyType::String:
      return "a string";
    case KeyType::StringList:
      return "a list of strings";
    case KeyType::Object:
      return "an object";
  }
  return "?";
}

// A short rendering of a value for messages (long lists and objects cut).
std::string shown(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

bool has_type(const Json& v, KeyType t) {
  switch (t) {
    case KeyType::Integer:
      if (v.is_number_integer()) return true;
      if (v.is_number_float()) {
        const double d = v.get<double>();
        return std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18;
      }
      return false;
    case KeyType::Number:
      return v.is_number();
    case KeyType::Boolean:
      return v.is_boolean();
    case KeyType::String:
      return v.is_string();
    case KeyType::StringList:
      if (!v.is_array()) return false;
      for (const Json& e : v) {
        if (!e.is_string()) return false;
      }
      return true;
    case KeyType::Object:
      return v.is_object();
  }
  return false;
}

}  // namespace

std::vector<KeySpec> with_default(std::vector<KeySpec> keys, const std::string& field, Json fallback) {
  for (KeySpec& k : keys) {
    if (k.field == field) {
      k.fallback = std::move(fallback);
      return keys;
    }
  }
  throw InvalidArgument("key table has no field '" + field + "'");
}

KeyValues read_keys(const Json& json, const std::vector<KeySpec>& keys, const std::string& source,
                    int64_t n_layers) {
  if (!json.is_object()) throw FormatError(source + ": config must be a JSON object");
  KeyValues out;
  out.source_ = source;
  for (const KeySpec& k : keys) {
    if (out.values_.count(k.field) != 0) throw InvalidArgument("key table declares field '" + k.field + "' twice");
    std::string found = k.key;
    Json value;
    bool given = false;
    if (!k.key.empty()) {
      if (json.contains(k.key) && !json.at(k.key).is_null()) {
        value = json.at(k.key);
        given = true;
      } else {
        for (const std::string& alias : k.aliases) {
          if (json.contains(alias) && !json.at(alias).is_null()) {
            value = json.at(alias);
            found = alias;
            given = true;
            break;
          }
        }
      }
      if (!given) {
        const bool null_given = json.contains(k.key) && json.at(k.key).is_null();
        value = null_given && k.null_means ? *k.null_means : k.fallback;
      }
    } else {
      value = k.fallback;
    }
    if (given) {
      if (!has_type(value, k.type)) {
        throw FormatError(source + ": key '" + found + "' must be " + type_name(k.type) + ", got " + shown(value));
      }
      if (k.type == KeyType::Integer && value.is_number_float()) value = static_cast<int64_t>(value.get<double>());
      if (k.type == KeyType::Number && !std::isfinite(value.get<double>())) {
        throw FormatError(source + ": key '" + found + "' must be a finite number, got " + shown(value));
      }
      if (k.check != KeyCheck::None && (k.type == KeyType::Integer || k.type == KeyType::Number)) {
        const double d = value.get<double>();
        if (k.check == KeyCheck::Positive && !(d > 0)) {
          throw FormatError(source + ": key '" + found + "' must be positive, got " + shown(value));
        }
        if (k.check == KeyCheck::NonNegative && !(d >= 0)) {
          throw FormatError(source + ": key '" + found + "' must be >= 0, got " + shown(value));
        }
      }
      if (k.per_layer && n_layers >= 0 && static_cast<int64_t>(value.size()) != n_layers) {
        throw FormatError(source + ": " + found + " has " + std::to_string(value.size()) + " entries for " +
                          std::to_string(n_layers) + " layers");
      }
      if (!k.refused.is_null() && value == k.refused) {
        throw Unsupported(source + ": " + found + " = " + shown(value) + " is not supported" +
                          (k.refused_why.empty() ? "" : " (" + k.refused_why + ")"));
      }
    }
    out.values_[k.field] = std::move(value);
    out.keys_[k.field] = found.empty() ? k.field : found;
  }
  return out;
}

bool KeyValues::has(const std::string& field) const {
  auto it = values_.find(field);
  return it != values_.end() && !it->second.is_null();
}

const Json& KeyValues::get(const std::string& field) const {
  auto it = values_.find(field);
  if (it == values_.end()) throw InvalidArgument("the key table has no field '" + field + "'");
  return it->second;
}

const std::string& KeyValues::key(const std::string& field) const {
  auto it = keys_.find(field);
  if (it == keys_.end()) throw InvalidArgument("the key table has no field '" + field + "'");
  return it->second;
}

namespace {

[[noreturn]] void absent(const KeyValues& v, const std::string& field) {
  throw FormatError(v.source() + ": missing required key '" + v.key(field) + "'");
}

}  // namespace

int64_t KeyValues::integer(const std::string& field) const {
  const Json& v = get(field);
  if (v.is_null()) absent(*this, field);
  if (v.is_number_float()) return static_cast<int64_t>(v.get<double>());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw FormatError(source_ + ": key '" + key(field) + "' is too large: " + v.dump());
  }
  return v.get<int64_t>();
}

double KeyValues::number(const std::string& field) const {
  const Json& v = get(field);
  if (v.is_null()) absent(*this, field);
  return v.get<double>();
}

bool KeyValues::boolean(const std::string& field) const {
  const Json& v = get(field);
  if (v.is_null()) absent(*this, field);
  return v.get<bool>();
}

std::string KeyValues::string(const std::string& field) const {
  const Json& v = get(field);
  if (v.is_null()) absent(*this, field);
  return v.get<std::string>();
}

std::vector<std::string> KeyValues::strings(const std::string& field) const {
  const Json& v = get(field);
  if (v.is_null()) absent(*this, field);
  return v.get<std::vector<std::string>>();
}

}  // namespace optimum::config
