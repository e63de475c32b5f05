// A table language model for testing the generation algorithms: the logits
// after token t at position p are table[p, t, :] + history * table[p, s % V, :]
// where s is the sum of the sequence's tokens up to p (so they depend on the
// whole cached history: a beam whose cache slot was mixed up gives other
// logits) and V the vocabulary size. The same model written as
// a transformers PreTrainedModel makes transformers' generate() the oracle
// for every algorithm here (tests/generation/generate_util.py).
#pragma once

#include <memory>
#include <string>

#include "optimum/core/tensor.h"
#include "optimum/models/causal_lm.h"

namespace optimum::generation {

class TableLM final : public models::CausalLM {
 public:
  // `table`: f32 [positions, vocab, vocab]; `history`: weight of the
  // history term.
  explicit TableLM(Tensor table, float history = 0.0f);
  int64_t vocab_size() const override { return vocab_; }
  int64_t max_positions() const override { return positions_; }
  size_t cache_bytes_per_position() const override { return sizeof(int64_t); }
  std::unique_ptr<models::KvCache> new_cache(int64_t slots, int64_t capacity) const override;
  Tensor step(models::KvCache& cache, const std::vector<models::StepSegment>& segments,
              const models::StepOptions& options = {}) const override;
  const std::string& model_type() const override { return type_; }

 private:
  Tensor table_;
  int64_t positions_ = 0;
  int64_t vocab_ = 0;
  float history_ = 0.0f;
  std::string type_ = "table_lm";
};

}  // namespace optimum::generation
