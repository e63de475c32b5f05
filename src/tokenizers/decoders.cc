// Decoders: token strings -> text, as tokenizers' decoders do. Each
// decode_chain returns the transformed tokens (tokenizers' Vec<String>), so
// a Sequence feeds one decoder's output to the next.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "byte_level.h"
#include "json_fields.h"
#include "optimum/tokenizers/components.h"
#include "optimum/tokenizers/regex.h"
#include "optimum/tokenizers/unicode.h"

namespace optimum::tokenizers {

std::string Decoder::decode(std::vector<std::string> tokens) const {
  std::string out;
  for (const auto& t : decode_chain(std::move(tokens))) out += t;
  return out;
}

namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Rust's str::replace: every non-overlapping occurrence, left to right; an
// empty `from` matches at every character boundary.
std::string rust_replace(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  if (from.empty()) {
    out.reserve(s.size() + (s.size() + 1) * to.size());
    size_t pos = 0;
    out.append(to);
    while (pos < s.size()) {
      const size_t start = pos;
      unicode::next_char(s, pos);
      out.append(s.substr(start, pos - start));
      out.append(to);
    }
    return out;
  }
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t found = s.find(from, pos);
    if (found == std::string_view::npos) break;
    out.append(s.substr(pos, found - pos));
    out.append(to);
    pos = found + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

// decoders/wordpiece.rs cleanup(): spaces before punctuation and English
// contractions.
std::string wordpiece_cleanup(std::string s) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},           {" !", "!"},   {" ,", ","},     {" ' ", "'"},    {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) {
    if (s.find(from) != std::string::npos) s = rust_replace(s, from, to);
  }
  return s;
}

// String::from_utf8_lossy: each maximal invalid subsequence becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  const size_t n = bytes.size();
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  while (i < n) {
    const unsigned char b = at(i);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    }
    if (need == 0) {
      out.append(kReplacementChar);
      ++i;
      continue;
    }
    size_t j = i + 1;
    size_t got = 0;
    while (got < need && j < n) {
      const unsigned char c = at(j);
      const bool ok = got == 0 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
      if (!ok) break;
      ++j;
      ++got;
    }
    if (got == need) {
      out.append(bytes.substr(i, j - i));
    } else {
      out.append(kReplacementChar);
    }
    i = j;
  }
  return out;
}

// The single character of a field that tokenizers reads as a Rust `char`.
char32_t read_char(const Fields& f, const std::string& field, char32_t fallback) {
  if (!f.has(field)) return fallback;
  const std::string s = f.str(field);
  size_t pos = 0;
  const char32_t c = s.empty() ? 0 : unicode::next_char(s, pos);
  if (s.empty() || pos != s.size())
    f.fail("field '" + field + "' must be a single character, got '" + s + "'");
  return c;
}

size_t read_size(const Fields& f, const std::string& field, size_t fallback) {
  if (!f.has(field)) return fallback;
  const int64_t v = f.integer(field);
  if (v < 0) f.fail("field '" + field + "' must be >= 0");
  return static_cast<size_t>(v);
}

class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& token = tokens[i];
      if (i != 0) {
        if (token.compare(0, prefix_.size(), prefix_) == 0) {
          token.erase(0, prefix_.size());
        } else {
          token.insert(0, 1, ' ');
        }
      }
      if (cleanup_) token = wordpiece_cleanup(std::move(token));
    }
    return tokens;
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

// pre_tokenizers/byte_level.rs as a decoder: tokens whose characters all
// stand for bytes become those bytes, then the whole is read as UTF-8.
class ByteLevelDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string bytes;
    std::string token_bytes;
    for (const std::string& token : tokens) {
      token_bytes.clear();
      bool all_mapped = true;
      size_t pos = 0;
      while (pos < token.size()) {
        const auto b = unicode_to_byte(unicode::next_char(token, pos));
        if (!b) {
          all_mapped = false;
          break;
        }
        token_bytes.push_back(static_cast<char>(*b));
      }
      bytes += all_mapped ? token_bytes : token;
    }
    return {utf8_lossy(bytes)};
  }
};

