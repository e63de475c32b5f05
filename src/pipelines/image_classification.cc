// image-classification (transformers' ImageClassificationPipeline) and
// image-feature-extraction (ImageFeatureExtractionPipeline): image files
// (or encoded image bytes, a binary JSON input: what the server passes)
// decoded and turned into pixel_values by the folder's image processor
// (preprocessor_config.json), one forward over a batch of images, then
// scores (function_to_apply: sigmoid for multi-label or one label, else
// softmax) sorted into the top_k {label, score} pairs, or the
// last_hidden_state (pooler_output with pool=True) as nested lists.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "optimum/core/errors.h"
#include "optimum/pipelines/functions.h"
#include "optimum/preprocessors/image.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

struct Params {
  std::optional<ScoreFunction> fn;
  int64_t top_k = 5;
  bool pool = false;
};

struct Prepared : PreparedInput {
  std::shared_ptr<const Params> params;
  Tensor pixel_values;  // [1, channels, height, width]
};

// Shared by both tasks: decode + process one image, batch the forward.
class ImagePipeline : public TaskPipeline {
 public:
  using TaskPipeline::TaskPipeline;

  void forward(std::span<PreparedInput* const> batch) const override {
    if (batch.empty()) return;
    std::vector<Prepared*> items;
    for (PreparedInput* p : batch) items.push_back(&prepared_as<Prepared>(*p, task_));
    const Shape& first = items.front()->pixel_values.shape();
    bool same = true;
    for (const Prepared* p : items) same = same && p->pixel_values.shape() == first;
    if (!same) {  // images of different processed sizes: one forward each (the model refuses them anyway)
      for (Prepared* p : items) p->outputs = {ctx_.model->forward({{"pixel_values", p->pixel_values}})};
      return;
    }
    const int64_t per = items.front()->pixel_values.numel();
    Shape shape = first;
    shape[0] = static_cast<int64_t>(items.size());
    Tensor all = Tensor::zeros(DType::F32, shape);
    for (size_t i = 0; i < items.size(); ++i) {
      std::memcpy(all.mutable_data<float>() + static_cast<int64_t>(i) * per, items[i]->pixel_values.data<float>(),
                  static_cast<size_t>(per) * sizeof(float));
    }
    const modeling::NamedTensors out = ctx_.model->forward({{"pixel_values", all}});
    for (size_t i = 0; i < items.size(); ++i) {
      modeling::NamedTensors mine;
      for (const auto& [name, t] : out) {
        Shape s = t.shape();
        const int64_t rows = s[0];
        s[0] = 1;
        const int64_t n = t.numel() / rows;
        mine.emplace_back(name, Tensor::from_data(DType::F32, s, t.data<float>() + static_cast<int64_t>(i) * n));
      }
      items[i]->outputs = {std::move(mine)};
    }
  }

 protected:
  std::unique_ptr<PreparedInput> prepare(const Json& item, std::shared_ptr<const Params> params) const {
    if (item.is_binary()) {  // encoded image bytes (the server's inputs)
      const auto& bytes = item.get_binary();
      auto p = std::make_unique<Prepared>();
      p->params = std::move(params);
      p->pixel_values =
          ctx_.image_processor->preprocess({preprocessors::decode_image(bytes.data(), bytes.size(), task_ + " image")});
      return p;
    }
    if (!item.is_string()) {
      throw InvalidArgument(task_ + ": an input must be an image file path (a string) or encoded image bytes, got " +
                            item.type_name());
    }
    const std::string path = item.get<std::string>();
    if (path.starts_with("http://") || path.starts_with("https://")) {
      throw Unsupported(task_ + ": image URLs are not fetched ('" + path + "'); download the file and pass its path");
    }
    auto p = std::make_unique<Prepared>();
    p->params = std::move(params);
    p->pixel_values = ctx_.image_processor->preprocess({preprocessors::load_image(path)});
    return p;
  }
};

