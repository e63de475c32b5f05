// token-classification (transformers' TokenClassificationPipeline): a
// softmax per token, then aggregation_strategy none / simple / first /
// average / max into entities with character offsets into the original
// string; long texts are truncated to model_max_length, or split into
// overlapping windows with `stride`.
#include <algorithm>
#include <cmath>

#include "optimum/core/errors.h"
#include "optimum/pipelines/functions.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

enum class Aggregation { None, Simple, First, Average, Max };

Aggregation aggregation_from_name(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "none") return Aggregation::None;
  if (n == "simple") return Aggregation::Simple;
  if (n == "first") return Aggregation::First;
  if (n == "average") return Aggregation::Average;
  if (n == "max") return Aggregation::Max;
  throw InvalidArgument("aggregation_strategy '" + name +
                        "' is not one of none, simple, first, average, max");
}

struct PreEntity {
  std::string word;
  std::vector<float> scores;
  int64_t start = 0, end = 0;
  int64_t index = 0;
  bool is_subword = false;
};

// An entity before JSON: `entity` or `entity_group` label, score, word, span.
struct Entity {
  std::string label;
  bool group = false;
  float score = 0.f;
  std::optional<int64_t> index;
  std::string word;
  int64_t start = 0, end = 0;
};

size_t argmax(const std::vector<float>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

class TokenClassification : public TaskPipeline {
 public:
  using TaskPipeline::TaskPipeline;

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    return run(in);
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const auto params = parse(call);
    if (inputs.is_array() && inputs.empty()) throw InvalidArgument("At least one input is required.");
    return run_inputs(inputs, call, [&](const Json& item) { return prepare(item, params); }, false);
  }

 private:
  struct Params {
    Aggregation agg = Aggregation::None;
    std::vector<std::string> ignore = {"O"};
    std::optional<size_t> stride;
  };
  struct Prepared : PreparedInput {
    std::shared_ptr<const Params> params;
    std::string sentence;
  };

  std::shared_ptr<const Params> parse(const Json& call) const {
    Options opts = options(call, {"aggregation_strategy", "ignore_labels", "stride"});
    auto p = std::make_shared<Params>();
    Aggregation& agg = p->agg;
    if (opts.has("aggregation_strategy") && !opts.get("aggregation_strategy").is_null()) {
      agg = aggregation_from_name(opts.get_string("aggregation_strategy", "none"));
    }
    if (opts.has("ignore_labels") && !opts.get("ignore_labels").is_null()) {
      const Json& v = opts.get("ignore_labels");
      if (!v.is_array()) throw InvalidArgument(task_ + ": ignore_labels must be a list of labels");
      p->ignore.clear();
      for (const Json& l : v) {
        if (!l.is_string()) throw InvalidArgument(task_ + ": ignore_labels must be a list of strings");
        p->ignore.push_back(l.get<std::string>());
      }
    }
    if (auto s = opts.get_int("stride")) {
      const auto mml = ctx_.tok->model_max_length();
      if (*s < 0 || (mml && static_cast<size_t>(*s) >= *mml)) {
        throw InvalidArgument(
            "`stride` must be less than `tokenizer.model_max_length` (or even lower if the tokenizer adds "
            "special "
            "tokens)");
      }
      if (agg == Aggregation::None) {
        throw InvalidArgument(
            "`stride` was provided to process all the text but `aggregation_strategy=\"none\"`, please "
            "select "
            "another one instead.");
      }
      p->stride = static_cast<size_t>(*s);
    }
    return p;
  }

  std::unique_ptr<PreparedInput> prepare(const Json& item, std::shared_ptr<const Params> params) const {
    if (!item.is_string()) {
      throw InvalidArgument("When `is_split_into_words=False`, `sentence` must be an untokenized string.");
    }
    auto out = std::make_unique<Prepared>();
    out->sentence = item.get<std::string>();
    std::optional<Truncation> truncation;
    if (ctx_.tok->model_max_length())
      truncation = Truncation{TruncationStrategy::LongestFirst, std::nullopt, params->stride.value_or(0)};
    out->encodings = ctx_.tok->encode(out->sentence, std::nullopt, truncation);
    if (!params->stride) out->encodings.resize(1);
    out->params = std::move(params);
    return out;
  }

  Json run(const Prepared& in) const {
    const std::string& sentence = in.sentence;
    const Aggregation agg = in.params->agg;
    const auto& ignore = in.params->ignore;
    const auto& chunks = in.encodings;
    std::vector<Entity> all;
    const CharIndex chars(sentence);  // slices in time independent of the sentence's length
    for (size_t c = 0; c < chunks.size(); ++c) {
      const Encoding& enc = chunks[c];
      const Tensor& logits = output(in.outputs.at(c), "logits");
      const auto n_labels = static_cast<size_t>(logits.shape().back());
      std::vector<PreEntity> pre;
      for (size_t idx = 0; idx < enc.ids.size(); ++idx) {
        if (!enc.special_tokens_mask.empty() && enc.special_tokens_mask[idx]) continue;
        if (!enc.attention_mask.empty() && !enc.attention_mask[idx]) continue;
        PreEntity p;
        p.scores = softmax(std::span<const float>(logits.data<float>() + idx * n_labels, n_labels));
        p.word = ctx_.tok->id_to_token(enc.ids[idx]);
        p.start = static_cast<int64_t>(enc.offsets[idx].first);
        p.end = static_cast<int64_t>(enc.offsets[idx].second);
        p.index = static_cast<int64_t>(idx);
        const std::string word_ref = chars.slice(static_cast<size_t>(p.start), static_cast<size_t>(p.end));
        if (ctx_.tok->has_continuing_subword_prefix()) {
          p.is_subword = char_length(p.word) != char_length(word_ref);
        } else {
          // transformers' fallback: no space right before or at the token start.
          const std::string around =
              p.start > 0 ? chars.slice(static_cast<size_t>(p.start - 1), static_cast<size_t>(p.start + 1))
                          : std::string();
          p.is_subword = p.start > 0 && around.find(' ') == std::string::npos;
        }
        if (auto unk = ctx_.tok->special_id("unk_token"); unk && enc.ids[idx] == *unk) {
          p.word = word_ref;
          p.is_subword = false;
        }
        pre.push_back(std::move(p));
      }
      for (Entity& e : aggregate(pre, agg)) {
        const bool ignored = std::find(ignore.begin(), ignore.end(), e.label) != ignore.end();
        if (!ignored) all.push_back(std::move(e));
      }
    }
    if (chunks.size() > 1) all = merge_overlapping(std::move(all));
    Json out = Json::array();
    for (const Entity& e : all) {
      Json j = Json::object();
      j[e.group ? "entity_group" : "entity"] = e.label;
      j["score"] = e.score;
      if (e.index) j["index"] = *e.index;
      j["word"] = e.word;
      j["start"] = e.start;
      j["end"] = e.end;
      out.push_back(std::move(j));
    }
    return out;
  }

  std::vector<Entity> aggregate(const std::vector<PreEntity>& pre, Aggregation agg) const {
    const auto& cfg = ctx_.model->config();
    std::vector<Entity> entities;
    if (agg == Aggregation::None || agg == Aggregation::Simple) {
      for (const PreEntity& p : pre) {
        const size_t best = argmax(p.scores);
        entities.push_back(Entity{label_of(cfg, static_cast<int64_t>(best)), false, p.scores[best], p.index,
                                  p.word, p.start, p.end});
      }
    } else {
      std::vector<const PreEntity*> group;
      auto flush = [&] {
        if (!group.empty()) entities.push_back(aggregate_word(group, agg));
        group.clear();
      };
      for (const PreEntity& p : pre) {
        if (!group.empty() && !p.is_subword) flush();
        group.push_back(&p);
      }
      flush();
    }
    if (agg == Aggregation::None) return entities;
    return group_entities(entities);
  }

  Entity aggregate_word(const std::vector<const PreEntity*>& group, Aggregation agg) const {
    const auto& cfg = ctx_.model->config();
    std::vector<std::string> words;
    for (const PreEntity* p : group) words.push_back(p->word);
    std::vector<float> scores;
    if (agg == Aggregation::First) {
      scores = group.front()->scores;
    } else if (agg == Aggregation::Max) {
      const PreEntity* best = group.front();
      float best_max = *std::max_element(best->scores.begin(), best->scores.end());
      for (const PreEntity* p : group) {
        const float m = *std::max_element(p->scores.begin(), p->scores.end());
        if (m > best_max) {
          best = p;
          best_max = m;
        }
      }
      scores = best->scores;
    } else {
      scores.assign(group.front()->scores.size(), 0.f);
      for (const PreEntity* p : group) {
        for (size_t i = 0; i < scores.size(); ++i) scores[i] += p->scores[i];
      }
      for (float& s : scores) s /= static_cast<float>(group.size());
    }
    const size_t best = argmax(scores);
    return Entity{label_of(cfg, static_cast<int64_t>(best)),
                  false,
                  scores[best],
                  std::nullopt,
                  ctx_.tok->convert_tokens_to_string(words),
                  group.front()->start,
                  group.back()->end};
  }

  static std::pair<std::string, std::string> tag_of(const std::string& name) {
    if (name.rfind("B-", 0) == 0) return {"B", name.substr(2)};
    if (name.rfind("I-", 0) == 0) return {"I", name.substr(2)};
    return {"I", name};
  }

  Entity group_sub_entities(const std::vector<Entity>& group) const {
    const std::string& first = group.front().label;
    const size_t dash = first.find('-');
    Entity e;
    e.group = true;
    e.label = dash == std::string::npos ? first : first.substr(dash + 1);
    float sum = 0.f;
    std::vector<std::string> words;
    for (const Entity& g : group) {
      sum += g.score;
      words.push_back(g.word);
    }
    e.score = sum / static_cast<float>(group.size());
    e.word = ctx_.tok->convert_tokens_to_string(words);
    e.start = group.front().start;
    e.end = group.back().end;
    return e;
  }

  std::vector<Entity> group_entities(const std::vector<Entity>& entities) const {
    std::vector<Entity> groups;
    std::vector<Entity> current;
    for (const Entity& e : entities) {
      if (current.empty()) {
        current.push_back(e);
        continue;
      }
      const auto [bi, tag] = tag_of(e.label);
      const auto [last_bi, last_tag] = tag_of(current.back().label);
      if (tag == last_tag && bi != "B") {
        current.push_back(e);
      } else {
        groups.push_back(group_sub_entities(current));
        current = {e};
      }
    }
    if (!current.empty()) groups.push_back(group_sub_entities(current));
    return groups;
  }

  // transformers' aggregate_overlapping_entities: of overlapping entities
  // keep the longest (then the higher score).
  static std::vector<Entity> merge_overlapping(std::vector<Entity> entities) {
    if (entities.empty()) return entities;
    std::stable_sort(entities.begin(), entities.end(),
                     [](const Entity& a, const Entity& b) { return a.start < b.start; });
    std::vector<Entity> out;
    Entity prev = entities.front();
    for (const Entity& e : entities) {
      if (prev.start <= e.start && e.start < prev.end) {
        const int64_t len = e.end - e.start, prev_len = prev.end - prev.start;
        if (len > prev_len || (len == prev_len && e.score > prev.score)) prev = e;
      } else {
        out.push_back(prev);
        prev = e;
      }
    }
    out.push_back(prev);
    return out;
  }
};

}  // namespace

std::unique_ptr<Pipeline> make_token_classification(Context ctx) {
  return std::make_unique<TokenClassification>(std::move(ctx));
}

}  // namespace optimum::pipelines::detail
