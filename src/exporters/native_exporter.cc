#include <unistd.h>

#include <cmath>
#include <iostream>

#include "optimum/config/config.h"
#include "optimum/core/progress.h"
#include "optimum/core/version.h"
#include "optimum/models/architecture.h"
#include "optimum/exporters/accuracy.h"
#include "optimum/exporters/decoder_export.h"
#include "optimum/exporters/export.h"
#include "optimum/exporters/seq2seq_export.h"
#include "optimum/models/model.h"
#include "optimum/models/native_files.h"
#include "optimum/models/precision.h"
#include "optimum/models/registry.h"
#include "optimum/preprocessors/image_processor.h"
#include "optimum/preprocessors/preprocessors.h"
#include "optimum/tasks/registry.h"

#include "export_internal.h"

namespace optimum::exporters {

namespace fs = std::filesystem;
using internal::move_into;
using internal::TempDir;

const char* tool_version() { return optimum::version(); }

namespace {

// Max |a - b| over two outputs; NaN or inf anywhere fails validation.
double max_abs_diff(const Tensor& a, const Tensor& b, const std::string& name) {
  if (a.shape() != b.shape()) {
    throw ValidationError("export validation failed: output '" + name + "' has shape " + shape_str(b.shape()) +
                          " in the exported model but " + shape_str(a.shape()) + " in the source");
  }
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
      throw ValidationError("export validation failed: output '" + name + "' contains NaN or inf (source " +
                            std::to_string(x[i]) + ", exported " + std::to_string(y[i]) + " at index " +
                            std::to_string(i) + ")");
    }
    worst = std::max(worst, static_cast<double>(std::fabs(x[i] - y[i])));
  }
  return worst;
}

}  // namespace

