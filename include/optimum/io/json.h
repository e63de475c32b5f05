// JSON helpers: parse files with errors that name the file and position.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace optimum::io {

using Json = nlohmann::json;

// Parses `path`; NotFound if missing, FormatError naming the file and the
// parser's position on malformed JSON.
Json read_json(const std::filesystem::path& path);

// Parses `text`; FormatError naming `source` on malformed JSON.
Json parse_json(std::string_view text, const std::string& source);

// Writes `value` pretty-printed (2-space indent, trailing newline).
void write_json(const std::filesystem::path& path, const Json& value);

}  // namespace optimum::io
