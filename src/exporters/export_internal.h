// Helpers shared by the encoder and decoder exporters.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <vector>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "optimum/exporters/accuracy.h"
#include "optimum/exporters/export.h"
#include "optimum/io/json.h"
#include "optimum/kernels/matmul.h"
#include "optimum/models/native_format.h"
#include "optimum/models/precision.h"
#include "optimum/tasks/registry.h"

namespace optimum::exporters::internal {

// A folder removed (with a partially written export) unless released.
class TempDir {
 public:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    if (!released_) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  std::filesystem::path path_;
  bool released_ = false;
};

// Batch sizes the export is validated on (ExportOptions::batch_size).
inline std::vector<int64_t> validation_batches(const ExportOptions& o) {
  if (o.batch_size < 0 || o.batch_size > 1024) {
    throw InvalidArgument("export: batch_size " + std::to_string(o.batch_size) +
                          " is out of range (1..1024, or 0 for the default validation batches 1 and 3)");
  }
  return o.batch_size > 0 ? std::vector<int64_t>{o.batch_size} : std::vector<int64_t>{1, 3};
}

// Sequence lengths the export is validated on (ExportOptions::sequence_length):
// the one asked for (at most `max_length`), else `defaults` clamped to `max_length`.
inline std::vector<int64_t> validation_lengths(const ExportOptions& o, int64_t max_length,
                                               std::vector<int64_t> defaults) {
  if (o.sequence_length < 0 || (max_length > 0 && o.sequence_length > max_length)) {
    throw InvalidArgument("export: sequence_length " + std::to_string(o.sequence_length) +
                          " is out of range (1.." + std::to_string(max_length) +
                          " for this model's position embeddings, or 0 for the default validation lengths)");
  }
  if (o.sequence_length > 0) return {o.sequence_length};
  for (int64_t& n : defaults) n = std::max<int64_t>(1, max_length > 0 ? std::min(n, max_length) : n);
  defaults.erase(std::unique(defaults.begin(), defaults.end()), defaults.end());
  return defaults;
}

// Moves the files of `from` into `to` (created if needed), replacing files of the same name.
inline void move_into(const std::filesystem::path& from, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(to, ec)) {
    fs::create_directories(to.parent_path().empty() ? fs::path(".") : to.parent_path());
    fs::rename(from, to);
    return;
  }
  for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    const fs::path target = to / fs::relative(it->path(), from);
    fs::create_directories(target.parent_path());
    fs::rename(it->path(), target);
  }
  fs::remove_all(from, ec);
}

// A converter that converts each Linear once per precision (the guard asks
// for the same layer many times); fp32 is the layer as it is.
inline models::LinearConverter caching_converter() {
  auto cache = std::make_shared<std::map<std::pair<std::string, kernels::WeightType>, models::Linear>>();
  return [cache](const std::string& name, const models::Linear& l, kernels::WeightType t) {
    if (t == kernels::WeightType::F32) return l;
    auto it = cache->find({name, t});
    if (it == cache->end()) it = cache->emplace(std::make_pair(name, t), models::convert_linear(l, t)).first;
    return it->second;
  };
}

// The accuracy guard's settings for an export in `type`: the options', else
// the registry's thresholds; the fallback precision bf16 for int8 where the
// CPU computes bf16 natively, else fp32, unless the options name one.
inline AccuracyOptions guard_options(const ExportOptions& options, const tasks::ExportConfig& export_config,
                                     kernels::WeightType type) {
  AccuracyOptions guard;
  guard.texts = options.calibration_texts;
  guard.strict = options.strict_accuracy;
  guard.min_cosine = options.min_cosine > 0 ? options.min_cosine : export_config.min_cosine;
  guard.min_agreement = options.min_agreement > 0 ? options.min_agreement : export_config.min_agreement;
  guard.fallback = options.fallback_dtype != "auto" ? kernels::weight_type_from_name(options.fallback_dtype)
                   : type == kernels::WeightType::S8 && kernels::bf16_native() ? kernels::WeightType::BF16
                                                                               : kernels::WeightType::F32;
  return guard;
}

// Writes `dir`/README.md, the export's model card (YAML front matter with
// library_name optimum-cpp, base_model for a Hub source, tags; what the folder
// is, guard and validation figures, how to load it), from the final record
// `meta`; a README.md in `source_dir` is kept as README.source.md.
void write_model_card(const std::filesystem::path& dir, const io::Json& meta, const std::filesystem::path& source_dir);

// Cosine of two logit rows for the causal-LM / encoder-decoder guards: 1 for
// two zero rows, 0 for one, and 0 when not finite (NaN / inf in the
// low-precision model fails the guard).
inline double cosine(const float* a, const float* b, int64_t n) {
  double dot = 0, na = 0, nb = 0;
  for (int64_t i = 0; i < n; ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  const double c = (na == 0 || nb == 0) ? (na == nb ? 1.0 : 0.0) : dot / std::sqrt(na * nb);
  return std::isfinite(c) ? c : 0.0;
}

inline int64_t argmax(const float* v, int64_t n) { return std::max_element(v, v + n) - v; }

// "int8" for S8 weights, else the weight type's name (the record's dtype labels).
inline std::string dtype_label(kernels::WeightType t) {
  return t == kernels::WeightType::S8 ? "int8" : std::string(kernels::weight_type_name(t));
}

// The tensor specs of an export config as the record lists them: name and dynamic axes.
inline io::Json tensor_specs_json(const std::vector<tasks::TensorSpec>& specs) {
  io::Json j = io::Json::array();
  for (const tasks::TensorSpec& s : specs) {
    io::Json axes = io::Json::object();
    for (const auto& [axis, name] : s.axes) axes[std::to_string(axis)] = name;
    j.push_back({{"name", s.name}, {"dynamic_axes", axes}});
  }
  return j;
}

// What every native export records in optimum_export.json: the format, the tool,
// the source, model_type, task, dtype, layout, weights, the persisted
// preprocessors and (when measured) the accuracy guard's figures. The
// exporters add their own keys (linear precisions, inputs, outputs).
inline io::Json export_record(const ExportOptions& options, const std::filesystem::path& model_dir,
                              const std::string& library, const std::string& model_type, const std::string& task,
                              const std::string& dtype, const io::Json& layout, const io::Json& weights,
                              const std::vector<std::string>& preprocessors, const io::Json& accuracy) {
  io::Json meta = {{"format", models::kNativeFormat},
                   {"tool", "optimum-cpp"},
                   {"tool_version", tool_version()},
                   {"source",
                    {{"model_id", options.source_id.empty() ? model_dir.string() : options.source_id},
                     {"commit", options.source_commit},
                     {"revision", options.revision},
                     {"subfolder", options.subfolder},
                     {"library", library}}},
                   {"model_type", model_type},
                   {"task", task},
                   {"dtype", dtype},
                   {"layout", layout},
                   {"weights", weights},
                   {"preprocessors", preprocessors}};
  if (!accuracy.is_null()) meta["accuracy"] = accuracy;
  return meta;
}

}  // namespace optimum::exporters::internal
