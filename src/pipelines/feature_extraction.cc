// feature-extraction (transformers' FeatureExtractionPipeline): the model's
// first output (last_hidden_state) as nested lists [1][tokens][hidden].
#include "optimum/core/errors.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

class FeatureExtraction : public TaskPipeline {
 public:
  using TaskPipeline::TaskPipeline;

  Json operator()(const Json& inputs, const Json& call) const override {
    Options opts(task_, defaults_, call, {"truncation", "tokenize_kwargs", "return_tensors"});
    if (opts.get_bool("return_tensors", false)) {
      throw InvalidArgument(task_ + ": return_tensors=True is not supported; results are nested lists");
    }
    std::optional<Truncation> truncation;
    if (opts.has("tokenize_kwargs") && !opts.get("tokenize_kwargs").is_null()) {
      const Json& kw = opts.get("tokenize_kwargs");
      if (kw.is_object() && kw.contains("truncation") && opts.has("truncation")) {
        throw InvalidArgument(
            "truncation parameter defined twice (given as keyword argument as well as in tokenize_kwargs)");
      }
      Options tk(task_ + " tokenize_kwargs", Json::object(), kw, {"truncation", "max_length"});
      truncation = truncation_from_options(tk);
    }
    if (opts.has("truncation")) truncation = truncation_from_options(opts);
    auto one = [&](const Json& item) {
      if (!item.is_string()) throw InvalidArgument(task_ + ": inputs must be strings, got " + item.dump());
      const auto enc = ctx_.tok->encode(item.get<std::string>(), std::nullopt, truncation);
      const auto outputs = forward_one(*ctx_.model, enc.front());
      const Tensor& t = outputs.front().second;
      const auto& shape = t.shape();
      const int64_t seq = shape.size() >= 2 ? shape[1] : 1;
      const int64_t hidden = shape.back();
      const float* v = t.data<float>();
      Json tokens = Json::array();
      for (int64_t s = 0; s < seq; ++s)
        tokens.push_back(std::vector<float>(v + s * hidden, v + (s + 1) * hidden));
      return Json::array({std::move(tokens)});
    };
    if (inputs.is_array()) {
      Json out = Json::array();
      for (const Json& item : inputs) out.push_back(one(item));
      return out;
    }
    return one(inputs);
  }
};

}  // namespace

std::unique_ptr<Pipeline> make_feature_extraction(Context ctx) {
  return std::make_unique<FeatureExtraction>(std::move(ctx));
}

}  // namespace optimum::pipelines::detail
