// Native export: a transformers checkpoint folder -> an optimum-cpp folder
// (engine-layout weights, config.json, optimum_export.json metadata, every
// preprocessor), validated against the source weights before it is kept.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"

namespace optimum::exporters {

// Raised when the exported model's outputs differ from the source's beyond
// the tolerance; nothing is left in the output folder.
class ValidationError : public Error {
 public:
  using Error::Error;
};

struct ExportOptions {
  std::string task = "auto";             // a task name or synonym; "auto" infers it offline
  // fp32, bf16 or int8 (encoder-layer Linears; embeddings, norms, pooler
  // and heads stay f32). bf16 / int8 run the accuracy guard
  // (exporters/accuracy.h) and may keep some Linears in fp32.
  std::string dtype = "fp32";
  std::vector<std::string> calibration_texts;  // guard inputs; empty: the built-in texts
  bool strict_accuracy = false;          // a missed guard threshold fails the export
  // Precision of the Linears the guard keeps out of `dtype`: fp32, bf16 (int8
  // exports only) or auto (int8: bf16 where this CPU computes bf16 natively,
  // else fp32; bf16: fp32).
  std::string fallback_dtype = "auto";
  // Guard thresholds; 0: the registry's for the model type and task
  // (ExportConfig::min_cosine / min_agreement: encoders 0.995 / 0.99,
  // causal LMs 0.99 logit cosine / 0.9 next-token agreement).
  double min_cosine = 0;
  double min_agreement = 0;
  std::optional<double> atol;            // default: the registry's ATOL for the model type
  // Validation shapes: the exported folder is checked against the source on
  // this batch size and sequence length; 0: on batch sizes 1 and 3 and two
  // sequence lengths (8 and 33 for encoders, 5 and 11 for decoders). A length
  // past the model's position embeddings is an InvalidArgument.
  int64_t batch_size = 0;
  int64_t sequence_length = 0;
  // Folder holding config.json when it is not `model_dir` (a repository
  // subfolder without its own config.json); empty: `model_dir`. Preprocessors
  // are copied from `model_dir`, else (when it has none) from this folder.
  std::filesystem::path config_dir;
  // Provenance written into the metadata.
  std::string source_id;                 // Hub id or path the user gave
  std::string source_commit;             // resolved commit ("" for local folders)
  std::string revision;
  std::string subfolder;
};

struct ValidationCase {
  int64_t batch_size;
  int64_t sequence_length;
  std::string output;
  double max_abs_diff;
};

struct ExportResult {
  std::filesystem::path output_dir;
  std::string task;
  std::string model_type;
  double atol = 0;
  double max_abs_diff = 0;
  std::vector<ValidationCase> validation;
  std::vector<std::string> preprocessors;  // copied, relative paths
  std::string dtype;                       // canonical: fp32, bf16, int8
  io::Json accuracy;                       // the guard's record (null for fp32), as in optimum_export.json
};

// Exports `model_dir` into `output_dir` (a causal decoder's model_type goes
// to export_decoder, exporters/decoder_export.h). Unsupported names an unsupported
// model_type (listing the supported ones) or task (listing the model
// type's tasks); ValidationError names the output, shape and difference.
ExportResult export_native(const std::filesystem::path& model_dir, const std::filesystem::path& output_dir,
                           const ExportOptions& options);

// Brings a native export folder in `dir` up to date in place: engine-layout
// weights an older export kept in model.safetensors are renamed to
// model.optimum-cpp.safetensors (recorded under "weights" in
// optimum_export.json), and a missing model card (README.md) is written. A
// current export is left as it is. save_pretrained / push_to_hub run it on
// what they write.
void upgrade_export_folder(const std::filesystem::path& dir);

// Version string written into exports.
const char* tool_version();

}  // namespace optimum::exporters
