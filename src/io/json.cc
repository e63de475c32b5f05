#include "optimum/io/json.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <vector>

#include "optimum/core/errors.h"
#include "regular_file.h"

namespace optimum::io {

namespace {

// `s` with every byte that is not part of valid UTF-8 written as \xNN:
// parser messages quote the bytes around the error, and every caller (Python
// included) must be able to show them.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len > 1) {
      // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
      uint32_t cp = b & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 15];
      ++i;
    }
  }
  return out;
}

// One pass over `text` outside strings: refuses nesting deeper than
// `max_depth` and NUL bytes (nlohmann stops at a NUL as if the input ended
// there), and returns the [begin, end) spans of numbers beyond double's range.
std::vector<std::pair<size_t, size_t>> scan(std::string_view text, const std::string& source, int max_depth) {
  std::vector<std::pair<size_t, size_t>> overflows;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        throw FormatError("malformed JSON in " + source + ": nested deeper than " + std::to_string(max_depth) +
                          " levels at byte " + std::to_string(i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == '\0') {
      throw FormatError("malformed JSON in " + source + ": NUL byte at byte " + std::to_string(i));
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t end = i + 1;
      bool exponent = false;
      while (end < text.size()) {
        const char d = text[end];
        if (d == 'e' || d == 'E') {
          exponent = true;
        } else if (!((d >= '0' && d <= '9') || d == '-' || d == '+' || d == '.')) {
          break;
        }
        ++end;
      }
      // Only an exponent or more than 308 digits can leave double's range.
      if (exponent || end - i > 308) {
        const std::string token(text.substr(i, end - i));
        if (std::isinf(std::strtod(token.c_str(), nullptr))) overflows.emplace_back(i, end);
      }
      i = end - 1;
    }
  }
  return overflows;
}

// Parses `text` whose out-of-range numbers sit at `overflows`: each is parsed
// as a marker string, then replaced by +-inf (kInfinity) or reported with its
// JSON path (kReject).
template <class J>
J parse_with_overflows(std::string_view text, const std::string& source,
                          const std::vector<std::pair<size_t, size_t>>& overflows, NumberOverflow mode) {
  std::random_device rd;
  const std::string marker = "\\u0000ovf" + std::to_string(rd()) + std::to_string(rd()) + ":";
  const std::string decoded = std::string(1, '\0') + marker.substr(6);
  std::string rewritten;
  rewritten.reserve(text.size() + overflows.size() * (marker.size() + 24));
  size_t pos = 0;
  for (size_t k = 0; k < overflows.size(); ++k) {
    rewritten.append(text.substr(pos, overflows[k].first - pos));
    rewritten += "\"" + marker + std::to_string(k) + "\"";
    pos = overflows[k].second;
  }
  rewritten.append(text.substr(pos));
  J root;
  try {
    root = J::parse(rewritten);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("malformed JSON in " + source + ": " + printable(e.what()));
  }
  // Iterative walk (the value may nest max_depth levels).
  std::vector<std::pair<J*, std::string>> stack{{&root, ""}};
  while (!stack.empty()) {
    auto [node, path] = std::move(stack.back());
    stack.pop_back();
    if (node->is_object()) {
      for (auto it = node->begin(); it != node->end(); ++it) {
        stack.emplace_back(&it.value(), mode == NumberOverflow::kReject ? path + "/" + it.key() : std::string());
      }
    } else if (node->is_array()) {
      for (size_t i = 0; i < node->size(); ++i) {
        stack.emplace_back(&(*node)[i], mode == NumberOverflow::kReject ? path + "/" + std::to_string(i) : "");
      }
    } else if (node->is_string()) {
      const std::string& s = node->template get_ref<const std::string&>();
      if (!s.starts_with(decoded)) continue;
      const size_t k = std::stoul(s.substr(decoded.size()));
      const auto [begin, end] = overflows.at(k);
      if (mode == NumberOverflow::kReject) {
        throw FormatError(source + ": " + (path.empty() ? "/" : path) + ": number " +
                          std::string(text.substr(begin, std::min<size_t>(end - begin, 64))) +
                          " is out of range for a 64-bit float");
      }
      *node = text[begin] == '-' ? -HUGE_VAL : HUGE_VAL;
    }
  }
  return root;
}

