#include "optimum/io/json.h"

#include <fstream>
#include <sstream>

#include "optimum/core/errors.h"

namespace optimum::io {

namespace {

// Deepest nesting accepted. nlohmann copies, compares and prints values
// recursively, so a file nested a million levels deep would overflow the stack.
constexpr int kMaxDepth = 1000;

// FormatError naming `source` when `text` nests arrays/objects deeper than
// kMaxDepth; brackets inside strings do not count.
void check_depth(std::string_view text, const std::string& source) {
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
      if (++depth > kMaxDepth) {
        throw FormatError("malformed JSON in " + source + ": nested deeper than " +
                          std::to_string(kMaxDepth) + " levels at byte " + std::to_string(i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

}  // namespace

Json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw NotFound("file not found: " + path.string());
    throw IoError(errno_message("cannot read " + path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_json(ss.str(), path.string());
}

Json parse_json(std::string_view text, const std::string& source) {
  check_depth(text, source);
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError("malformed JSON in " + source + ": " + e.what());
  }
}

void write_json(const std::filesystem::path& path, const Json& value) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(errno_message("cannot write " + path.string()));
  out << value.dump(2) << "\n";
  if (!out) throw IoError(errno_message("cannot write " + path.string()));
}

}  // namespace optimum::io
