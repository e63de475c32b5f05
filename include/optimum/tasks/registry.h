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

// `name` may hold "{i}" (past_key_values.{i}.key): one tensor per decoder
// layer, expanded by ExportConfig::expanded_inputs / expanded_outputs.
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
enum class InputKind { InputIds, AttentionMask, TokenTypeIds, PositionIds, PastKeyValues, PixelValues };

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
  // Accuracy-guard thresholds of bf16 / int8 exports (exporters/accuracy.h):
  // encoders: mean-pooled embedding cosine and head top-1 agreement; causal
  // LMs: per-position logit cosine and next-token (argmax) agreement.
  double min_cosine = 0.995;
  double min_agreement = 0.99;
  bool is_decoder = false;  // a causal decoder (inputs/outputs per layer, DecoderDummyConfig)
  // An encoder-decoder (t5, bart, ...): `inputs`/`outputs` are the encoder
  // file's (encoder_model.onnx), decoder_inputs/decoder_outputs the decoder
  // file's (decoder_model.onnx, or decoder_model_merged.onnx with past).
  bool is_encoder_decoder = false;
  std::vector<TensorSpec> decoder_inputs;   // ordered
  std::vector<TensorSpec> decoder_outputs;  // ordered

  // inputs / outputs with "{i}" expanded for layers 0..n_layers-1 (in
  // Optimum's order: every layer's key then value; consecutive "{i}" specs
  // form one group repeated per layer).
  std::vector<TensorSpec> expanded_inputs(int64_t n_layers) const;
  std::vector<TensorSpec> expanded_outputs(int64_t n_layers) const;
  std::vector<TensorSpec> expanded_decoder_inputs(int64_t n_layers) const;
  std::vector<TensorSpec> expanded_decoder_outputs(int64_t n_layers) const;

  // Dummy inputs for every input of this config: ids within the vocabulary
  // (never the pad id for real tokens), right-padded attention masks (row i
  // keeps sequence_length - i tokens, at least 1), token types within
  // type_vocab_size, positions 0..n; pixel_values [batch, num_channels,
  // image_height, image_width] uniform in [-1, 1] (vision configs, whose
  // sequence length is fixed by the config). Deterministic for a given seed.
  std::map<std::string, Tensor> generate_dummy_inputs(const config::EncoderConfig& config,
                                                      const DummyShapes& shapes, uint64_t seed = 0) const;
};

// What the decoder dummy-input generators need from a decoder's config
// (tasks sits below models, so the exporter fills it from DecoderConfig).
struct DecoderDummyConfig {
  int64_t vocab_size = 0;
  int64_t pad_token_id = -1;  // -1: none (ids are then never excluded)
  int64_t n_layers = 0;
  int64_t n_heads_kv = 0;
  int64_t head_dim = 0;
};

// Dummy inputs of a decoder ExportConfig, as Optimum's DummyTextInputGenerator
// and (Mistral)DummyPastKeyValuesGenerator make them: input_ids [batch,
// sequence_length] within the vocabulary (never the pad id for real tokens);
// attention_mask [batch, past_sequence_length + sequence_length] (with past)
// or [batch, sequence_length], row r with r padding positions (at most all
// but one real token), on the left when `left_padding` else on the right;
// position_ids [batch, sequence_length] from the mask (cumsum - 1, padding
// positions 1, as transformers' generate builds them), the last
// sequence_length columns with past; past_key_values.{i}.key/value [batch,
// n_heads_kv, past_sequence_length, head_dim] seeded normal f32.
// Deterministic for a given seed. InvalidArgument names a bad shape or config value.
std::map<std::string, Tensor> generate_decoder_dummy_inputs(const ExportConfig& export_config,
                                                            const DecoderDummyConfig& config,
                                                            const DummyShapes& shapes, uint64_t seed = 0,
                                                            bool left_padding = false);

// What the export registry needs to know about one architecture: its tasks
// and export inputs/outputs. Each entry of the models layer's architecture
// registry (models/architecture.h) fills one and registers it here, so the
// export configs, supported lists and `tasks` queries derive from that entry.
struct ArchitectureTasks {
  std::string model_type;
  bool is_decoder = false;
  // An encoder-decoder (t5, bart, ...): its text2text-generation task gets
  // the -with-past variant too (Optimum's encoder / decoder-with-past split).
  bool is_seq2seq = false;
  // Canonical tasks with a head, without "-with-past" (decoders get the
  // -with-past variant of text-generation and feature-extraction).
  std::vector<std::string> tasks;
  std::vector<InputKind> inputs;  // encoders: export inputs, in Optimum's order
  bool pooler = false;            // encoders: feature-extraction also outputs pooler_output
  bool position_ids = false;      // decoders: text-generation / feature-extraction take position_ids
  double atol = 1e-4;             // validation tolerance
};

// Adds the export configs of `arch` (InvalidArgument when its model_type is
// registered twice or a task has no export description). Called by
// models::register_architectures().
void register_architecture(const ArchitectureTasks& arch);

// Adds the ONNX export configs of encoder-decoder `model_type`:
// text2text-generation (encoder_model.onnx + decoder_model.onnx) and
// text2text-generation-with-past (encoder_model.onnx +
// decoder_model_merged.onnx), with Optimum's input, output and axis names.
// Called by models::register_architectures().
void register_seq2seq_onnx(const std::string& model_type, double atol);

// Decoder model types the registry holds (sorted).
std::vector<std::string> decoder_model_types();

// Encoder-decoder model types the registry holds (sorted).
std::vector<std::string> seq2seq_model_types();

// Canonical name of a task or one of Optimum's synonyms
// (sequence-classification -> text-classification, causal-lm ->
// text-generation, default / sentence-similarity -> feature-extraction,
// summarization / translation / translation_xx_to_yy / seq2seq-lm ->
// text2text-generation...).
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
// The same with folder's config.json already read (`config`): from_pretrained
// reads it once per load.
std::string check_loadable(const std::filesystem::path& folder, const config::Json& config);

// The export config; Unsupported lists the supported model types for an
// unknown model_type, or the model type's tasks for an unsupported task.
const ExportConfig& get_export_config(const std::string& exporter, const std::string& model_type,
                                      const std::string& task);

// Tasks registered for (exporter, model_type), in registration order.
std::vector<std::string> supported_tasks(const std::string& exporter, const std::string& model_type);

// Every (model_type, task, exporter) registered, sorted. The queries above
// raise Error while nothing is registered (models::register_architectures()
// has not run).
std::vector<std::tuple<std::string, std::string, std::string>> registry_table();

}  // namespace optimum::tasks
