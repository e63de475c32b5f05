// Field access for tokenizer.json components with errors that name the
// component kind, its type and the field (internal to the tokenizers layer).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"

namespace optimum::tokenizers {

class Fields {
 public:
  // `kind` is "normalizer", "pre_tokenizer", "model", "post_processor" or
  // "decoder"; the type is read from the object's "type" field.
  Fields(const io::Json& json, std::string kind);

  const std::string& type() const { return type_; }
  bool has(const std::string& field) const;
  const io::Json& get(const std::string& field) const;  // FormatError if missing
  std::string str(const std::string& field) const;
  std::optional<std::string> opt_str(const std::string& field) const;
  bool boolean(const std::string& field) const;
  bool boolean(const std::string& field, bool fallback) const;
  int64_t integer(const std::string& field) const;
  int64_t integer(const std::string& field, int64_t fallback) const;
  double number(const std::string& field) const;
  const io::Json& array(const std::string& field) const;
  const io::Json& object(const std::string& field) const;

  // "normalizer 'Replace'"; used as the prefix of every message.
  std::string where() const;
  [[noreturn]] void fail(const std::string& message) const;
  [[noreturn]] void unknown_type(const std::vector<std::string>& known) const;

 private:
  const io::Json& json_;
  std::string kind_;
  std::string type_;
};

}  // namespace optimum::tokenizers
