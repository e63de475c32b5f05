// `optimum-cpp prepare`: TorchServe's Hugging Face example
// (setup_config.json -> Download_Transformer_models.py ->
// torch-model-archiver) in one step.
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <iostream>
#include <set>

#include "optimum/core/errors.h"
#include "optimum/core/progress.h"
#include "optimum/core/paths.h"
#include "optimum/exporters/export.h"
#include "optimum/modeling/modeling.h"
#include "optimum/preprocessors/preprocessors.h"
#include "optimum/serving/archive.h"
#include "yaml_json.h"

namespace optimum::serving {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxSetupBytes = 1 << 20;

[[noreturn]] void bad_key(const std::string& source, const std::string& key, const std::string& what) {
  throw FormatError(source + ": key '" + key + "': " + what);
}

std::string get_string(const io::Json& v, const std::string& source, const std::string& key) {
  if (!v.is_string()) bad_key(source, key, "expected a string, got " + std::string(v.type_name()));
  return v.get<std::string>();
}

// TorchServe's example writes numbers as strings ("num_labels": "2").
int get_int(const io::Json& v, const std::string& source, const std::string& key, int lo, int hi) {
  int64_t n = 0;
  if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) {
      bad_key(source, key, "expected an integer, got " + quote_untrusted(s));
    }
    n = std::stoll(s);
  } else {
    bad_key(source, key, "expected an integer, got " + std::string(v.type_name()));
  }
  if (n < lo || n > hi) {
    bad_key(source, key, std::to_string(n) + " not in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int>(n);
}

bool get_bool(const io::Json& v, const std::string& source, const std::string& key) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "true" || s == "True") return true;
    if (s == "false" || s == "False") return false;
  }
  bad_key(source, key, "expected true or false, got " + v.dump());
}

// Keys of TorchServe's example this tool reads but does not act on.
const std::set<std::string>& ignored_keys() {
  static const std::set<std::string> keys = {"captum_explanation", "embedding_name", "FasterTransformer",
                                             "BetterTransformer", "model_parallel", "hardware"};
  return keys;
}

// What the tokenizer saved with the model says about lowercasing; -1 when it does not say.
int tokenizer_lowercases(const fs::path& folder) {
  try {
    const fs::path tc = folder / "tokenizer_config.json";
    if (fs::exists(tc)) {
      const io::Json j = io::read_json(tc);
      if (j.is_object() && j.contains("do_lower_case") && j["do_lower_case"].is_boolean()) {
        return j["do_lower_case"].get<bool>() ? 1 : 0;
      }
    }
    const fs::path tj = folder / "tokenizer.json";
    if (fs::exists(tj)) {
      const io::Json j = io::read_json(tj);
      if (!j.is_object() || !j.contains("normalizer")) return -1;
      const io::Json& n = j["normalizer"];
      if (n.is_null()) return 0;
      std::vector<io::Json> all{n};
      if (n.contains("normalizers") && n["normalizers"].is_array()) {
        for (const auto& x : n["normalizers"]) all.push_back(x);
      }
      for (const auto& x : all) {
        if (!x.is_object()) continue;
        if (x.value("type", "") == "Lowercase") return 1;
        if (x.value("type", "") == "BertNormalizer" && x.contains("lowercase") && x["lowercase"].is_boolean()) {
          return x["lowercase"].get<bool>() ? 1 : 0;
        }
      }
      return 0;
    }
  } catch (const Error&) {
  }
  return -1;
}

// The labels config.json declares (num_labels or id2label); 0 when it does not say.
int checkpoint_labels(const fs::path& config_dir) {
  try {
    const io::Json j = io::read_json(config_dir / "config.json");
    if (j.contains("id2label") && j["id2label"].is_object()) return static_cast<int>(j["id2label"].size());
    if (j.contains("num_labels") && j["num_labels"].is_number_integer()) return j["num_labels"].get<int>();
  } catch (const Error&) {
  }
  return 0;
}

std::string archive_name_from(const std::string& model_name) {
  std::string base = model_name;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (const size_t slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
  for (char& c : base) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
  }
  while (!base.empty() && !std::isalnum(static_cast<unsigned char>(base.front()))) base.erase(base.begin());
  return base.empty() ? "model" : base;
}

