// The Jinja lexer with transformers' settings: trim_blocks (one newline after
// a block or comment tag is dropped), lstrip_blocks (spaces and tabs before a
// block or comment tag on its own line are dropped), `-`/`+` whitespace
// control, raw blocks, and keep_trailing_newline=False.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "jinja_internal.h"

namespace optimum::generation::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view raw) {
    // Newlines normalized to \n and one trailing newline dropped, as jinja2 does.
    src_.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\r') {
        src_ += '\n';
        if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      } else {
        src_ += raw[i];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      size_t idx = pos;
      for (;;) {
        idx = src_.find('{', idx);
        if (idx == std::string::npos || idx + 1 >= src_.size()) {
          idx = std::string::npos;
          break;
        }
        const char c = src_[idx + 1];
        if (c == '{' || c == '%' || c == '#') break;
        ++idx;
      }
      if (idx == std::string::npos) {
        emit_data(src_.substr(pos), pos);
        break;
      }
      const char opener = src_[idx + 1];
      const char sign = idx + 2 < src_.size() && (src_[idx + 2] == '-' || src_[idx + 2] == '+') ? src_[idx + 2] : 0;
      std::string text = src_.substr(pos, idx - pos);
      strip_before(text, opener, sign, line_starting);
      emit_data(std::move(text), pos);
      size_t p = idx + 2 + (sign ? 1 : 0);
      if (opener == '#') {
        const size_t end = src_.find("#}", p);
        if (end == std::string::npos) fail(loc(idx), "unterminated comment ('{#' without '#}')");
        const char last = end > p ? src_[end - 1] : 0;
        p = end + 2;
        if (last == '-') {
          while (p < src_.size() && is_space(src_[p])) ++p;
        } else if (last != '+' && p < src_.size() && src_[p] == '\n') {
          ++p;
        }
      } else if (opener == '%' && raw_block(p, idx, p)) {
        // p now past {% endraw %}
      } else {
        p = tag(opener == '{', idx, p);
      }
      pos = p;
      line_starting = p > 0 && src_[p - 1] == '\n';
    }
    tokens_.push_back(Token{TokenType::kEnd, "", 0, 0, loc(src_.size())});
    return std::move(tokens_);
  }

 private:
  Location loc(size_t offset) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    return {static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }

  void emit_data(std::string text, size_t offset) {
    if (!text.empty()) tokens_.push_back(Token{TokenType::kData, std::move(text), 0, 0, loc(offset)});
  }

  // `{%-` strips all whitespace before the tag; lstrip_blocks strips spaces
  // and tabs back to the line start before `{%` and `{#` (not `{%+`, `{{`).
  static void strip_before(std::string& text, char opener, char sign, bool line_starting) {
    if (sign == '-') {
      size_t n = text.size();
      while (n > 0 && is_space(text[n - 1])) --n;
      text.resize(n);
    } else if (sign != '+' && opener != '{') {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
          std::all_of(text.begin() + static_cast<std::ptrdiff_t>(l_pos), text.end(), is_space)) {
        text.resize(l_pos);
      }
    }
  }

  // `{% raw %}...{% endraw %}` at `p` (just past `{%` and its sign): the
  // content becomes data. Returns false when the tag is not `raw`.
  bool raw_block(size_t p, size_t tag_start, size_t& out_pos) {
    size_t q = p;
    while (q < src_.size() && is_space(src_[q])) ++q;
    if (src_.compare(q, 3, "raw") != 0) return false;
    q += 3;
    if (q < src_.size() && (is_name_start(src_[q]) || is_digit(src_[q]))) return false;
    while (q < src_.size() && is_space(src_[q])) ++q;
    if (src_.compare(q, 3, "-%}") == 0) {
      q += 3;
      while (q < src_.size() && is_space(src_[q])) ++q;
    } else if (src_.compare(q, 2, "%}") == 0) {
      q += 2;
    } else {
      fail(loc(q), "expected '%}' after 'raw'");
    }
    size_t search = q;
    for (;;) {
      const size_t open = src_.find("{%", search);
      if (open == std::string::npos) fail(loc(tag_start), "unterminated raw block (no '{% endraw %}')");
      size_t r = open + 2;
      const char sign = r < src_.size() && (src_[r] == '-' || src_[r] == '+') ? src_[r] : 0;
      if (sign) ++r;
      while (r < src_.size() && is_space(src_[r])) ++r;
      if (src_.compare(r, 6, "endraw") != 0) {
        search = open + 2;
        continue;
      }
      r += 6;
      while (r < src_.size() && is_space(src_[r])) ++r;
      if (src_.compare(r, 3, "-%}") == 0) {
        r += 3;
        while (r < src_.size() && is_space(src_[r])) ++r;
      } else if (src_.compare(r, 3, "+%}") == 0) {
        r += 3;
      } else if (src_.compare(r, 2, "%}") == 0) {
        r += 2;
        if (r < src_.size() && src_[r] == '\n') ++r;
      } else {
        search = open + 2;
        continue;
      }
      std::string text = src_.substr(q, open - q);
      strip_before(text, '%', sign, q > 0 && src_[q - 1] == '\n');
      emit_data(std::move(text), q);
      out_pos = r;
      return true;
    }
  }

  // The tokens of one `{{ ... }}` or `{% ... %}` tag from `p`; returns the
  // offset past its end (and the whitespace its `-` or trim_blocks takes).
  size_t tag(bool variable, size_t start, size_t p) {
    tokens_.push_back(Token{variable ? TokenType::kVarBegin : TokenType::kBlockBegin, "", 0, 0, loc(start)});
    std::vector<char> balance;
    for (;;) {
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (p >= src_.size()) fail(loc(start), variable ? "unterminated '{{' (no '}}')" : "unterminated '{%' (no '%}')");
      if (balance.empty()) {
        const char* close = variable ? "}}" : "%}";
        if (src_[p] == '-' && src_.compare(p + 1, 2, close) == 0) {
          tokens_.push_back(Token{variable ? TokenType::kVarEnd : TokenType::kBlockEnd, "", 0, 0, loc(p)});
          p += 3;
          while (p < src_.size() && is_space(src_[p])) ++p;
          return p;
        }
        if (!variable && src_[p] == '+' && src_.compare(p + 1, 2, close) == 0) {
          tokens_.push_back(Token{TokenType::kBlockEnd, "", 0, 0, loc(p)});
          return p + 3;
        }
        if (src_.compare(p, 2, close) == 0) {
          tokens_.push_back(Token{variable ? TokenType::kVarEnd : TokenType::kBlockEnd, "", 0, 0, loc(p)});
          p += 2;
          if (!variable && p < src_.size() && src_[p] == '\n') ++p;
          return p;
        }
      }
      p = token(p, balance);
    }
  }

  size_t token(size_t p, std::vector<char>& balance) {
    const Location at = loc(p);
    const char c = src_[p];
    if (is_digit(c)) return number(p);
    if (is_name_start(c) || static_cast<unsigned char>(c) >= 0x80) {
      size_t q = p;
      while (q < src_.size() &&
             (is_name_start(src_[q]) || is_digit(src_[q]) || static_cast<unsigned char>(src_[q]) >= 0x80)) {
        ++q;
      }
      tokens_.push_back(Token{TokenType::kName, src_.substr(p, q - p), 0, 0, at});
      return q;
    }
    if (c == '\'' || c == '"') return string(p);
    static const char* const kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (src_.compare(p, 2, op) == 0) {
        tokens_.push_back(Token{TokenType::kOp, op, 0, 0, at});
        return p + 2;
      }
    }
    if (std::strchr("+-/*%~[](){}<>=.:|,;", c) == nullptr) {
      fail(at, std::string("unexpected character '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      if (balance.size() >= 256) fail(at, "brackets nested too deeply");
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty() || balance.back() != c) fail(at, std::string("unexpected '") + c + "'");
      balance.pop_back();
    }
    tokens_.push_back(Token{TokenType::kOp, std::string(1, c), 0, 0, at});
    return p + 1;
  }

  size_t digits(size_t q, std::string& out) const {
    while (q < src_.size() && (is_digit(src_[q]) || (src_[q] == '_' && q + 1 < src_.size() && is_digit(src_[q + 1])))) {
      if (src_[q] != '_') out += src_[q];
      ++q;
    }
    return q;
  }

  size_t number(size_t p) {
    const Location at = loc(p);
    std::string text;
    size_t q = digits(p, text);
    bool is_float = false;
    const bool after_dot = p > 0 && src_[p - 1] == '.';
    if (!after_dot && q + 1 < src_.size() && src_[q] == '.' && is_digit(src_[q + 1])) {
      text += '.';
      q = digits(q + 1, text);
      is_float = true;
    }
    if (!after_dot && q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t r = q + 1;
      std::string exp = "e";
      if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) exp += src_[r++];
      if (r < src_.size() && is_digit(src_[r])) {
        q = digits(r, exp);
        text += exp;
        is_float = true;
      }
    }
    Token t{is_float ? TokenType::kFloat : TokenType::kInt, text, 0, 0, at};
    if (is_float) {
      t.f = std::strtod(text.c_str(), nullptr);
    } else {
      errno = 0;
      t.i = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) fail(at, "integer literal out of range: " + text);
    }
    tokens_.push_back(std::move(t));
    return q;
  }

  // A quoted literal, decoded as Python's unicode-escape does.
  size_t string(size_t p) {
    const Location at = loc(p);
    const char quote = src_[p];
    std::string out;
    size_t q = p + 1;
    for (;;) {
      if (q >= src_.size()) fail(at, "unterminated string literal");
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) fail(at, "unterminated string literal");
      const char e = src_[q + 1];
      q += 2;
      switch (e) {
        case '\n': break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x':
        case 'u':
        case 'U': {
          const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int k = 0; k < n; ++k) {
            const int h = q + k < src_.size() ? hex_value(src_[q + k]) : -1;
            if (h < 0) fail(at, std::string("truncated \\") + e + " escape in string literal");
            cp = cp * 16 + static_cast<uint32_t>(h);
          }
          if (cp > 0x10FFFF) fail(at, "escape out of the Unicode range in string literal");
          append_utf8(out, cp);
          q += static_cast<size_t>(n);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++k, ++q) {
              cp = cp * 8 + static_cast<uint32_t>(src_[q] - '0');
            }
            append_utf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    tokens_.push_back(Token{TokenType::kString, std::move(out), 0, 0, at});
    return q + 1;
  }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace optimum::generation::jinja
