// The model card (README.md) written into every native export: what the
// folder is, which source, task and precision it holds, the accuracy guard's
// and validation's figures, and how to load it. The source's own card is kept
// beside it as README.source.md.
#include <fstream>
#include <sstream>

#include "optimum/core/errors.h"
#include "optimum/exporters/export.h"
#include "optimum/models/native_format.h"
#include "optimum/models/native_files.h"

#include "export_internal.h"

namespace optimum::exporters::internal {

namespace fs = std::filesystem;

namespace {

std::string str(const io::Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return {};
  return j[key].get<std::string>();
}

// A YAML scalar: a JSON string is a valid YAML double-quoted scalar.
std::string yaml(const std::string& s) { return io::Json(s).dump(); }

// "license: <value>" from a card's YAML front matter, "" when it has none.
std::string source_license(const fs::path& card) {
  std::ifstream in(card);
  std::string line;
  if (!std::getline(in, line) || line.rfind("---", 0) != 0) return {};
  for (int n = 0; n < 200 && std::getline(in, line); ++n) {
    if (line.rfind("---", 0) == 0) break;
    if (line.rfind("license:", 0) == 0) {
      std::string v = line.substr(8);
      while (!v.empty() && (v.front() == ' ' || v.front() == '"' || v.front() == '\'')) v.erase(v.begin());
      while (!v.empty() && (v.back() == ' ' || v.back() == '"' || v.back() == '\'' || v.back() == '\r')) v.pop_back();
      return v.size() <= 64 ? v : std::string();
    }
  }
  return {};
}

// Pipeline tags the Hub knows for our tasks.
std::string pipeline_tag(const std::string& task, bool sentence_transformers) {
  if (sentence_transformers && task == "feature-extraction") return "sentence-similarity";
  for (const char* t : {"feature-extraction", "text-classification", "token-classification", "question-answering",
                        "fill-mask", "text-generation", "text2text-generation", "image-classification"}) {
    if (task == t) return t;
  }
  return {};
}

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

}  // namespace

void write_model_card(const fs::path& dir, const io::Json& meta, const fs::path& source_dir) {
  std::error_code ec;
  const io::Json source = meta.value("source", io::Json::object());
  const std::string source_id = str(source, "model_id");
  const std::string commit = str(source, "commit");
  const bool from_hub = !commit.empty();
  const std::string task = str(meta, "task");
  const std::string dtype = str(meta, "dtype");
  const std::string model_type = str(meta, "model_type");
  const bool decoder = meta.contains("layout") && meta["layout"].is_object() &&
                       meta["layout"].value("kind", std::string()).find("decoder") != std::string::npos;
  const bool sentence = fs::exists(dir / "modules.json", ec);
  const bool seq2seq = meta.contains("layout") && meta["layout"].is_object() &&
                       meta["layout"].value("kind", std::string()) == "seq2seq";

  // The source's own card stays with the export, renamed.
  std::string license;
  if (!source_dir.empty() && fs::is_regular_file(source_dir / "README.md", ec)) {
    fs::copy_file(source_dir / "README.md", dir / "README.source.md", fs::copy_options::overwrite_existing, ec);
    if (!ec) license = source_license(dir / "README.source.md");
  }

  std::ostringstream c;
  c << "---\nlibrary_name: optimum-cpp\n";
  if (from_hub) c << "base_model: " << yaml(source_id) << "\n";
  if (!license.empty()) c << "license: " << yaml(license) << "\n";
  const std::string tag = pipeline_tag(task, sentence);
  if (!tag.empty()) c << "pipeline_tag: " << tag << "\n";
  c << "tags:\n- optimum-cpp\n- optimum-cpp-native\n";
  for (const std::string& t : {model_type, task, dtype}) {
    if (!t.empty()) c << "- " << yaml(t) << "\n";
  }
  if (sentence) c << "- sentence-transformers\n";
  c << "---\n\n";

  const std::string shown = from_hub ? "[" + source_id + "](https://huggingface.co/" + source_id + ")"
                                     : "`" + source_id + "`";
  c << "# optimum-cpp native export of " << (from_hub ? source_id : fs::path(source_id).filename().string())
    << "\n\n";
  c << "This folder is an **optimum-cpp native export** of " << shown;
  if (from_hub) c << " (commit `" << commit << "`)";
  c << ": model type `" << model_type << "`, task `" << task << "`, weights in `" << dtype << "`, written by "
    << "optimum-cpp " << str(meta, "tool_version") << ".\n\n";
  c << "The weights are stored in optimum-cpp's own layout (fused projections, per-layer precisions) in `"
    << (str(meta.value("weights", io::Json::object()), "file").empty() ? std::string(models::kNativeWeightsFile) : str(meta.value("weights", io::Json::object()), "file"))
    << "`, described by `optimum_export.json`. It is **not** a transformers checkpoint: transformers and "
       "sentence-transformers refuse this folder (no `model.safetensors`); load "
    << (from_hub ? "`" + source_id + "`" : std::string("the source model")) << " with them instead.\n\n";

  if (meta.contains("accuracy") && meta["accuracy"].is_object()) {
    const io::Json& a = meta["accuracy"];
    c << "## Accuracy guard\n\n";
    c << "Measured against the fp32 source on the calibration texts (" << str(a, "calibration") << ", CPU ISA `"
      << str(a, "cpu_isa") << "`):\n\n| | min cosine | mean cosine |\n|---|---|---|\n";
    for (const char* k : {"all_layers", "exported"}) {
      if (!a.contains(k) || !a[k].is_object()) continue;
      c << "| " << (std::string(k) == "exported" ? "this export" : "every layer in " + dtype) << " | "
        << fmt(a[k].value("min_cosine", 0.0)) << " | " << fmt(a[k].value("mean_cosine", 0.0)) << " |\n";
    }
    if (a.contains("thresholds") && a["thresholds"].is_object()) {
      c << "\nThreshold: min cosine " << fmt(a["thresholds"].value("min_cosine", 0.0)) << ".";
    }
    if (a.contains("fallback_linears") && a["fallback_linears"].is_array() && !a["fallback_linears"].empty()) {
      c << " Linears kept in " << str(a, "fallback_dtype") << ": " << a["fallback_linears"].size() << ".";
    }
    c << "\n\n";
  }
  if (meta.contains("validation") && meta["validation"].is_object()) {
    const io::Json& v = meta["validation"];
    c << "## Validation\n\nMax |difference| of the outputs against the " << str(v, "reference") << ": "
      << fmt(v.value("max_abs_diff", 0.0)) << " (atol " << fmt(v.value("atol", 0.0)) << ").\n\n";
  }

  const std::string path = "path/to/this/folder";
  c << "## How to load\n\nPython (`pip install optimum-cpp`):\n\n```python\n";
  if (decoder) {
    c << "from optimum_cpp import AutoModelForCausalLM\n\nmodel = AutoModelForCausalLM.from_pretrained(\"" << path
      << "\")\nids = model.tokenizer(\"Hello\", return_tensors=\"np\")[\"input_ids\"]\n"
         "print(model.tokenizer.decode(model.generate(ids, max_new_tokens=20)[0]))\n";
  } else if (seq2seq) {
    c << "from optimum_cpp import AutoModelForSeq2SeqLM, pipeline\n\nmodel = AutoModelForSeq2SeqLM.from_pretrained(\""
      << path << "\")\npipe = pipeline(\"text2text-generation\", model=\"" << path << "\")\n";
  } else if (sentence) {
    c << "from optimum_cpp import SentenceTransformer\n\nmodel = SentenceTransformer(\"" << path
      << "\")\nembeddings = model.encode([\"Hello world\"])\n";
  } else {
    const std::string cls = task == "text-classification"    ? "AutoModelForSequenceClassification"
                            : task == "token-classification" ? "AutoModelForTokenClassification"
                            : task == "question-answering"   ? "AutoModelForQuestionAnswering"
                            : task == "fill-mask"            ? "AutoModelForMaskedLM"
                            : task == "multiple-choice"      ? "AutoModelForMultipleChoice"
                                                             : "AutoModel";
    c << "from optimum_cpp import " << cls << ", pipeline\n\nmodel = " << cls << ".from_pretrained(\"" << path
      << "\")\n";
    if (task != "multiple-choice") c << "pipe = pipeline(\"" << task << "\", model=\"" << path << "\")\n";
  }
  c << "```\n\nC++:\n\n```cpp\n";
  if (seq2seq) {
    c << "#include \"optimum/pipelines/pipeline.h\"\n\n"
         "auto pipe = optimum::pipelines::pipeline(\"text2text-generation\", \""
      << path << "\");\n";
  } else if (decoder) {
    c << "#include \"optimum/generation/language_model.h\"\n\n"
         "auto lm = optimum::generation::LanguageModel::from_pretrained(\""
      << path << "\");\n";
  } else {
    c << "#include \"optimum/modeling/modeling.h\"\n\n"
         "optimum::modeling::LoadOptions options;\noptions.task = optimum::tasks::task_from_name(\""
      << task << "\");\nauto model = optimum::modeling::OptimizedModel::from_pretrained(\"" << path
      << "\", options);\n";
  }
  c << "```\n\nCommand line:\n\n```sh\n";
  if (decoder) {
    c << "optimum-cpp generate " << path << " --prompt \"Hello\" --max-new-tokens 20\n";
  } else if (seq2seq) {
    c << "optimum-cpp run --model " << path << " --task text2text-generation \"Hello world\"\n";
  } else if (sentence || task == "feature-extraction") {
    c << "optimum-cpp embed --model " << path << " \"Hello world\"\n";
  } else {
    c << "optimum-cpp run --model " << path << " --task " << task << " \"Hello world\"\n";
  }
  c << "```\n";
  if (fs::exists(dir / "README.source.md", ec)) {
    c << "\nThe source model's card is kept as [README.source.md](README.source.md).\n";
  }

  std::ofstream out(dir / "README.md", std::ios::trunc);
  out << c.str();
  if (!out) throw IoError(errno_message("cannot write " + (dir / "README.md").string()));
}

}  // namespace optimum::exporters::internal