// Parses `text` into a J (Json or OrderedJson); see parse_json.
template <class J>
J parse_any(std::string_view text, const std::string& source, const JsonOptions& options) {
  const auto overflows = scan(text, source, options.max_depth);
  if (!overflows.empty()) return parse_with_overflows<J>(text, source, overflows, options.overflow);
  try {
    return J::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("malformed JSON in " + source + ": " + printable(e.what()));
  }
}

}  // namespace

std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes) {
  const detail::RegularFile file(path, "read");
  if (file.size() > max_bytes) {
    throw FormatError(path.string() + " is " + std::to_string(file.size()) + " bytes, over the limit of " +
                      std::to_string(max_bytes) + " bytes");
  }
  std::string out(static_cast<size_t>(file.size()), '\0');
  size_t used = 0;
  while (true) {
    if (used == out.size()) {
      // The file may have grown since fstat: read on, up to the cap.
      if (out.size() > max_bytes) break;
      out.resize(std::min<uint64_t>(max_bytes + 1, std::max<size_t>(out.size() * 2, 4096)));
    }
    const ssize_t n = ::read(file.fd(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(errno_message("cannot read " + path.string()));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_bytes) {
    throw FormatError(path.string() + " grew over the limit of " + std::to_string(max_bytes) + " bytes");
  }
  out.resize(used);
  return out;
}

Json read_json(const std::filesystem::path& path, const JsonOptions& options) {
  return parse_json(read_text_file(path, options.max_bytes), path.string(), options);
}

Json parse_json(std::string_view text, const std::string& source, const JsonOptions& options) {
  return parse_any<Json>(text, source, options);
}

OrderedJson read_ordered_json(const std::filesystem::path& path, const JsonOptions& options) {
  return parse_any<OrderedJson>(read_text_file(path, options.max_bytes), path.string(), options);
}

void write_json(const std::filesystem::path& path, const Json& value) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(errno_message("cannot write " + path.string()));
  out << value.dump(2) << "\n";
  if (!out) throw IoError(errno_message("cannot write " + path.string()));
}

std::string json_error_message(const std::string& source, const nlohmann::json::exception& e) {
  // nlohmann's message: "[json.exception.type_error.302] (/a/b) type must be ...";
  // the "(path) " part is there when JSON_DIAGNOSTICS is on and the value is not the root.
  std::string_view what = e.what();
  if (what.starts_with("[json.exception.")) {
    const size_t close = what.find("] ");
    if (close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  std::string path;
  if (what.starts_with("(/")) {
    const size_t close = what.find(") ");
    if (close != std::string_view::npos) {
      path = std::string(what.substr(1, close - 1));
      what.remove_prefix(close + 2);
    }
  }
  return source + ": " + (path.empty() ? "" : path + ": ") + printable(what);
}

void throw_json_error(const std::string& source, const nlohmann::json::exception& e) {
  throw FormatError(json_error_message(source, e));
}

uint32_t json_u32(const Json& v, const std::string& where) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= 0xFFFFFFFFull) return static_cast<uint32_t>(v.get<uint64_t>());
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= 0xFFFFFFFFll) {
    return static_cast<uint32_t>(v.get<int64_t>());
  }
  throw FormatError(where + " must be an integer in [0, 4294967295], got " + (v.is_structured() ? v.type_name() : v.dump()));
}

uint64_t json_count(const Json& v, const std::string& where, uint64_t max) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= max) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && static_cast<uint64_t>(v.get<int64_t>()) <= max) {
    return static_cast<uint64_t>(v.get<int64_t>());
  }
  throw FormatError(where + " must be an integer in [0, " + std::to_string(max) + "], got " +
                    (v.is_structured() ? v.type_name() : v.dump()));
}

}  // namespace optimum::io
