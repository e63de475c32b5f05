// OptimizedModel: the user-facing entry point that loads a model folder for
// a task and runs it. (Hub ids and on-the-fly export come with the Hub and
// export layers.)
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "optimum/models/model.h"

namespace optimum::modeling {

using models::NamedTensors;

struct LoadOptions {
  // Task head to load; feature-extraction (the base model) by default.
  tasks::Task task = tasks::Task::FeatureExtraction;
  // Compute threads; 0 keeps the current setting (cores by default).
  int num_threads = 0;
};

class OptimizedModel {
 public:
  // Loads a local model folder (config.json + safetensors weights).
  // NotFound names the path when it is not a folder.
  static std::shared_ptr<OptimizedModel> from_pretrained(const std::string& model_id_or_path,
                                                         const LoadOptions& options = {});

  // Runs the model; see EncoderModel::forward for names and shapes.
  NamedTensors forward(const std::map<std::string, Tensor>& inputs) const;

  std::vector<std::string> input_names() const { return model_->input_names(); }
  std::vector<std::string> output_names() const { return model_->output_names(); }
  const config::EncoderConfig& config() const { return model_->config(); }
  tasks::Task task() const { return model_->task(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::shared_ptr<const models::EncoderModel> model_;
};

}  // namespace optimum::modeling
