#include "optimum/io/json.h"

#include <fstream>
#include <sstream>

#include "optimum/core/errors.h"

namespace optimum::io {

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
