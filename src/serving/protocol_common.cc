// Shared protocol helpers and the task signatures.
#include <array>
#include <cstdint>

#include "optimum/core/errors.h"
#include "optimum/serving/protocol.h"
#include "protocol_util.h"

namespace optimum::serving {
namespace detail {

std::optional<size_t> invalid_utf8_at(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (n - i < len) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += len;
  }
  return std::nullopt;
}

void require_utf8(std::string_view text, const std::string& field) {
  if (const auto at = invalid_utf8_at(text)) {
    throw InvalidArgument(field + ": invalid UTF-8 at byte " + std::to_string(*at));
  }
}

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{b[i]} << 16;
    if (rest == 2) v |= uint32_t{b[i + 1]} << 8;
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += rest == 2 ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view text, const std::string& field) {
  if (text.size() % 4 != 0) {
    throw InvalidArgument(field + ": base64 length " + std::to_string(text.size()) + " is not a multiple of 4");
  }
  std::array<int, 256> table;
  table.fill(-1);
  for (int k = 0; k < 64; ++k) table[static_cast<unsigned char>(kBase64[k])] = k;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const unsigned char c = static_cast<unsigned char>(text[i + k]);
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0 || table[c] < 0) {
        throw InvalidArgument(field + ": invalid base64 character at byte " + std::to_string(i + k));
      }
      v[k] = table[c];
    }
    const uint32_t w = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += static_cast<char>(w >> 16);
    if (pad < 2) out += static_cast<char>((w >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(w & 0xFF);
  }
  return out;
}

io::Json parse_body_json(std::string_view body, const std::string& what) {
  io::JsonOptions options;
  options.max_depth = kMaxRequestJsonDepth;
  try {
    return io::parse_json(body, what, options);
  } catch (const FormatError& e) {
    throw InvalidArgument(e.what());
  }
}

std::string dump_json(const io::Json& value) {
  return value.dump(-1, ' ', false, io::Json::error_handler_t::replace);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string media_type(std::string_view content_type) {
  return lower(trim(content_type.substr(0, content_type.find(';'))));
}

std::optional<std::string> header_parameter(std::string_view header, std::string_view name) {
  // Walk "value; key=value; key="quoted \" value"", honouring quotes so a
  // ';' inside a quoted filename does not split it.
  size_t i = header.find(';');
  while (i != std::string_view::npos && i < header.size()) {
    ++i;  // past ';'
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
    const size_t key_start = i;
    while (i < header.size() && header[i] != '=' && header[i] != ';') ++i;
    const std::string key = lower(trim(header.substr(key_start, i - key_start)));
    std::string value;
    if (i < header.size() && header[i] == '=') {
      ++i;
      while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
      if (i < header.size() && header[i] == '"') {
        ++i;
        while (i < header.size() && header[i] != '"') {
          if (header[i] == '\\' && i + 1 < header.size()) ++i;
          value += header[i++];
        }
        if (i < header.size()) ++i;  // closing quote
        while (i < header.size() && header[i] != ';') ++i;
      } else {
        const size_t start = i;
        while (i < header.size() && header[i] != ';') ++i;
        value = std::string(trim(header.substr(start, i - start)));
      }
    }
    if (key == name) return value;
    if (i >= header.size() || header[i] != ';') break;
  }
  return std::nullopt;
}

}  // namespace detail

Signature task_signature(const std::string& task, int64_t embedding_dimension) {
  Signature s;
  if (task == "question-answering") {
    s.inputs = {{"question", "BYTES", {-1}}, {"context", "BYTES", {-1}}};
  } else if (task == "text-classification") {
    s.inputs = {{"text", "BYTES", {-1}}, {"text_pair", "BYTES", {-1}}};
  } else if (task_takes_images(task)) {
    s.inputs = {{"image", "BYTES", {-1}}};
  } else {
    s.inputs = {{"text", "BYTES", {-1}}};
  }
  if (task == "text-embedding") {
    s.outputs = {{"embedding", "FP32", {-1, embedding_dimension > 0 ? embedding_dimension : -1}}};
  } else {
    s.outputs = {{"output", "BYTES", {-1}}};
  }
  return s;
}

bool task_takes_images(const std::string& task) {
  return task == "image-classification" || task == "image-feature-extraction";
}

void image_inputs(InferCall& call, const std::string& task) {
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    Json& in = call.inputs[i];
    const std::string where = task + " input " + std::to_string(i);
    const Json* b64 = &in;
    if (in.is_object()) {
      auto it = in.find("b64");
      if (in.size() != 1 || it == in.end())
        throw InvalidArgument(where + ": an object must be {\"b64\": <base64 image>}");
      b64 = &*it;
    }
    if (b64->is_string()) {
      const std::string bytes = detail::base64_decode(b64->get_ref<const std::string&>(),
                                                      where + " (a string is a base64-encoded image)");
      if (bytes.empty()) throw InvalidArgument(where + ": empty image");
      in = Json::binary(Json::binary_t::container_type(bytes.begin(), bytes.end()));
    } else if (!in.is_binary()) {
      throw InvalidArgument(where + ": expected an encoded image (bytes, or a base64 string), got " +
                            std::string(in.type_name()));
    }
  }
}

}  // namespace optimum::serving
