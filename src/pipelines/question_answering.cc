// question-answering: extractive QA as transformers' QuestionAnsweringPipeline
// did it (removed from transformers 5; select_starts_ends / decode_spans live
// on in its document-question-answering pipeline): question + context split
// into windows of max_seq_len tokens overlapping by doc_stride, span scores
// start_prob * end_prob over context tokens, answers aligned to words and
// merged across windows.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "optimum/core/errors.h"
#include "optimum/tokenizers/unicode.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

struct Answer {
  double score = 0;
  int64_t start = 0, end = 0;
  std::string answer;
};

// Python's str.lower(), character by character.
std::string lower(const std::string& s) {
  std::string out;
  for (char32_t c : tokenizers::unicode::decode(s)) {
    for (char32_t l : tokenizers::unicode::to_lowercase(c)) tokenizers::unicode::append_utf8(out, l);
  }
  return out;
}

// Masked softmax as select_starts_ends computes it (float32, max-shifted).
std::vector<float> masked_probs(const float* logits, const std::vector<uint8_t>& allowed) {
  std::vector<float> v(allowed.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = allowed[i] ? logits[i] : -10000.0f;
  const float m = *std::max_element(v.begin(), v.end());
  float sum = 0.f;
  for (float& x : v) {
    x = std::exp(x - m);
    sum += x;
  }
  for (float& x : v) x /= sum;
  return v;
}

class QuestionAnswering : public TaskPipeline {
 public:
  using TaskPipeline::TaskPipeline;

  Json operator()(const Json& inputs, const Json& call) const override {
    Options opts(task_, defaults_, call,
                 {"top_k", "doc_stride", "max_answer_len", "max_seq_len", "max_question_len",
                  "handle_impossible_answer", "align_to_words"});
    Params p;
    p.top_k = opts.get_int("top_k", 1);
    if (p.top_k < 1)
      throw InvalidArgument("top_k parameter should be >= 1 (got " + std::to_string(p.top_k) + ")");
    p.max_answer_len = opts.get_int("max_answer_len", 15);
    if (p.max_answer_len < 1) {
      throw InvalidArgument("max_answer_len parameter should be >= 1 (got " +
                            std::to_string(p.max_answer_len) + ")");
    }
    const auto mml = ctx_.tok->model_max_length();
    p.max_seq_len =
        opts.get_int("max_seq_len", mml ? std::min<int64_t>(static_cast<int64_t>(*mml), 384) : 384);
    if (p.max_seq_len < 1)
      throw InvalidArgument("max_seq_len must be positive (got " + std::to_string(p.max_seq_len) + ")");
    p.doc_stride = opts.get_int("doc_stride", std::min<int64_t>(p.max_seq_len / 2, 128));
    if (p.doc_stride < 0) throw InvalidArgument("doc_stride must not be negative");
    if (p.doc_stride > p.max_seq_len) {
      throw InvalidArgument("`doc_stride` (" + std::to_string(p.doc_stride) +
                            ") is larger than `max_seq_len` (" + std::to_string(p.max_seq_len) + ")");
    }
    opts.get_int("max_question_len");  // only used by slow tokenizers in transformers: validated, no effect
    p.handle_impossible = opts.get_bool("handle_impossible_answer", false);
    p.align_to_words = opts.get_bool("align_to_words", true);
    if (inputs.is_array()) {
      if (inputs.size() == 1) return answer(inputs[0], p);
      Json out = Json::array();
      for (const Json& item : inputs) out.push_back(answer(item, p));
      return out;
    }
    return answer(inputs, p);
  }

 private:
  struct Params {
    int64_t top_k = 1, max_answer_len = 15, max_seq_len = 384, doc_stride = 128;
    bool handle_impossible = false, align_to_words = true;
  };

  Json answer(const Json& item, const Params& p) const {
    if (!item.is_object()) {
      throw InvalidArgument(
          task_ + ": each input must be an object {\"question\": ..., \"context\": ...}, got " + item.dump());
    }
    for (const char* k : {"question", "context"}) {
      if (!item.contains(k))
        throw InvalidArgument("You need to provide a dictionary with keys {question:..., context:...}");
      if (item[k].is_null()) throw InvalidArgument(std::string("`") + k + "` cannot be None");
      if (!item[k].is_string()) throw InvalidArgument(std::string("`") + k + "` must be a string");
      if (item[k].get<std::string>().empty())
        throw InvalidArgument(std::string("`") + k + "` cannot be empty");
    }
    const std::string question = item["question"].get<std::string>();
    const std::string context = item["context"].get<std::string>();
    const bool question_first = ctx_.tok->padding_right();
    Truncation trunc{question_first ? TruncationStrategy::OnlySecond : TruncationStrategy::OnlyFirst,
                     static_cast<size_t>(p.max_seq_len), static_cast<size_t>(p.doc_stride)};
    const auto spans = question_first ? ctx_.tok->encode(question, context, trunc)
                                      : ctx_.tok->encode(context, question, trunc);
    const auto cls_id = ctx_.tok->special_id("cls_token");
    const size_t context_seq = question_first ? 1 : 0;
    const int64_t pre_topk = p.align_to_words ? p.top_k * 2 + 10 : p.top_k;

    double min_null_score = 1000000;
    std::vector<Answer> answers;
    // Answers by lower-cased text (merged across windows), and the context's
    // character offsets: both keep the cost per window independent of the
    // context length.
    std::unordered_map<std::string, size_t> answer_index;
    const CharIndex context_chars(context);
    for (const Encoding& enc : spans) {
      const size_t n = enc.ids.size();
      const auto seq_ids = sequence_ids(enc, spans.front(), context_seq);
      // allowed = not p_mask, and attended.
      std::vector<uint8_t> allowed(n);
      for (size_t i = 0; i < n; ++i) {
        bool masked = question_first ? !(seq_ids[i] && *seq_ids[i] == 1) : false;
        if (cls_id && enc.ids[i] == *cls_id) masked = false;
        const bool attended = enc.attention_mask.empty() || enc.attention_mask[i];
        allowed[i] = !masked && attended;
      }
      const auto outputs = forward_one(*ctx_.model, enc);
      std::vector<float> start = masked_probs(output(outputs, "start_logits").data<float>(), allowed);
      std::vector<float> end = masked_probs(output(outputs, "end_logits").data<float>(), allowed);
      if (p.handle_impossible)
        min_null_score = std::min(min_null_score, static_cast<double>(start[0] * end[0]));
      start[0] = end[0] = 0.f;
      // decode_spans: candidates (s, e) with s <= e <= s + max_answer_len - 1, best first.
      struct Cand {
        float score;
        size_t flat;
      };
      std::vector<Cand> cands;
      cands.reserve(n * n);
      for (size_t s = 0; s < n; ++s) {
        for (size_t e = 0; e < n; ++e) {
          const bool inside = e >= s && static_cast<int64_t>(e - s) <= p.max_answer_len - 1;
          cands.push_back({inside ? start[s] * end[e] : 0.f, s * n + e});
        }
      }
      const size_t k = std::min(static_cast<size_t>(pre_topk), cands.size());
      auto better = [](const Cand& a, const Cand& b) {
        return a.score != b.score ? a.score > b.score : a.flat < b.flat;
      };
      std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(k), cands.end(), better);
      for (size_t r = 0; r < k; ++r) {
        const size_t s = cands[r].flat / n, e = cands[r].flat % n;
        if (!allowed[s] || !allowed[e]) continue;
        const auto [start_index, end_index] = char_span(enc, seq_ids, s, e, context_seq, p.align_to_words);
        std::string text =
            context_chars.slice(static_cast<size_t>(start_index), static_cast<size_t>(end_index));
        const auto [it, added] = answer_index.emplace(lower(text), answers.size());
        if (!added) {
          answers[it->second].score += static_cast<double>(cands[r].score);
        } else {
          answers.push_back(
              Answer{static_cast<double>(cands[r].score), start_index, end_index, std::move(text)});
        }
      }
    }
    if (p.handle_impossible) answers.push_back(Answer{min_null_score, 0, 0, ""});
    std::stable_sort(answers.begin(), answers.end(),
                     [](const Answer& a, const Answer& b) { return a.score > b.score; });
    if (answers.size() > static_cast<size_t>(p.top_k)) answers.resize(static_cast<size_t>(p.top_k));
    Json out = Json::array();
    for (const Answer& a : answers) {
      out.push_back(Json{{"score", a.score}, {"start", a.start}, {"end", a.end}, {"answer", a.answer}});
    }
    if (out.size() == 1) return out[0];
    return out;
  }

  // Sequence id of each token of a window. Windows only cut the context, so
  // they keep the first encoding's layout with the context range shortened:
  // the ids follow from that encoding's ranges and the window's length,
  // without relying on the sequence ranges of overflowing windows.
  static std::vector<std::optional<size_t>> sequence_ids(const Encoding& enc, const Encoding& first,
                                                         size_t context_seq) {
    const auto c = first.sequence_ranges.find(context_seq);
    const auto q = first.sequence_ranges.find(1 - context_seq);
    if (&enc == &first || c == first.sequence_ranges.end() || q == first.sequence_ranges.end()) {
      return enc.sequence_ids();
    }
    const auto delta =
        static_cast<std::ptrdiff_t>(enc.ids.size()) - static_cast<std::ptrdiff_t>(first.ids.size());
    auto shifted = [&](size_t v) { return static_cast<size_t>(static_cast<std::ptrdiff_t>(v) + delta); };
    const bool context_first = c->second.first < q->second.first;
    const std::pair<size_t, size_t> ctx{c->second.first, shifted(c->second.second)};
    const std::pair<size_t, size_t> qst =
        context_first ? std::pair<size_t, size_t>{shifted(q->second.first), shifted(q->second.second)}
                      : q->second;
    std::vector<std::optional<size_t>> ids(enc.ids.size());
    for (size_t t = 0; t < ids.size(); ++t) {
      if (t >= ctx.first && t < ctx.second) ids[t] = context_seq;
      if (t >= qst.first && t < qst.second) ids[t] = 1 - context_seq;
    }
    return ids;
  }

  // Character span of tokens s..e: whole words (token_to_word / word_to_chars
  // within this window's context) when aligning, else the token offsets.
  static std::pair<int64_t, int64_t> char_span(const Encoding& enc,
                                               const std::vector<std::optional<size_t>>& seq_ids, size_t s,
                                               size_t e, size_t context_seq, bool align_to_words) {
    const auto by_offsets = std::pair<int64_t, int64_t>{static_cast<int64_t>(enc.offsets[s].first),
                                                        static_cast<int64_t>(enc.offsets[e].second)};
    if (!align_to_words) return by_offsets;
    if (!enc.words[s] || !enc.words[e]) return by_offsets;
    auto word_chars = [&](uint32_t word) -> std::optional<std::pair<int64_t, int64_t>> {
      std::optional<size_t> first, last;
      for (size_t t = 0; t < enc.ids.size(); ++t) {
        if (seq_ids[t] && *seq_ids[t] == context_seq && enc.words[t] && *enc.words[t] == word) {
          if (!first) first = t;
          last = t;
        }
      }
      if (!first) return std::nullopt;
      return std::pair<int64_t, int64_t>{static_cast<int64_t>(enc.offsets[*first].first),
                                         static_cast<int64_t>(enc.offsets[*last].second)};
    };
    const auto ws = word_chars(*enc.words[s]);
    const auto we = word_chars(*enc.words[e]);
    if (!ws || !we) return by_offsets;
    return {ws->first, we->second};
  }
};

}  // namespace

std::unique_ptr<Pipeline> make_question_answering(Context ctx) {
  return std::make_unique<QuestionAnswering>(std::move(ctx));
}

}  // namespace optimum::pipelines::detail
