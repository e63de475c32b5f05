// Generation settings with transformers' GenerationConfig semantics:
// defaults from generation_config.json (else config.json's generation keys,
// as transformers falls back), overridden by call options, validated with
// errors that name the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "optimum/io/json.h"

namespace optimum::generation {

// transformers' early_stopping: False (heuristic), True (stop when
// num_beams hypotheses are done) or "never" (canonical beam search).
enum class EarlyStopping { kFalse, kTrue, kNever };

struct GenerationConfig {
  // Lengths. max_length counts the prompt; max_new_tokens takes precedence.
  // Neither set anywhere: 20 new tokens, capped at the model's positions
  // (transformers' default max_length=20 plus the prompt length).
  std::optional<int64_t> max_length;
  std::optional<int64_t> max_new_tokens;
  int64_t min_length = 0;                 // counts the prompt; eos suppressed below it
  std::optional<int64_t> min_new_tokens;  // eos suppressed for this many new tokens
  // Strategy.
  bool do_sample = false;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  // Sampling warpers (applied only with do_sample).
  double temperature = 1.0;
  int64_t top_k = 50;  // 0: off
  double top_p = 1.0;
  std::optional<double> min_p;
  double typical_p = 1.0;
  // Processors (every strategy).
  double repetition_penalty = 1.0;
  int64_t no_repeat_ngram_size = 0;
  // Beam search.
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  // Special tokens; eos may be a list (any of them ends a sequence).
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_id;
  std::optional<int64_t> pad_token_id;  // unset: eos_token_id[0], as transformers
  // Encoder-decoders: the first decoder token (unset: the model config's).
  std::optional<int64_t> decoder_start_token_id;
  // Forced first / last generated token (transformers' ForcedBOS/EOSTokenLogitsProcessor).
  std::optional<int64_t> forced_bos_token_id;
  std::vector<int64_t> forced_eos_token_id;
  // Never generated / not generated as the first new token.
  std::vector<int64_t> suppress_tokens;
  std::vector<int64_t> begin_suppress_tokens;
  // Whisper timestamps: transformers' WhisperTimeStampLogitsProcessor after
  // the suppressions, its begin index the prompt length. Set by
  // generate_whisper (generation/whisper.h), not read from JSON.
  bool return_timestamps = false;
  std::optional<int64_t> no_timestamps_token_id;
  std::optional<int64_t> max_initial_timestamp_index;
  // Stops when the decoded text ends with one of these (needs a decoder).
  std::vector<std::string> stop_strings;
  // Seed of the request's sampling RNG (unset: a random one, as
  // transformers without torch.manual_seed). Same seed, same tokens.
  std::optional<uint64_t> seed;

  // Reads generation_config.json in `folder`, else config.json's generation
  // keys (transformers' fallback), else defaults. FormatError names the
  // file and key.
  static GenerationConfig from_pretrained(const std::filesystem::path& folder);
  // The generation keys of one JSON object (a generation_config.json, a
  // config.json or call options); `source` names it in errors. Unknown keys
  // are ignored (config.json holds many), mistyped ones are errors.
  static GenerationConfig from_json(const io::Json& json, const std::string& source);
  // Applies call options over this config (generate(**kwargs)): unknown
  // keys are InvalidArgument naming them; null leaves a field as it is.
  void update(const io::Json& options, const std::string& source = "generate options");
  // Errors transformers raises (and the ones its processors raise when
  // built), naming the field: InvalidArgument.
  void validate() const;
  // The pad token transformers uses: pad_token_id, else eos_token_id[0].
  std::optional<int64_t> effective_pad_token_id() const;
  // max_length for a prompt of `prompt_length` tokens on a model with
  // `max_positions` positions (0: unbounded), as _prepare_generated_length.
  int64_t resolved_max_length(int64_t prompt_length, int64_t max_positions) const;
  // min_length for a prompt of `prompt_length` tokens.
  int64_t resolved_min_length(int64_t prompt_length) const;
  // The config as generation_config.json keys.
  io::Json to_json() const;
};

// The option names update() accepts.
const std::vector<std::string>& generation_option_names();

}  // namespace optimum::generation
