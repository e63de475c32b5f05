// OptimizedModel: the user-facing entry point. from_pretrained is a template
// method: resolve the id (local folder or Hub, revision, subfolder), find the
// files, pick the config folder, detect the library, load the config, decide
// whether to export, then hand over to the backend's load or export.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "optimum/exporters/export.h"
#include "optimum/models/model.h"

namespace optimum::modeling {

using models::NamedTensors;

// Where a model comes from (the Hub part of from_pretrained's options).
struct ResolveOptions {
  std::string revision;             // branch, tag or commit; "" = main
  std::string subfolder;            // sub-folder holding the model files
  std::string cache_dir;            // "" = HF_HUB_CACHE / HF_HOME/hub
  std::string token;                // "" = HF_TOKEN / the token file
  bool force_download = false;      // ignore cached files
  bool local_files_only = false;    // never touch the network
};

// A model id made local.
struct ResolvedModel {
  std::filesystem::path folder;     // folder holding the model files (subfolder applied)
  std::filesystem::path config_dir; // folder holding config.json (falls back to the top level)
  std::string repo_id;              // "" for local folders
  std::string commit;               // resolved commit ("" for local folders)
};

// Resolves a local folder or a Hub id (org/name, org/name@revision).
ResolvedModel resolve(const std::string& model_id, const ResolveOptions& options);

struct LoadOptions {
  tasks::Task task = tasks::Task::FeatureExtraction;  // head to load
  bool export_model = false;  // convert a vanilla checkpoint to the native format (cached) before loading
  std::string dtype = "fp32";
  ResolveOptions hub;
  int num_threads = 0;        // 0 keeps the current setting (cores by default)
  std::string export_cache;   // "" = $OPTIMUM_CPP_CACHE or HF_HOME/optimum-cpp/exports
};

class OptimizedModel {
 public:
  // Loads a model: an exported folder directly, a vanilla checkpoint
  // directly (layout converted in memory) or, with export_model, through a
  // cached native export keyed by source commit and options.
  static std::shared_ptr<OptimizedModel> from_pretrained(const std::string& model_id,
                                                         const LoadOptions& options = {});

  // Runs the model; see EncoderModel::forward for names and shapes.
  NamedTensors forward(const std::map<std::string, Tensor>& inputs) const;

  // Writes the model in the native format (weights, config, metadata,
  // preprocessors) to `dir`.
  void save_pretrained(const std::filesystem::path& dir) const;

  std::vector<std::string> input_names() const { return model_->input_names(); }
  std::vector<std::string> output_names() const { return model_->output_names(); }
  const config::EncoderConfig& config() const { return model_->config(); }
  tasks::Task task() const { return model_->task(); }
  // Folder the model was loaded from (the export cache entry when exported).
  const std::filesystem::path& path() const { return path_; }
  // True when from_pretrained converted the checkpoint in this call.
  bool exported_now() const { return exported_now_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path source_;
  bool exported_now_ = false;
  std::shared_ptr<const models::EncoderModel> model_;
};

// Cache folder of a native export of `resolved` with these options.
std::filesystem::path export_cache_path(const ResolvedModel& resolved, const LoadOptions& options);

}  // namespace optimum::modeling
