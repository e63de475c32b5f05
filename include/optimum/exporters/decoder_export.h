// Native export of causal decoders (llama, mistral, qwen2, qwen3, phi3,
// gemma, gemma3_text, gpt2): a checkpoint folder -> engine-layout weights in
// fp32, bf16 or int8 (models/decoder_native.h), config.json, tokenizer and
// generation files, optimum_export.json (task, dtype, per-Linear precisions,
// the accuracy record, the validation), validated on shapes other than the
// export's before it is kept. DecoderModel / LanguageModel load the folder.
#pragma once

#include <filesystem>

#include "optimum/exporters/accuracy.h"
#include "optimum/exporters/export.h"
#include "optimum/models/decoder.h"
#include "optimum/models/decoder_native.h"

namespace optimum::exporters {

// Whether config.json of `dir` names a decoder model_type the engine has.
bool is_decoder_checkpoint(const std::filesystem::path& dir);

// Exports a decoder checkpoint. Tasks: text-generation(-with-past) (needs an
// lm_head or tied embeddings), feature-extraction(-with-past) (the base
// model; an lm_head is dropped) and text-classification (a
// <Family>ForSequenceClassification checkpoint: the base model in the export's
// precisions, `score.weight` kept in f32; DecoderForSequenceClassification
// loads the folder). Validation runs the source (in the exported
// precisions) and the reloaded export on left-padded batches of 1 and 3 rows
// at sequence lengths 5 and 11 (after a 7-token past for -with-past): logits
// or last_hidden_state of every real token (classification: the logits of
// each row, batches of 1 only without a pad_token_id) within atol, else ValidationError
// and nothing is kept. Unsupported names a task without a native decoder export.
ExportResult export_decoder(const std::filesystem::path& model_dir, const std::filesystem::path& output_dir,
                            const ExportOptions& options);

// The causal-LM accuracy guard: calibration texts (options.texts, else the
// built-in ones) tokenized with the tokenizer in `tokenizer_dir` (else seeded
// random ids), each run as one sequence; the low-precision model is compared
// with `fp32` (loaded with keep_weights) on the logits of every position:
// cosine (per text, mean over positions; the minimum over texts is judged)
// and next-token argmax agreement over all positions. Without an lm_head the
// final hidden states' cosine is judged. Per-Linear fallback as the encoder
// guard (guard_search). With `score` (ForSequenceClassification over `fp32`,
// which then has no lm_head), the encoder classifiers' rule: the final hidden
// states' cosine and the agreement of the labels at each text's last token.
models::PrecisionPlan choose_decoder_precision(const models::DecoderModel& fp32,
                                               const std::filesystem::path& tokenizer_dir, kernels::WeightType type,
                                               const AccuracyOptions& options, const models::LinearConverter& convert,
                                               AccuracyReport* report, const models::Linear* score = nullptr);

}  // namespace optimum::exporters