class ImageClassification : public ImagePipeline {
 public:
  using ImagePipeline::ImagePipeline;

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    const Tensor& logits = output(in.outputs.at(0), "logits");
    const auto& cfg = ctx_.model->config();
    const int64_t n = logits.numel();
    ScoreFunction fn = ScoreFunction::Softmax;
    if (in.params->fn) {
      fn = *in.params->fn;
    } else if (cfg.problem_type == "regression") {
      fn = ScoreFunction::None;
    } else if (cfg.problem_type == "multi_label_classification" || cfg.num_labels == 1) {
      fn = ScoreFunction::Sigmoid;
    }
    const std::vector<float> scores = apply(fn, std::span<const float>(logits.data<float>(), static_cast<size_t>(n)));
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)];
    });
    const int64_t k = std::min(in.params->top_k, n);
    Json out = Json::array();
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = order[static_cast<size_t>(i)];
      out.push_back({{"label", label_of(cfg, c)}, {"score", scores[static_cast<size_t>(c)]}});
    }
    return out;
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const auto params = parse(call);
    return run_inputs(inputs, call, [&](const Json& item) { return prepare(item, params); }, false);
  }

 private:
  std::shared_ptr<const Params> parse(const Json& call) const {
    Options opts = options(call, {"top_k", "function_to_apply", "timeout"});
    auto p = std::make_shared<Params>();
    if (opts.has("top_k") && !opts.get("top_k").is_null()) {
      p->top_k = *opts.get_int("top_k");
      if (p->top_k < 0) throw InvalidArgument(task_ + ": top_k must not be negative, got " + std::to_string(p->top_k));
    }
    if (opts.has("function_to_apply") && !opts.get("function_to_apply").is_null()) {
      p->fn = score_function_from_name(opts.get_string("function_to_apply", ""));
    }
    return p;
  }
};

class ImageFeatureExtraction : public ImagePipeline {
 public:
  using ImagePipeline::ImagePipeline;

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    if (in.params->pool) {
      const Tensor& t = output(in.outputs.at(0), "pooler_output");
      const float* v = t.data<float>();
      return Json::array({std::vector<float>(v, v + t.numel())});
    }
    const Tensor& t = output(in.outputs.at(0), "last_hidden_state");
    const int64_t seq = t.shape()[1];
    const int64_t hidden = t.shape().back();
    const float* v = t.data<float>();
    Json tokens = Json::array();
    for (int64_t s = 0; s < seq; ++s) tokens.push_back(std::vector<float>(v + s * hidden, v + (s + 1) * hidden));
    return Json::array({std::move(tokens)});
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const auto params = parse(call);
    return run_inputs(inputs, call, [&](const Json& item) { return prepare(item, params); }, false);
  }

 private:
  std::shared_ptr<const Params> parse(const Json& call) const {
    Options opts = options(call, {"pool", "timeout", "return_tensors"});
    if (opts.get_bool("return_tensors", false)) {
      throw InvalidArgument(task_ + ": return_tensors=True is not supported; results are nested lists");
    }
    auto p = std::make_shared<Params>();
    p->pool = opts.get_bool("pool", false);
    if (p->pool && !ctx_.model->session().is_decoder()) {
      const auto names = ctx_.model->session().output_names();
      if (std::find(names.begin(), names.end(), "pooler_output") == names.end()) {
        throw InvalidArgument(task_ + ": pool=True needs a model with a pooler; " + ctx_.model->path().string() +
                              " has none");
      }
    }
    return p;
  }
};

}  // namespace

std::unique_ptr<Pipeline> make_image_classification(Context ctx) {
  return std::make_unique<ImageClassification>(std::move(ctx));
}

std::unique_ptr<Pipeline> make_image_feature_extraction(Context ctx) {
  return std::make_unique<ImageFeatureExtraction>(std::move(ctx));
}

}  // namespace optimum::pipelines::detail
