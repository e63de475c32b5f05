// Beam search as transformers' _beam_search (its vectorized form): top-K
// continuations over all beams, the best num_beams unfinished ones run on,
// finished ones compete (length-penalized) for num_beams places, and the
// early-stopping heuristic decides when no running beam can still win.
// Arithmetic is f32 in transformers' order so scores match bit for bit.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "optimum/core/errors.h"
#include "request.h"

namespace optimum::generation::detail {

namespace {

constexpr float kBig = -1.0e9f;

// Indices of the k largest values, largest first; ties: lower index first.
std::vector<int64_t> topk(const std::vector<float>& v, int64_t k) {
  std::vector<int64_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int64_t>(k, static_cast<int64_t>(v.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int64_t a, int64_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

// torch.multinomial(softmax(v), k) without replacement.
std::vector<int64_t> sample_without_replacement(const std::vector<float>& v, int64_t k, std::mt19937_64& rng) {
  std::vector<float> probs(v);
  softmax_inplace(probs);
  std::vector<int64_t> out;
  for (int64_t n = 0; n < k; ++n) {
    double total = 0;
    for (const float p : probs) total += p;
    if (!(total > 0)) throw InvalidArgument("beam sampling: fewer tokens with non-zero probability than beams to keep");
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng) * total;
    double acc = 0;
    int64_t pick = -1;
    for (size_t i = 0; i < probs.size(); ++i) {
      if (probs[i] <= 0) continue;
      acc += probs[i];
      pick = static_cast<int64_t>(i);
      if (u < acc) break;
    }
    out.push_back(pick);
    probs[static_cast<size_t>(pick)] = 0;
  }
  return out;
}

// Points running beam j at a cache slot holding the sequence of its
// source beam src[j]: the first beam taking a source keeps its slot, the
// others copy it into slots no source uses.
void reorder_cache(Request& req, const std::vector<int64_t>& src, models::KvCache& cache) {
  auto& b = req.beam;
  const std::vector<int64_t> old_slot = b.beam_slot;
  std::vector<int64_t> used;  // physical slots some new beam keeps
  std::vector<int64_t> source_slots;
  for (const int64_t s : src) source_slots.push_back(old_slot[s]);
  std::vector<int64_t> spare;
  for (const int64_t s : req.slots)
    if (std::find(source_slots.begin(), source_slots.end(), s) == source_slots.end()) spare.push_back(s);
  for (size_t j = 0; j < src.size(); ++j) {
    const int64_t phys = source_slots[j];
    if (std::find(used.begin(), used.end(), phys) == used.end()) {
      used.push_back(phys);
      b.beam_slot[j] = phys;
    } else {
      const int64_t dst = spare.back();
      spare.pop_back();
      cache.copy_slot(phys, dst);
      b.beam_slot[j] = dst;
    }
  }
}

}  // namespace

void finish_beam(Request& req) {
  auto& b = req.beam;
  req.output.clear();
  const auto prompt_len = static_cast<int64_t>(req.prompt.size());
  for (int64_t i = 0; i < req.config.num_return_sequences && i < static_cast<int64_t>(b.finished.size()); ++i) {
    const auto& h = b.finished[i];
    GeneratedSequence s;
    s.tokens.assign(h.sequence.begin() + prompt_len, h.sequence.end());
    s.sequence_score = h.score;
    s.finish_reason = FinishReason::kLength;
    if (!s.tokens.empty()) {
      FinishReason reason = FinishReason::kLength;
      if (req.hits_stop(h.sequence, &reason)) s.finish_reason = reason;
    }
    req.output.push_back(std::move(s));
  }
  req.done = true;
}

void beam_step(Request& req, const float* logits, int64_t vocab, models::KvCache& cache) {
  auto& b = req.beam;
  const GenerationConfig& cfg = req.config;
  const bool prefill = !req.prefilled;
  req.prefilled = true;
  const int64_t nb = b.num_beams;
  const int64_t K = b.beams_to_keep;
  const auto prompt_len = static_cast<int64_t>(req.prompt.size());
  const auto V = static_cast<size_t>(vocab);

  // b. log-probs, processed, plus each beam's running score.
  std::vector<float> acc(static_cast<size_t>(nb) * V);
  std::vector<float> row(V);
  for (int64_t j = 0; j < nb; ++j) {
    const float* src = logits + (prefill ? 0 : j) * vocab;
    std::copy(src, src + vocab, row.begin());
    log_softmax_inplace(row);
    apply_processors(req.processors, b.running[j], row);
    for (size_t v = 0; v < V; ++v) acc[j * V + v] = row[v] + b.running_scores[j];
  }

  // c. top-K continuations.
  std::vector<int64_t> top = cfg.do_sample ? sample_without_replacement(acc, K, req.rng) : topk(acc, K);
  const auto k_real = static_cast<int64_t>(top.size());
  std::vector<float> top_lp(top.size());
  std::vector<int64_t> top_beam(top.size());
  std::vector<std::vector<int64_t>> top_seq(top.size());
  for (int64_t c = 0; c < k_real; ++c) {
    top_lp[c] = acc[top[c]];
    top_beam[c] = top[c] / vocab;
    top_seq[c] = b.running[top_beam[c]];
    top_seq[c].push_back(top[c] % vocab);
  }

  // d. which continuations hit a stopping criterion.
  std::vector<char> hits(top.size());
  bool all_hit = true;
  for (int64_t c = 0; c < k_real; ++c) {
    FinishReason reason;
    hits[c] = req.hits_stop(top_seq[c], &reason) ? 1 : 0;
    all_hit = all_hit && hits[c];
  }

  // e. the best num_beams unfinished continuations run on.
  std::vector<float> running_lp(top.size());
  for (int64_t c = 0; c < k_real; ++c) running_lp[c] = top_lp[c] + (hits[c] ? kBig : 0.0f);
  const std::vector<int64_t> next = topk(running_lp, nb);
  std::vector<int64_t> src_beams;
  std::vector<std::vector<int64_t>> new_running;
  std::vector<float> new_scores;
  for (const int64_t c : next) {
    src_beams.push_back(top_beam[c]);
    new_running.push_back(top_seq[c]);
    new_scores.push_back(running_lp[c]);
  }

  // f. finished continuations among the top num_beams compete with the
  // finished hypotheses.
  bool all_finished = true;
  for (const auto& h : b.finished) all_finished = all_finished && h.finished;
  const bool full = all_finished && cfg.early_stopping == EarlyStopping::kTrue;
  const auto denom =
      static_cast<float>(std::pow(static_cast<double>(b.cur_len + 1 - prompt_len), cfg.length_penalty));
  std::vector<float> merged_scores;
  std::vector<Hypothesis> merged;
  for (const auto& h : b.finished) {
    merged.push_back(h);
    merged_scores.push_back(h.score);
  }
  for (int64_t c = 0; c < k_real; ++c) {
    const bool did = hits[c] && c < nb;
    float s = top_lp[c] / denom;
    s = s + (full ? kBig : 0.0f);
    s = s + (!b.heuristic_unsatisfied ? kBig : 0.0f);
    s = s + (!did ? kBig : 0.0f);
    merged_scores.push_back(s);
    merged.push_back(Hypothesis{top_seq[c], s, did});
  }
  const std::vector<int64_t> keep = topk(merged_scores, nb);
  std::vector<Hypothesis> finished;
  for (const int64_t i : keep) finished.push_back(std::move(merged[i]));
  b.finished = std::move(finished);

  // g. the cache follows the running beams; the heuristic and the loop's
  // stopping condition.
  reorder_cache(req, src_beams, cache);
  b.running = std::move(new_running);
  b.running_scores = std::move(new_scores);
  b.cur_len += 1;
  const int64_t best_len = (cfg.early_stopping == EarlyStopping::kNever && cfg.length_penalty > 0.0)
                               ? req.max_length - prompt_len
                               : b.cur_len - prompt_len;
  const float best_possible =
      b.running_scores[0] / static_cast<float>(std::pow(static_cast<double>(best_len), cfg.length_penalty));
  float min_finished = b.finished[0].score;
  for (const auto& h : b.finished) min_finished = std::min(min_finished, h.score);
  bool any_better = false;
  for (const auto& h : b.finished) any_better = any_better || best_possible > (h.finished ? min_finished : kBig);
  b.heuristic_unsatisfied = b.heuristic_unsatisfied && any_better;
  all_finished = true;
  for (const auto& h : b.finished) all_finished = all_finished && h.finished;
  const bool exists_open_beam = !(all_finished && cfg.early_stopping == EarlyStopping::kTrue);
  const bool go_on = b.heuristic_unsatisfied && exists_open_beam && !all_hit;
  if (!go_on) finish_beam(req);
}

}  // namespace optimum::generation::detail