// The checkpoint files a direct load needs: config, weights (safetensors
// preferred), every preprocessor.
void copy_pretrained(const modeling::ResolvedModel& src, const fs::path& dst) {
  fs::create_directories(dst);
  const auto copy = [&](const fs::path& from, const std::string& name) {
    fs::copy_file(from / name, dst / name, fs::copy_options::overwrite_existing);
  };
  if (!fs::exists(src.folder / "config.json")) {
    if (fs::exists(src.config_dir / "config.json")) copy(src.config_dir, "config.json");
    else throw NotFound(src.folder.string() + ": no config.json");
  }
  if (fs::exists(src.folder / "optimum_export.json")) {
    // A native export: every file it holds (engine-layout weights under their own name, record, card).
    for (const auto& e : fs::recursive_directory_iterator(src.folder)) {
      if (!e.is_regular_file()) continue;
      const fs::path target = dst / fs::relative(e.path(), src.folder);
      fs::create_directories(target.parent_path());
      fs::copy_file(e.path(), target, fs::copy_options::overwrite_existing);
    }
    return;
  }
  std::vector<std::string> weights;
  for (const char* index : {"model.safetensors.index.json", "pytorch_model.bin.index.json"}) {
    if (!weights.empty()) break;
    if (fs::exists(src.folder / index)) {
      weights.push_back(index);
      const io::Json j = io::read_json(src.folder / index);
      std::set<std::string> shards;
      if (j.contains("weight_map") && j["weight_map"].is_object()) {
        for (const auto& [_, file] : j["weight_map"].items()) {
          if (file.is_string()) shards.insert(file.get<std::string>());
        }
      }
      for (const auto& s : shards) {
        check_relative_path(s, "weight_map shard");
        weights.push_back(s);
      }
    }
  }
  for (const char* single : {"model.safetensors", "pytorch_model.bin"}) {
    if (weights.empty() && fs::exists(src.folder / single)) weights.push_back(single);
  }
  if (weights.empty()) throw NotFound(src.folder.string() + ": no model.safetensors or pytorch_model.bin weights");
  for (const auto& w : weights) copy(src.folder, w);
  if (fs::exists(src.folder / "config.json")) copy(src.folder, "config.json");
  preprocessors::copy(src.folder, dst);
}

}  // namespace

std::string SetupConfig::task() const {
  if (mode == "sequence_classification") return "text-classification";
  if (mode == "token_classification") return "token-classification";
  if (mode == "question_answering") return "question-answering";
  if (mode == "feature_extraction") return "feature-extraction";
  if (mode == "text_embedding") return "text-embedding";
  if (mode == "text_generation") return "text-generation";
  // Beyond TorchServe's example: the encoder-decoder and vision tasks (preprocessor files carried along).
  if (mode == "text2text_generation") return "text2text-generation";
  if (mode == "summarization") return "summarization";
  if (mode == "translation") return "translation";
  if (mode.starts_with("translation_") && mode.find("_to_") != std::string::npos) return check_handler(mode);
  if (mode == "image_classification") return "image-classification";
  throw InvalidArgument("mode " + quote_untrusted(mode) +
                        " is not one of sequence_classification, token_classification, question_answering, "
                        "text_generation, feature_extraction, text_embedding, text2text_generation, summarization, "
                        "translation, translation_xx_to_yy, image_classification");
}

