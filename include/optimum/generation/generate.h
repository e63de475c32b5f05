// Text generation over a models::CausalLM with transformers' generate()
// semantics: greedy, sampling, beam search, logits processors, stopping on
// max length / eos lists / stop strings, and streaming.
//
// Sequences run as ragged segments over one preallocated KV cache (no
// padding): a batch item's results never depend on the others, so a batch
// equals its items run one by one. Generator is the step-wise engine the
// server's continuous batching uses (requests join and leave between
// steps); generate() runs a fixed batch to the end.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "optimum/generation/generation_config.h"
#include "optimum/models/causal_lm.h"

namespace optimum::tokenizers {
class Tokenizer;
}

namespace optimum::generation {

// Text of token ids (for stop strings).
using DecodeFn = std::function<std::string(const std::vector<int64_t>&)>;

// A decode function over a tokenizer (special tokens kept, as transformers'
// stop-string matching sees them). The tokenizer must outlive it.
DecodeFn tokenizer_decoder(const tokenizers::Tokenizer& tokenizer);

// One new token of one returned sequence (greedy and sampling only).
struct TokenEvent {
  int64_t request = 0;   // id from Generator::add (index of the prompt in generate())
  int64_t sequence = 0;  // 0 .. num_return_sequences-1
  int64_t token = 0;
  float score = 0;    // the processed score of the token (transformers' output_scores)
  float logprob = 0;  // log-softmax of the processed scores at the token
  bool finished = false;  // this token ends the sequence
  // The most likely tokens of the same distribution with their logprobs,
  // most likely first (RequestOptions::top_logprobs of them).
  std::vector<std::pair<int64_t, float>> top_logprobs;
};

// Called for every new token; returning false cancels the request.
using TokenCallback = std::function<bool(const TokenEvent&)>;

enum class FinishReason { kLength, kEos, kStopString, kCancelled };
const char* finish_reason_name(FinishReason reason);  // "length", "eos", "stop", "cancelled"

// One returned sequence: its new tokens (prompt not included; the eos that
// ended it included) and its scores.
struct GeneratedSequence {
  std::vector<int64_t> tokens;
  std::vector<float> scores;    // greedy/sampling: per token, as TokenEvent::score
  std::vector<float> logprobs;  // greedy/sampling: per token, as TokenEvent::logprob
  std::vector<std::vector<std::pair<int64_t, float>>> top_logprobs;  // per token, when asked for
  std::optional<float> sequence_score;  // beam search: transformers' sequences_scores
  FinishReason finish_reason = FinishReason::kLength;
};

// One request's result: num_return_sequences sequences (beam search: best first).
using GenerationOutput = std::vector<GeneratedSequence>;

struct RequestOptions {
  TokenCallback on_token;  // streaming (not with beam search, as transformers)
  DecodeFn decode;         // required when the config has stop_strings
  int64_t top_logprobs = 0;  // alternatives reported per token (OpenAI's logprobs=N), at most 100
};

// Step-wise generation over one cache of `slots` sequences of up to
// `capacity` positions: add requests, call step() until idle(). A request
// takes num_beams slots (beam search) or num_return_sequences slots.
class Generator {
 public:
  Generator(std::shared_ptr<const models::CausalLM> model, int64_t slots, int64_t capacity);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Slots a request needs under `config`.
  static int64_t slots_needed(const GenerationConfig& config);
  // Cache positions a request needs (its resolved max_length).
  static int64_t positions_needed(const GenerationConfig& config, int64_t prompt_length, int64_t max_positions);

  // Queues a prompt; validates the config and ids (InvalidArgument naming
  // the field or token). Throws Overloaded-like InvalidArgument when the
  // free slots or capacity cannot hold it: check free_slots() first.
  int64_t add(std::vector<int64_t> prompt, const GenerationConfig& config, RequestOptions options = {});
  // Runs one model step for every running request (prompts of newly added
  // ones as prefill segments in the same step). Finished requests free
  // their slots at the end of the step.
  void step();
  // Requests still running.
  bool idle() const;
  int64_t free_slots() const;
  // Marks a request cancelled (its slots free on the next step).
  void cancel(int64_t request);
  bool finished(int64_t request) const;
  // The result of a finished request; removes it. NotFound for an unknown
  // or unfinished request.
  GenerationOutput take(int64_t request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct GenerateOptions {
  TokenCallback on_token;  // streaming: TokenEvent::request is the prompt's index
  DecodeFn decode;         // for stop strings
  int64_t top_logprobs = 0;  // as RequestOptions::top_logprobs
};

// Generates for every prompt as one ragged batch; result i belongs to
// prompts[i] and equals generating prompts[i] alone.
std::vector<GenerationOutput> generate(std::shared_ptr<const models::CausalLM> model,
                                       const std::vector<std::vector<int64_t>>& prompts,
                                       const GenerationConfig& config, const GenerateOptions& options = {});

}  // namespace optimum::generation
