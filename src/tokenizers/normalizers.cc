// Normalizers of tokenizer.json (tokenizers' normalizers/*.rs and the
// spm_precompiled crate for SentencePiece's precompiled_charsmap).
#include <utf8proc.h>

#include <cstring>

#include "byte_level.h"
#include "json_fields.h"
#include "optimum/tokenizers/components.h"
#include "optimum/tokenizers/regex.h"
#include "optimum/tokenizers/unicode.h"
#include "unicode_internal.h"

namespace optimum::tokenizers {
namespace {

class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text),
        handle_chinese_chars_(handle_chinese_chars),
        strip_accents_(strip_accents),
        lowercase_(lowercase) {}

  void normalize(NormalizedString& s) const override {
    if (clean_text_) {
      s.filter([](char32_t c) { return !(c == 0 || c == 0xFFFD || unicode::is_control(c)); });
      s.map([](char32_t c) { return unicode::is_whitespace(c) ? U' ' : c; });
    }
    if (handle_chinese_chars_) {
      std::vector<CharChange> dest;
      const std::string& text = s.normalized();
      dest.reserve(text.size());
      size_t pos = 0;
      while (pos < text.size()) {
        const char32_t c = unicode::next_char(text, pos);
        if (unicode::is_chinese_char(c)) {
          dest.insert(dest.end(), {{U' ', 0}, {c, 1}, {U' ', 1}});
        } else {
          dest.emplace_back(c, 0);
        }
      }
      s.transform_unless_identity(dest);
    }
    if (strip_accents_) {
      s.nfd();
      s.filter([](char32_t c) { return !unicode::is_mark_nonspacing(c); });
    }
    if (lowercase_) s.lowercase();
  }

 private:
  bool clean_text_;
  bool handle_chinese_chars_;
  bool strip_accents_;
  bool lowercase_;
};

// NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Nmt, ByteLevel: no settings.
class FunctionNormalizer : public Normalizer {
 public:
  explicit FunctionNormalizer(void (*f)(NormalizedString&)) : f_(f) {}
  void normalize(NormalizedString& s) const override { f_(s); }

 private:
  void (*f_)(NormalizedString&);
};

void nmt(NormalizedString& s) {
  s.filter([](char32_t c) {
    return !((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0x8F ||
             c == 0x9F);
  });
  s.map([](char32_t c) -> char32_t {
    switch (c) {
      case 0x09:
      case 0x0A:
      case 0x0C:
      case 0x0D:
      case 0x1680:
      case 0x2028:
      case 0x2029:
      case 0x2581:
      case 0xFEFF:
      case 0xFFFD:
        return U' ';
      default:
        return (c >= 0x200B && c <= 0x200F) ? U' ' : c;
    }
  });
}

void byte_level(NormalizedString& s) {
  if (s.empty()) return;
  const auto& table = bytes_to_unicode_strings();
  const std::string& text = s.normalized();
  std::vector<CharChange> dest;
  dest.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    unicode::next_char(text, pos);
    for (size_t b = start; b < pos; ++b) {
      size_t p = 0;
      dest.emplace_back(unicode::next_char(table[static_cast<unsigned char>(text[b])], p), b > start ? 1 : 0);
    }
  }
  s.transform(dest, 0);
}

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& s) const override { s.strip(left_, right_); }

 private:
  bool left_;
  bool right_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::unique_ptr<Pattern> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(NormalizedString& s) const override { s.replace(*pattern_, content_); }

 private:
  std::unique_ptr<Pattern> pattern_;
  std::string content_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  void normalize(NormalizedString& s) const override {
    if (!s.empty()) s.prepend(prepend_);
  }

 private:
  std::string prepend_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> items) : items_(std::move(items)) {}
  void normalize(NormalizedString& s) const override {
    for (const auto& n : items_) n->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> items_;
};

// ---- Precompiled (SentencePiece precompiled_charsmap)

std::optional<std::string> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

// The charsmap is [u32 trie size in bytes][trie units (u32)][normalized
// strings, NUL-terminated]; the trie is SentencePiece's Darts double array
// over UTF-8 bytes, its values offsets into the strings.
class Precompiled : public Normalizer {
 public:
  explicit Precompiled(const std::string& blob) {
    if (blob.size() < 4) throw FormatError("Cannot parse precompiled_charsmap");
    uint32_t trie_size = 0;
    std::memcpy(&trie_size, blob.data(), 4);
    const size_t units = trie_size / 4;
    if (4 + units * 4 > blob.size()) throw FormatError("Cannot parse precompiled_charsmap");
    trie_.resize(units);
    for (size_t i = 0; i < units; ++i) std::memcpy(&trie_[i], blob.data() + 4 + i * 4, 4);
    normalized_ = blob.substr(4 + units * 4);
    if (!unicode::is_valid_utf8(normalized_))
      throw FormatError("precompiled_charsmap: normalized strings are not UTF-8");
  }

