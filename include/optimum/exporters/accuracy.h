// The accuracy guard of low-precision exports: on calibration texts
// (built-in, or the user's) tokenized with the model's own tokenizer, the
// bf16 / int8 model is compared with the fp32 one: cosine of the
// mean-pooled last_hidden_state per text, and top-1 agreement of the
// head's logits (over real tokens for token-level heads). When a threshold
// is missed, the most sensitive encoder-layer Linears are kept in higher
// precision (fp32, or bf16 for int8 when asked) until it is met, or
// (strict) the export fails naming the metric.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "optimum/exporters/export.h"
#include "optimum/io/json.h"
#include "optimum/models/precision.h"

namespace optimum::exporters {

// Raised by a strict guard that is not met; names the metric and its value.
class AccuracyError : public ValidationError {
 public:
  using ValidationError::ValidationError;
};

// 64 varied English sentences (short and long, questions, numbers, names,
// technical and casual text).
const std::vector<std::string>& builtin_calibration_texts();

// One text per non-empty line of `path`; NotFound / InvalidArgument name the file.
std::vector<std::string> read_calibration_file(const std::filesystem::path& path);

struct AccuracyOptions {
  std::vector<std::string> texts;  // empty: builtin_calibration_texts()
  double min_cosine = 0.995;       // minimum over texts of the embedding cosine
  double min_agreement = 0.99;     // top-1 agreement of heads with logits
  bool strict = false;             // fail instead of keeping Linears in higher precision
  // Precision of the Linears the guard takes out of the export's dtype: fp32,
  // or bf16 for an int8 export (if every Linear in bf16 still misses, fp32 follows).
  kernels::WeightType fallback = kernels::WeightType::F32;
  // Causal LM metrics (logit cosine, next-token agreement) in messages and the record.
  bool causal_lm = false;
  // Past this many Linears the fallback search ranks whole layers (one
  // measurement each) instead of single Linears; 0: always single Linears.
  size_t max_ranked_units = 0;
};

struct AccuracyMetrics {
  double min_cosine = 1;
  double mean_cosine = 1;
  std::optional<double> agreement;  // absent: the task has no logits
  int64_t decisions = 0;            // top-1 decisions compared
  io::Json to_json() const;
};

struct AccuracyReport {
  std::string dtype;        // requested: bf16 / int8
  std::string calibration;  // where the inputs came from
  int64_t samples = 0;      // texts (or random sequences)
  AccuracyOptions thresholds;
  AccuracyMetrics initial;                    // every layer Linear in `dtype`
  AccuracyMetrics final;                      // with the fp32 fallbacks
  std::vector<std::string> fallback_linears;  // layer Linears kept in higher precision, most sensitive first
  std::vector<std::string> fp32_linears;      // of those, the ones in fp32 (all of them for an fp32 fallback)
  int64_t layer_linears = 0;                  // layer Linears in the model
  // What the guard measured on: the engine's instruction set (kernels::cpu_isa) and,
  // for int8, the activation levels of its int8 matmul (255 with VNNI, 127 without).
  std::string cpu_isa;
  int int8_activation_levels = 0;  // 0: not an int8 export
  std::string int8_kernel;         // kernels::int8_kernel_name() of an int8 export
  std::string word_embeddings;     // "int8" where the word-embedding table is stored in int8
  std::string ranking_unit;        // "linear" or "layer" when the fallback search ran
  io::Json to_json() const;
};

// The guard's search, shared by the encoder and decoder guards: measures
// `plan` (every candidate in `type`); when a threshold is missed (and not
// strict) ranks each of `names` by its effect alone and keeps the fewest most
// sensitive ones in options.fallback (then fp32) that pass. Fills
// rep.initial / final / fallback_linears / fp32_linears; returns the plan.
models::PrecisionPlan guard_search(models::PrecisionPlan plan, const std::vector<std::string>& names,
                                   kernels::WeightType type, const AccuracyOptions& options,
                                   const std::function<AccuracyMetrics(const models::PrecisionPlan&)>& measure,
                                   AccuracyReport& rep);

// Runs the guard for `type` on `fp32` (a model loaded in f32) and returns
// the plan to export. `tokenizer_dir` is searched for the model's tokenizer
// (tokenizer.json, vocab.txt or vocab.json + merges.txt); without one,
// seeded random token ids are used (and `report->calibration` says so).
// Strict: AccuracyError when the uniform plan misses a threshold.
models::PrecisionPlan choose_precision(const models::EncoderModel& fp32,
                                       const std::filesystem::path& tokenizer_dir, kernels::WeightType type,
                                       const AccuracyOptions& options, const models::LinearConverter& convert,
                                       AccuracyReport* report);

}  // namespace optimum::exporters
