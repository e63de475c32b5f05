// question-answering: extractive QA as transformers' QuestionAnsweringPipeline
// did it (removed from transformers 5; select_starts_ends / decode_spans live
// on in its document-question-answering pipeline): question + context split
// into windows of max_seq_len tokens overlapping by doc_stride, span scores
// start_prob * end_prob over context tokens, answers aligned to words and
// merged across windows.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>
#include <unordered_map>

#include "optimum/core/errors.h"
#include "optimum/tokenizers/unicode.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

// The context's character spans as answers: sliced as Python slices, and
// merged when their lower-cased texts (Python's str.lower(), character by
// character) are equal. Keys come from prefix hashes of the lower-cased
// context, so a span costs the same whatever its length: the spans that
// start at [CLS] reach back to the start of the context in every window.
class ContextSpans {
 public:
  explicit ContextSpans(const std::string& context) : text_(context) {
    for (size_t b = 0; b < context.size(); ++b) {
      if ((static_cast<unsigned char>(context[b]) & 0xC0) != 0x80) offsets_.push_back(b);
    }
    offsets_.push_back(context.size());
    // Each character's bytes lower-cased on their own: what lower-casing any
    // slice gives (slices start and end on these boundaries; invalid bytes
    // decode as U+FFFD either way).
    const size_t chars = offsets_.size() - 1;
    lowered_offsets_.reserve(chars + 1);
    prefix_.reserve(chars + 1);
    uint64_t h = 0;
    for (size_t i = 0; i <= chars; ++i) {
      lowered_offsets_.push_back(lowered_.size());
      prefix_.push_back(h);
      if (i == chars) break;
      const size_t from = lowered_.size();
      const std::string_view bytes(context.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
      for (size_t pos = 0; pos < bytes.size();) {
        const char32_t c = tokenizers::unicode::next_char(bytes, pos);
        for (char32_t l : tokenizers::unicode::to_lowercase(c)) tokenizers::unicode::append_utf8(lowered_, l);
      }
      for (size_t b = from; b < lowered_.size(); ++b) {
        h = add(mul(h, kBase), static_cast<unsigned char>(lowered_[b]));
      }
    }
  }

  // Code point range [first, second) of the slice [start:end] (empty as {0, 0}).
  std::pair<size_t, size_t> range(int64_t start, int64_t end) const {
    const size_t chars = offsets_.size() - 1;
    const size_t i = std::min(static_cast<size_t>(std::max<int64_t>(start, 0)), chars);
    const size_t j = std::min(static_cast<size_t>(std::max<int64_t>(end, 0)), chars);
    if (end <= start || i >= j) return {0, 0};
    return {i, j};
  }
  std::string text(std::pair<size_t, size_t> r) const {
    return text_.substr(offsets_[r.first], offsets_[r.second] - offsets_[r.first]);
  }
  // Length in bytes and hash of the lower-cased text of `r`.
  std::pair<size_t, uint64_t> key(std::pair<size_t, size_t> r) const {
    const size_t bytes = lowered_offsets_[r.second] - lowered_offsets_[r.first];
    return {bytes, add(prefix_[r.second], kMod - mul(prefix_[r.first], power(bytes)))};
  }
  bool same_lowered(std::pair<size_t, size_t> a, std::pair<size_t, size_t> b) const {
    if (a == b) return true;
    const size_t la = lowered_offsets_[a.second] - lowered_offsets_[a.first];
    const size_t lb = lowered_offsets_[b.second] - lowered_offsets_[b.first];
    return la == lb &&
           lowered_.compare(lowered_offsets_[a.first], la, lowered_, lowered_offsets_[b.first], lb) == 0;
  }

 private:
  static constexpr uint64_t kMod = (uint64_t{1} << 61) - 1;
  static constexpr uint64_t kBase = 1000003;
  static uint64_t mul(uint64_t a, uint64_t b) {
    const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
    const uint64_t r = static_cast<uint64_t>(p & kMod) + static_cast<uint64_t>(p >> 61);
    return r >= kMod ? r - kMod : r;
  }
  static uint64_t add(uint64_t a, uint64_t b) {
    const uint64_t r = a + b;
    return r >= kMod ? r - kMod : r;
  }
  static uint64_t power(size_t n) {
    uint64_t result = 1, base = kBase;
    for (; n > 0; n >>= 1) {
      if (n & 1) result = mul(result, base);
      base = mul(base, base);
    }
    return result;
  }

  const std::string& text_;
  std::vector<size_t> offsets_;          // byte offset of each code point in the context, plus its size
  std::string lowered_;                  // the lower-cased context
  std::vector<size_t> lowered_offsets_;  // where each code point's lower case starts, plus lowered_.size()
  std::vector<uint64_t> prefix_;         // hash of lowered_ before each code point
};

struct Answer {
  double score = 0;
  int64_t start = 0, end = 0;
  std::pair<size_t, size_t> chars;  // code points of the answer text in the context
};

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

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    return answer(in);
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const auto params = parse(call);
    return run_inputs(inputs, call, [&](const Json& item) { return prepare(item, params); }, true);
  }

 private:
  struct Params {
    int64_t top_k = 1, max_answer_len = 15, max_seq_len = 384, doc_stride = 128;
    bool handle_impossible = false, align_to_words = true;
  };
  struct Prepared : PreparedInput {
    std::shared_ptr<const Params> params;
    std::string context;
    bool question_first = true;
  };

  std::shared_ptr<const Params> parse(const Json& call) const {
    Options opts = options(call, {"top_k", "doc_stride", "max_answer_len", "max_seq_len", "max_question_len",
                                  "handle_impossible_answer", "align_to_words"});
    auto params = std::make_shared<Params>();
    Params& p = *params;
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
    return params;
  }

  std::unique_ptr<PreparedInput> prepare(const Json& item, std::shared_ptr<const Params> params) const {
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
    const Params& p = *params;
    auto out = std::make_unique<Prepared>();
    const std::string question = item["question"].get<std::string>();
    out->context = item["context"].get<std::string>();
    out->question_first = ctx_.tok->padding_right();
    Truncation trunc{out->question_first ? TruncationStrategy::OnlySecond : TruncationStrategy::OnlyFirst,
                     static_cast<size_t>(p.max_seq_len), static_cast<size_t>(p.doc_stride)};
    out->encodings = out->question_first ? ctx_.tok->encode(question, out->context, trunc)
                                         : ctx_.tok->encode(out->context, question, trunc);
    out->params = std::move(params);
    return out;
  }

  Json answer(const Prepared& in) const {
    const Params& p = *in.params;
    const std::string& context = in.context;
    const bool question_first = in.question_first;
    const auto& spans = in.encodings;
    const auto cls_id = ctx_.tok->special_id("cls_token");
    const size_t context_seq = question_first ? 1 : 0;
    const int64_t pre_topk = p.align_to_words ? p.top_k * 2 + 10 : p.top_k;

    double min_null_score = 1000000;
    std::vector<Answer> answers;
    // Answers by the hash of their lower-cased text: merging costs the same
    // whatever the context's length, and texts are cut only for the results.
    std::unordered_multimap<uint64_t, size_t> by_key;
    const ContextSpans context_spans(context);
    for (size_t w = 0; w < spans.size(); ++w) {
      const Encoding& enc = spans[w];
      const auto& outputs = in.outputs.at(w);
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
        const auto chars = context_spans.range(start_index, end_index);
        const auto [bytes, hash] = context_spans.key(chars);
        const uint64_t k = hash ^ (static_cast<uint64_t>(bytes) * 0x9E3779B97F4A7C15ULL);
        auto [first, last] = by_key.equal_range(k);
        auto same = std::find_if(first, last, [&](const auto& entry) {
          return context_spans.same_lowered(answers[entry.second].chars, chars);
        });
        if (same != last) {
          answers[same->second].score += static_cast<double>(cands[r].score);
        } else {
          by_key.emplace(k, answers.size());
          answers.push_back(Answer{static_cast<double>(cands[r].score), start_index, end_index, chars});
        }
      }
    }
    if (p.handle_impossible) answers.push_back(Answer{min_null_score, 0, 0, {0, 0}});
    std::stable_sort(answers.begin(), answers.end(),
                     [](const Answer& a, const Answer& b) { return a.score > b.score; });
    if (answers.size() > static_cast<size_t>(p.top_k)) answers.resize(static_cast<size_t>(p.top_k));
    Json out = Json::array();
    for (const Answer& a : answers) {
      out.push_back(Json{
          {"score", a.score}, {"start", a.start}, {"end", a.end}, {"answer", context_spans.text(a.chars)}});
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
