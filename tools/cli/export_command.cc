#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli_support.h"
#include "commands.h"
#include "validate_python.h"
#include "optimum/core/progress.h"
#include "optimum/exporters/accuracy.h"
#include "optimum/exporters/export.h"
#include "optimum/exporters/onnx.h"
#include "optimum/generation/language_model.h"
#include "optimum/hub/model_id.h"
#include "optimum/modeling/modeling.h"

namespace optimum::cli {

namespace {

struct ExportArgs {
  modeling::ResolveOptions hub;
  exporters::ExportOptions exporter;
  std::string model;
  std::string output;
  double atol = -1;
  std::string calibration_file;
  std::string push_to_hub;  // repository to upload the export to
  modeling::PushOptions push;
  std::string gguf_file;  // a GGUF decoder: written as a checkpoint folder
  bool native = false;    // a GGUF decoder: exported to the native format instead
  std::string validate = "engine";  // engine, transformers or auto (validate_python.h)
  std::string format = "native";  // native or onnx
  exporters::OnnxExportOptions onnx;
  bool no_dynamic_axes = false;
};

// --validate transformers|auto on a finished export (validate_python.h): a failure removes the
// output folder when this export created it; returns the line for the user ("" for engine).
std::string validate_against_transformers(const ExportArgs& a, const std::string& source_folder,
                                          const std::filesystem::path& out, const std::string& task,
                                          bool output_created) {
  if (a.validate == "engine") return "";
  PythonValidation v;
  v.model = source_folder;
  v.export_dir = out;
  v.task = task;
  if (a.atol >= 0) v.atol = a.atol;
  v.reference = a.validate;
  try {
    ProgressStep validating("validation", "against transformers: " + out.string());
    return describe(run_python_validation(v));
  } catch (...) {
    std::error_code ec;  // nothing half-validated is left behind
    if (output_created) std::filesystem::remove_all(out, ec);
    throw;
  }
}

// --format onnx: the ONNX exporter (exporters/onnx.h) with the shared options.
void export_onnx_command(ExportArgs& a) {
  const char* native_only[] = {"--calibration-file", "--fallback-dtype", "--min-cosine", "--min-agreement",
                               "--strict-accuracy", "--atol", "--gguf-file", "--native", "--push-to-hub"};
  const bool used[] = {!a.calibration_file.empty(), a.exporter.fallback_dtype != "auto", a.exporter.min_cosine != 0,
                       a.exporter.min_agreement != 0, a.exporter.strict_accuracy, a.atol >= 0,
                       !a.gguf_file.empty(), a.native, !a.push_to_hub.empty()};
  for (size_t i = 0; i < std::size(used); ++i) {
    if (used[i]) throw InvalidArgument(std::string(native_only[i]) + " is not an option of --format onnx");
  }
  if (a.model.size() > 5 && a.model.compare(a.model.size() - 5, 5, ".gguf") == 0) {
    throw InvalidArgument("--format onnx exports transformers checkpoints, not GGUF files ('" + a.model + "')");
  }
  exporters::OnnxExportOptions& o = a.onnx;
  o.task = a.exporter.task;
  o.dtype = a.exporter.dtype;
  o.dynamic_axes = !a.no_dynamic_axes;
  o.batch_size = a.exporter.batch_size;
  o.sequence_length = a.exporter.sequence_length;
  const modeling::ResolvedModel src = modeling::resolve(check_local_path(a.model, "--model"), a.hub);
  o.source_id = a.model;
  o.source_commit = src.commit;
  o.revision = a.hub.revision;
  o.subfolder = a.hub.subfolder;
  o.config_dir = src.config_dir;
  std::error_code exists_ec;
  const bool output_created = !std::filesystem::exists(a.output, exists_ec) || std::filesystem::is_empty(a.output, exists_ec);
  std::optional<ProgressStep> step(std::in_place, "export", a.model + " -> " + a.output + " (onnx)");
  const exporters::OnnxExportResult r = exporters::export_onnx(src.folder, a.output, o);
  step.reset();
  const std::string against = validate_against_transformers(a, src.folder.string(), r.output_dir, r.task,
                                                             output_created);
  inform("exported " + r.model_type + " (" + r.task + ") to " + (r.output_dir / "model.onnx").string() + ": opset " +
         std::to_string(r.opset) + ", " + r.dtype + ", " + std::to_string(r.nodes) + " nodes, " +
         std::to_string(r.parameters) + " parameters" + (r.external_data ? ", weights in model.onnx_data" : "") +
         "; ONNX checker with shape inference passed; " + std::to_string(r.preprocessors.size()) +
         " preprocessor files" + (against.empty() ? "" : "\n" + against));
}

// Logits [tokens, vocab] of `ids` run as one prompt.
Tensor prompt_logits(const generation::LanguageModel& lm, const std::vector<int64_t>& ids) {
  auto cache = lm.model().new_cache(1, static_cast<int64_t>(ids.size()));
  models::StepOptions o;
  o.all_logits = true;
  return lm.model().step(*cache, {{0, ids.data(), static_cast<int64_t>(ids.size())}}, o);
}

// A GGUF causal LM (or a decoder folder) written as a checkpoint folder
// (LanguageModel::save_pretrained), reloaded, and checked: the written
// tokenizer gives the source's ids and the logits of a short prompt equal
// the source's within atol; otherwise ValidationError and the folder is removed.
void export_language_model(const ExportArgs& a) {
  generation::LanguageModelOptions o;
  o.gguf_file = a.gguf_file;
  o.hub = a.hub;
  std::shared_ptr<const generation::LanguageModel> src;
  {
    ProgressStep step("load", a.model);
    src = generation::LanguageModel::from_pretrained(a.model, o);
  }
  const std::filesystem::path out = a.output;
  std::error_code ec;
  const bool created = !std::filesystem::exists(out, ec);
  if (!created && !std::filesystem::is_empty(out, ec)) {
    throw InvalidArgument("output folder '" + out.string() + "' exists and is not empty");
  }
  const double atol = a.atol >= 0 ? a.atol : 1e-4;
  double max_diff = 0;
  try {
    {
      ProgressStep step("write", out.string());
      src->save_pretrained(out);
    }
    ProgressStep step("validation", "reloading " + out.string());
    const auto back = generation::LanguageModel::from_pretrained(out.string());
    const std::string text = "The quick brown fox jumps over the lazy dog. 1 + 1 = 2";
    const std::vector<int64_t> ids = src->encode(text, true);
    const std::vector<int64_t> back_ids = back->encode(text, true);
    if (ids != back_ids) {
      throw exporters::ValidationError("export: the written tokenizer of " + out.string() +
                                       " encodes the validation text differently from " + src->path().string());
    }
    const Tensor x = prompt_logits(*src, ids), y = prompt_logits(*back, ids);
    if (x.shape() != y.shape()) throw exporters::ValidationError("export: logits shapes differ after reloading " + out.string());
    const float* p = x.data<float>();
    const float* q = y.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double d = std::fabs(static_cast<double>(p[i]) - q[i]);
      if (!(d <= max_diff)) max_diff = std::isnan(d) ? INFINITY : d;
    }
    if (!(max_diff <= atol)) {
      throw exporters::ValidationError("export: logits of " + out.string() + " differ from " + src->path().string() +
                                       " by " + std::to_string(max_diff) + " > atol " + std::to_string(atol));
    }
  } catch (...) {
    if (created) std::filesystem::remove_all(out, ec);
    throw;
  }
  inform("exported " + src->model().model_type() + " (text-generation) from " + src->path().string() + " to " +
         out.string() + "; validation max abs diff " + std::to_string(max_diff) + " <= atol " + std::to_string(atol));
}

}  // namespace

