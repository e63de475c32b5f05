// Quoting of untrusted names (zip entries, pickle globals, tensor names) for
// error messages: printable ASCII kept, other bytes escaped, long names cut.
#pragma once

#include <string>
#include <string_view>

namespace optimum::io::detail {

// `text` in single quotes, bytes outside printable ASCII as \xNN, cut after 200 bytes.
inline std::string quote(std::string_view text) {
  static constexpr size_t kMax = 200;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (text.size() > kMax) out += "...";
  out.push_back('\'');
  return out;
}

}  // namespace optimum::io::detail