enum class PrependScheme { First, Never, Always };

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, PrependScheme scheme) : replacement_(replacement), scheme_(scheme) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string& token = tokens[i];
      std::string s;
      s.reserve(token.size());
      size_t pos = 0;
      while (pos < token.size()) {
        const size_t start = pos;
        const char32_t c = unicode::next_char(token, pos);
        if (c != replacement_) {
          s.append(token, start, pos - start);
        } else if (i != 0 || scheme_ == PrependScheme::Never) {
          s.push_back(' ');
        }
      }
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  char32_t replacement_;
  PrependScheme scheme_;
};

class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = rust_replace(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }
    return tokens;
  }

 private:
  std::string suffix_;
};

// "<0xXX>" -> the byte, with Rust's u8::from_str_radix (a leading '+' is accepted).
std::optional<uint8_t> parse_byte_token(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (token[3] == '+') {
    const int d = hex(token[4]);
    return d < 0 ? std::nullopt : std::optional<uint8_t>(static_cast<uint8_t>(d));
  }
  const int hi = hex(token[3]);
  const int lo = hex(token[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

class ByteFallbackDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (unicode::is_valid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(kReplacementChar);
      }
      pending.clear();
    };
    for (std::string& token : tokens) {
      if (auto byte = parse_byte_token(token)) {
        pending.push_back(static_cast<char>(*byte));
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    return out;
  }
};

class FuseDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string joined;
    for (const auto& t : tokens) joined += t;
    return {std::move(joined)};
  }
};

// decoders/strip.rs: removes up to `start` leading and `stop` trailing
// `content` characters. Where tokenizers panics (everything stripped from
// both sides overlapping), this yields an empty token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::string& token : tokens) {
      std::vector<size_t> bounds;  // byte offset of each character, plus the end
      std::u32string chars;
      size_t pos = 0;
      while (pos < token.size()) {
        bounds.push_back(pos);
        chars.push_back(unicode::next_char(token, pos));
      }
      bounds.push_back(token.size());
      size_t start_cut = 0;
      for (size_t i = 0; i < chars.size() && i < start_; ++i) {
        if (chars[i] != content_) break;
        start_cut = i + 1;
      }
      size_t stop_cut = chars.size();
      for (size_t i = 0; i < stop_ && i < chars.size(); ++i) {
        const size_t index = chars.size() - i - 1;
        if (chars[index] != content_) break;
        stop_cut = index;
      }
      if (start_cut >= stop_cut) {
        token.clear();
      } else {
        token = token.substr(bounds[start_cut], bounds[stop_cut] - bounds[start_cut]);
      }
    }
    return tokens;
  }

 private:
  char32_t content_;
  size_t start_;
  size_t stop_;
};

// normalizers/replace.rs used as a decoder.
class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::string literal, std::unique_ptr<Regex> regex, std::string content)
      : literal_(std::move(literal)), regex_(std::move(regex)), content_(std::move(content)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::string& token : tokens) {
      if (token.empty()) continue;  // tokenizers' patterns find nothing in ""
      if (!regex_) {
        token = rust_replace(token, literal_, content_);
        continue;
      }
      std::string out;
      out.reserve(token.size());
      for (const Match& m : regex_->find_matches(token)) {
        if (m.is_match) {
          out += content_;
        } else {
          out.append(token, m.start, m.end - m.start);
        }
      }
      token = std::move(out);
    }
    return tokens;
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

class CtcDecoder final : public Decoder {
 public:
  CtcDecoder(std::string pad_token, std::string word_delimiter_token, bool cleanup)
      : pad_token_(std::move(pad_token)),
        word_delimiter_token_(std::move(word_delimiter_token)),
        cleanup_(cleanup) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i] == tokens[i - 1]) continue;  // dedup consecutive repeats
      std::string replaced = rust_replace(tokens[i], pad_token_, "");
      if (cleanup_)
        replaced = rust_replace(wordpiece_cleanup(std::move(replaced)), word_delimiter_token_, " ");
      if (!replaced.empty()) out.push_back(std::move(replaced));
    }
    return out;
  }

 private:
  std::string pad_token_;
  std::string word_delimiter_token_;
  bool cleanup_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> decoders) : decoders_(std::move(decoders)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& d : decoders_) tokens = d->decode_chain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> decoders_;
};

