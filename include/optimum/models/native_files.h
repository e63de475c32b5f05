// File names of a native export. The engine-layout weights are stored under
// a name that transformers and sentence-transformers do not take for a
// checkpoint (model.optimum-cpp.safetensors, or shards listed by
// model.optimum-cpp.safetensors.index.json), so those libraries refuse an
// export folder ("no weights") instead of loading random weights. The name
// is recorded in optimum_export.json ("weights"); exports written before the
// rename (engine layout in model.safetensors) still load.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "optimum/io/json.h"
#include "optimum/io/safetensors.h"

namespace optimum::models {

inline constexpr const char* kNativeWeightsFile = "model.optimum-cpp.safetensors";
inline constexpr const char* kNativeWeightsIndex = "model.optimum-cpp.safetensors.index.json";
// Where exports before the rename kept their engine-layout weights.
inline constexpr const char* kLegacyNativeWeightsFile = "model.safetensors";
inline constexpr const char* kLegacyNativeWeightsIndex = "model.safetensors.index.json";

// Writes `tensors` as `dir`/model.optimum-cpp.safetensors and returns the
// record optimum_export.json keeps under "weights" (file, format, layout).
io::Json save_native_weights(const std::filesystem::path& dir,
                             const std::vector<std::pair<std::string, Tensor>>& tensors,
                             const std::map<std::string, std::string>& metadata);

// The weights file (or index) of the native export in `dir` whose record
// `meta` was read from `record`: the file "weights.file" names, else
// model.optimum-cpp.safetensors(.index.json), else the legacy
// model.safetensors(.index.json). FormatError for a "weights" entry that is
// not a plain file name; NotFound naming the record and the names tried.
std::filesystem::path native_weights_path(const std::filesystem::path& dir, const io::Json& meta,
                                          const std::string& record);

// io::WeightStore::open(native_weights_path(...)).
io::WeightStore open_native_weights(const std::filesystem::path& dir, const io::Json& meta,
                                    const std::string& record);

// Removes engine-layout weights an older export left as model.safetensors in
// `dir` (checked by their safetensors metadata "format"), so a folder
// re-exported in place never keeps a file transformers would load.
void remove_legacy_native_weights(const std::filesystem::path& dir);

}  // namespace optimum::models
