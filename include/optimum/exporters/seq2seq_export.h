// Native export of encoder-decoders (t5, bart, mbart, marian): a
// transformers checkpoint folder -> engine-layout weights in fp32, bf16 or
// int8 (models/seq2seq_native.h), config.json, every preprocessor (tokenizer
// files, generation_config.json, written from config.json as transformers
// does when the checkpoint has none), optimum_export.json (task, dtype,
// per-Linear precisions, inputs/outputs with dynamic axes, the accuracy
// record, the validation), validated on shapes other than the export's
// before it is kept. Seq2SeqModel::load, AutoModelForSeq2SeqLM and the
// text2text-generation / summarization / translation pipelines load the folder.
#pragma once

#include <filesystem>

#include "optimum/exporters/accuracy.h"
#include "optimum/exporters/export.h"
#include "optimum/models/seq2seq.h"

namespace optimum::exporters {

// Whether config.json of `dir` names an encoder-decoder model_type the engine has.
bool is_seq2seq_checkpoint(const std::filesystem::path& dir);

// Exports an encoder-decoder checkpoint for text2text-generation (or its
// -with-past variant and synonyms: summarization, translation,
// translation_xx_to_yy, seq2seq-lm). Refuses (InvalidArgument) an output
// folder that is the source or that exists with files and is not an
// optimum-cpp export (a re-export replaces an export in place). A tokenizer
// or generation_config.json the export would persist must load: FormatError
// names the file. Validation runs the source (in the exported precisions)
// and the reloaded export on right-padded batches of 1 and 3 rows at encoder
// lengths 8 and 33 (clamped to the positions; decoder lengths 5 and 17):
// encoder_last_hidden_state of every real token and the decoder logits of
// every decoder position (teacher-forced) within atol, else ValidationError
// and nothing is kept. Unsupported names a task the model type lacks.
ExportResult export_seq2seq(const std::filesystem::path& model_dir, const std::filesystem::path& output_dir,
                            const ExportOptions& options);

// The encoder-decoder accuracy guard: calibration texts (options.texts, else
// the built-in ones) tokenized with the tokenizer in `tokenizer_dir` (else
// seeded random ids), each encoded and decoded teacher-forced on its own
// tokens after decoder_start_token_id; the low-precision model is compared
// with `fp32` on the decoder logits of every position: cosine (per text,
// mean over positions; the minimum over texts is judged) and argmax
// agreement over all positions. Per-Linear fallback as the other guards
// (guard_search).
models::PrecisionPlan choose_seq2seq_precision(const models::Seq2SeqModel& fp32,
                                               const std::filesystem::path& tokenizer_dir, kernels::WeightType type,
                                               const AccuracyOptions& options, const models::LinearConverter& convert,
                                               AccuracyReport* report);

}  // namespace optimum::exporters
