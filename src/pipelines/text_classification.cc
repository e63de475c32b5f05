// text-classification (transformers' TextClassificationPipeline): one
// sequence or a {"text", "text_pair"} pair per input, scores from
// function_to_apply (default chosen from problem_type / num_labels), the
// legacy single-label result unless top_k is given.
#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/pipelines/functions.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

struct Params {
  std::optional<ScoreFunction> fn;
  std::optional<int64_t> top_k = 1;
  bool legacy = true;
  bool top_k_in_call = false;
  std::optional<Truncation> truncation;
};

struct Prepared : PreparedInput {
  std::shared_ptr<const Params> params;
};

class TextClassification : public TaskPipeline {
 public:
  using TaskPipeline::TaskPipeline;

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    return classify(in.outputs.at(0), *in.params);
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const auto params = parse(call);
    if (inputs.is_array()) {
      if (inputs.empty()) return Json::array();
      std::vector<std::unique_ptr<PreparedInput>> prepared;
      for (const Json& item : inputs) prepared.push_back(prepare(item, params));
      return Json(run_prepared(std::move(prepared), call));
    }
    std::vector<std::unique_ptr<PreparedInput>> prepared;
    prepared.push_back(prepare(inputs, params));
    Json result = std::move(run_prepared(std::move(prepared), call).front());
    // A single string without top_k in the call is wrapped in a list.
    if (inputs.is_string() && !params->top_k_in_call) return Json::array({result});
    return result;
  }

 private:
  std::shared_ptr<const Params> parse(const Json& call) const {
    Options opts = options(call, {"top_k", "function_to_apply", "truncation", "max_length", "padding"});
    auto p = std::make_shared<Params>();
    // top_k given (even null) switches off the legacy single-label result.
    if (opts.has("top_k")) {
      p->top_k = opts.get_int("top_k");
      p->legacy = false;
    }
    p->top_k_in_call = opts.in_call("top_k");
    if (opts.has("function_to_apply") && !opts.get("function_to_apply").is_null()) {
      p->fn = score_function_from_name(opts.get_string("function_to_apply", ""));
    }
    p->truncation = truncation_from_options(opts);
    return p;
  }

  std::unique_ptr<PreparedInput> prepare(const Json& item, std::shared_ptr<const Params> params) const {
    std::string text;
    std::optional<std::string> pair;
    if (item.is_string()) {
      text = item.get<std::string>();
    } else if (item.is_array() && item.size() == 1 && item[0].is_array() && item[0].size() == 2 &&
               item[0][0].is_string() && item[0][1].is_string()) {
      // transformers' legacy [[text, text_pair]] item.
      text = item[0][0].get<std::string>();
      pair = item[0][1].get<std::string>();
    } else if (item.is_object() && item.contains("text") && item["text"].is_string()) {
      text = item["text"].get<std::string>();
      if (item.contains("text_pair") && !item["text_pair"].is_null()) {
        if (!item["text_pair"].is_string()) throw InvalidArgument(task_ + ": 'text_pair' must be a string");
        pair = item["text_pair"].get<std::string>();
      }
      for (auto it = item.begin(); it != item.end(); ++it) {
        if (it.key() != "text" && it.key() != "text_pair") {
          throw InvalidArgument(task_ + ": unexpected input key '" + it.key() +
                                "' (expected text, text_pair)");
        }
      }
    } else {
      throw InvalidArgument(
          "The pipeline received invalid inputs, if you are trying to send text pairs, you can try to send a "
          "dictionary `{\"text\": \"My text\", \"text_pair\": \"My pair\"}` in order to send a text pair.");
    }
    auto out = std::make_unique<Prepared>();
    auto encodings = ctx_.tok->encode(text, pair, params->truncation);
    encodings.resize(1);
    out->encodings = std::move(encodings);
    out->params = std::move(params);
    return out;
  }

  Json classify(const modeling::NamedTensors& outputs, const Params& p) const {
    const auto& fn = p.fn;
    const auto& top_k = p.top_k;
    const bool legacy = p.legacy;
    const Tensor& logits = output(outputs, "logits");
    const auto n = static_cast<size_t>(logits.shape().back());
    std::span<const float> row(logits.data<float>(), n);
    const auto& cfg = ctx_.model->config();
    ScoreFunction f = ScoreFunction::None;
    if (fn) {
      f = *fn;
    } else if (cfg.problem_type == "regression") {
      f = ScoreFunction::None;
    } else if (cfg.problem_type == "multi_label_classification" || cfg.num_labels == 1) {
      f = ScoreFunction::Sigmoid;
    } else if (cfg.problem_type == "single_label_classification" || cfg.num_labels > 1) {
      f = ScoreFunction::Softmax;
    }
    const std::vector<float> scores = apply(f, row);
    if (legacy && top_k == 1) {
      const auto best = static_cast<size_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
      return Json{{"label", label_of(cfg, static_cast<int64_t>(best))}, {"score", scores[best]}};
    }
    std::vector<size_t> order(scores.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (!legacy) {
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
      if (top_k) {
        // Python slice [:top_k]: a negative top_k drops that many from the end.
        const auto n = static_cast<int64_t>(order.size());
        const int64_t keep = *top_k >= 0 ? std::min(*top_k, n) : std::max<int64_t>(n + *top_k, 0);
        order.resize(static_cast<size_t>(keep));
      }
    }
    Json out = Json::array();
    for (size_t i : order)
      out.push_back(Json{{"label", label_of(cfg, static_cast<int64_t>(i))}, {"score", scores[i]}});
    return out;
  }
};

}  // namespace

std::unique_ptr<Pipeline> make_text_classification(Context ctx) {
  return std::make_unique<TextClassification>(std::move(ctx));
}

}  // namespace optimum::pipelines::detail
