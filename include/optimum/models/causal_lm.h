// The interface every causal language model of the engine offers to the
// generation layer and the server: a ragged batch of sequences, each
// appending some new tokens to its own slot of a preallocated key/value
// cache, gives next-token logits. There is no padding anywhere: a
// "left-padded batch" is a list of segments of different lengths, positions
// are each slot's own (0, 1, 2, ... as transformers computes them from the
// attention mask), so a sequence's logits never depend on what else runs in
// the batch (continuous batching joins and leaves between steps).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "optimum/core/tensor.h"

namespace optimum::models {

// Keys and values of `slots` sequences, up to `capacity` positions each,
// allocated once when the cache is made (nothing grows afterwards).
class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual int64_t slots() const = 0;
  virtual int64_t capacity() const = 0;
  // Positions filled in `slot`: the position of its next token.
  virtual int64_t length(int64_t slot) const = 0;
  // Forgets positions >= `length` of `slot` (0 empties it for a new sequence).
  virtual void truncate(int64_t slot, int64_t length) = 0;
  // Makes `dst` a copy of `src` (contents and length): beam search reorders
  // its beams with this. src == dst is a no-op.
  virtual void copy_slot(int64_t src, int64_t dst) = 0;
  // Memory the cache holds, in bytes.
  virtual size_t nbytes() const = 0;
};

// One sequence's share of a step: `count` new tokens (ids into the
// vocabulary) appended to `slot`, at positions length(slot) ...
// length(slot) + count - 1, attending to every earlier position of the slot
// (within the model's sliding windows) and to themselves causally.
struct StepSegment {
  int64_t slot = 0;
  const int64_t* tokens = nullptr;
  int64_t count = 0;
};

struct StepOptions {
  // Logits of every new token (rows in segment order), not only of each
  // segment's last one (prompt scoring, logprobs of a prompt, parity tests).
  bool all_logits = false;
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;
  virtual int64_t vocab_size() const = 0;
  // Longest sequence the model's positions allow (max_position_embeddings).
  virtual int64_t max_positions() const = 0;
  // Key/value bytes one cached position takes (all layers): the server's
  // memory budget divides by this.
  virtual size_t cache_bytes_per_position() const = 0;
  // A cache for `slots` sequences of up to `capacity` positions each.
  virtual std::unique_ptr<KvCache> new_cache(int64_t slots, int64_t capacity) const = 0;
  // Runs `segments` (distinct slots, count >= 1) as one batch: appends
  // their keys/values to `cache` and returns f32 logits [rows, vocab_size()]:
  // one row per segment (its last new token), or one per new token with
  // StepOptions::all_logits. InvalidArgument names a token id outside the
  // vocabulary, a slot outside the cache, or a segment that would pass the
  // slot's capacity; the cache is unchanged then. Thread-safe for distinct
  // caches; one cache is used by one thread at a time.
  virtual Tensor step(KvCache& cache, const std::vector<StepSegment>& segments,
                      const StepOptions& options = {}) const = 0;
  // "llama", "gemma3_text", ... (config.json's model_type).
  virtual const std::string& model_type() const = 0;
};

}  // namespace optimum::models