namespace optimum::exporters {

namespace fs = std::filesystem;

void upgrade_export_folder(const fs::path& dir) {
  std::error_code ec;
  const fs::path record = dir / "optimum_export.json";
  if (!fs::is_regular_file(record, ec)) return;
  io::Json meta = io::read_json(record);
  if (!meta.is_object()) throw FormatError(record.string() + ": expected a JSON object");
  const fs::path legacy = dir / models::kLegacyNativeWeightsFile;
  if (!meta.contains("weights") && fs::is_regular_file(legacy, ec)) {
    const auto metadata = io::SafetensorsFile::open(legacy).metadata();
    auto it = metadata.find("format");
    if (it != metadata.end() && it->second == models::kNativeFormat) {
      fs::rename(legacy, dir / models::kNativeWeightsFile, ec);
      if (ec) {
        throw IoError("cannot rename " + legacy.string() + " to " + models::kNativeWeightsFile + ": " + ec.message());
      }
      meta["weights"] = {{"file", models::kNativeWeightsFile},
                         {"format", models::kNativeFormat},
                         {"note", "engine-layout weights for optimum-cpp; not a transformers checkpoint"}};
      io::write_json(record, meta);
    }
  }
  if (!fs::exists(dir / "README.md", ec)) internal::write_model_card(dir, meta, fs::path());
}

}  // namespace optimum::exporters
