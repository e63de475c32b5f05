// The TasksManager: task names and Optimum's synonyms, offline task
// inference from a model folder, and the registry keyed by (exporter,
// model_type, task) that gives each export its inputs/outputs with dynamic
// axes, tolerance, dummy shapes and dummy-input generators.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "optimum/config/config.h"
#include "optimum/core/tensor.h"

namespace optimum::tasks {

// Axis index -> axis name, with Optimum's names (batch_size, sequence_length,
// num_choices, past_sequence_length ...).
using DynamicAxes = std::map<int, std::string>;

struct TensorSpec {
  std::string name;
  DynamicAxes axes;
};

// Shapes used to build dummy inputs.
struct DummyShapes {
  int64_t batch_size = 2;         // Optimum's default
  int64_t sequence_length = 16;   // Optimum's default
  int64_t num_choices = 4;        // Optimum's default
  int64_t past_sequence_length = 16;
};

// Which inputs a model family takes (dummy generators key on these).
enum class InputKind { InputIds, AttentionMask, TokenTypeIds, PositionIds, PastKeyValues };

struct ExportConfig {
  std::string exporter;    // "native"
  std::string model_type;  // "bert"
  std::string task;        // canonical task, "-with-past" included when use_past
  bool use_past = false;
  std::vector<TensorSpec> inputs;   // ordered
  std::vector<TensorSpec> outputs;  // ordered
  double atol = 1e-4;               // validation tolerance
  DummyShapes default_shapes;
  // config.json values forced at export (e.g. use_cache for with-past).
  std::map<std::string, config::Json> values_override;

  // Dummy inputs for every input of this config: ids within the vocabulary
  // (never the pad id for real tokens), right-padded attention masks (row i
  // keeps sequence_length - i tokens, at least 1), token types within
  // type_vocab_size, positions 0..n. Deterministic for a given seed.
  std::map<std::string, Tensor> generate_dummy_inputs(const config::EncoderConfig& config,
                                                      const DummyShapes& shapes, uint64_t seed = 0) const;
};

// Canonical name of a task or one of Optimum's synonyms
// (sequence-classification -> text-classification, causal-lm ->
// text-generation, default / sentence-similarity -> feature-extraction...).
// InvalidArgument lists the known tasks.
std::string canonical_task(const std::string& name);

// Every canonical task name Optimum knows (sorted).
std::vector<std::string> known_tasks();

// Infers the task of a model folder without the Hub: sentence-transformers
// files (modules.json) -> feature-extraction; else the suffix of
// config.architectures[0] (BertForSequenceClassification ->
// text-classification, BertModel -> feature-extraction). InvalidArgument
// when it cannot tell, naming the architecture.
std::string infer_task(const std::filesystem::path& folder);

// The library a model folder belongs to, as Optimum detects it:
// "diffusers" (model_index.json), "timm" (pretrained_cfg in config.json),
// "sentence_transformers" (modules.json / config_sentence_transformers.json)
// or "transformers".
std::string infer_library(const std::filesystem::path& folder);

// Refuses what this build cannot load: timm and diffusers ("not supported
// yet"), and checkpoints that need trust_remote_code (an auto_map in
// config.json) — model code is never run. Returns the library.
std::string check_loadable(const std::filesystem::path& folder);

// The export config; Unsupported lists the supported model types for an
// unknown model_type, or the model type's tasks for an unsupported task.
const ExportConfig& get_export_config(const std::string& exporter, const std::string& model_type,
                                      const std::string& task);

// Tasks registered for (exporter, model_type), in registration order.
std::vector<std::string> supported_tasks(const std::string& exporter, const std::string& model_type);

// Every (model_type, task, exporter) registered, sorted.
std::vector<std::tuple<std::string, std::string, std::string>> registry_table();

}  // namespace optimum::tasks