  void normalize(NormalizedString& s) const override {
    const std::string& text = s.normalized();
    std::vector<CharChange> dest;
    dest.reserve(text.size());
    bool modified = false;
    // Replacing old_part by norm: new characters count as replacements; an
    // expansion marks the last ones as insertions, a contraction makes the
    // last transformation so far remove the difference (tokenizers' replace()).
    auto push_replacement = [&](std::string_view old_part, std::string_view norm) {
      modified = true;
      const std::u32string chars = unicode::decode(norm);
      const auto diff = static_cast<int>(chars.size()) - static_cast<int>(unicode::decode(old_part).size());
      for (char32_t c : chars) dest.emplace_back(c, 0);
      if (diff > 0) {
        for (size_t i = 0; i < static_cast<size_t>(diff) && i < dest.size(); ++i)
          dest[dest.size() - 1 - i].second = 1;
      } else if (diff < 0 && !dest.empty()) {
        dest.back().second += diff;
      }
    };
    // Extended grapheme clusters (unicode-segmentation's graphemes(true)).
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t start = pos;
      utf8proc_int32_t state = 0;
      char32_t prev = unicode::next_char(text, pos);
      while (pos < text.size()) {
        size_t next = pos;
        const char32_t c = unicode::next_char(text, next);
        if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                             static_cast<utf8proc_int32_t>(c), &state)) {
          break;
        }
        prev = c;
        pos = next;
      }
      const std::string_view grapheme(text.data() + start, pos - start);
      if (grapheme.size() < 6) {
        if (auto norm = transform(grapheme)) {
          push_replacement(grapheme, *norm);
          continue;
        }
      }
      size_t p = 0;
      while (p < grapheme.size()) {
        const size_t char_start = p;
        const char32_t c = unicode::next_char(grapheme, p);
        const std::string_view part = grapheme.substr(char_start, p - char_start);
        if (auto norm = transform(part)) {
          push_replacement(part, *norm);
        } else {
          dest.emplace_back(c, 0);
        }
      }
    }
    if (modified) s.transform(dest, 0);
  }

 private:
  static bool has_leaf(uint32_t unit) { return ((unit >> 8) & 1) == 1; }
  static uint32_t value(uint32_t unit) { return unit & ((1u << 31) - 1); }
  static uint32_t label(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
  static size_t offset(uint32_t unit) { return static_cast<size_t>(unit >> 10) << ((unit & (1u << 9)) >> 6); }

  // The replacement of the *shortest* key that prefixes `chunk`, as
  // spm_precompiled's transform() does.
  std::optional<std::string_view> transform(std::string_view chunk) const {
    if (trie_.empty()) return std::nullopt;
    size_t node = offset(trie_[0]);
    for (char ch : chunk) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == 0) break;
      node ^= c;
      if (node >= trie_.size()) return std::nullopt;
      const uint32_t unit = trie_[node];
      if (label(unit) != c) return std::nullopt;
      node ^= offset(unit);
      if (node >= trie_.size()) return std::nullopt;
      if (has_leaf(unit)) return normalized_at(value(trie_[node]));
    }
    return std::nullopt;
  }

  std::optional<std::string_view> normalized_at(size_t index) const {
    if (index > normalized_.size()) return std::nullopt;
    size_t end = index;
    while (end < normalized_.size() && normalized_[end] != '\0') ++end;
    return std::string_view(normalized_).substr(index, end - index);
  }

  std::vector<uint32_t> trie_;
  std::string normalized_;
};

std::unique_ptr<Pattern> parse_pattern(const Fields& f) {
  const Json& p = f.object("pattern");
  if (p.contains("String") && p["String"].is_string()) {
    const std::string literal = p["String"].get<std::string>();
    // An empty literal is an empty regex: it matches at every position.
    if (literal.empty()) return std::make_unique<Regex>("");
    return std::make_unique<StringPattern>(literal);
  }
  if (p.contains("Regex") && p["Regex"].is_string())
    return std::make_unique<Regex>(p["Regex"].get<std::string>());
  f.fail("field 'pattern' must be {\"String\": ...} or {\"Regex\": ...}, got " + p.dump());
}

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& json) {
  const Fields f(json, "normalizer");
  const std::string& type = f.type();
  if (type == "BertNormalizer") {
    const bool lowercase = f.boolean("lowercase", true);
    return std::make_unique<BertNormalizer>(f.boolean("clean_text", true),
                                            f.boolean("handle_chinese_chars", true),
                                            f.boolean("strip_accents", lowercase), lowercase);
  }
  if (type == "NFC") return std::make_unique<FunctionNormalizer>([](NormalizedString& s) { s.nfc(); });
  if (type == "NFD") return std::make_unique<FunctionNormalizer>([](NormalizedString& s) { s.nfd(); });
  if (type == "NFKC") return std::make_unique<FunctionNormalizer>([](NormalizedString& s) { s.nfkc(); });
  if (type == "NFKD") return std::make_unique<FunctionNormalizer>([](NormalizedString& s) { s.nfkd(); });
  if (type == "Lowercase")
    return std::make_unique<FunctionNormalizer>([](NormalizedString& s) { s.lowercase(); });
  if (type == "StripAccents") {
    return std::make_unique<FunctionNormalizer>(
        [](NormalizedString& s) { s.filter([](char32_t c) { return !unicode::is_combining_mark(c); }); });
  }
  if (type == "Nmt") return std::make_unique<FunctionNormalizer>(nmt);
  if (type == "ByteLevel") return std::make_unique<FunctionNormalizer>(byte_level);
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(f.boolean("strip_left", true), f.boolean("strip_right", true));
  }
  if (type == "Replace") return std::make_unique<ReplaceNormalizer>(parse_pattern(f), f.str("content"));
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(f.str("prepend"));
  if (type == "Precompiled") {
    const auto blob = base64_decode(f.str("precompiled_charsmap"));
    if (!blob) f.fail("field 'precompiled_charsmap' is not valid base64");
    try {
      return std::make_unique<Precompiled>(*blob);
    } catch (const FormatError& e) {
      f.fail(e.what());
    }
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> items;
    for (const auto& item : f.array("normalizers")) items.push_back(make_normalizer(item));
    return std::make_unique<SequenceNormalizer>(std::move(items));
  }
  f.unknown_type({"BertNormalizer", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "StripAccents", "Nmt",
                  "ByteLevel", "Strip", "Replace", "Prepend", "Precompiled", "Sequence"});
}

}  // namespace optimum::tokenizers