SetupConfig SetupConfig::from_json(const io::Json& json, const std::string& source) {
  if (!json.is_object()) throw FormatError(source + ": expected an object of keys at the top level");
  SetupConfig c;
  bool have_name = false, have_mode = false;
  for (const auto& [key, v] : json.items()) {
    if (key == "model_name") {
      c.model_name = get_string(v, source, key);
      have_name = !c.model_name.empty();
    } else if (key == "mode") {
      c.mode = get_string(v, source, key);
      have_mode = true;
    } else if (key == "num_labels") {
      c.num_labels = get_int(v, source, key, 0, 1 << 20);
    } else if (key == "do_lower_case") {
      c.do_lower_case = get_bool(v, source, key);
    } else if (key == "max_length") {
      c.max_length = get_int(v, source, key, 0, 1 << 20);
    } else if (key == "save_mode") {
      c.save_mode = get_string(v, source, key);
    } else if (key == "revision") {
      c.revision = get_string(v, source, key);
    } else if (key == "dtype") {
      c.dtype = get_string(v, source, key);
    } else if (ignored_keys().count(key)) {
      std::cerr << "warning: " << source << ": key '" << key << "' is accepted but ignored by optimum-cpp\n";
    } else {
      std::cerr << "warning: " << source << ": unknown key " << quote_untrusted(key) << " ignored\n";
    }
  }
  if (!have_name) throw FormatError(source + ": key 'model_name' is missing (a Hub id or a folder)");
  if (!have_mode) throw FormatError(source + ": key 'mode' is missing");
  try {
    c.task();
  } catch (const InvalidArgument& e) {
    throw FormatError(source + ": key 'mode': " + e.what());
  }
  if (c.save_mode != "pretrained" && c.save_mode != "native" && c.save_mode != "onnx" &&
      c.save_mode != "torchscript") {
    bad_key(source, "save_mode", quote_untrusted(c.save_mode) + " is not one of pretrained, native, onnx");
  }
  if (c.save_mode == "onnx") {
    throw Unsupported(source + ": save_mode 'onnx' is not supported yet (the ONNX exporter does not exist); "
                      "use pretrained or native");
  }
  if (c.save_mode == "torchscript") {
    throw Unsupported(source + ": save_mode 'torchscript' is TorchServe-only; use pretrained or native");
  }
  if (c.dtype != "auto" && c.dtype != "fp32" && c.dtype != "bf16" && c.dtype != "int8") {
    bad_key(source, "dtype", quote_untrusted(c.dtype) + " is not one of auto, fp32, bf16, int8");
  }
  if (c.dtype != "auto" && c.dtype != "fp32" && c.save_mode != "native") {
    bad_key(source, "dtype", c.dtype + " needs save_mode native");
  }
  return c;
}

SetupConfig SetupConfig::from_file(const fs::path& file) {
  const std::string text = io::read_text_file(file, kMaxSetupBytes);
  const std::string ext = file.extension().string();
  const std::string source = file.string();
  size_t first = text.find_first_not_of(" \t\r\n");
  const bool json = ext == ".json" || (ext != ".yaml" && ext != ".yml" && first != std::string::npos && text[first] == '{');
  return from_json(json ? io::parse_json(text, source) : detail::parse_yaml(text, source), source);
}

