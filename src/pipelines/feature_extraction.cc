// feature-extraction (transformers' FeatureExtractionPipeline): the model's
// first output (last_hidden_state) as nested lists [1][tokens][hidden].
#include "optimum/core/errors.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

struct Params {
  std::optional<Truncation> truncation;
};

struct Prepared : PreparedInput {
  std::shared_ptr<const Params> params;
};

class FeatureExtraction : public TaskPipeline {
 public:
  using TaskPipeline::TaskPipeline;

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    const Tensor& t = in.outputs.at(0).front().second;
    const auto& shape = t.shape();
    const int64_t seq = shape.size() >= 2 ? shape[1] : 1;
    const int64_t hidden = shape.back();
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
    Options opts = options(call, {"truncation", "tokenize_kwargs", "return_tensors"});
    if (opts.get_bool("return_tensors", false)) {
      throw InvalidArgument(task_ + ": return_tensors=True is not supported; results are nested lists");
    }
    auto p = std::make_shared<Params>();
    if (opts.has("tokenize_kwargs") && !opts.get("tokenize_kwargs").is_null()) {
      const Json& kw = opts.get("tokenize_kwargs");
      if (kw.is_object() && kw.contains("truncation") && opts.has("truncation")) {
        throw InvalidArgument(
            "truncation parameter defined twice (given as keyword argument as well as in tokenize_kwargs)");
      }
      Options tk(task_ + " tokenize_kwargs", Json::object(), kw, {"truncation", "max_length"});
      p->truncation = truncation_from_options(tk);
    }
    if (opts.has("truncation")) p->truncation = truncation_from_options(opts);
    return p;
  }

  std::unique_ptr<PreparedInput> prepare(const Json& item, std::shared_ptr<const Params> params) const {
    if (!item.is_string()) throw InvalidArgument(task_ + ": inputs must be strings, got " + item.dump());
    auto out = std::make_unique<Prepared>();
    auto encodings = ctx_.tok->encode(item.get<std::string>(), std::nullopt, params->truncation);
    encodings.resize(1);
    out->encodings = std::move(encodings);
    out->params = std::move(params);
    return out;
  }
};

}  // namespace

std::unique_ptr<Pipeline> make_feature_extraction(Context ctx) {
  return std::make_unique<FeatureExtraction>(std::move(ctx));
}

}  // namespace optimum::pipelines::detail
