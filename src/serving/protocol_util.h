// Helpers shared by the protocol codecs (protocol_*.cc): UTF-8 checks,
// base64, bounded JSON parsing of request bodies, media-type parameters.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "optimum/io/json.h"

namespace optimum::serving::detail {

// Deepest nesting a request body may have (v2 nested tensor data is one level
// per dimension; nothing legitimate comes near this).
constexpr int kMaxRequestJsonDepth = 64;

// Byte offset of the first invalid UTF-8 sequence, or nullopt when `text` is
// well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
std::optional<size_t> invalid_utf8_at(std::string_view text);
// InvalidArgument "<field>: invalid UTF-8 at byte N" unless `text` is UTF-8.
void require_utf8(std::string_view text, const std::string& field);

std::string base64_encode(std::string_view bytes);
// Standard alphabet, padding required; InvalidArgument naming `field` otherwise.
std::string base64_decode(std::string_view text, const std::string& field);

// Parses a request body; InvalidArgument naming `what` on malformed JSON,
// invalid UTF-8 or nesting past kMaxRequestJsonDepth.
io::Json parse_body_json(std::string_view body, const std::string& what);

// Serializes a response value; invalid UTF-8 in a string (a tokenizer piece
// cut inside a character) becomes U+FFFD instead of throwing.
std::string dump_json(const io::Json& value);

// "multipart/form-data; boundary=x" -> "multipart/form-data" (lowercased, trimmed).
std::string media_type(std::string_view content_type);
// Value of parameter `name` (case-insensitive) of a Content-Type or
// Content-Disposition header, unquoted; nullopt when absent.
std::optional<std::string> header_parameter(std::string_view header, std::string_view name);

std::string lower(std::string_view s);
std::string_view trim(std::string_view s);

}  // namespace optimum::serving::detail

namespace optimum::serving::detail {
// The values of one text-embedding result (a flat list of numbers, or a list
// holding one such list); ServingError(Internal) naming `index` otherwise.
std::vector<float> embedding_values(const io::Json& result, size_t index);
}  // namespace optimum::serving::detail
