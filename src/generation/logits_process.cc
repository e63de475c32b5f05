#include "optimum/generation/logits_process.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <sstream>
#include <unordered_set>

#include "optimum/core/errors.h"

namespace optimum::generation {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Indices of `row` sorted by value ascending; ties keep index order.
std::vector<int64_t> argsort_ascending(std::span<const float> row) {
  std::vector<int64_t> idx(row.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return row[a] < row[b]; });
  return idx;
}

// Cumulative sums accumulated in double and stored as f32, as torch's CPU
// cumsum does for f32.
std::vector<float> cumsum_f32(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  double acc = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    acc += v[i];
    out[i] = static_cast<float>(acc);
  }
  return out;
}

class RepetitionPenalty final : public LogitsProcessor {
 public:
  RepetitionPenalty(double penalty, int64_t prompt_ignore_length)
      : penalty_(static_cast<float>(penalty)), ignore_(prompt_ignore_length) {
    if (!(penalty > 0)) throw InvalidArgument("`penalty` has to be a strictly positive float, but is " + num(penalty));
    if (ignore_ < 0)
      throw InvalidArgument("`prompt_ignore_length` has to be a positive integer, but is " + std::to_string(ignore_));
  }
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override {
    const auto vocab = static_cast<int64_t>(scores.size());
    std::vector<char> seen(scores.size(), 0);
    for (size_t i = static_cast<size_t>(std::min<int64_t>(ignore_, static_cast<int64_t>(ids.size()))); i < ids.size();
         ++i) {
      const int64_t t = ids[i];
      if (t < 0 || t >= vocab || seen[t]) continue;
      seen[t] = 1;
      const float s = scores[t];
      scores[t] = s < 0 ? s * penalty_ : s / penalty_;
    }
  }
  const char* name() const override { return "RepetitionPenaltyLogitsProcessor"; }

 private:
  float penalty_;
  int64_t ignore_;
};

class NoRepeatNGram final : public LogitsProcessor {
 public:
  explicit NoRepeatNGram(int64_t n) : n_(n) {
    if (n <= 0) throw InvalidArgument("`ngram_size` has to be a strictly positive integer, but is " + std::to_string(n));
  }
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override {
    const auto len = static_cast<int64_t>(ids.size());
    if (len < n_) return;
    const auto vocab = static_cast<int64_t>(scores.size());
    const int64_t prefix_start = len + 1 - n_;  // the last n-1 tokens
    for (int64_t i = 0; i + n_ <= len; ++i) {
      bool match = true;
      for (int64_t k = 0; k < n_ - 1 && match; ++k) match = ids[i + k] == ids[prefix_start + k];
      const int64_t t = ids[i + n_ - 1];
      if (match && t >= 0 && t < vocab) scores[t] = kNegInf;
    }
  }
  const char* name() const override { return "NoRepeatNGramLogitsProcessor"; }

 private:
  int64_t n_;
};

// MinLengthLogitsProcessor (skip = 0) and MinNewTokensLengthLogitsProcessor.
class MinLength final : public LogitsProcessor {
 public:
  MinLength(int64_t min_length, std::vector<int64_t> eos, int64_t skip, bool new_tokens)
      : min_(min_length), eos_(std::move(eos)), skip_(skip), new_tokens_(new_tokens) {
    if (min_length < 0)
      throw InvalidArgument(std::string(new_tokens ? "`min_new_tokens`" : "`min_length`") +
                            " has to be a non-negative integer, but is " + std::to_string(min_length));
  }
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override {
    if (static_cast<int64_t>(ids.size()) - skip_ >= min_) return;
    for (const int64_t e : eos_)
      if (e >= 0 && e < static_cast<int64_t>(scores.size())) scores[e] = kNegInf;
  }
  const char* name() const override {
    return new_tokens_ ? "MinNewTokensLengthLogitsProcessor" : "MinLengthLogitsProcessor";
  }

 private:
  int64_t min_;
  std::vector<int64_t> eos_;
  int64_t skip_;
  bool new_tokens_;
};

// Only `token` at the step where the sequence holds `at` ids (-inf elsewhere, 0 at token).
class ForcedToken final : public LogitsProcessor {
 public:
  ForcedToken(std::vector<int64_t> tokens, int64_t at, const char* name)
      : tokens_(std::move(tokens)), at_(at), name_(name) {}
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override {
    if (static_cast<int64_t>(ids.size()) != at_) return;
    std::fill(scores.begin(), scores.end(), kNegInf);
    for (const int64_t t : tokens_)
      if (t >= 0 && t < static_cast<int64_t>(scores.size())) scores[t] = 0;
  }
  const char* name() const override { return name_; }

