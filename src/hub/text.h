// Small string helpers of the hub layer. Private.
#pragma once

#include <string>
#include <string_view>

namespace optimum::hub::detail {

// `text` in single quotes, as messages quote names. Built by append: GCC 12
// at -O3 gives a false -Wrestrict on "'" + std::string(...).
inline std::string in_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

}  // namespace optimum::hub::detail
