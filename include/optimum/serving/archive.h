// Model archives: TorchServe's .mar (a zip with MAR-INF/MANIFEST.json), its
// tgz and no-archive (a folder) formats, carrying an exported model and
// every preprocessor. Reading validates the whole archive before anything
// is written: no absolute paths, no "..", no links or special files, entry
// count, total size and compression-ratio limits; then extracts into a
// fresh folder only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "optimum/io/json.h"
#include "optimum/serving/model_config.h"

namespace optimum::serving {

// MAR-INF/MANIFEST.json, with TorchServe's fields.
struct Manifest {
  std::string created_on;           // "createdOn": "dd/MM/yyyy HH:mm:ss"
  std::string runtime = "python";   // "runtime"
  std::string model_name;           // model.modelName
  std::string model_version = "1.0";// model.modelVersion
  std::string handler;              // model.handler: the task (text-classification, text-embedding, ...)
  std::string serialized_file;      // model.serializedFile: the exported model folder inside the archive
  std::string config_file;          // model.configFile ("" when none)
  std::string requirements_file;    // model.requirementsFile (never installed: logged)
  std::string archiver_version;     // "archiverVersion"

  io::Json to_json() const;
  // MANIFEST.json's text, keys in TorchServe's order.
  std::string to_text() const;
  static Manifest from_json(const io::Json& json, const std::string& source);
};

struct ArchiveOptions {
  std::string model_name;
  std::string version = "1.0";
  std::filesystem::path model_dir;          // an exported folder (optimum_export.json) or any model folder
  std::string handler;                      // task; "" = inferred from the model's export record / config
  std::vector<std::filesystem::path> extra_files;
  std::filesystem::path config_file;        // model-config.yaml; "" = none
  std::filesystem::path requirements_file;
  std::string format = "default";           // default (.mar zip) | tgz | no-archive
  std::filesystem::path export_path = ".";
  bool force = false;
};

// InvalidArgument naming `what` unless `name` matches torch-model-archiver's
// model-name pattern ^[A-Za-z0-9][A-Za-z0-9_\-.]*$ (at most 255 bytes).
void check_model_name(const std::string& name, const std::string& what);

// The handler (task) of a model folder given without --handler:
// "text-embedding" for a sentence-transformers folder (modules.json), the
// task of a native export (optimum_export.json), else the task inferred
// from config.json's architectures. InvalidArgument when it cannot tell.
std::string default_handler(const std::filesystem::path& model_dir);

// `handler` as the task name the server runs: a pipeline task, its alias,
// "text-embedding", or an Optimum synonym (canonicalized). InvalidArgument
// lists the known tasks.
std::string check_handler(const std::string& handler);

// Writes `export_path/model_name.mar` (or .tar.gz, or a folder); returns
// its path. An existing target without `force` is an error naming it.
std::filesystem::path write_archive(const ArchiveOptions& options);

// Limits applied to untrusted archives.
struct ArchiveLimits {
  size_t max_entries = 10000;
  uint64_t max_total_bytes = 8ULL << 30;     // uncompressed
  uint64_t max_entry_bytes = 4ULL << 30;
  double max_compression_ratio = 200.0;      // per entry (uncompressed / compressed), beyond 1 MiB
};

// A validated, extracted archive.
struct ExtractedArchive {
  std::filesystem::path root;   // the folder the archive was extracted into (a folder archive: itself)
  Manifest manifest;            // manifest.handler: the task to serve
  // The model folder to load: root / serializedFile, or root when
  // serializedFile is a file (archives made by torch-model-archiver).
  std::filesystem::path model_dir;
  std::optional<ModelConfig> config;  // from manifest.config_file; nullopt when it names none
};

// Validates `archive` (.mar zip, .tar.gz/.tgz, or a folder in no-archive
// layout; zip and gzip are told apart by their magic bytes, not the file
// name) completely: entry names (no absolute path, "..", backslash or
// control character), entry types (no symlink, hard link, device, FIFO),
// duplicates, counts, sizes and compression ratio against `limits`, the
// manifest, serializedFile present, model-config.yaml parsed. Then extracts
// into a hidden sibling of `dest` (".NAME.partial-XXXXXX", bounded by the
// bytes actually read), renamed to `dest` once complete; `dest` must not
// exist (its parent is created). A folder is used in place and `dest`
// ignored (symlinks leading outside it refused). Errors: FormatError naming
// the archive and the offending entry (a bad archive), NotFound (no such
// archive), InvalidArgument (`dest` exists), IoError; nothing is left
// behind when any of them is thrown.
ExtractedArchive open_archive(const std::filesystem::path& archive, const std::filesystem::path& dest,
                              const ArchiveLimits& limits = {});

// TorchServe's setup_config.json / .yaml of its Hugging Face example, for
// `optimum-cpp prepare`.
struct SetupConfig {
  std::string model_name;            // Hub id or folder
  std::string mode;                  // sequence_classification | token_classification | question_answering |
                                     // text_generation | feature_extraction | text_embedding
  int num_labels = 0;                // 0: the model's
  bool do_lower_case = true;
  int max_length = 0;                // 0: the tokenizer's
  std::string save_mode = "pretrained";  // pretrained | native | onnx
  std::string revision;              // optional
  std::string dtype = "auto";        // optional: fp32 | bf16 | int8
  // Task name of `mode` (text-classification, ...); Unsupported for text_generation until decoders exist.
  std::string task() const;
  // Unknown keys: a warning on stderr each; captum_explanation and
  // embedding_name: accepted with a warning; wrong types: FormatError naming the key.
  static SetupConfig from_file(const std::filesystem::path& file);
  // From parsed JSON (a YAML file is converted first); `source` names the file in messages.
  static SetupConfig from_json(const io::Json& json, const std::string& source);
};

// What `optimum-cpp prepare` does besides the setup config.
struct PrepareOptions {
  std::filesystem::path output = "model_store";  // where the archive goes
  std::filesystem::path save_dir;    // the exported / copied model folder; "" = ./Transformer_model
  std::string archive_name;          // "" = the last part of model_name, sanitized
  std::string version = "1.0";
  std::string archive_format = "default";  // default | tgz | no-archive
  int batch_size = 0;                // model-config.yaml batchSize; 0 = ModelConfig's default
  int max_batch_delay_ms = -1;       // model-config.yaml maxBatchDelay; -1 = ModelConfig's default
  bool force = false;                // overwrite an existing save_dir / archive
  bool local_files_only = false;     // Hub: the cache only
  std::string cache_dir;             // Hub cache; "" = HF_HUB_CACHE / HF_HOME/hub
};

struct PrepareResult {
  std::filesystem::path save_dir;    // the model folder that was archived
  std::filesystem::path archive;     // the .mar / .tar.gz / folder written
  std::string task;
};

// TorchServe's Hugging Face example in one step: resolve model_name (Hub id
// or folder), save it (pretrained: the checkpoint files as they are;
// native: an optimum-cpp export), then archive it with a generated
// model-config.yaml (batchSize, maxBatchDelay, handler max_length).
// Unsupported for text_generation and save_mode onnx / torchscript.
PrepareResult prepare(const SetupConfig& config, const PrepareOptions& options);

}  // namespace optimum::serving