PrepareResult prepare(const SetupConfig& config, const PrepareOptions& options) {
  const std::string task = config.task();  // Unsupported before any work
  if (task == "text-generation" && config.save_mode == "native") {
    throw Unsupported("mode 'text_generation' with save_mode 'native': decoder checkpoints are archived as they "
                      "are (save_mode 'pretrained'; the server loads them directly)");
  }
  const std::string name = options.archive_name.empty() ? archive_name_from(config.model_name) : options.archive_name;
  check_model_name(name, "archive name");
  const fs::path save_dir = options.save_dir.empty() ? fs::path("Transformer_model") : options.save_dir;
  std::error_code ec;
  const std::string ext = options.archive_format == "tgz" ? ".tar.gz" : options.archive_format == "no-archive" ? "" : ".mar";
  if (!options.force && fs::exists(options.output / (name + ext), ec)) {
    throw InvalidArgument((options.output / (name + ext)).string() + " already exists; use --force to replace it");
  }
  if (fs::exists(save_dir, ec) && !fs::is_empty(save_dir, ec)) {
    if (!options.force) throw InvalidArgument(save_dir.string() + " already exists; use --force to replace it");
    fs::remove_all(save_dir);
  }

  modeling::ResolveOptions hub;
  hub.revision = config.revision;
  hub.local_files_only = options.local_files_only;
  hub.cache_dir = options.cache_dir;
  const modeling::ResolvedModel src = modeling::resolve(config.model_name, hub);

  if (config.num_labels > 0) {
    const int labels = checkpoint_labels(src.config_dir);
    if (task != "text-classification" && task != "token-classification") {
      std::cerr << "warning: num_labels is used only by sequence_classification and token_classification; ignored\n";
    } else if (labels != config.num_labels) {
      throw InvalidArgument("num_labels " + std::to_string(config.num_labels) + " but " + config.model_name +
                            " has " + std::to_string(labels) +
                            " labels; optimum-cpp serves trained heads only (fine-tune with transformers first)");
    }
  }
  const int lower = tokenizer_lowercases(src.folder);
  if (lower >= 0 && (lower == 1) != config.do_lower_case) {
    std::cerr << "warning: do_lower_case is " << (config.do_lower_case ? "true" : "false")
              << " but the tokenizer of " << config.model_name << (lower ? " lowercases" : " does not lowercase")
              << "; the tokenizer's behaviour is used\n";
  }

  if (config.save_mode == "native") {
    exporters::ExportOptions eo;
    eo.task = task == "text-embedding"                                   ? "feature-extraction"
              : task == "summarization" || task.starts_with("translation") ? "text2text-generation"
                                                                             : task;
    eo.dtype = config.dtype == "auto" ? "fp32" : config.dtype;
    eo.source_id = config.model_name;
    eo.source_commit = src.commit;
    eo.revision = config.revision;
    eo.config_dir = src.config_dir;
    ProgressStep step("export", config.model_name + " -> " + save_dir.string());
    const exporters::ExportResult r = exporters::export_native(src.folder, save_dir, eo);
    progress_note("exported " + r.model_type + " (" + r.task + ") to " + r.output_dir.string());
  } else {
    {
      ProgressStep step("save", config.model_name + " -> " + save_dir.string());
      copy_pretrained(src, save_dir);
    }
    progress_note("saved the checkpoint files of " + config.model_name + " to " + save_dir.string());
  }

  // model-config.yaml, generated.
  ModelConfig defaults;
  const int batch = options.batch_size > 0 ? options.batch_size : defaults.batch_size;
  const int delay = options.max_batch_delay_ms >= 0 ? options.max_batch_delay_ms : defaults.max_batch_delay_ms;
  std::string yaml = "# generated by optimum-cpp prepare\n";
  yaml += "minWorkers: " + std::to_string(defaults.min_workers) + "\n";
  yaml += "maxWorkers: " + std::to_string(defaults.max_workers) + "\n";
  yaml += "batchSize: " + std::to_string(batch) + "\n";
  yaml += "maxBatchDelay: " + std::to_string(delay) + "\n";
  yaml += "responseTimeout: " + std::to_string(defaults.response_timeout_s) + "\n";
  yaml += "handler:\n";
  const bool images = task == "image-classification";
  if (config.max_length > 0 && images)
    std::cerr << "warning: max_length is not an option of image_classification; ignored\n";
  if (config.max_length > 0 && !images) yaml += "  max_length: " + std::to_string(config.max_length) + "\n";
  else yaml += "  {}\n";
  ModelConfig::from_yaml_text(yaml, "generated model-config.yaml");  // an out-of-range option fails here

  fs::create_directories(options.output);
  std::string tmpl = (options.output / ".prepare-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw IoError(errno_message("mkdtemp " + tmpl));
  const fs::path tmp = tmpl;
  PrepareResult result;
  try {
    {
      std::ofstream out(tmp / "model-config.yaml");
      out << yaml;
      if (!out) throw IoError("cannot write " + (tmp / "model-config.yaml").string());
    }
    ArchiveOptions ao;
    ao.model_name = name;
    ao.version = options.version;
    ao.model_dir = save_dir;
    ao.handler = task;
    ao.config_file = tmp / "model-config.yaml";
    ao.format = options.archive_format;
    ao.export_path = options.output;
    ao.force = options.force;
    result.archive = write_archive(ao);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::remove_all(tmp, ec);
  result.save_dir = save_dir;
  result.task = task;
  return result;
}

}  // namespace optimum::serving