 private:
  std::vector<int64_t> tokens_;
  int64_t at_;
  const char* name_;
};

// -inf on `tokens` always (begin < 0) or when the sequence holds `begin` ids.
class SuppressTokens final : public LogitsProcessor {
 public:
  SuppressTokens(std::vector<int64_t> tokens, int64_t begin) : tokens_(std::move(tokens)), begin_(begin) {}
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override {
    if (begin_ >= 0 && static_cast<int64_t>(ids.size()) != begin_) return;
    for (const int64_t t : tokens_)
      if (t >= 0 && t < static_cast<int64_t>(scores.size())) scores[t] = kNegInf;
  }
  const char* name() const override {
    return begin_ >= 0 ? "SuppressTokensAtBeginLogitsProcessor" : "SuppressTokensLogitsProcessor";
  }

 private:
  std::vector<int64_t> tokens_;
  int64_t begin_;
};

// transformers' WhisperTimeStampLogitsProcessor: timestamps come in pairs
// (except right before eos), never decrease, the first token is a timestamp
// (at most max_initial_timestamp_index), and a timestamp is forced when the
// timestamps' total probability beats every text token.
class WhisperTimestamps final : public LogitsProcessor {
 public:
  WhisperTimestamps(int64_t no_timestamps, int64_t eos, int64_t begin_index, std::optional<int64_t> max_initial)
      : no_ts_(no_timestamps), ts_begin_(no_timestamps + 1), eos_(eos), begin_(begin_index), max_initial_(max_initial) {}
  void apply(std::span<const int64_t> ids, std::span<float> scores) const override {
    const auto V = static_cast<int64_t>(scores.size());
    auto fill = [&](int64_t from, int64_t to) {
      for (int64_t i = std::max<int64_t>(from, 0); i < std::min(to, V); ++i) scores[i] = kNegInf;
    };
    if (no_ts_ >= 0 && no_ts_ < V) scores[no_ts_] = kNegInf;
    const auto n = static_cast<int64_t>(ids.size());
    const std::span<const int64_t> seq = ids.subspan(static_cast<size_t>(std::min(begin_, n)));
    const auto len = static_cast<int64_t>(seq.size());
    const bool last_ts = len >= 1 && seq[len - 1] >= ts_begin_;
    const bool penult_ts = len < 2 || seq[len - 2] >= ts_begin_;
    if (last_ts) {
      if (penult_ts) {
        fill(ts_begin_, V);
      } else {
        fill(0, eos_);
      }
    }
    int64_t ts_last = ts_begin_;
    for (int64_t i = len - 1; i >= 0; --i) {
      if (seq[i] >= ts_begin_) {
        ts_last = last_ts && !penult_ts ? seq[i] : seq[i] + 1;
        break;
      }
    }
    fill(ts_begin_, ts_last);
    if (n == begin_) {
      fill(0, ts_begin_);
      if (max_initial_) fill(ts_begin_ + *max_initial_ + 1, V);
    }
    // log_softmax, then logsumexp over the timestamps vs the best text token (f32).
    std::vector<float> lp(scores.begin(), scores.end());
    log_softmax_inplace(lp);
    float ts_max = kNegInf, text_max = kNegInf;
    for (int64_t i = 0; i < V; ++i) {
      if (i >= ts_begin_) {
        ts_max = std::max(ts_max, lp[i]);
      } else {
        text_max = std::max(text_max, lp[i]);
      }
    }
    float ts_lse = kNegInf;
    if (ts_max != kNegInf) {
      float sum = 0;
      for (int64_t i = ts_begin_; i < V; ++i) sum += std::exp(lp[i] - ts_max);
      ts_lse = ts_max + std::log(sum);
    }
    if (ts_lse > text_max) fill(0, ts_begin_);
  }
  const char* name() const override { return "WhisperTimeStampLogitsProcessor"; }

 private:
  int64_t no_ts_, ts_begin_, eos_, begin_;
  std::optional<int64_t> max_initial_;
};

