// JSON reading layer: every file is read the same bounded way, and every
// parse, type or range error becomes a FormatError naming the file and the
// JSON path ("tokenizer.json: /model/vocab/foo: type must be number, but is
// string"). The build defines JSON_DIAGNOSTICS=1 for every translation unit,
// so nlohmann's own exceptions carry the path.
//
// Use at a file-load boundary:
//   const io::Json j = io::read_json(path);                // bounded, parse errors named
//   auto cfg = io::with_json_context(path.string(), [&] {  // type/range errors named
//     return Config{j.at("hidden_size").get<int64_t>(), ...};
//   });
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

// With JSON_DIAGNOSTICS, gcc 12 reports a false -Warray-bounds in nlohmann's
// set_parents() inlined into the parser (the "object" branch on a string).
// Include nlohmann through this header only: the pragma covers its templates
// only where this is the first inclusion of <nlohmann/json.hpp>.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
#include <nlohmann/json.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace optimum::io {

using Json = nlohmann::json;
// A JSON value whose objects keep the file's key order (Python's dict order).
using OrderedJson = nlohmann::ordered_json;

// Largest JSON file read_json accepts by default (1 GiB). The largest
// tokenizer.json files on the Hub are a few tens of MB; the cap only stops a
// hostile file (or /dev/zero behind a symlink) from growing without bound.
constexpr uint64_t kMaxJsonFileSize = uint64_t{1} << 30;

// Deepest array/object nesting parse_json accepts by default. nlohmann copies,
// compares and prints values recursively.
constexpr int kMaxJsonDepth = 1000;

// What parse_json does with a number beyond double's range (1e400).
enum class NumberOverflow {
  kInfinity,  // +-inf, as Python's json reads it (config.json in transformers)
  kReject,    // FormatError naming the JSON path, as serde_json does (tokenizers, safetensors)
};

// Limits and number semantics of one read.
struct JsonOptions {
  NumberOverflow overflow = NumberOverflow::kInfinity;
  int max_depth = kMaxJsonDepth;
  uint64_t max_bytes = kMaxJsonFileSize;
};

// Reads a whole regular file (symlinks followed; FIFOs, devices and folders
// refused without blocking) of at most `max_bytes`. NotFound if missing,
// IoError if not a regular file or unreadable, FormatError if larger.
std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes);

// Parses `path` (read with read_text_file); NotFound if missing, FormatError
// naming the file and the parser's position on malformed JSON.
Json read_json(const std::filesystem::path& path, const JsonOptions& options = {});

// Parses `text`; FormatError naming `source` on malformed JSON, nesting deeper
// than options.max_depth, NUL bytes or (with kReject) out-of-range numbers.
Json parse_json(std::string_view text, const std::string& source, const JsonOptions& options = {});

// read_json keeping each object's keys in file order, for the few readers
// whose result depends on it (label2id's first "entail..." label).
OrderedJson read_ordered_json(const std::filesystem::path& path, const JsonOptions& options = {});

// Writes `value` pretty-printed (2-space indent, trailing newline).
void write_json(const std::filesystem::path& path, const Json& value);

// "source: /json/path: what" for an exception nlohmann threw while reading
// `source` (the path is the one JSON_DIAGNOSTICS records; omitted at the root).
std::string json_error_message(const std::string& source, const nlohmann::json::exception& e);

// Throws FormatError(json_error_message(source, e)).
[[noreturn]] void throw_json_error(const std::string& source, const nlohmann::json::exception& e);

// Runs `fn()`; a nlohmann exception escaping it (type_error from get<T>(),
// out_of_range from at(), ...) becomes a FormatError naming `source` and the
// JSON path. The project's own exceptions pass through unchanged.
template <class Fn>
decltype(auto) with_json_context(const std::string& source, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const nlohmann::json::exception& e) {
    throw_json_error(source, e);
  }
}

// `v` as an unsigned 32-bit id; FormatError "where: ... got v" when it is not
// an integer in [0, 2^32) (nlohmann's get<uint32_t>() silently truncates).
uint32_t json_u32(const Json& v, const std::string& where);

// `v` as a non-negative count at most `max`; FormatError naming `where` otherwise.
uint64_t json_count(const Json& v, const std::string& where, uint64_t max);

}  // namespace optimum::io
