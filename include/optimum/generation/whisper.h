// Whisper generation with transformers' WhisperGenerationMixin semantics
// for short-form audio (one 30 s window per input): the decoder prompt
// [decoder_start, language, task, <|notimestamps|>] built from the call's
// language / task / return_timestamps over generation_config.json's
// lang_to_id, task_to_id, no_timestamps_token_id (else its
// forced_decoder_ids), language detection when a multilingual model gets no
// language, suppress_tokens / begin_suppress_tokens at the first generated
// position and the timestamp rules; then greedy or beam search through
// generate() on the bound decoder.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optimum/generation/generate.h"
#include "optimum/io/json.h"
#include "optimum/models/seq2seq.h"

namespace optimum::generation {

// The whisper-only keys of generation_config.json.
struct WhisperGenerationConfig {
  std::map<std::string, int64_t> lang_to_id;  // "<|en|>" -> id
  std::map<std::string, int64_t> task_to_id;  // "transcribe" -> id
  std::optional<int64_t> no_timestamps_token_id;
  std::optional<bool> is_multilingual;
  // forced_decoder_ids [[1, lang|null], [2, task], ...]: the legacy prompt.
  std::vector<std::pair<int64_t, std::optional<int64_t>>> forced_decoder_ids;
  std::optional<int64_t> max_initial_timestamp_index;
  std::optional<std::string> language;  // defaults of the file
  std::optional<std::string> task;
  bool return_timestamps = false;

  // FormatError names `source` and the key.
  static WhisperGenerationConfig from_json(const io::Json& json, const std::string& source);
};

// Per-call choices (unset: the config's).
struct WhisperCallOptions {
  std::optional<std::string> language;  // "en", "<|en|>" or "english"
  std::optional<std::string> task;      // "transcribe" | "translate"
  std::optional<bool> return_timestamps;
};

struct WhisperOutput {
  std::vector<int64_t> prompt;  // the decoder prompt (init tokens) of this item
  GenerationOutput sequences;   // new tokens after the prompt
};

// Generates for log-mel features [batch, mel_bins, frames] (frames =
// 2 * max_source_positions). `config` holds the generic keys
// (generation_config.json + call options); max_length counts new tokens
// past the prompt as transformers' whisper does. InvalidArgument names an
// unknown language or task, or a prompt + max_new_tokens past
// max_target_positions.
std::vector<WhisperOutput> generate_whisper(const std::shared_ptr<const models::Seq2SeqModel>& model,
                                            const float* features, int64_t batch, int64_t mel_bins, int64_t frames,
                                            GenerationConfig config, const WhisperGenerationConfig& whisper,
                                            const WhisperCallOptions& call = {}, const GenerateOptions& options = {});

}  // namespace optimum::generation