std::unique_ptr<Decoder> make_replace(const Fields& f) {
  const Json& pattern = f.object("pattern");
  std::string content = f.str("content");
  if (pattern.size() == 1 && pattern.contains("String") && pattern["String"].is_string()) {
    return std::make_unique<ReplaceDecoder>(pattern["String"].get<std::string>(), nullptr,
                                            std::move(content));
  }
  if (pattern.size() == 1 && pattern.contains("Regex") && pattern["Regex"].is_string()) {
    const std::string source = pattern["Regex"].get<std::string>();
    std::unique_ptr<Regex> regex;
    try {
      regex = std::make_unique<Regex>(source);
    } catch (const FormatError& e) {
      f.fail(std::string("field 'pattern': ") + e.what());
    }
    return std::make_unique<ReplaceDecoder>(std::string(), std::move(regex), std::move(content));
  }
  f.fail("field 'pattern' must be {\"String\": ...} or {\"Regex\": ...}, got " + pattern.dump());
}

std::unique_ptr<Decoder> make_metaspace(const Fields& f) {
  const char32_t replacement = read_char(f, "replacement", U'\u2581');
  PrependScheme scheme = PrependScheme::Always;
  if (auto s = f.opt_str("prepend_scheme")) {
    if (*s == "first") {
      scheme = PrependScheme::First;
    } else if (*s == "never") {
      scheme = PrependScheme::Never;
    } else if (*s == "always") {
      scheme = PrependScheme::Always;
    } else {
      f.fail("field 'prepend_scheme' must be \"first\", \"never\" or \"always\", got '" + *s + "'");
    }
  } else if (!f.boolean("add_prefix_space", true)) {
    scheme = PrependScheme::Never;  // legacy files: add_prefix_space instead of prepend_scheme
  }
  return std::make_unique<MetaspaceDecoder>(replacement, scheme);
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const Json& json) {
  // tokenizers' untagged DecoderWrapper tries BPEDecoder first, the only
  // decoder without a "type" tag: an object with "suffix" is one.
  if (json.is_object() && !json.contains("type") && json.contains("suffix") && json["suffix"].is_string()) {
    return std::make_unique<BpeDecoder>(json["suffix"].get<std::string>());
  }
  Fields f(json, "decoder");
  const std::string& type = f.type();
  if (type == "WordPiece") {
    return std::make_unique<WordPieceDecoder>(f.opt_str("prefix").value_or("##"), f.boolean("cleanup", true));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") return make_metaspace(f);
  if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(f.opt_str("suffix").value_or("</w>"));
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    // tokenizers requires all three fields.
    for (const char* field : {"content", "start", "stop"}) {
      if (!f.has(field)) f.fail(std::string("missing field '") + field + "'");
    }
    return std::make_unique<StripDecoder>(read_char(f, "content", U' '), read_size(f, "start", 0),
                                          read_size(f, "stop", 0));
  }
  if (type == "Replace") return make_replace(f);
  if (type == "CTC") {
    return std::make_unique<CtcDecoder>(f.opt_str("pad_token").value_or("<pad>"),
                                        f.opt_str("word_delimiter_token").value_or("|"),
                                        f.boolean("cleanup", true));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> decoders;
    for (const Json& d : f.array("decoders")) decoders.push_back(make_decoder(d));
    return std::make_unique<SequenceDecoder>(std::move(decoders));
  }
  f.unknown_type({"BPEDecoder", "ByteFallback", "ByteLevel", "CTC", "Fuse", "Metaspace", "Replace",
                  "Sequence", "Strip", "WordPiece"});
}

}  // namespace optimum::tokenizers