class Temperature final : public LogitsProcessor {
 public:
  explicit Temperature(double t) : t_(static_cast<float>(t)) {
    if (!(t > 0)) {
      std::string msg = "`temperature` (=" + num(t) +
                        ") has to be a strictly positive float, otherwise your next token scores will be invalid.";
      if (t == 0.0) msg += " If you're looking for greedy decoding strategies, set `do_sample=False`.";
      throw InvalidArgument(msg);
    }
  }
  void apply(std::span<const int64_t>, std::span<float> scores) const override {
    for (float& s : scores) s = s / t_;
  }
  const char* name() const override { return "TemperatureLogitsWarper"; }

 private:
  float t_;
};

void check_keep(int64_t keep) {
  if (keep < 1)
    throw InvalidArgument("`min_tokens_to_keep` has to be a positive integer, but is " + std::to_string(keep));
}

class TopK final : public LogitsProcessor {
 public:
  TopK(int64_t k, int64_t keep) : k_(std::max(k, keep)) {
    if (k <= 0) throw InvalidArgument("`top_k` has to be a strictly positive integer, but is " + std::to_string(k));
  }
  void apply(std::span<const int64_t>, std::span<float> scores) const override {
    const auto k = static_cast<size_t>(std::min<int64_t>(k_, static_cast<int64_t>(scores.size())));
    if (k == 0) return;
    std::vector<float> v(scores.begin(), scores.end());
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k - 1), v.end(), std::greater<float>());
    const float threshold = v[k - 1];
    for (float& s : scores)
      if (s < threshold) s = kNegInf;
  }
  const char* name() const override { return "TopKLogitsWarper"; }

 private:
  int64_t k_;
};

class TopP final : public LogitsProcessor {
 public:
  TopP(double p, int64_t keep) : p_(p), keep_(keep) {
    if (p < 0 || p > 1.0) throw InvalidArgument("`top_p` has to be a float > 0 and < 1, but is " + num(p));
    check_keep(keep);
  }
  void apply(std::span<const int64_t>, std::span<float> scores) const override {
    const auto order = argsort_ascending(scores);
    std::vector<float> sorted(order.size());
    for (size_t i = 0; i < order.size(); ++i) sorted[i] = scores[order[i]];
    softmax_inplace(sorted);
    const auto cum = cumsum_f32(sorted);
    const auto threshold = static_cast<float>(1 - p_);
    const size_t n = order.size();
    const size_t protect_from = n - std::min<size_t>(n, static_cast<size_t>(keep_));
    for (size_t i = 0; i < protect_from; ++i)
      if (cum[i] <= threshold) scores[order[i]] = kNegInf;
  }
  const char* name() const override { return "TopPLogitsWarper"; }

 private:
  double p_;
  int64_t keep_;
};

class MinP final : public LogitsProcessor {
 public:
  MinP(double p, int64_t keep) : p_(p), keep_(keep) {
    if (!(p >= 0 && p <= 1.0)) throw InvalidArgument("`min_p` has to be a float in the [0, 1] interval, but is " + num(p));
    check_keep(keep);
  }
  void apply(std::span<const int64_t>, std::span<float> scores) const override {
    std::vector<float> probs(scores.begin(), scores.end());
    softmax_inplace(probs);
    const float top = *std::max_element(probs.begin(), probs.end());
    const float threshold = static_cast<float>(p_) * top;
    // The min_tokens_to_keep most probable tokens stay.
    std::vector<int64_t> idx(probs.size());
    std::iota(idx.begin(), idx.end(), 0);
    const auto k = static_cast<size_t>(std::min<int64_t>(keep_, static_cast<int64_t>(probs.size())));
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                      [&](int64_t a, int64_t b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
    std::vector<char> keep(probs.size(), 0);
    for (size_t i = 0; i < k; ++i) keep[idx[i]] = 1;
    for (size_t i = 0; i < probs.size(); ++i)
      if (!keep[i] && probs[i] < threshold) scores[i] = kNegInf;
  }
  const char* name() const override { return "MinPLogitsWarper"; }

 private:
  double p_;
  int64_t keep_;
};

class Typical final : public LogitsProcessor {
 public:
  Typical(double mass, int64_t keep) : mass_(mass), keep_(keep) {
    if (!(mass > 0 && mass < 1)) throw InvalidArgument("`typical_p` has to be a float > 0 and < 1, but is " + num(mass));
    check_keep(keep);
  }
  void apply(std::span<const int64_t>, std::span<float> scores) const override {
    const size_t n = scores.size();
    std::vector<float> normalized(scores.begin(), scores.end());
    log_softmax_inplace(normalized);
    float ent = 0;
    for (size_t i = 0; i < n; ++i) {
      const float term = normalized[i] * std::exp(normalized[i]);
      if (!std::isnan(term)) ent += term;
    }
    ent = -ent;
    std::vector<float> shifted(n);
    for (size_t i = 0; i < n; ++i) shifted[i] = std::fabs(-normalized[i] - ent);
    const auto order = argsort_ascending(shifted);
    std::vector<float> sorted_logits(n);
    for (size_t i = 0; i < n; ++i) sorted_logits[i] = scores[order[i]];
    softmax_inplace(sorted_logits);
    const auto cum = cumsum_f32(sorted_logits);
    const auto mass = static_cast<float>(mass_);
    size_t last = 0;
    for (const float c : cum) last += c < mass ? 1 : 0;
    last = std::min(last, n - 1);
    const float cut = shifted[order[last]];
    for (size_t i = std::min(n, static_cast<size_t>(keep_)); i < n; ++i)
      if (shifted[order[i]] > cut) scores[order[i]] = kNegInf;
  }
  const char* name() const override { return "TypicalLogitsWarper"; }

