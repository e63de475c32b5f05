#include "optimum/models/native_files.h"

#include "optimum/core/errors.h"
#include "optimum/models/native_format.h"

namespace optimum::models {

namespace fs = std::filesystem;

io::Json save_native_weights(const fs::path& dir, const std::vector<std::pair<std::string, Tensor>>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  io::save_safetensors(dir / kNativeWeightsFile, tensors, metadata);
  return {{"file", kNativeWeightsFile},
          {"format", kNativeFormat},
          {"note", "engine-layout weights for optimum-cpp; not a transformers checkpoint"}};
}

namespace {

// The name the record gives, checked to be a plain file name in `dir`; "" when it gives none.
std::string recorded_name(const io::Json& meta, const std::string& record) {
  if (!meta.is_object() || !meta.contains("weights")) return {};
  const io::Json& w = meta["weights"];
  if (!w.is_object() || !w.contains("file") || !w["file"].is_string()) {
    throw FormatError(record + ": field 'weights' must be an object with a string 'file', got " + w.dump());
  }
  const std::string name = w["file"].get<std::string>();
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\\') != std::string::npos) {
    throw FormatError(record + ": weights.file '" + name + "' must be a plain file name in the export folder");
  }
  return name;
}

}  // namespace

fs::path native_weights_path(const fs::path& dir, const io::Json& meta, const std::string& record) {
  std::error_code ec;
  const std::string named = recorded_name(meta, record);
  if (!named.empty()) {
    if (!fs::is_regular_file(dir / named, ec)) {
      throw NotFound(record + ": weights.file '" + named + "' does not exist in " + dir.string());
    }
    return dir / named;
  }
  for (const char* name : {kNativeWeightsFile, kNativeWeightsIndex, kLegacyNativeWeightsFile, kLegacyNativeWeightsIndex}) {
    if (fs::is_regular_file(dir / name, ec)) return dir / name;
  }
  throw NotFound("no weights for the native export " + record + " in " + dir.string() + ": none of " +
                 kNativeWeightsFile + ", " + kNativeWeightsIndex + ", " + kLegacyNativeWeightsFile +
                 " (older exports), " + kLegacyNativeWeightsIndex);
}

io::WeightStore open_native_weights(const fs::path& dir, const io::Json& meta, const std::string& record) {
  return io::WeightStore::open(native_weights_path(dir, meta, record));
}

void remove_legacy_native_weights(const fs::path& dir) {
  std::error_code ec;
  const fs::path legacy = dir / kLegacyNativeWeightsFile;
  if (!fs::is_regular_file(legacy, ec)) return;
  bool native = false;
  try {
    const auto meta = io::SafetensorsFile::open(legacy).metadata();
    auto it = meta.find("format");
    native = it != meta.end() && it->second == kNativeFormat;
  } catch (const Error&) {
    return;  // not ours to judge: leave it
  }
  if (native) fs::remove(legacy, ec);
}

}  // namespace optimum::models
