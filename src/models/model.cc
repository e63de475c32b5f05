#include "optimum/models/model.h"

#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/models/architecture.h"
#include "optimum/models/native_files.h"

namespace optimum::models {

Tensor input_as_int64(const Tensor& t, const std::string& name) {
  if (t.dtype() == DType::I64) return t;
  if (t.dtype() != DType::I32) {
    throw InvalidArgument("input '" + name + "' has dtype " + std::string(dtype_name(t.dtype())) +
                          "; expected int64 or int32");
  }
  Tensor out = Tensor::zeros(DType::I64, t.shape());
  const int32_t* src = t.data<int32_t>();
  int64_t* dst = out.mutable_data<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = src[i];
  return out;
}

Tensor input_as_float32(const Tensor& t, const std::string& name) {
  if (t.dtype() == DType::F32) return t;
  if (t.dtype() == DType::F16 || t.dtype() == DType::BF16) return t.to(DType::F32);
  throw InvalidArgument("input '" + name + "' has dtype " + std::string(dtype_name(t.dtype())) +
                        "; expected float32");
}

std::shared_ptr<const EncoderModel> EncoderModel::load(const std::filesystem::path& dir, tasks::Task task,
                                                       const std::filesystem::path& config_dir,
                                                       std::optional<kernels::WeightType> compute) {
  register_architectures();  // the config specs
  return load(dir, task, config::load_config(config_dir.empty() ? dir : config_dir), compute);
}

std::shared_ptr<const EncoderModel> EncoderModel::load(const std::filesystem::path& dir, tasks::Task task,
                                                       const config::EncoderConfig& cfg,
                                                       std::optional<kernels::WeightType> compute) {
  std::error_code ec;
  if (std::filesystem::exists(dir / kExportFile, ec)) {
    const std::string record = (dir / kExportFile).string();
    const io::Json meta = io::read_json(dir / kExportFile);
    if (!meta.is_object()) throw FormatError(record + ": expected a JSON object");
    if (meta.value("format", std::string()) == "onnx") {
      throw Unsupported(dir.string() + " is an ONNX export (" + record +
                        " says format 'onnx'): run its model.onnx with ONNX Runtime (optimum's ORTModel); "
                        "optimum-cpp loads native exports and source checkpoints");
    }
    if (!meta.contains("layout")) throw FormatError(record + ": field 'layout' is missing");
    if (meta.contains("dtype") && !meta["dtype"].is_string()) {
      throw FormatError(record + ": field 'dtype' must be a string, got " + meta["dtype"].dump());
    }
    NativeModel native = from_native(open_native_weights(dir, meta, record), meta["layout"], cfg, record);
    if (native.head.task != task) {
      throw Unsupported(dir.string() + " was exported for task '" + tasks::task_name(native.head.task) +
                        "', not '" + tasks::task_name(task) + "': export it again with --task " +
                        tasks::task_name(task));
    }
    // A bf16 / int8 export runs in its stored precisions; an fp32 one in `compute`.
    const std::string exported = meta.value("dtype", std::string("fp32"));
    if (exported != "fp32" && compute && kernels::weight_type_name(*compute) != exported) {
      throw Unsupported(dir.string() + " was exported with dtype " + exported + "; it loads only as " + exported +
                        ", not " + std::string(kernels::weight_type_name(*compute)) +
                        " (export the model again with --dtype " +
                        std::string(kernels::weight_type_name(*compute)) + ")");
    }
    std::shared_ptr<EncoderModel> m(new EncoderModel());
    m->uses_token_types_ = native.uses_token_types;
    m->encoder_ = std::make_unique<Encoder>(cfg, std::move(native.weights), native.positions,
                                            exported == "fp32" ? compute.value_or(kernels::WeightType::F32)
                                                               : kernels::WeightType::F32);
    m->head_ = std::move(native.head);
    m->head_.pack();
    return m;
  }
  const Family& family = find_family(cfg.model_type);
  if (std::find(family.tasks.begin(), family.tasks.end(), task) == family.tasks.end()) {
    blocks::unsupported_task(cfg.model_type, task, family.tasks);
  }
  WeightSource weights(io::WeightStore::open_dir(dir), family.base_prefix);
  std::shared_ptr<EncoderModel> m(new EncoderModel());
  m->uses_token_types_ = family.uses_token_types;
  m->encoder_ = std::make_unique<Encoder>(cfg, family.load_encoder(weights, cfg), family.positions,
                                          compute.value_or(kernels::WeightType::F32));
  if (task == tasks::Task::FeatureExtraction) {
    m->head_.task = task;
  } else {
    try {
      m->head_ = family.load_head(task, weights, cfg);
    } catch (const NotFound& e) {
      // A checkpoint without this head (usually the base model): name the heads its weights have.
      std::string present = tasks::task_name(tasks::Task::FeatureExtraction);
      for (tasks::Task t : family.tasks) {
        if (t == tasks::Task::FeatureExtraction || t == task) continue;
        try {
          family.load_head(t, weights, cfg);
          present += ", " + tasks::task_name(t);
        } catch (const Error&) {
        }
      }
      throw NotFound(dir.string() + " has no " + tasks::task_name(task) + " head (" + e.what() +
                     "); its weights have heads for: " + present + ". Use --task with one of those (task= in "
                     "Python), or a checkpoint fine-tuned for " + tasks::task_name(task));
    }
  }
  m->head_.pack();
  return m;
}

std::vector<std::string> EncoderModel::input_names() const {
  if (encoder_->is_vision()) return {"pixel_values"};
  std::vector<std::string> names = {"input_ids", "attention_mask"};
  if (uses_token_types_) names.emplace_back("token_type_ids");
  names.emplace_back("position_ids");
  return names;
}

std::vector<std::string> EncoderModel::output_names() const {
  switch (head_.task) {
    case tasks::Task::FeatureExtraction:
      if (encoder_->has_pooler()) return {"last_hidden_state", "pooler_output"};
      return {"last_hidden_state"};
    case tasks::Task::QuestionAnswering:
      return {"start_logits", "end_logits"};
    default:
      return {"logits"};
  }
}

NamedTensors EncoderModel::forward(const std::map<std::string, Tensor>& inputs, const ForwardHook* hook,
                                   bool skip_padding) const {
  bind_workers();
  const std::vector<std::string> accepted = input_names();
  for (const auto& [name, t] : inputs) {
    if (std::find(accepted.begin(), accepted.end(), name) == accepted.end()) {
      std::string list;
      for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
      throw InvalidArgument("unexpected input '" + name + "' for model_type '" + config().model_type +
                            "' (accepted: " + list + ")");
    }
  }
  if (encoder_->is_vision()) return forward_pixels(inputs, hook);
  auto ids_it = inputs.find("input_ids");
  if (ids_it == inputs.end()) throw InvalidArgument("missing required input 'input_ids'");
  const bool choices = head_.task == tasks::Task::MultipleChoice;
  const Shape& shape = ids_it->second.shape();
  const size_t rank = choices ? 3 : 2;
  if (shape.size() != rank) {
    throw InvalidArgument("input 'input_ids' has shape " + shape_str(shape) + "; expected rank " +
                          std::to_string(rank) + (choices ? " [batch, num_choices, sequence]" : " [batch, sequence]"));
  }
  const int64_t seq = shape.back();
  const int64_t rows = choices ? shape[0] * shape[1] : shape[0];
  if (seq == 0) throw InvalidArgument("input 'input_ids' has an empty sequence dimension " + shape_str(shape));
  // transformers' models raise on an empty batch too.
  if (rows == 0) throw InvalidArgument("input 'input_ids' has an empty batch " + shape_str(shape));

  std::map<std::string, Tensor> flat;
  for (const auto& [name, t] : inputs) {
    if (t.shape() != shape) {
      throw InvalidArgument("input '" + name + "' has shape " + shape_str(t.shape()) + " but input_ids has " +
                            shape_str(shape));
    }
    flat[name] = input_as_int64(t, name);
  }
  auto ptr = [&](const char* name) -> const int64_t* {
    auto it = flat.find(name);
    return it == flat.end() ? nullptr : it->second.data<int64_t>();
  };
  EncoderInputs in;
  in.batch = rows;
  in.seq = seq;
  in.input_ids = ptr("input_ids");
  in.attention_mask = ptr("attention_mask");
  in.token_type_ids = ptr("token_type_ids");
  in.position_ids = ptr("position_ids");
  in.skip_padding = skip_padding;

  return heads_output(encoder_->forward(in, hook), rows, seq, shape);
}

NamedTensors EncoderModel::forward_pixels(const std::map<std::string, Tensor>& inputs,
                                          const ForwardHook* hook) const {
  auto it = inputs.find("pixel_values");
  if (it == inputs.end()) throw InvalidArgument("missing required input 'pixel_values'");
  const Shape& shape = it->second.shape();
  if (shape.size() != 4) {
    throw InvalidArgument("input 'pixel_values' has shape " + shape_str(shape) +
                          "; expected rank 4 [batch, num_channels, height, width]");
  }
  if (shape[0] == 0) throw InvalidArgument("input 'pixel_values' has an empty batch " + shape_str(shape));
  const Tensor pixels = input_as_float32(it->second, "pixel_values");
  EncoderInputs in;
  in.batch = shape[0];
  in.channels = shape[1];
  in.height = shape[2];
  in.width = shape[3];
  in.seq = config().num_patches() + 1;
  in.pixel_values = pixels.data<float>();
  return heads_output(encoder_->forward(in, hook), in.batch, in.seq, {in.batch, in.seq});
}

NamedTensors EncoderModel::heads_output(const Tensor& hidden, int64_t rows, int64_t seq, const Shape& shape) const {
  NamedTensors out;
  const int64_t h = config().hidden_size;
  switch (head_.task) {
    case tasks::Task::FeatureExtraction:
      out.emplace_back("last_hidden_state", hidden.reshape({rows, seq, h}));
      if (encoder_->has_pooler()) out.emplace_back("pooler_output", encoder_->pool(hidden, rows, seq));
      return out;
    default:
      break;
  }
  Tensor head_in;
  switch (head_.input) {
    case HeadInput::Sequence:
      head_in = hidden;
      break;
    case HeadInput::FirstToken:
      head_in = first_tokens(hidden, rows, seq);
      break;
    case HeadInput::Pooled:
      head_in = encoder_->pool(hidden, rows, seq);
      break;
  }
  Tensor logits = head_.run(head_in);
  const int64_t width = logits.size(-1);
  switch (head_.task) {
    case tasks::Task::TextClassification:
    case tasks::Task::ImageClassification:
      out.emplace_back("logits", logits.reshape({rows, width}));
      break;
    case tasks::Task::MultipleChoice:
      out.emplace_back("logits", logits.reshape({shape[0], shape[1]}));
      break;
    case tasks::Task::QuestionAnswering: {
      // from_native and the family heads guarantee it; reading l[2i + 1] relies on it.
      if (width != 2) throw Error("question-answering head has width " + std::to_string(width) + ", not 2");
      Tensor start = Tensor::zeros(DType::F32, {rows, seq});
      Tensor end = Tensor::zeros(DType::F32, {rows, seq});
      const float* l = logits.data<float>();
      for (int64_t i = 0; i < rows * seq; ++i) {
        start.mutable_data<float>()[i] = l[2 * i];
        end.mutable_data<float>()[i] = l[2 * i + 1];
      }
      out.emplace_back("start_logits", start);
      out.emplace_back("end_logits", end);
      break;
    }
    default:
      out.emplace_back("logits", logits.reshape({rows, seq, width}));
      break;
  }
  return out;
}

}  // namespace optimum::models