 private:
  double mass_;
  int64_t keep_;
};

int64_t arg_int(const io::Json& args, const char* key, int64_t fallback) {
  if (!args.contains(key) || args[key].is_null()) return fallback;
  if (!args[key].is_number_integer()) throw InvalidArgument(std::string("'") + key + "' must be an integer");
  return args[key].get<int64_t>();
}

double arg_double(const io::Json& args, const char* key) {
  if (!args.contains(key) || !args[key].is_number())
    throw InvalidArgument(std::string("'") + key + "' must be given as a number");
  return args[key].get<double>();
}

std::vector<int64_t> arg_eos(const io::Json& args) {
  if (!args.contains("eos_token_id")) throw InvalidArgument("'eos_token_id' must be given");
  const auto& v = args["eos_token_id"];
  if (v.is_number_integer()) return {v.get<int64_t>()};
  std::vector<int64_t> out;
  for (const auto& x : v) out.push_back(x.get<int64_t>());
  return out;
}

}  // namespace

void softmax_inplace(std::span<float> row) {
  if (row.empty()) return;
  const float m = *std::max_element(row.begin(), row.end());
  float sum = 0;
  for (float& x : row) {
    x = std::exp(x - m);
    sum += x;
  }
  const float inv = 1.0f / sum;
  for (float& x : row) x *= inv;
}

void log_softmax_inplace(std::span<float> row) {
  if (row.empty()) return;
  const float m = *std::max_element(row.begin(), row.end());
  float sum = 0;
  for (const float x : row) sum += std::exp(x - m);
  const float lse = std::log(sum);
  for (float& x : row) x = x - m - lse;
}

void apply_processors(const LogitsProcessorList& list, std::span<const int64_t> ids, std::span<float> scores) {
  for (const auto& p : list) p->apply(ids, scores);
}

LogitsProcessorList make_logits_processors(const GenerationConfig& c, int64_t prompt_length, int64_t max_length) {
  LogitsProcessorList list;
  if (c.repetition_penalty != 1.0) list.push_back(std::make_unique<RepetitionPenalty>(c.repetition_penalty, 0));
  if (c.no_repeat_ngram_size > 0) list.push_back(std::make_unique<NoRepeatNGram>(c.no_repeat_ngram_size));
  if (!c.eos_token_id.empty() && c.min_length > 0)
    list.push_back(std::make_unique<MinLength>(c.min_length, c.eos_token_id, 0, false));
  if (!c.eos_token_id.empty() && c.min_new_tokens && *c.min_new_tokens > 0)
    list.push_back(std::make_unique<MinLength>(*c.min_new_tokens, c.eos_token_id, prompt_length, true));
  if (c.forced_bos_token_id)
    list.push_back(std::make_unique<ForcedToken>(std::vector<int64_t>{*c.forced_bos_token_id}, 1,
                                                 "ForcedBOSTokenLogitsProcessor"));
  if (!c.forced_eos_token_id.empty() && max_length > 0)
    list.push_back(std::make_unique<ForcedToken>(c.forced_eos_token_id, max_length - 1, "ForcedEOSTokenLogitsProcessor"));
  if (!c.suppress_tokens.empty()) list.push_back(std::make_unique<SuppressTokens>(c.suppress_tokens, -1));
  if (!c.begin_suppress_tokens.empty()) {
    // transformers: the first generated position, one later when a forced BOS fills it.
    const int64_t begin = prompt_length > 1 || !c.forced_bos_token_id ? prompt_length : prompt_length + 1;
    list.push_back(std::make_unique<SuppressTokens>(c.begin_suppress_tokens, begin));
  }
  if (c.return_timestamps) {
    if (!c.no_timestamps_token_id) {
      throw InvalidArgument("return_timestamps needs no_timestamps_token_id in the generation config");
    }
    const int64_t eos = !c.eos_token_id.empty() ? c.eos_token_id.front() : c.bos_token_id.value_or(0);
    list.push_back(std::make_unique<WhisperTimestamps>(*c.no_timestamps_token_id, eos, prompt_length,
                                                       c.max_initial_timestamp_index));
  }
  if (c.do_sample) {
    int64_t keep = 1;
    if (c.num_beams > 1) keep = c.eos_token_id.empty() ? 2 : static_cast<int64_t>(c.eos_token_id.size()) + 1;
    if (c.temperature != 1.0) list.push_back(std::make_unique<Temperature>(c.temperature));
    if (c.top_k != 0) list.push_back(std::make_unique<TopK>(c.top_k, keep));
    if (c.top_p < 1.0) list.push_back(std::make_unique<TopP>(c.top_p, keep));
    if (c.min_p) list.push_back(std::make_unique<MinP>(*c.min_p, keep));
    if (c.typical_p < 1.0) list.push_back(std::make_unique<Typical>(c.typical_p, keep));
  }
  return list;
}

