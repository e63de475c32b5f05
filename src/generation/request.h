// One request's state inside Generator (internal to the generation library).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "optimum/generation/generate.h"
#include "optimum/generation/logits_process.h"
#include "stopping.h"

namespace optimum::generation::detail {

// A row's sequence and its output so far (greedy and sampling).
struct Row {
  std::vector<int64_t> sequence;  // prompt + generated
  GeneratedSequence out;
  int64_t slot = 0;
  bool finished = false;
};

// A hypothesis of beam search.
struct Hypothesis {
  std::vector<int64_t> sequence;
  float score = 0;
  bool finished = false;
};

struct BeamState {
  int64_t num_beams = 0;
  int64_t beams_to_keep = 0;
  std::vector<std::vector<int64_t>> running;  // num_beams sequences
  std::vector<float> running_scores;
  std::vector<int64_t> beam_slot;  // physical cache slot of each running beam
  std::vector<Hypothesis> finished;  // num_beams best finished (or placeholders)
  bool heuristic_unsatisfied = true;
  int64_t cur_len = 0;
};

struct Request {
  int64_t id = 0;
  GenerationConfig config;
  RequestOptions options;
  std::vector<int64_t> prompt;
  int64_t max_length = 0;
  LogitsProcessorList processors;
  StopStrings stop;
  std::vector<int64_t> slots;  // physical slots this request owns
  std::mt19937_64 rng;
  bool prefilled = false;
  bool cancelled = false;
  bool done = false;
  std::vector<Row> rows;  // greedy / sampling
  BeamState beam;         // beam search (num_beams > 1)
  GenerationOutput output;

  bool is_beam() const { return config.num_beams > 1; }
  bool is_eos(int64_t token) const;
  bool hits_stop(const std::vector<int64_t>& sequence, FinishReason* reason) const;
};

// One step of greedy/sampling for `req`: `logits` rows (vocab floats each)
// in the order of its unfinished rows (one row at prefill). Copies slots
// with `cache` after prefill.
void sample_step(Request& req, const float* logits, int64_t vocab, models::KvCache& cache);
// One step of beam search (one logits row at prefill, num_beams after).
void beam_step(Request& req, const float* logits, int64_t vocab, models::KvCache& cache);
// Finishes a request's output (cancellation or end).
void finish_beam(Request& req);

}  // namespace optimum::generation::detail
