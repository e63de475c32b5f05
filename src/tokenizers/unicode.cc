// Character classes as tokenizers sees them. Its crates (unicode_categories,
// unicode-normalization, Rust's std) carry their own Unicode tables, which
// disagree with utf8proc's on hundreds of code points, so the classes come
// from tables probed through the tokenizers package (unicode_tables.inc and
// unicode_scripts.inc, see unicode_tables.py).
#include "optimum/tokenizers/unicode.h"

#include "unicode_internal.h"

#include <algorithm>
#include <iterator>

namespace optimum::tokenizers::unicode {
namespace {

struct CodeRange {
  char32_t first;
  char32_t last;
};

struct ScriptRange {
  char32_t first;
  char32_t last;
  int script;
};

struct CodeMap {
  char32_t from;
  char32_t to;
};

#include "unicode_scripts.inc"
#include "unicode_tables.inc"

template <size_t N>
bool in_table(const CodeRange (&table)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(table), std::end(table), c,
                             [](char32_t v, const CodeRange& r) { return v < r.first; });
  return it != std::begin(table) && c <= std::prev(it)->last;
}

}  // namespace

char32_t next_char(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  size_t len = 0;
  char32_t c = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, c = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    ++pos;
    return 0xFFFD;
  }
  if (pos + len > s.size()) {
    ++pos;
    return 0xFFFD;
  }
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return 0xFFFD;
    }
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    ++pos;
    return 0xFFFD;
  }
  pos += len;
  return c;
}

size_t char_len(char32_t c) {
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c < 0x10000) return 3;
  return 4;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string to_utf8(char32_t c) {
  std::string out;
  append_utf8(out, c);
  return out;
}

std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) out.push_back(next_char(s, pos));
  return out;
}

bool is_valid_utf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t before = pos;
    const char32_t c = next_char(s, pos);
    // A real U+FFFD is three bytes long; a decoding error advances by one.
    if (c == 0xFFFD && pos - before != 3) return false;
  }
  return true;
}

std::vector<size_t> byte_to_char_index(std::string_view s) {
  std::vector<size_t> out(s.size() + 1, 0);
  size_t pos = 0;
  size_t n = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    next_char(s, pos);
    for (size_t b = start; b < pos; ++b) out[b] = n;
    ++n;
  }
  out[s.size()] = n;
  return out;
}

bool is_whitespace(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_combining_mark(char32_t c) { return in_table(kCombiningMark, c); }

bool is_regex_word(char32_t c) { return in_table(kWord, c); }

int script_class(char32_t c) {
  auto it = std::upper_bound(std::begin(kScripts), std::end(kScripts), c,
                             [](char32_t v, const ScriptRange& r) { return v < r.first; });
  if (it == std::begin(kScripts) || c > std::prev(it)->last) return 0;
  return std::prev(it)->script;
}

bool is_alphabetic(char32_t c) { return in_table(kAlphabetic, c); }

bool is_numeric(char32_t c) { return in_table(kNumeric, c); }

bool is_alphanumeric(char32_t c) { return is_alphabetic(c) || is_numeric(c); }

bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return in_table(kOther, c);
}

bool is_punctuation(char32_t c) { return in_table(kPunctuation, c); }

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_mark_nonspacing(char32_t c) { return in_table(kMarkNonspacing, c); }

std::u32string to_lowercase(char32_t c) {
  if (c < 0x80) return std::u32string(1, (c >= 'A' && c <= 'Z') ? c + 32 : c);
  if (c == 0x130) return U"i\u0307";
  auto it = std::lower_bound(std::begin(kLowercase), std::end(kLowercase), c,
                             [](const CodeMap& m, char32_t v) { return m.from < v; });
  if (it != std::end(kLowercase) && it->from == c) return std::u32string(1, it->to);
  return std::u32string(1, c);
}

}  // namespace optimum::tokenizers::unicode
