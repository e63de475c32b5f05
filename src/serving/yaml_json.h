// YAML documents as JSON values (YAML 1.2 core schema scalars; quoted
// scalars stay strings), bounded in size, depth and alias expansion.
#pragma once

#include <string>

#include "optimum/io/json.h"

namespace optimum::serving::detail {

// FormatError naming `source` for invalid YAML, duplicate keys, non-string
// keys, nesting beyond 32 levels or more than 100,000 values.
io::Json parse_yaml(const std::string& text, const std::string& source);

}  // namespace optimum::serving::detail
