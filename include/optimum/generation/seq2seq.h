// Generation for encoder-decoders (t5, bart, mbart, marian) through the
// decoder-only engine: each input is encoded once, the decoder is bound to
// the encoder output (cross keys/values computed once per input and shared
// by its beams / returned sequences) and driven by generate() from
// [decoder_start_token_id], so greedy, sampling, beam search and every
// logits processor behave as for decoders, with transformers' semantics.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "optimum/generation/generate.h"
#include "optimum/models/seq2seq.h"

namespace optimum::generation {

// Generates for every input (token ids, ragged: padded on the right with the
// model's pad_token_id and masked); result i belongs to inputs[i], holds the
// new decoder tokens (decoder_start_token_id not included) and equals
// generating inputs[i] alone. decoder_start_token_id comes from `config`,
// else the model's config.json.
std::vector<GenerationOutput> generate_seq2seq(const std::shared_ptr<const models::Seq2SeqModel>& model,
                                               const std::vector<std::vector<int64_t>>& inputs,
                                               const GenerationConfig& config, const GenerateOptions& options = {});

}  // namespace optimum::generation
