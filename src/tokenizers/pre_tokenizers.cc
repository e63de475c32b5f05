// Pre-tokenizers of tokenizer.json (tokenizers' pre_tokenizers/*.rs).
#include <algorithm>

#include "byte_level.h"
#include "json_fields.h"
#include "optimum/tokenizers/components.h"
#include "optimum/tokenizers/regex.h"
#include "optimum/tokenizers/unicode.h"
#include "unicode_internal.h"

namespace optimum::tokenizers {

const std::array<std::string, 256>& bytes_to_unicode_strings() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t[static_cast<size_t>(b)] = unicode::to_utf8(printable ? static_cast<char32_t>(b) : next++);
    }
    return t;
  }();
  return table;
}

std::optional<uint8_t> unicode_to_byte(char32_t c) {
  // The mapped characters are U+0021..U+00FF (bytes standing for themselves)
  // and U+0100..U+0143 (the 68 others, in byte order).
  static const std::array<int16_t, 0x144> table = [] {
    std::array<int16_t, 0x144> t;
    t.fill(-1);
    const auto& strings = bytes_to_unicode_strings();
    for (size_t b = 0; b < 256; ++b) {
      size_t pos = 0;
      t[unicode::next_char(strings[b], pos)] = static_cast<int16_t>(b);
    }
    return t;
  }();
  if (c >= table.size() || table[c] < 0) return std::nullopt;
  return static_cast<uint8_t>(table[c]);
}

namespace {

SplitBehavior parse_behavior(const Fields& f, const std::string& field) {
  const std::string v = f.str(field);
  if (v == "Removed") return SplitBehavior::Removed;
  if (v == "Isolated") return SplitBehavior::Isolated;
  if (v == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (v == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (v == "Contiguous") return SplitBehavior::Contiguous;
  f.fail("field '" + field + "' has unknown value '" + v + "'");
}

char32_t single_char(const Fields& f, const std::string& field) {
  const std::string v = f.str(field);
  const std::u32string chars = unicode::decode(v);
  if (chars.size() != 1) f.fail("field '" + field + "' must be a single character, got '" + v + "'");
  return chars[0];
}

// Splits every piece on the characters `pred` selects.
void split_on(PreTokenizedString& s, const std::function<bool(char32_t)>& pred, SplitBehavior behavior) {
  const CharPredicatePattern pattern(pred);
  s.split([&](size_t, NormalizedString&& n) { return std::move(n).split(pattern, behavior); });
}

// Rust regex `\w+|[^\w\s]+` as a pattern: runs of word characters, or runs
// of characters that are neither word nor whitespace.
class WordRunsPattern : public Pattern {
 public:
  std::vector<Match> find_matches(std::string_view text) const override {
    if (text.empty()) return {{0, 0, false}};
    std::vector<Match> out;
    size_t prev = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t start = pos;
      const int kind = kind_of(unicode::next_char(text, pos));
      if (kind == 0) continue;
      size_t end = pos;
      while (end < text.size()) {
        size_t next = end;
        if (kind_of(unicode::next_char(text, next)) != kind) break;
        end = next;
      }
      if (prev != start) out.push_back({prev, start, false});
      out.push_back({start, end, true});
      prev = pos = end;
    }
    if (prev != text.size()) out.push_back({prev, text.size(), false});
    return out;
  }

 private:
  // 0: whitespace, 1: word, 2: other.
  static int kind_of(char32_t c) {
    if (unicode::is_regex_word(c)) return 1;
    return unicode::is_whitespace(c) ? 0 : 2;
  }
};

class BertPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& s) const override {
    split_on(s, unicode::is_whitespace, SplitBehavior::Removed);
    split_on(s, unicode::is_punctuation, SplitBehavior::Isolated);
  }
};

class WhitespacePreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& s) const override {
    const WordRunsPattern words;
    const InvertedPattern gaps(words);
    s.split([&](size_t, NormalizedString&& n) { return std::move(n).split(gaps, SplitBehavior::Removed); });
  }
};

class WhitespaceSplit : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& s) const override {
    split_on(s, unicode::is_whitespace, SplitBehavior::Removed);
  }
};

