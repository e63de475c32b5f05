// DecoderSession (decoder_heads.h): the decoder heads behind the Session
// interface that OptimizedModel holds, with named inputs and outputs as the
// encoder engine takes and gives them.
#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/models/decoder_heads.h"

namespace optimum::models {

std::shared_ptr<const DecoderSession> DecoderSession::load(const std::filesystem::path& dir, const io::Json& config,
                                                           tasks::Task task, const DecoderLoadOptions& options,
                                                           bool allow_base_model) {
  std::shared_ptr<DecoderSession> s(new DecoderSession());
  s->task_ = task;
  switch (task) {
    case tasks::Task::FeatureExtraction:
    case tasks::Task::TextGeneration:
      s->model_ = DecoderModel::load(dir, config, options);
      if (task == tasks::Task::TextGeneration && !s->model_->has_lm_head() && !allow_base_model) {
        throw Unsupported(dir.string() + " has no lm_head (a base model): load it for feature-extraction, not " +
                          tasks::task_name(task));
      }
      return s;
    case tasks::Task::TextClassification:
      s->classifier_ = DecoderForSequenceClassification::load(dir, config, options);
      return s;
    default:
      break;
  }
  const std::string model_type =
      config.is_object() && config.contains("model_type") && config.at("model_type").is_string()
          ? config.at("model_type").get<std::string>()
          : std::string("?");
  throw Unsupported("task '" + tasks::task_name(task) + "' is not supported for decoder model_type '" + model_type +
                    "' (supported: feature-extraction, text-classification, text-generation)");
}

std::shared_ptr<const DecoderSession> DecoderSession::from_model(std::shared_ptr<const DecoderModel> model,
                                                                 tasks::Task task) {
  if (!model) throw InvalidArgument("DecoderSession::from_model: no model");
  if (task != tasks::Task::FeatureExtraction && task != tasks::Task::TextGeneration) {
    throw Unsupported("task '" + tasks::task_name(task) + "' needs its head's weights: load the folder (supported "
                      "over a loaded decoder: feature-extraction, text-generation)");
  }
  std::shared_ptr<DecoderSession> s(new DecoderSession());
  s->task_ = task;
  s->model_ = std::move(model);
  return s;
}

std::vector<std::string> DecoderSession::output_names() const {
  if (task_ == tasks::Task::FeatureExtraction) return {"last_hidden_state"};
  return {"logits"};
}

NamedTensors DecoderSession::run(const std::map<std::string, Tensor>& inputs, const RunOptions&) const {
  bind_workers();
  const std::vector<std::string> accepted = input_names();
  for (const auto& [name, t] : inputs) {
    if (std::find(accepted.begin(), accepted.end(), name) == accepted.end()) {
      throw InvalidArgument("unexpected input '" + name + "' for decoder model_type '" + model_type() +
                            "' (accepted: input_ids, attention_mask)");
    }
  }
  auto ids_it = inputs.find("input_ids");
  if (ids_it == inputs.end()) throw InvalidArgument("missing required input 'input_ids'");
  const Shape& shape = ids_it->second.shape();
  if (shape.size() != 2) {
    throw InvalidArgument("input 'input_ids' has shape " + shape_str(shape) + "; expected rank 2 [batch, sequence]");
  }
  const Tensor ids = input_as_int64(ids_it->second, "input_ids");
  Tensor mask;
  if (auto it = inputs.find("attention_mask"); it != inputs.end()) {
    if (it->second.shape() != shape) {
      throw InvalidArgument("input 'attention_mask' has shape " + shape_str(it->second.shape()) +
                            " but input_ids has " + shape_str(shape));
    }
    mask = input_as_int64(it->second, "attention_mask");
  }
  PaddedTokens tokens;
  tokens.ids = ids.data<int64_t>();
  tokens.mask = mask.defined() ? mask.data<int64_t>() : nullptr;
  tokens.batch = shape[0];
  tokens.seq = shape[1];
  NamedTensors out;
  switch (task_) {
    case tasks::Task::TextClassification:
      out.emplace_back("logits", classifier_->forward(tokens));
      break;
    case tasks::Task::TextGeneration:
      out.emplace_back("logits", decoder_logits(*model_, tokens));
      break;
    default:
      out.emplace_back("last_hidden_state", decoder_last_hidden_state(*model_, tokens));
      break;
  }
  return out;
}

}  // namespace optimum::models