// export_gguf.cc
exporters::ExportResult export_gguf_native(const std::string& model, const std::string& gguf_file,
                                           const modeling::ResolveOptions& hub, const std::filesystem::path& output_dir,
                                           const exporters::ExportOptions& options);

void add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* cmd =
      app.add_subcommand("export", "Export a checkpoint to the native format (validated against its source) or to ONNX (--format onnx)");
  cmd->add_option("--model,-m", a->model, "Hub model id, local folder or local .gguf file (a causal LM)")->required();
  cmd->add_option("--task", a->exporter.task,
                  "Task (auto: inferred from the folder; Optimum synonyms accepted): encoders feature-extraction, "
                  "fill-mask, text-classification, token-classification, question-answering, multiple-choice, "
                  "image-classification (vit); decoders text-generation(-with-past), feature-extraction(-with-past), "
                  "text-classification; encoder-decoders (t5, bart, mbart, marian) text2text-generation(-with-past), "
                  "also as summarization, translation, translation_xx_to_yy. `optimum-cpp tasks` lists every "
                  "(model_type, task, exporter)")
      ->capture_default_str();
  cmd->add_option("--dtype", a->exporter.dtype,
                  "Precision of the encoder-layer Linears (encoder-decoders: encoder and decoder Linears): fp32, bf16 "
                  "or int8 (per-channel int8 weights, per-token dynamic activation quantization); bf16/int8 run the "
                  "accuracy guard (vision encoders: fp32 only). --format onnx: fp32 or fp16")
      ->capture_default_str();
  cmd->add_option("--calibration-file,--calibration_file", a->calibration_file,
                  "Accuracy guard inputs: one text per line (default: built-in English sentences)");
  cmd->add_option("--fallback-dtype,--fallback_dtype", a->exporter.fallback_dtype,
                  "Precision of the layers the accuracy guard keeps out of --dtype: fp32, bf16 (int8 only) or auto "
                  "(int8: bf16 where the CPU computes bf16 natively, else fp32)")
      ->capture_default_str();
  cmd->add_option("--min-cosine,--min_cosine", a->exporter.min_cosine,
                  "Accuracy guard: minimum cosine vs fp32 over the calibration texts (encoders: mean-pooled embeddings; decoder classifiers: hidden states per position; causal LMs: logits per position); 0: the registry's (0.995 encoders and decoder classifiers, 0.99 causal LMs)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-agreement,--min_agreement", a->exporter.min_agreement,
                  "Accuracy guard: minimum top-1 agreement with fp32 of heads with logits (causal LMs: next token); 0: the registry's (0.99 encoders and decoder classifiers, 0.9 causal LMs)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--strict-accuracy,--strict_accuracy", a->exporter.strict_accuracy,
                "Fail when the accuracy guard misses a threshold instead of keeping layers in fp32");
  cmd->add_option("--revision", a->hub.revision, "Branch, tag or commit of a Hub model");
  cmd->add_option("--subfolder", a->hub.subfolder, "Sub-folder of the repository holding the model");
  cmd->add_option("--cache-dir,--cache_dir", a->hub.cache_dir, "Hub cache folder")->envname("HF_HUB_CACHE");
  cmd->add_option("--token", a->hub.token, "Hub token")->envname("HF_TOKEN");
  cmd->add_flag("--local-files-only,--local_files_only", a->hub.local_files_only,
                "Use the cache only, no network");
  cmd->add_flag("--force-download,--force_download", a->hub.force_download,
                "Download again even when cached");
  cmd->add_option(
      "--push-to-hub,--push_to_hub", a->push_to_hub,
      "After a validated export, upload the output folder to this Hub repository (created if needed)");
  cmd->add_flag("--private", a->push.private_repo, "With --push-to-hub: create the repository private");
  cmd->add_option("--atol", a->atol, "Validation tolerance (default: the registry's, 1e-4 for encoders)");
  cmd->add_option("--batch-size,--batch_size", a->exporter.batch_size,
                  "Validate the export on this batch size (default: batch sizes 1 and 3); --format onnx with "
                  "--no-dynamic-axes: the fixed batch size")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--sequence-length,--sequence_length", a->exporter.sequence_length,
                  "Validate the export on this sequence length, at most the model's positions (default: two "
                  "lengths, 8 and 33 for encoders, 5 and 11 for decoders); --format onnx with --no-dynamic-axes: the "
                  "fixed sequence length")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--gguf-file,--gguf_file", a->gguf_file,
                  "A GGUF causal LM in the --model folder: written as a checkpoint folder (f32 safetensors, "
                  "tokenizer, chat template, generation config), reloaded and validated on its logits");
  cmd->add_flag("--native", a->native,
                "With a GGUF file (--gguf-file or --model FILE.gguf): export to the native format (engine layout, "
                "--dtype fp32/bf16/int8 with the causal-LM accuracy guard, optimum_export.json) instead of a "
                "checkpoint folder");
  cmd->add_option("--validate", a->validate,
                  "Reference of the validation: engine (the export against the engine loaded from the source), "
                  "transformers (also against transformers on Optimum's grid, batch 1,3,5 x sequence 8,33,96,154 "
                  "with random right padding, at the registry's ATOL, through `python3 -m optimum_cpp.validate`; "
                  "OPTIMUM_CPP_PYTHON: another interpreter; fails when python, torch or transformers are missing) "
                  "or auto (transformers when importable, else recorded as skipped)")
      ->check(CLI::IsMember({"engine", "transformers", "auto"}))
      ->capture_default_str();
  cmd->add_option("--format", a->format,
                  "Export format: native (this engine's folder) or onnx (an Optimum-compatible model.onnx for ONNX "
                  "Runtime, Optimum's ORTModel classes and transformers.js; --dtype fp32 or fp16)")
      ->check(CLI::IsMember({"native", "onnx"}))
      ->capture_default_str();
  cmd->add_option("--opset", a->onnx.opset,
                  "--format onnx: ONNX opset (11..17; LayerNormalization from 17, decomposed below)")
      ->capture_default_str();
  cmd->add_flag("--no-dynamic-axes,--no_dynamic_axes", a->no_dynamic_axes,
                "--format onnx: fix every input/output axis to --batch-size x --sequence-length (default 2 x 16)");
  cmd->add_flag("--monolith", a->onnx.monolith,
                "--format onnx: decoders as one model.onnx (the default and only layout today)");
  cmd->add_flag("--external-data,--external_data", a->onnx.external_data,
                "--format onnx: weights in model.onnx_data next to model.onnx (automatic above 2 GB)");
  cmd->add_option("output", a->output, "Output folder")->required();
  cmd->callback([a] {
    if (a->format == "onnx") {
      export_onnx_command(*a);
      return;
    }
    if (a->no_dynamic_axes || a->onnx.monolith || a->onnx.external_data || a->onnx.opset != exporters::kOnnxDefaultOpset) {
      throw InvalidArgument("--opset, --no-dynamic-axes, --monolith and --external-data are options of --format onnx");
    }
    const bool gguf_model = a->model.size() > 5 && a->model.compare(a->model.size() - 5, 5, ".gguf") == 0;
    if ((!a->gguf_file.empty() || gguf_model) && !a->native) {
      if (!a->push_to_hub.empty()) throw InvalidArgument("--push-to-hub is not supported with --gguf-file");
      if (a->exporter.batch_size != 0 || a->exporter.sequence_length != 0) {
        throw InvalidArgument(
            "--batch-size / --sequence-length set the validation shapes of native exports; a GGUF checkpoint "
            "export is validated on one fixed prompt (drop them, or add --native)");
      }
      export_language_model(*a);
      return;
    }
    if (a->atol >= 0) a->exporter.atol = a->atol;
    std::error_code exists_ec;
    const bool output_created = !std::filesystem::exists(a->output, exists_ec);
    kernels::weight_type_from_name(a->exporter.dtype);  // an unknown dtype fails before any work
    if (!a->calibration_file.empty())
      a->exporter.calibration_texts = exporters::read_calibration_file(a->calibration_file);
    const bool gguf = !a->gguf_file.empty() || gguf_model;
    if (gguf && a->validate != "engine") {
      throw InvalidArgument("--validate " + a->validate + " compares with transformers running a checkpoint folder; "
                            "a GGUF source is validated against the engine only (drop --validate)");
    }
    const modeling::ResolvedModel src =
        gguf ? modeling::ResolvedModel{} : modeling::resolve(check_local_path(a->model, "--model"), a->hub);
    a->exporter.source_id = a->model;
    a->exporter.source_commit = src.commit;
    a->exporter.revision = a->hub.revision;
    a->exporter.subfolder = a->hub.subfolder;
    a->exporter.config_dir = src.config_dir;
    if (!a->push_to_hub.empty()) hub::validate_repo_id(a->push_to_hub);  // before the export work
    std::optional<ProgressStep> step(std::in_place, "export", a->model + " -> " + a->output);
    const exporters::ExportResult r = gguf ? export_gguf_native(a->model, a->gguf_file, a->hub, a->output, a->exporter)
                                           : exporters::export_native(src.folder, a->output, a->exporter);
    step.reset();
    const std::string against =
        validate_against_transformers(*a, src.folder.string(), r.output_dir, r.task, output_created);
    std::ostringstream summary;
    summary << "exported " << r.model_type << " (" << r.task << ") to " << r.output_dir.string()
            << "; validation max abs diff " << r.max_abs_diff << " <= atol " << r.atol << " on "
            << r.validation.size() << " cases; " << r.preprocessors.size() << " preprocessor files";
    if (!r.accuracy.is_null()) {
      const io::Json& acc = r.accuracy;
      summary << "\naccuracy (" << r.dtype << " vs fp32, " << acc["samples"].get<int64_t>()
              << " calibration samples): " << (acc.contains("metrics") ? "logit" : "embedding") << " cosine min "
              << acc["exported"]["min_cosine"].get<double>();
      if (acc["exported"].contains("top1_agreement")) {
        summary << (acc.contains("metrics") ? ", next-token agreement " : ", top-1 agreement ")
                << acc["exported"]["top1_agreement"].get<double>();
      }
      summary << "; " << acc["fallback_linears"].size() << " of " << acc["layer_linears"].get<int64_t>()
              << " layer Linears kept in " << acc["fallback_dtype"].get<std::string>();
    }
    if (!against.empty()) summary << "\n" << against;
    inform(summary.str());
    if (!a->push_to_hub.empty()) {
      a->push.token = a->hub.token;
      hub::CommitInfo info;
      {
        ProgressStep step("upload", r.output_dir.string() + " -> " + a->push_to_hub);
        info = modeling::push_folder_to_hub(r.output_dir, a->push_to_hub, a->push);
      }
      inform("pushed " + std::to_string(info.files.size()) + " files to " + a->push_to_hub + " (commit " +
             info.commit + ")");
    }
  });
}

}  // namespace optimum::cli