const Regex& gpt2_regex() {
  static const Regex re(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
  return re;
}

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}

  void pre_tokenize(PreTokenizedString& s) const override {
    s.split([&](size_t, NormalizedString&& n) {
      if (add_prefix_space_ && n.normalized().rfind(' ', 0) != 0) n.prepend(" ");
      if (use_regex_) return std::move(n).split(gpt2_regex(), SplitBehavior::Isolated);
      std::vector<NormalizedString> out;
      out.push_back(std::move(n));
      return out;
    });
    const auto& table = bytes_to_unicode_strings();
    s.normalize([&](NormalizedString& n) {
      const std::string& text = n.normalized();
      std::vector<CharChange> dest;
      dest.reserve(text.size());
      size_t pos = 0;
      while (pos < text.size()) {
        const size_t start = pos;
        unicode::next_char(text, pos);
        for (size_t b = start; b < pos; ++b) {
          size_t p = 0;
          const std::string& mapped = table[static_cast<unsigned char>(text[b])];
          dest.emplace_back(unicode::next_char(mapped, p), b > start ? 1 : 0);
        }
      }
      n.transform(dest, 0);
    });
  }

 private:
  bool add_prefix_space_;
  bool use_regex_;
};

enum class PrependScheme { First, Never, Always };

class Metaspace : public PreTokenizer {
 public:
  Metaspace(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), rep_(unicode::to_utf8(replacement)), scheme_(scheme), split_(split) {}

  void pre_tokenize(PreTokenizedString& s) const override {
    const CharPredicatePattern spaces([](char32_t c) { return c == ' '; });
    const char32_t replacement = replacement_;
    const CharPredicatePattern delimiters([replacement](char32_t c) { return c == replacement; });
    s.split([&](size_t, NormalizedString&& n) {
      n.replace(spaces, rep_);
      const bool starts = n.normalized().rfind(rep_, 0) == 0;
      if ((scheme_ == PrependScheme::Always && !starts) ||
          (scheme_ == PrependScheme::First && !starts && n.original_shift() == 0)) {
        n.prepend(rep_);
      }
      if (split_) return std::move(n).split(delimiters, SplitBehavior::MergedWithNext);
      std::vector<NormalizedString> out;
      out.push_back(std::move(n));
      return out;
    });
  }

 private:
  char32_t replacement_;
  std::string rep_;
  PrependScheme scheme_;
  bool split_;
};

// A literal as tokenizers matches it (an escaped regex): the empty literal
// matches the empty string at every position.
std::unique_ptr<Pattern> literal_pattern(const std::string& literal) {
  if (literal.empty()) return std::make_unique<Regex>("");
  return std::make_unique<StringPattern>(literal);
}

// {"String": s} or {"Regex": r}.
std::unique_ptr<Pattern> parse_pattern(const Fields& f) {
  const Json& p = f.object("pattern");
  if (p.contains("String") && p["String"].is_string()) return literal_pattern(p["String"].get<std::string>());
  if (p.contains("Regex") && p["Regex"].is_string())
    return std::make_unique<Regex>(p["Regex"].get<std::string>());
  f.fail("field 'pattern' must be {\"String\": ...} or {\"Regex\": ...}, got " + p.dump());
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Pattern> pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void pre_tokenize(PreTokenizedString& s) const override {
    const InvertedPattern inverted(*pattern_);
    const Pattern& pattern = invert_ ? static_cast<const Pattern&>(inverted) : *pattern_;
    s.split([&](size_t, NormalizedString&& n) { return std::move(n).split(pattern, behavior_); });
  }

 private:
  std::unique_ptr<Pattern> pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class Punctuation : public PreTokenizer {
 public:
  explicit Punctuation(SplitBehavior behavior) : behavior_(behavior) {}
  void pre_tokenize(PreTokenizedString& s) const override { split_on(s, unicode::is_punctuation, behavior_); }

 private:
  SplitBehavior behavior_;
};

class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}
  void pre_tokenize(PreTokenizedString& s) const override {
    split_on(s, unicode::is_numeric, individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
  }

 private:
  bool individual_;
};

class CharDelimiterSplit : public PreTokenizer {
 public:
  explicit CharDelimiterSplit(char32_t delimiter) : delimiter_(delimiter) {}
  void pre_tokenize(PreTokenizedString& s) const override {
    const char32_t d = delimiter_;
    split_on(
        s, [d](char32_t c) { return c == d; }, SplitBehavior::Removed);
  }

 private:
  char32_t delimiter_;
};

