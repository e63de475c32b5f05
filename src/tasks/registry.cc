#include "optimum/tasks/registry.h"

#include <algorithm>
#include <mutex>
#include <random>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"

namespace optimum::tasks {

namespace {

const std::map<std::string, std::string>& synonyms() {
  // Optimum's TasksManager._SYNONYM_TASK_MAP.
  static const std::map<std::string, std::string> m = {
      {"audio-ctc", "automatic-speech-recognition"},
      {"causal-lm", "text-generation"},
      {"causal-lm-with-past", "text-generation-with-past"},
      {"default", "feature-extraction"},
      {"default-with-past", "feature-extraction-with-past"},
      {"masked-lm", "fill-mask"},
      {"mask-generation", "feature-extraction"},
      {"sentence-similarity", "feature-extraction"},
      {"seq2seq-lm", "text2text-generation"},
      {"seq2seq-lm-with-past", "text2text-generation-with-past"},
      {"sequence-classification", "text-classification"},
      {"speech2seq-lm", "automatic-speech-recognition"},
      {"speech2seq-lm-with-past", "automatic-speech-recognition-with-past"},
      {"summarization", "text2text-generation"},
      {"text-to-speech", "text-to-audio"},
      {"translation", "text2text-generation"},
      {"vision2seq-lm", "image-to-text"},
      {"zero-shot-classification", "text-classification"},
      {"image-feature-extraction", "feature-extraction"},
      {"pretraining", "feature-extraction"},
      {"lm-head", "text-generation"},
  };
  return m;
}

const std::vector<std::string>& canonical_tasks() {
  static const std::vector<std::string> t = {
      "audio-classification", "audio-frame-classification", "audio-xvector", "automatic-speech-recognition",
      "depth-estimation", "feature-extraction", "fill-mask", "image-classification", "image-segmentation",
      "image-to-image", "image-to-text", "mask-generation", "masked-im", "multiple-choice", "object-detection",
      "question-answering", "semantic-segmentation", "text-classification", "text-generation", "text-to-audio",
      "text2text-generation", "token-classification", "zero-shot-image-classification",
      "zero-shot-object-detection"};
  return t;
}

// Optimum's _TASK_TO_COMMON_OUTPUTS for the encoder tasks.
std::vector<TensorSpec> common_outputs(const std::string& task) {
  const DynamicAxes bs = {{0, "batch_size"}, {1, "sequence_length"}};
  if (task == "feature-extraction") return {{"last_hidden_state", bs}};
  if (task == "fill-mask" || task == "token-classification") return {{"logits", bs}};
  if (task == "multiple-choice") return {{"logits", {{0, "batch_size"}, {1, "num_choices"}}}};
  if (task == "question-answering") return {{"start_logits", bs}, {"end_logits", bs}};
  if (task == "text-classification" || task == "image-classification") return {{"logits", {{0, "batch_size"}}}};
  throw Unsupported("no common outputs for task '" + task + "'");
}

const std::vector<std::string> kEncoderTasks = {"feature-extraction",  "fill-mask",
                                                "text-classification", "multiple-choice",
                                                "token-classification", "question-answering",
                                                "image-classification"};

std::string input_name(InputKind k) {
  switch (k) {
    case InputKind::InputIds:
      return "input_ids";
    case InputKind::AttentionMask:
      return "attention_mask";
    case InputKind::TokenTypeIds:
      return "token_type_ids";
    case InputKind::PositionIds:
      return "position_ids";
    case InputKind::PastKeyValues:
      return "past_key_values";
    case InputKind::PixelValues:
      return "pixel_values";
  }
  return "";
}

// Causal LM guard: logit cosine per position and next-token agreement.
constexpr double kDecoderMinCosine = 0.99;
constexpr double kDecoderMinAgreement = 0.9;

// TextDecoderOnnxConfig (use_past_in_inputs for -with-past, as Optimum's
// merged decoder) + OnnxConfigWithPast.outputs + add_past_key_values.
ExportConfig decoder_config(const ArchitectureTasks& m, const std::string& base_task, bool past) {
  ExportConfig c;
  c.exporter = "native";
  c.model_type = m.model_type;
  c.task = base_task + (past ? "-with-past" : "");
  c.use_past = past;
  c.atol = m.atol;
  c.is_decoder = true;
  // ForSequenceClassification is judged as the encoders' classifiers are
  // (hidden-state cosine, label agreement): ExportConfig's defaults.
  if (base_task != "text-classification") {
    c.min_cosine = kDecoderMinCosine;
    c.min_agreement = kDecoderMinAgreement;
  }
  const DynamicAxes bs = {{0, "batch_size"}, {1, "sequence_length"}};
  c.inputs.push_back({"input_ids", bs});
  c.inputs.push_back(
      {"attention_mask", past ? DynamicAxes{{0, "batch_size"}, {1, "past_sequence_length + sequence_length"}} : bs});
  if (past) {
    const DynamicAxes p = {{0, "batch_size"}, {2, "past_sequence_length"}};
    c.inputs.push_back({"past_key_values.{i}.key", p});
    c.inputs.push_back({"past_key_values.{i}.value", p});
  }
  if (m.position_ids && (base_task == "text-generation" || base_task == "feature-extraction")) {
    c.inputs.push_back({"position_ids", bs});
  }
  if (base_task == "text-classification") {
    c.outputs = {{"logits", {{0, "batch_size"}}}};
  } else if (base_task == "feature-extraction") {
    c.outputs = {{"last_hidden_state", past ? DynamicAxes{{0, "batch_size"}} : bs}};
  } else {
    c.outputs = {{"logits", bs}};
  }
  if (past) {
    const DynamicAxes p = {{0, "batch_size"}, {2, "past_sequence_length + sequence_length"}};
    c.outputs.push_back({"present.{i}.key", p});
    c.outputs.push_back({"present.{i}.value", p});
    c.values_override["use_cache"] = true;
  }
  c.default_shapes.past_sequence_length = 16;
  return c;
}

// Encoder export config (Optimum's encoder OnnxConfigs: inputs with dynamic
// axes, _TASK_TO_COMMON_OUTPUTS, pooler_output for the base model).
ExportConfig encoder_config(const ArchitectureTasks& m, const std::string& task) {
  ExportConfig c;
  c.exporter = "native";
  c.model_type = m.model_type;
  c.task = task;
  c.atol = m.atol;
  const DynamicAxes axes = task == "multiple-choice"
                               ? DynamicAxes{{0, "batch_size"}, {1, "num_choices"}, {2, "sequence_length"}}
                               : DynamicAxes{{0, "batch_size"}, {1, "sequence_length"}};
  // Optimum's ViTOnnxConfig: pixel_values with every axis dynamic.
  const DynamicAxes pixel_axes = {{0, "batch_size"}, {1, "num_channels"}, {2, "height"}, {3, "width"}};
  for (InputKind k : m.inputs) c.inputs.push_back({input_name(k), k == InputKind::PixelValues ? pixel_axes : axes});
  c.outputs = common_outputs(task);
  if (task == "feature-extraction" && m.pooler) c.outputs.push_back({"pooler_output", {{0, "batch_size"}}});
  return c;
}

// Optimum's TextSeq2SeqOnnxConfig for text2text-generation: encoder inputs,
// decoder_input_ids, logits (and the encoder's last hidden state); with past,
// the decoder's self-attention keys/values and the cross-attention
// keys/values of each layer, in and out.
ExportConfig seq2seq_config(const ArchitectureTasks& m, bool past) {
  ExportConfig c;
  c.exporter = "native";
  c.model_type = m.model_type;
  c.task = std::string("text2text-generation") + (past ? "-with-past" : "");
  c.use_past = past;
  c.atol = m.atol;
  c.is_encoder_decoder = true;
  // Judged on the decoder's logits, as the causal LMs are.
  c.min_cosine = kDecoderMinCosine;
  c.min_agreement = kDecoderMinAgreement;
  const DynamicAxes enc = {{0, "batch_size"}, {1, "encoder_sequence_length"}};
  const DynamicAxes dec = {{0, "batch_size"}, {1, "decoder_sequence_length"}};
  c.inputs = {{"input_ids", enc}, {"attention_mask", enc}, {"decoder_input_ids", dec}};
  if (past) {
    const DynamicAxes p = {{0, "batch_size"}, {2, "past_decoder_sequence_length"}};
    const DynamicAxes e = {{0, "batch_size"}, {2, "encoder_sequence_length_out"}};
    c.inputs.push_back({"past_key_values.{i}.decoder.key", p});
    c.inputs.push_back({"past_key_values.{i}.decoder.value", p});
    c.inputs.push_back({"past_key_values.{i}.encoder.key", e});
    c.inputs.push_back({"past_key_values.{i}.encoder.value", e});
  }
  c.outputs = {{"logits", dec}, {"encoder_last_hidden_state", enc}};
  if (past) {
    const DynamicAxes p = {{0, "batch_size"}, {2, "past_decoder_sequence_length + 1"}};
    const DynamicAxes e = {{0, "batch_size"}, {2, "encoder_sequence_length_out"}};
    c.outputs.push_back({"present.{i}.decoder.key", p});
    c.outputs.push_back({"present.{i}.decoder.value", p});
    c.outputs.push_back({"present.{i}.encoder.key", e});
    c.outputs.push_back({"present.{i}.encoder.value", e});
    c.values_override["use_cache"] = true;
  }
  c.default_shapes.past_sequence_length = 16;
  return c;
}

std::vector<ExportConfig>& table() {
  static std::vector<ExportConfig> r;
  return r;
}

std::vector<std::string>& decoder_types() {
  static std::vector<std::string> t;
  return t;
}

std::vector<std::string>& seq2seq_types() {
  static std::vector<std::string> t;
  return t;
}

const std::vector<ExportConfig>& registry() {
  if (table().empty()) {
    throw Error("the export registry is empty: models::register_architectures() must run first");
  }
  return table();
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::string canonical_task(const std::string& name) {
  if (auto it = synonyms().find(name); it != synonyms().end()) return it->second;
  // transformers' translation_xx_to_yy pipeline tasks (Optimum maps them to text2text-generation).
  if (name.starts_with("translation_") && name.find("_to_") != std::string::npos) return "text2text-generation";
  std::string base = name;
  const std::string suffix = "-with-past";
  if (base.size() > suffix.size() && base.ends_with(suffix)) base = base.substr(0, base.size() - suffix.size());
  if (auto it = synonyms().find(base); it != synonyms().end()) return it->second + (base == name ? "" : suffix);
  const auto& known = canonical_tasks();
  if (std::find(known.begin(), known.end(), base) != known.end()) return name;
  throw InvalidArgument("unknown task '" + name + "' (known: " + join(known_tasks()) + ")");
}

std::vector<std::string> known_tasks() {
  std::vector<std::string> t = canonical_tasks();
  std::sort(t.begin(), t.end());
  return t;
}

std::string infer_task(const std::filesystem::path& folder) {
  std::error_code ec;
  if (std::filesystem::exists(folder / "modules.json", ec) ||
      std::filesystem::exists(folder / "config_sentence_transformers.json", ec)) {
    return "feature-extraction";
  }
  const std::string src = (folder / "config.json").string();
  const io::Json cfg = io::read_json(folder / "config.json");
  if (!cfg.is_object()) throw FormatError(src + ": expected a JSON object, got " + cfg.type_name());
  const auto entry = cfg.find("architectures");
  if (entry == cfg.end() || entry->is_null() || (entry->is_array() && entry->empty())) {
    throw InvalidArgument(src + ": cannot infer the task: no 'architectures' entry; pass --task");
  }
  // A list of strings, as transformers writes it; another type is a FormatError naming the path.
  const std::string arch = io::with_json_context(src, [&] { return entry->at(0).get<std::string>(); });
  static const std::vector<std::pair<std::string, std::string>> kSuffixes = {
      {"ForSequenceClassification", "text-classification"},
      {"ForTokenClassification", "token-classification"},
      {"ForQuestionAnswering", "question-answering"},
      {"ForMaskedLM", "fill-mask"},
      {"ForMultipleChoice", "multiple-choice"},
      {"ForImageClassification", "image-classification"},
      {"ForCausalLM", "text-generation"},
      {"LMHeadModel", "text-generation"},
      {"ForConditionalGeneration", "text2text-generation"},
      {"MTModel", "text2text-generation"},  // MarianMTModel (Optimum's TasksManager does the same)
      {"ForPreTraining", "feature-extraction"},
      {"Model", "feature-extraction"},
  };
  for (const auto& [suffix, task] : kSuffixes) {
    if (arch.size() > suffix.size() && arch.ends_with(suffix)) return task;
  }
  throw InvalidArgument(src + ": cannot infer the task from architecture '" + arch + "'; pass --task");
}

std::string infer_library(const std::filesystem::path& folder) {
  std::error_code ec;
  if (std::filesystem::exists(folder / "model_index.json", ec)) return "diffusers";
  if (std::filesystem::exists(folder / "modules.json", ec) ||
      std::filesystem::exists(folder / "config_sentence_transformers.json", ec)) {
    return "sentence_transformers";
  }
  if (std::filesystem::exists(folder / "config.json", ec)) {
    const io::Json cfg = io::read_json(folder / "config.json");
    if (cfg.is_object() && cfg.contains("pretrained_cfg") && !cfg.contains("model_type")) return "timm";
  }
  return "transformers";
}

namespace {

// check_loadable over an already read config.json (null: the folder has none).
std::string check_loadable_with(const std::filesystem::path& folder, const io::Json* cfg) {
  std::error_code ec;
  std::string library = "transformers";
  if (std::filesystem::exists(folder / "model_index.json", ec)) {
    library = "diffusers";
  } else if (std::filesystem::exists(folder / "modules.json", ec) ||
             std::filesystem::exists(folder / "config_sentence_transformers.json", ec)) {
    library = "sentence_transformers";
  } else if (cfg != nullptr && cfg->is_object() && cfg->contains("pretrained_cfg") && !cfg->contains("model_type")) {
    library = "timm";
  }
  if (library == "timm" || library == "diffusers") {
    throw Unsupported(folder.string() + " is a " + library + " model: " + library +
                      " models are not supported yet (supported: transformers, sentence_transformers)");
  }
  if (cfg != nullptr && cfg->is_object() && cfg->contains("auto_map")) {
    throw Unsupported((folder / "config.json").string() +
                      " has an 'auto_map': this model needs trust_remote_code, and optimum-cpp never runs code "
                      "shipped with a model");
  }
  return library;
}

}  // namespace

std::string check_loadable(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::exists(folder / "config.json", ec)) return check_loadable_with(folder, nullptr);
  const io::Json cfg = io::read_json(folder / "config.json");
  return check_loadable_with(folder, &cfg);
}

std::string check_loadable(const std::filesystem::path& folder, const config::Json& config) {
  return check_loadable_with(folder, &config);
}

const ExportConfig& get_export_config(const std::string& exporter, const std::string& model_type,
                                      const std::string& task) {
  const std::string canonical = canonical_task(task);
  bool known_type = false;
  for (const ExportConfig& c : registry()) {
    if (c.exporter != exporter || c.model_type != model_type) continue;
    known_type = true;
    if (c.task == canonical) return c;
  }
  if (!known_type) {
    std::vector<std::string> types;
    for (const ExportConfig& c : registry()) {
      if (c.exporter == exporter && std::find(types.begin(), types.end(), c.model_type) == types.end()) {
        types.push_back(c.model_type);
      }
    }
    throw Unsupported("model_type '" + model_type + "' is not supported by the " + exporter +
                      " exporter (supported: " + join(types) + ")");
  }
  throw Unsupported("task '" + canonical + "' is not supported for model_type '" + model_type + "' (supported: " +
                    join(supported_tasks(exporter, model_type)) + ")");
}

std::vector<std::string> supported_tasks(const std::string& exporter, const std::string& model_type) {
  std::vector<std::string> out;
  for (const ExportConfig& c : registry()) {
    if (c.exporter == exporter && c.model_type == model_type) out.push_back(c.task);
  }
  return out;
}

std::vector<std::tuple<std::string, std::string, std::string>> registry_table() {
  std::vector<std::tuple<std::string, std::string, std::string>> out;
  for (const ExportConfig& c : registry()) out.emplace_back(c.model_type, c.task, c.exporter);
  std::sort(out.begin(), out.end());
  return out;
}

void register_architecture(const ArchitectureTasks& m) {
  for (const ExportConfig& c : table()) {
    if (c.model_type == m.model_type) {
      throw InvalidArgument("architecture '" + m.model_type + "' registered twice in the export registry");
    }
  }
  // Encoder configs in Optimum's order of the encoder tasks, whatever the entry's.
  std::vector<std::string> ordered;
  if (!m.is_decoder) {
    for (const std::string& t : kEncoderTasks) {
      if (std::find(m.tasks.begin(), m.tasks.end(), t) != m.tasks.end()) ordered.push_back(t);
    }
  }
  std::vector<ExportConfig> added;
  if (m.is_seq2seq) {
    // Native rows only: the ONNX exporter registers its own encoder-decoder rows.
    for (const std::string& task : m.tasks) {
      if (task != "text2text-generation") {
        throw InvalidArgument("encoder-decoder '" + m.model_type + "': no export description for task '" + task + "'");
      }
      added.push_back(seq2seq_config(m, false));
      added.push_back(seq2seq_config(m, true));
    }
    for (ExportConfig& c : added) table().push_back(std::move(c));
    auto& t = seq2seq_types();
    t.insert(std::upper_bound(t.begin(), t.end(), m.model_type), m.model_type);
    return;
  }
  for (const std::string& task : m.tasks) {
    if (m.is_decoder) {
      if (task != "feature-extraction" && task != "text-generation" && task != "text-classification") {
        throw InvalidArgument("decoder '" + m.model_type + "': no export description for task '" + task + "'");
      }
      added.push_back(decoder_config(m, task, false));
      if (task != "text-classification") added.push_back(decoder_config(m, task, true));
      // The ONNX exporter writes the causal LM and the base model, with and
      // without past (Optimum's merged decoder), under the same names.
      if (task != "text-classification") {
        for (bool past : {false, true}) {
          ExportConfig c = decoder_config(m, task, past);
          c.exporter = "onnx";
          added.push_back(std::move(c));
        }
      }
    } else {
      if (std::find(kEncoderTasks.begin(), kEncoderTasks.end(), task) == kEncoderTasks.end()) {
        throw InvalidArgument("encoder '" + m.model_type + "': no export description for task '" + task + "'");
      }
    }
  }
  for (const std::string& task : ordered) added.push_back(encoder_config(m, task));
  // The ONNX exporter (exporters/onnx.h) writes the encoders, text and vision
  // (ViT's patch Conv), with the same Optimum names: one "onnx" row per
  // encoder task (decoders: above).
  if (!m.is_decoder) {
    for (const std::string& task : ordered) {
      ExportConfig c = encoder_config(m, task);
      c.exporter = "onnx";
      added.push_back(std::move(c));
    }
  }
  for (ExportConfig& c : added) table().push_back(std::move(c));
  if (m.is_decoder) {
    auto& t = decoder_types();
    t.insert(std::upper_bound(t.begin(), t.end(), m.model_type), m.model_type);
  }
}

std::vector<std::string> decoder_model_types() {
  registry();  // Error before registration
  return decoder_types();
}

std::vector<std::string> seq2seq_model_types() {
  registry();  // Error before registration
  return seq2seq_types();
}

namespace {

std::vector<TensorSpec> expand(const std::vector<TensorSpec>& specs, int64_t n_layers) {
  std::vector<TensorSpec> out;
  for (size_t i = 0; i < specs.size();) {
    if (specs[i].name.find("{i}") == std::string::npos) {
      out.push_back(specs[i++]);
      continue;
    }
    // A group of per-layer specs (key, value; or decoder/encoder key, value):
    // layer by layer, the group in order (Optimum's order).
    size_t end = i;
    while (end < specs.size() && specs[end].name.find("{i}") != std::string::npos) ++end;
    for (int64_t l = 0; l < n_layers; ++l) {
      for (size_t k = i; k < end; ++k) {
        const auto p = specs[k].name.find("{i}");
        out.push_back({specs[k].name.substr(0, p) + std::to_string(l) + specs[k].name.substr(p + 3), specs[k].axes});
      }
    }
    i = end;
  }
  return out;
}

}  // namespace

std::vector<TensorSpec> ExportConfig::expanded_inputs(int64_t n_layers) const { return expand(inputs, n_layers); }
std::vector<TensorSpec> ExportConfig::expanded_outputs(int64_t n_layers) const { return expand(outputs, n_layers); }
std::vector<TensorSpec> ExportConfig::expanded_decoder_inputs(int64_t n_layers) const {
  return expand(decoder_inputs, n_layers);
}
std::vector<TensorSpec> ExportConfig::expanded_decoder_outputs(int64_t n_layers) const {
  return expand(decoder_outputs, n_layers);
}

// Optimum's TextSeq2SeqOnnxConfig (with the decoder's input renaming of
// OnnxSeq2SeqConfigWithPast) and its merged decoder (use_cache_branch).
void register_seq2seq_onnx(const std::string& model_type, double atol) {
  for (const ExportConfig& c : table()) {
    if (c.model_type == model_type && c.exporter == "onnx") {
      throw InvalidArgument("encoder-decoder '" + model_type + "' registered twice in the ONNX export registry");
    }
  }
  for (bool past : {false, true}) {
    ExportConfig c;
    c.exporter = "onnx";
    c.model_type = model_type;
    c.task = std::string("text2text-generation") + (past ? "-with-past" : "");
    c.use_past = past;
    c.atol = atol;
    c.is_encoder_decoder = true;
    const DynamicAxes enc = {{0, "batch_size"}, {1, "encoder_sequence_length"}};
    c.inputs = {{"input_ids", enc}, {"attention_mask", enc}};
    c.outputs = {{"last_hidden_state", enc}};
    c.decoder_inputs = {{"encoder_attention_mask", enc},
                        {"input_ids", {{0, "batch_size"}, {1, "decoder_sequence_length"}}},
                        {"encoder_hidden_states", enc}};
    c.decoder_outputs = {{"logits", {{0, "batch_size"}, {1, "decoder_sequence_length"}}}};
    if (past) {
      const DynamicAxes self_in = {{0, "batch_size"}, {2, "past_decoder_sequence_length"}};
      const DynamicAxes cross = {{0, "batch_size"}, {2, "encoder_sequence_length_out"}};
      c.decoder_inputs.push_back({"past_key_values.{i}.decoder.key", self_in});
      c.decoder_inputs.push_back({"past_key_values.{i}.decoder.value", self_in});
      c.decoder_inputs.push_back({"past_key_values.{i}.encoder.key", cross});
      c.decoder_inputs.push_back({"past_key_values.{i}.encoder.value", cross});
      c.decoder_inputs.push_back({"use_cache_branch", {}});
      const DynamicAxes self_out = {{0, "batch_size"}, {2, "past_decoder_sequence_length + 1"}};
      c.decoder_outputs.push_back({"present.{i}.decoder.key", self_out});
      c.decoder_outputs.push_back({"present.{i}.decoder.value", self_out});
      c.decoder_outputs.push_back({"present.{i}.encoder.key", cross});
      c.decoder_outputs.push_back({"present.{i}.encoder.value", cross});
      c.values_override["use_cache"] = true;
    }
    table().push_back(std::move(c));
  }
}

std::map<std::string, Tensor> generate_decoder_dummy_inputs(const ExportConfig& ec, const DecoderDummyConfig& cfg,
                                                            const DummyShapes& shapes, uint64_t seed,
                                                            bool left_padding) {
  if (!ec.is_decoder) throw InvalidArgument("generate_decoder_dummy_inputs: " + ec.model_type + " (" + ec.task +
                                            ") is not a decoder export config");
  const int64_t batch = shapes.batch_size, seq = shapes.sequence_length;
  const int64_t past = ec.use_past ? shapes.past_sequence_length : 0;
  if (batch <= 0 || seq <= 0 || past < 0) {
    throw InvalidArgument("generate_decoder_dummy_inputs: batch_size " + std::to_string(batch) +
                          ", sequence_length " + std::to_string(seq) + " and past_sequence_length " +
                          std::to_string(past) + " must be positive");
  }
  if (cfg.vocab_size <= 0 || cfg.n_layers <= 0 || cfg.n_heads_kv <= 0 || cfg.head_dim <= 0) {
    throw InvalidArgument("generate_decoder_dummy_inputs: vocab_size, n_layers, n_heads_kv and head_dim must be "
                          "positive");
  }
  std::mt19937_64 rng(seed);
  const int64_t total = past + seq;
  // Row r has min(r, total - 1) padding positions.
  std::vector<int64_t> mask(static_cast<size_t>(batch * total), 1);
  for (int64_t r = 0; r < batch; ++r) {
    const int64_t pad = std::min(r, total - 1);
    for (int64_t j = 0; j < pad; ++j) mask[static_cast<size_t>(r * total + (left_padding ? j : total - 1 - j))] = 0;
  }
  std::map<std::string, Tensor> out;
  for (const TensorSpec& in : ec.expanded_inputs(cfg.n_layers)) {
    if (in.name == "input_ids") {
      Tensor t = Tensor::zeros(DType::I64, {batch, seq});
      int64_t* d = t.mutable_data<int64_t>();
      std::uniform_int_distribution<int64_t> dist(0, cfg.vocab_size - 1);
      for (int64_t r = 0; r < batch; ++r) {
        for (int64_t s = 0; s < seq; ++s) {
          const bool real = mask[static_cast<size_t>(r * total + past + s)] != 0;
          int64_t v = cfg.pad_token_id >= 0 && cfg.pad_token_id < cfg.vocab_size ? cfg.pad_token_id : 0;
          if (real) {
            do {
              v = dist(rng);
            } while (v == cfg.pad_token_id && cfg.vocab_size > 1);
          }
          d[r * seq + s] = v;
        }
      }
      out[in.name] = t;
    } else if (in.name == "attention_mask") {
      out[in.name] = Tensor::from_data(DType::I64, {batch, total}, mask.data());
    } else if (in.name == "position_ids") {
      Tensor t = Tensor::zeros(DType::I64, {batch, seq});
      int64_t* d = t.mutable_data<int64_t>();
      for (int64_t r = 0; r < batch; ++r) {
        int64_t count = 0;
        for (int64_t s = 0; s < total; ++s) {
          const bool real = mask[static_cast<size_t>(r * total + s)] != 0;
          count += real ? 1 : 0;
          if (s >= past) d[r * seq + s - past] = real ? count - 1 : 1;
        }
      }
      out[in.name] = t;
    } else if (in.name.starts_with("past_key_values.")) {
      Tensor t = Tensor::zeros(DType::F32, {batch, cfg.n_heads_kv, past, cfg.head_dim});
      float* d = t.mutable_data<float>();
      std::normal_distribution<float> dist(0.0f, 1.0f);
      for (int64_t i = 0; i < t.numel(); ++i) d[i] = dist(rng);
      out[in.name] = t;
    } else {
      throw Unsupported("no dummy generator for input '" + in.name + "'");
    }
  }
  return out;
}

std::map<std::string, Tensor> ExportConfig::generate_dummy_inputs(const config::EncoderConfig& cfg,
                                                                  const DummyShapes& shapes, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  const bool choices = task == "multiple-choice";
  Shape shape = choices ? Shape{shapes.batch_size, shapes.num_choices, shapes.sequence_length}
                        : Shape{shapes.batch_size, shapes.sequence_length};
  const int64_t rows = choices ? shapes.batch_size * shapes.num_choices : shapes.batch_size;
  const int64_t seq = shapes.sequence_length;
  // Right padding: row r keeps seq - r real tokens (at least one).
  auto real_len = [&](int64_t r) { return std::max<int64_t>(1, seq - r); };
  std::map<std::string, Tensor> out;
  for (const TensorSpec& in : inputs) {
    if (in.name == "pixel_values") {
      if (!cfg.is_vision()) throw Unsupported("no dummy pixel_values for text model_type '" + cfg.model_type + "'");
      Tensor t = Tensor::zeros(DType::F32, {shapes.batch_size, cfg.num_channels, cfg.image_height, cfg.image_width});
      float* d = t.mutable_data<float>();
      std::uniform_real_distribution<float> dist(-1.0F, 1.0F);
      for (int64_t i = 0; i < t.numel(); ++i) d[i] = dist(rng);
      out[in.name] = t;
      continue;
    }
    Tensor t = Tensor::zeros(DType::I64, shape);
    int64_t* d = t.mutable_data<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t s = 0; s < seq; ++s) {
        const bool real = s < real_len(r);
        int64_t v = 0;
        if (in.name == "input_ids") {
          if (real) {
            std::uniform_int_distribution<int64_t> dist(0, cfg.vocab_size - 1);
            do {
              v = dist(rng);
            } while (v == cfg.pad_token_id && cfg.vocab_size > 1);
          } else {
            v = cfg.pad_token_id;
          }
        } else if (in.name == "attention_mask") {
          v = real ? 1 : 0;
        } else if (in.name == "token_type_ids") {
          std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(1, cfg.type_vocab_size) - 1);
          v = dist(rng);
        } else if (in.name == "position_ids") {
          v = s;
        } else {
          throw Unsupported("no dummy generator for input '" + in.name + "'");
        }
        d[r * seq + s] = v;
      }
    }
    out[in.name] = t;
  }
  return out;
}

}  // namespace optimum::tasks
