#include "optimum/modeling/modeling.h"

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"

namespace optimum::modeling {

std::shared_ptr<OptimizedModel> OptimizedModel::from_pretrained(const std::string& model_id_or_path,
                                                                const LoadOptions& options) {
  std::error_code ec;
  const std::filesystem::path path(model_id_or_path);
  if (!std::filesystem::is_directory(path, ec)) {
    throw NotFound("model folder '" + model_id_or_path + "' not found (expected a folder with config.json and model.safetensors)");
  }
  if (options.num_threads > 0) set_num_threads(options.num_threads);
  auto m = std::make_shared<OptimizedModel>();
  m->path_ = path;
  m->model_ = models::EncoderModel::load(path, options.task);
  return m;
}

NamedTensors OptimizedModel::forward(const std::map<std::string, Tensor>& inputs) const {
  return model_->forward(inputs);
}

}  // namespace optimum::modeling
