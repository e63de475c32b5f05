// fill-mask (transformers' FillMaskPipeline): softmax over the vocabulary at
// each mask position, top_k candidates (restricted to `targets` when given),
// each with the decoded filled-in sequence.
#include <algorithm>
#include <numeric>
#include <set>

#include "optimum/core/errors.h"
#include "optimum/pipelines/functions.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

class FillMask : public TaskPipeline {
 public:
  using TaskPipeline::TaskPipeline;

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    return fill(in.encodings.at(0), in.masked, in.outputs.at(0), *in.params);
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const auto params = parse(call);
    return run_inputs(inputs, call, [&](const Json& item) { return prepare(item, params); }, true);
  }

 private:
  struct Params {
    uint32_t mask_id = 0;
    int64_t top_k = 5;
    std::optional<std::vector<uint32_t>> targets;
    std::optional<Truncation> truncation;
  };
  struct Prepared : PreparedInput {
    std::shared_ptr<const Params> params;
    std::vector<size_t> masked;  // mask positions
  };

  std::shared_ptr<const Params> parse(const Json& call) const {
    Options opts = options(call, {"top_k", "targets", "tokenizer_kwargs"});
    const auto mask_id = ctx_.tok->special_id("mask_token");
    if (!mask_id) throw Unsupported(task_ + ": the tokenizer does not define a `mask_token`.");
    auto p = std::make_shared<Params>();
    p->mask_id = *mask_id;
    p->top_k = opts.get_int("top_k", 5);
    // transformers' torch.topk(k) raises for a negative k.
    if (p->top_k < 0) {
      throw InvalidArgument(task_ + ": top_k must not be negative (got " + std::to_string(p->top_k) + ")");
    }
    if (opts.has("targets") && !opts.get("targets").is_null()) p->targets = target_ids(opts.get("targets"));
    if (opts.has("tokenizer_kwargs") && !opts.get("tokenizer_kwargs").is_null()) {
      const Json& kw = opts.get("tokenizer_kwargs");
      Options tk(task_ + " tokenizer_kwargs", Json::object(), kw, {"truncation", "max_length"});
      p->truncation = truncation_from_options(tk);
    }
    return p;
  }

  std::unique_ptr<PreparedInput> prepare(const Json& item, std::shared_ptr<const Params> params) const {
    if (!item.is_string()) throw InvalidArgument(task_ + ": inputs must be strings, got " + item.dump());
    const std::string text = item.get<std::string>();
    auto out = std::make_unique<Prepared>();
    auto encodings = ctx_.tok->encode(text, std::nullopt, params->truncation);
    encodings.resize(1);
    const Encoding& enc = encodings.front();
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      if (enc.ids[i] == params->mask_id) out->masked.push_back(i);
    }
    if (out->masked.empty()) {
      throw InvalidArgument(task_ + ": No mask_token (" + ctx_.tok->special_token("mask_token").value_or("") +
                            ") found on the input '" + text + "'");
    }
    out->encodings = std::move(encodings);
    out->params = std::move(params);
    return out;
  }

  std::vector<uint32_t> target_ids(const Json& targets) const {
    std::vector<std::string> names;
    if (targets.is_string()) {
      names.push_back(targets.get<std::string>());
    } else if (targets.is_array()) {
      for (const Json& t : targets) {
        if (!t.is_string()) throw InvalidArgument(task_ + ": targets must be strings, got " + t.dump());
        names.push_back(t.get<std::string>());
      }
    } else {
      throw InvalidArgument(task_ + ": targets must be a string or a list of strings");
    }
    std::set<uint32_t> ids;
    for (const auto& name : names) {
      if (auto id = ctx_.tok->tokenizer().token_to_id(name)) {
        ids.insert(*id);
        continue;
      }
      // Not a vocabulary entry: the first token of its tokenization.
      const auto enc =
          ctx_.tok->encode(name, std::nullopt, Truncation{TruncationStrategy::LongestFirst, 1, 0}, false);
      if (!enc.front().ids.empty()) ids.insert(enc.front().ids.front());
    }
    if (ids.empty()) throw InvalidArgument("At least one target must be provided when passed.");
    return {ids.begin(), ids.end()};
  }

  Json fill(const Encoding& enc, const std::vector<size_t>& masked, const modeling::NamedTensors& outputs,
            const Params& p) const {
    const int64_t top_k = p.top_k;
    const auto& targets = p.targets;
    const Tensor& logits = output(outputs, "logits");
    const auto vocab = static_cast<size_t>(logits.shape().back());
    const auto pad_id = ctx_.tok->special_id("pad_token");
    const bool single = masked.size() == 1;
    size_t k = static_cast<size_t>(top_k);
    if (targets && targets->size() < k) k = targets->size();
    Json rows = Json::array();
    for (size_t m : masked) {
      std::vector<float> probs = softmax(std::span<const float>(logits.data<float>() + m * vocab, vocab));
      std::vector<uint32_t> candidates;
      if (targets) {
        candidates = *targets;
      } else {
        candidates.resize(vocab);
        std::iota(candidates.begin(), candidates.end(), 0u);
      }
      std::vector<size_t> order(candidates.size());
      std::iota(order.begin(), order.end(), size_t{0});
      const size_t kk = std::min(k, order.size());
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kk), order.end(),
                        [&](size_t a, size_t b) {
                          const float pa = probs[candidates[a]], pb = probs[candidates[b]];
                          return pa != pb ? pa > pb : a < b;
                        });
      Json row = Json::array();
      for (size_t r = 0; r < kk; ++r) {
        const uint32_t id = candidates[order[r]];
        std::vector<uint32_t> tokens;
        for (size_t i = 0; i < enc.ids.size(); ++i) {
          const uint32_t t = i == m ? id : enc.ids[i];
          if (pad_id && t == *pad_id) continue;
          tokens.push_back(t);
        }
        row.push_back(Json{{"score", probs[id]},
                           {"token", id},
                           {"token_str", ctx_.tok->decode({id}, false)},
                           {"sequence", ctx_.tok->decode(tokens, single)}});
      }
      rows.push_back(std::move(row));
    }
    if (single) return rows[0];
    return rows;
  }
};

}  // namespace

std::unique_ptr<Pipeline> make_fill_mask(Context ctx) { return std::make_unique<FillMask>(std::move(ctx)); }

}  // namespace optimum::pipelines::detail
