// Logits processors and warpers with transformers' semantics, one row at a
// time: each takes the row's whole sequence (prompt + generated) and its
// next-token scores, and rewrites the scores in place, in f32 as torch does.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "optimum/generation/generation_config.h"
#include "optimum/io/json.h"

namespace optimum::generation {

class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  // Rewrites `scores` (one row, vocab_size floats) given the row's tokens.
  virtual void apply(std::span<const int64_t> input_ids, std::span<float> scores) const = 0;
  // transformers' class name ("TopKLogitsWarper", ...).
  virtual const char* name() const = 0;
};

using LogitsProcessorList = std::vector<std::unique_ptr<LogitsProcessor>>;

// The list _get_logits_processor builds for `config` (in its order):
// repetition penalty, no-repeat n-gram, min length, min new tokens, then,
// only when sampling, temperature, top-k, top-p, min-p, typical-p.
// `prompt_length` is the row's prompt length (min_new_tokens counts from it).
// forced_bos_token_id, forced_eos_token_id (at `max_length` - 1 ids; 0 =
// none), suppress_tokens and begin_suppress_tokens follow min new tokens,
// as in transformers' _get_logits_processor.
LogitsProcessorList make_logits_processors(const GenerationConfig& config, int64_t prompt_length,
                                           int64_t max_length = 0);

// Applies every processor of `list` in order.
void apply_processors(const LogitsProcessorList& list, std::span<const int64_t> input_ids, std::span<float> scores);

// One processor by transformers' class name with its constructor arguments
// as JSON ({"top_k": 5, "min_tokens_to_keep": 1}, ...): the parity tests
// compare each against transformers' class. InvalidArgument names an
// unknown class or a bad argument.
std::unique_ptr<LogitsProcessor> make_logits_processor(const std::string& name, const io::Json& args);

// In-place log_softmax / softmax of one row (f32, max-subtracted).
void log_softmax_inplace(std::span<float> row);
void softmax_inplace(std::span<float> row);

}  // namespace optimum::generation