// Splits where the script changes; spaces (and scripts tokenizers' table does
// not know) belong to every script. Hiragana, Katakana and U+30FC count as Han.
class UnicodeScripts : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& s) const override {
    s.split([](size_t, NormalizedString&& n) {
      const std::string& text = n.normalized();
      std::vector<size_t> cuts;
      int last = -1;  // no script seen yet
      size_t pos = 0;
      while (pos < text.size()) {
        const size_t start = pos;
        const int script = unicode::script_class(unicode::next_char(text, pos));
        if (script != 0 && last != 0 && last != script) cuts.push_back(start);
        if (script != 0) last = script;
      }
      cuts.push_back(text.size());
      std::vector<NormalizedString> out;
      for (size_t i = 0; i + 1 < cuts.size(); ++i) out.push_back(*n.slice(cuts[i], cuts[i + 1]));
      return out;
    });
  }
};

class FixedLength : public PreTokenizer {
 public:
  explicit FixedLength(size_t length) : length_(length) {}
  void pre_tokenize(PreTokenizedString& s) const override {
    if (length_ == 0) throw InvalidArgument("FixedLength pre-tokenizer length must be greater than 0");
    s.split([&](size_t, NormalizedString&& n) {
      const std::string& text = n.normalized();
      std::vector<NormalizedString> out;
      size_t pos = 0;
      while (pos < text.size()) {
        const size_t start = pos;
        for (size_t i = 0; i < length_ && pos < text.size(); ++i) unicode::next_char(text, pos);
        out.push_back(*n.slice(start, pos));
      }
      return out;
    });
  }

 private:
  size_t length_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> items)
      : items_(std::move(items)) {}
  void pre_tokenize(PreTokenizedString& s) const override {
    for (const auto& p : items_) p->pre_tokenize(s);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> items_;
};

std::unique_ptr<PreTokenizer> make_metaspace(const Fields& f) {
  const char32_t replacement = single_char(f, "replacement");
  PrependScheme scheme = PrependScheme::Always;
  if (f.has("prepend_scheme")) {
    const std::string v = f.str("prepend_scheme");
    if (v == "first") {
      scheme = PrependScheme::First;
    } else if (v == "never") {
      scheme = PrependScheme::Never;
    } else if (v == "always") {
      scheme = PrependScheme::Always;
    } else {
      f.fail("field 'prepend_scheme' has unknown value '" + v + "'");
    }
  }
  // Legacy files carry add_prefix_space instead; false means Never.
  if (f.has("add_prefix_space") && !f.boolean("add_prefix_space")) {
    if (scheme != PrependScheme::Never && f.has("prepend_scheme")) {
      f.fail("add_prefix_space does not match declared prepend_scheme");
    }
    scheme = PrependScheme::Never;
  }
  return std::make_unique<Metaspace>(replacement, scheme, f.boolean("split", true));
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& json) {
  const Fields f(json, "pre_tokenizer");
  const std::string& type = f.type();
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(f.boolean("add_prefix_space", true),
                                                   f.boolean("use_regex", true));
  }
  if (type == "Metaspace") return make_metaspace(f);
  if (type == "Split") {
    return std::make_unique<SplitPreTokenizer>(parse_pattern(f), parse_behavior(f, "behavior"),
                                               f.boolean("invert", false));
  }
  if (type == "Punctuation") {
    return std::make_unique<Punctuation>(f.has("behavior") ? parse_behavior(f, "behavior")
                                                           : SplitBehavior::Isolated);
  }
  if (type == "Digits") return std::make_unique<Digits>(f.boolean("individual_digits", false));
  if (type == "CharDelimiterSplit") return std::make_unique<CharDelimiterSplit>(single_char(f, "delimiter"));
  if (type == "UnicodeScripts") return std::make_unique<UnicodeScripts>();
  if (type == "FixedLength") {
    const int64_t length = f.integer("length", 5);
    if (length < 0) f.fail("field 'length' must not be negative");
    return std::make_unique<FixedLength>(static_cast<size_t>(length));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> items;
    for (const auto& item : f.array("pretokenizers")) items.push_back(make_pre_tokenizer(item));
    return std::make_unique<SequencePreTokenizer>(std::move(items));
  }
  f.unknown_type({"BertPreTokenizer", "Whitespace", "WhitespaceSplit", "ByteLevel", "Metaspace", "Split",
                  "Punctuation", "Digits", "CharDelimiterSplit", "UnicodeScripts", "FixedLength",
                  "Sequence"});
}

}  // namespace optimum::tokenizers
