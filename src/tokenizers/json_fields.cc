#include "json_fields.h"

namespace optimum::tokenizers {

Fields::Fields(const io::Json& json, std::string kind) : json_(json), kind_(std::move(kind)) {
  if (!json_.is_object()) throw FormatError("tokenizer.json: " + kind_ + " is not an object: " + json_.dump());
  if (!json_.contains("type") || !json_["type"].is_string()) {
    throw FormatError("tokenizer.json: " + kind_ + " has no string field 'type'");
  }
  type_ = json_["type"].get<std::string>();
}

std::string Fields::where() const { return "tokenizer.json: " + kind_ + " '" + type_ + "'"; }

void Fields::fail(const std::string& message) const { throw FormatError(where() + ": " + message); }

void Fields::unknown_type(const std::vector<std::string>& known) const {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  throw Unsupported("tokenizer.json: unknown " + kind_ + " type '" + type_ + "' (supported: " + list + ")");
}

bool Fields::has(const std::string& field) const { return json_.contains(field) && !json_[field].is_null(); }

const io::Json& Fields::get(const std::string& field) const {
  if (!has(field)) fail("missing field '" + field + "'");
  return json_[field];
}

std::string Fields::str(const std::string& field) const {
  const io::Json& v = get(field);
  if (!v.is_string()) fail("field '" + field + "' must be a string, got " + v.dump());
  return v.get<std::string>();
}

std::optional<std::string> Fields::opt_str(const std::string& field) const {
  if (!has(field)) return std::nullopt;
  return str(field);
}

bool Fields::boolean(const std::string& field) const {
  const io::Json& v = get(field);
  if (!v.is_boolean()) fail("field '" + field + "' must be a boolean, got " + v.dump());
  return v.get<bool>();
}

bool Fields::boolean(const std::string& field, bool fallback) const {
  return has(field) ? boolean(field) : fallback;
}

int64_t Fields::integer(const std::string& field) const {
  const io::Json& v = get(field);
  if (!v.is_number_integer()) fail("field '" + field + "' must be an integer, got " + v.dump());
  return v.get<int64_t>();
}

int64_t Fields::integer(const std::string& field, int64_t fallback) const {
  return has(field) ? integer(field) : fallback;
}

double Fields::number(const std::string& field) const {
  const io::Json& v = get(field);
  if (!v.is_number()) fail("field '" + field + "' must be a number, got " + v.dump());
  return v.get<double>();
}

const io::Json& Fields::array(const std::string& field) const {
  const io::Json& v = get(field);
  if (!v.is_array()) fail("field '" + field + "' must be an array");
  return v;
}

const io::Json& Fields::object(const std::string& field) const {
  const io::Json& v = get(field);
  if (!v.is_object()) fail("field '" + field + "' must be an object");
  return v;
}

}  // namespace optimum::tokenizers
