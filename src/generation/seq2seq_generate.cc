#include "optimum/generation/seq2seq.h"

#include <algorithm>

#include "optimum/core/errors.h"

namespace optimum::generation {

std::vector<GenerationOutput> generate_seq2seq(const std::shared_ptr<const models::Seq2SeqModel>& model,
                                               const std::vector<std::vector<int64_t>>& inputs,
                                               const GenerationConfig& config, const GenerateOptions& options) {
  if (inputs.empty()) return {};
  config.validate();
  const models::Seq2SeqConfig& mc = model->config();
  size_t seq = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].empty()) throw InvalidArgument("generate: input " + std::to_string(i) + " has no tokens");
    seq = std::max(seq, inputs[i].size());
  }
  const auto batch = static_cast<int64_t>(inputs.size());
  std::vector<int64_t> ids(inputs.size() * seq, mc.pad_token_id), mask(inputs.size() * seq, 0);
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::copy(inputs[i].begin(), inputs[i].end(), ids.begin() + static_cast<std::ptrdiff_t>(i * seq));
    std::fill_n(mask.begin() + static_cast<std::ptrdiff_t>(i * seq), inputs[i].size(), 1);
  }
  models::EncoderOutput encoded = model->encode(ids.data(), mask.data(), batch, static_cast<int64_t>(seq));
  // generate() gives request i the consecutive slots [i * per, (i + 1) * per)
  // of its cache: the bound decoder maps slot s to input s / per.
  const int64_t per = Generator::slots_needed(config);
  std::shared_ptr<const models::CausalLM> decoder = model->bind(std::move(encoded), per);
  const int64_t start = config.decoder_start_token_id.value_or(mc.decoder_start_token_id);
  if (start < 0 || start >= mc.vocab_size) {
    throw InvalidArgument("generate: decoder_start_token_id " + std::to_string(start) + " is outside the vocabulary");
  }
  const std::vector<std::vector<int64_t>> prompts(inputs.size(), std::vector<int64_t>{start});
  return generate(decoder, prompts, config, options);
}

}  // namespace optimum::generation