std::unique_ptr<LogitsProcessor> make_logits_processor(const std::string& name, const io::Json& args) {
  const int64_t keep = arg_int(args, "min_tokens_to_keep", 1);
  if (name == "RepetitionPenaltyLogitsProcessor")
    return std::make_unique<RepetitionPenalty>(arg_double(args, "penalty"), arg_int(args, "prompt_ignore_length", 0));
  if (name == "NoRepeatNGramLogitsProcessor") return std::make_unique<NoRepeatNGram>(arg_int(args, "ngram_size", 0));
  if (name == "MinLengthLogitsProcessor")
    return std::make_unique<MinLength>(arg_int(args, "min_length", -1), arg_eos(args), 0, false);
  if (name == "MinNewTokensLengthLogitsProcessor")
    return std::make_unique<MinLength>(arg_int(args, "min_new_tokens", -1), arg_eos(args),
                                       arg_int(args, "prompt_length_to_skip", 0), true);
  if (name == "ForcedBOSTokenLogitsProcessor")
    return std::make_unique<ForcedToken>(std::vector<int64_t>{arg_int(args, "bos_token_id", -1)}, 1,
                                         "ForcedBOSTokenLogitsProcessor");
  if (name == "ForcedEOSTokenLogitsProcessor")
    return std::make_unique<ForcedToken>(arg_eos(args), arg_int(args, "max_length", 0) - 1,
                                         "ForcedEOSTokenLogitsProcessor");
  if (name == "SuppressTokensLogitsProcessor")
    return std::make_unique<SuppressTokens>(args.value("suppress_tokens", std::vector<int64_t>{}), -1);
  if (name == "SuppressTokensAtBeginLogitsProcessor")
    return std::make_unique<SuppressTokens>(args.value("begin_suppress_tokens", std::vector<int64_t>{}),
                                            arg_int(args, "begin_index", 0));
  if (name == "WhisperTimeStampLogitsProcessor") {
    std::optional<int64_t> max_initial;
    if (args.contains("max_initial_timestamp_index") && !args["max_initial_timestamp_index"].is_null())
      max_initial = arg_int(args, "max_initial_timestamp_index", 0);
    return std::make_unique<WhisperTimestamps>(arg_int(args, "no_timestamps_token_id", -1), arg_eos(args).front(),
                                               arg_int(args, "begin_index", 0), max_initial);
  }
  if (name == "TemperatureLogitsWarper") return std::make_unique<Temperature>(arg_double(args, "temperature"));
  if (name == "TopKLogitsWarper") return std::make_unique<TopK>(arg_int(args, "top_k", 0), keep);
  if (name == "TopPLogitsWarper") return std::make_unique<TopP>(arg_double(args, "top_p"), keep);
  if (name == "MinPLogitsWarper") return std::make_unique<MinP>(arg_double(args, "min_p"), keep);
  if (name == "TypicalLogitsWarper") return std::make_unique<Typical>(arg_double(args, "mass"), keep);
  throw InvalidArgument("unknown logits processor '" + name + "'");
}

}  // namespace optimum::generation