ExportResult export_native(const fs::path& model_dir, const fs::path& output_dir, const ExportOptions& options) {
  const fs::path config_dir = options.config_dir.empty() ? model_dir : options.config_dir;
  models::register_architectures();  // the config specs and export configs derive from it
  const std::string library = tasks::check_loadable(config_dir);
  if (is_decoder_checkpoint(config_dir)) return export_decoder(model_dir, output_dir, options);
  if (is_seq2seq_checkpoint(config_dir)) return export_seq2seq(model_dir, output_dir, options);
  const config::EncoderConfig cfg = config::load_config(config_dir);
  const std::string task =
      options.task == "auto" ? tasks::infer_task(config_dir) : tasks::canonical_task(options.task);
  const tasks::ExportConfig& export_config = tasks::get_export_config("native", cfg.model_type, task);
  const kernels::WeightType type = kernels::weight_type_from_name(options.dtype);
  const std::string dtype(kernels::weight_type_name(type));
  const double atol = options.atol.value_or(export_config.atol);
  const tasks::Task engine_task = tasks::task_from_name(task);
  const std::vector<int64_t> batches = internal::validation_batches(options);
  // RoBERTa-style positions start past the padding index.
  const bool from_padding = models::find_family(cfg.model_type).positions == models::PositionStyle::FromPaddingIndex;
  // Vision encoders run the one sequence length their config fixes (patches + CLS).
  const std::vector<int64_t> lengths =
      cfg.is_vision() ? std::vector<int64_t>{cfg.max_position_embeddings}
                      : internal::validation_lengths(
                            options, cfg.max_position_embeddings - (from_padding ? cfg.pad_token_id + 1 : 0), {8, 33});
  if (cfg.is_vision() && type != kernels::WeightType::F32) {
    throw Unsupported("dtype " + dtype + " exports of vision model_type '" + cfg.model_type +
                      "' are not supported yet: the accuracy guard calibrates on texts (export with --dtype fp32)");
  }
  std::shared_ptr<const models::EncoderModel> source;
  {
    ProgressStep step("load", model_dir.string());
    source = models::EncoderModel::load(model_dir, engine_task, config_dir);
  }

  // Low precision: the accuracy guard picks which layer Linears stay fp32;
  // `target` is the model in the exported precisions (the validation reference).
  std::shared_ptr<const models::EncoderModel> target = source;
  io::Json accuracy;
  if (type != kernels::WeightType::F32) {
    const models::LinearConverter convert = internal::caching_converter();
    const AccuracyOptions guard = internal::guard_options(options, export_config, type);
    AccuracyReport report;
    const models::PrecisionPlan plan = choose_precision(*source, model_dir, type, guard, convert, &report);
    target = models::with_precision(*source, plan, convert);
    accuracy = report.to_json();
  }

  fs::path out = output_dir;
  if (out.filename().empty()) out = out.parent_path();
  TempDir tmp(out.parent_path() / (out.filename().string() + ".partial-" + std::to_string(::getpid())));

  // 1. Weights in the engine's layout, config.json, preprocessors.
  std::optional<ProgressStep> writing(std::in_place, "write", out.string());
  models::NativeLayout native = target->native_layout();
  const io::Json weights = models::save_native_weights(tmp.path(), native.tensors,
                                                       {{"format", models::kNativeFormat}, {"layout_version", std::to_string(models::kNativeLayoutVersion)}});
  io::Json config_json = cfg.raw;
  for (const auto& [key, value] : export_config.values_override) config_json[key] = value;
  io::write_json(tmp.path() / "config.json", config_json);
  preprocessors::CopyReport copied = preprocessors::copy(model_dir, tmp.path());
  if (copied.copied.empty() && config_dir != model_dir) copied = preprocessors::copy(config_dir, tmp.path());
  // A vision export persists the image processor its pipelines will run: it must load.
  std::error_code pp_ec;
  if (cfg.is_vision() && fs::exists(tmp.path() / "preprocessor_config.json", pp_ec)) {
    try {
      preprocessors::ImageProcessor::from_pretrained(tmp.path());
    } catch (const Unsupported& e) {  // a processor this build does not run yet is still persisted
      progress_note(std::string("note: ") + e.what());
    } catch (const Error& e) {
      throw FormatError("export: the image processor to persist does not load (" + std::string(e.what()) + ")");
    }
  }
  io::Json meta = internal::export_record(options, model_dir, library, cfg.model_type, task, dtype, native.layout,
                                          weights, copied.copied, accuracy);
  io::write_json(tmp.path() / models::EncoderModel::kExportFile, meta);

  writing.reset();

  // 2. Validation on shapes other than the export's (or the ones asked for): source vs exported.
  ProgressStep validating("validation", "", batches.size() * lengths.size());
  const auto exported = models::EncoderModel::load(tmp.path(), engine_task);
  ExportResult result;
  result.task = task;
  result.model_type = cfg.model_type;
  result.atol = atol;
  result.dtype = dtype;
  result.accuracy = accuracy;
  for (int64_t batch : batches) {
    for (int64_t seq : lengths) {
      validating.set_detail("batch " + std::to_string(batch) + " x sequence " + std::to_string(seq));
      tasks::DummyShapes shapes = export_config.default_shapes;
      shapes.batch_size = batch;
      shapes.sequence_length = seq;
      const auto inputs = export_config.generate_dummy_inputs(cfg, shapes, static_cast<uint64_t>(batch * 100 + seq));
      const auto want = target->forward(inputs);
      const auto got = exported->forward(inputs);
      for (size_t i = 0; i < want.size(); ++i) {
        const double d = max_abs_diff(want[i].second, got.at(i).second, want[i].first);
        result.validation.push_back({batch, shapes.sequence_length, want[i].first, d});
        result.max_abs_diff = std::max(result.max_abs_diff, d);
        if (d > atol) {
          throw ValidationError("export validation failed: output '" + want[i].first + "' differs by " +
                                std::to_string(d) + " > atol " + std::to_string(atol) + " at batch " +
                                std::to_string(batch) + " x sequence " + std::to_string(shapes.sequence_length));
        }
      }
      validating.advance();
    }
  }
  io::Json report = io::Json::array();
  for (const ValidationCase& v : result.validation) {
    report.push_back({{"batch_size", v.batch_size},
                      {"sequence_length", v.sequence_length},
                      {"output", v.output},
                      {"max_abs_diff", v.max_abs_diff}});
  }
  meta["validation"] = {{"passed", true},
                        {"reference", type == kernels::WeightType::F32 ? "source" : "source in " + dtype + " (in memory)"},
                        {"atol", atol},
                        {"max_abs_diff", result.max_abs_diff},
                        {"cases", report}};
  io::write_json(tmp.path() / models::EncoderModel::kExportFile, meta);

  internal::write_model_card(tmp.path(), meta, model_dir);
  models::remove_legacy_native_weights(out);
  move_into(tmp.path(), out);
  tmp.release();
  result.output_dir = out;
  result.preprocessors = copied.copied;
  return result;
}

}  // namespace optimum::exporters
