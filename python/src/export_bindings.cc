// Python bindings of the export registry (inputs / outputs with dynamic
// axes, dummy-input generators) and of native export, decoders included
// (checkpoint folders and GGUF files). The GIL is released while exporting.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include "optimum/exporters/decoder_export.h"
#include "optimum/exporters/export.h"
#include "optimum/exporters/onnx.h"
#include "optimum/generation/language_model.h"
#include "optimum/models/decoder.h"
#include "optimum/tasks/registry.h"

namespace py = pybind11;
using namespace optimum;

namespace {

py::list specs(const std::vector<tasks::TensorSpec>& v) {
  py::list out;
  for (const tasks::TensorSpec& s : v) {
    py::dict axes;
    for (const auto& [axis, name] : s.axes) axes[py::int_(axis)] = name;
    out.append(py::make_tuple(s.name, axes));
  }
  return out;
}

py::array to_numpy(const Tensor& t) {
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  if (t.dtype() == DType::I64) return py::array_t<int64_t>(shape, keep->data<int64_t>(), owner);
  return py::array_t<float>(shape, keep->data<float>(), owner);
}

py::dict result_dict(const exporters::ExportResult& r) {
  py::dict d;
  d["output_dir"] = r.output_dir.string();
  d["task"] = r.task;
  d["model_type"] = r.model_type;
  d["dtype"] = r.dtype;
  d["atol"] = r.atol;
  d["max_abs_diff"] = r.max_abs_diff;
  d["accuracy_json"] = r.accuracy.is_null() ? std::string() : r.accuracy.dump();
  return d;
}

exporters::ExportOptions export_options(const std::string& task, const std::string& dtype,
                                        const std::vector<std::string>& texts, bool strict,
                                        const std::string& fallback, double min_cosine, double min_agreement) {
  exporters::ExportOptions o;
  o.task = task;
  o.dtype = dtype;
  o.calibration_texts = texts;
  o.strict_accuracy = strict;
  o.fallback_dtype = fallback;
  o.min_cosine = min_cosine;
  o.min_agreement = min_agreement;
  return o;
}

// The GGUF file as transformers reads it, written as a checkpoint folder next
// to the output (removed afterwards), then exported.
exporters::ExportResult export_gguf(const std::string& gguf_path, const std::string& output_dir,
                                    const exporters::ExportOptions& o) {
  const auto lm = generation::LanguageModel::from_pretrained(gguf_path);
  std::filesystem::path out = output_dir;
  if (out.filename().empty()) out = out.parent_path();
  const std::filesystem::path tmp = out.parent_path() / (out.filename().string() + ".gguf-" + std::to_string(::getpid()));
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } cleanup{tmp};
  lm->save_pretrained(tmp);
  return exporters::export_native(tmp, out, o);
}

}  // namespace

void bind_export(py::module_& m) {
  m.def(
      "export_config",
      [](const std::string& model_type, const std::string& task, int64_t n_layers, const std::string& exporter) {
        const tasks::ExportConfig& c = tasks::get_export_config(exporter, model_type, task);
        py::dict d;
        d["model_type"] = c.model_type;
        d["task"] = c.task;
        d["use_past"] = c.use_past;
        d["is_decoder"] = c.is_decoder;
        d["is_encoder_decoder"] = c.is_encoder_decoder;
        d["decoder_inputs"] = specs(n_layers > 0 ? c.expanded_decoder_inputs(n_layers) : c.decoder_inputs);
        d["decoder_outputs"] = specs(n_layers > 0 ? c.expanded_decoder_outputs(n_layers) : c.decoder_outputs);
        d["atol"] = c.atol;
        d["min_cosine"] = c.min_cosine;
        d["min_agreement"] = c.min_agreement;
        d["inputs"] = specs(n_layers > 0 ? c.expanded_inputs(n_layers) : c.inputs);
        d["outputs"] = specs(n_layers > 0 ? c.expanded_outputs(n_layers) : c.outputs);
        return d;
      },
      py::arg("model_type"), py::arg("task"), py::arg("n_layers") = 0, py::arg("exporter") = "native",
      "The export registry's entry of `exporter` (native or onnx): inputs / outputs as (name, {axis: name}) with '{i}' expanded for "
      "n_layers layers (0: templates)");
  m.def("supported_tasks",
        [](const std::string& model_type, const std::string& exporter) {
          return tasks::supported_tasks(exporter, model_type);
        },
        py::arg("model_type"), py::arg("exporter") = "native");
  m.def(
      "export_onnx",
      [](const std::string& model_dir, const std::string& output_dir, const std::string& task, int opset,
         const std::string& dtype, bool dynamic_axes, int64_t batch_size, int64_t sequence_length,
         bool external_data) {
        exporters::OnnxExportOptions o;
        o.task = task;
        o.opset = opset;
        o.dtype = dtype;
        o.dynamic_axes = dynamic_axes;
        o.batch_size = batch_size;
        o.sequence_length = sequence_length;
        o.external_data = external_data;
        exporters::OnnxExportResult r;
        {
          py::gil_scoped_release release;
          r = exporters::export_onnx(model_dir, output_dir, o);
        }
        py::dict d;
        d["output_dir"] = r.output_dir.string();
        d["model_type"] = r.model_type;
        d["task"] = r.task;
        d["dtype"] = r.dtype;
        d["opset"] = r.opset;
        d["external_data"] = r.external_data;
        d["inputs"] = r.inputs;
        d["outputs"] = r.outputs;
        d["preprocessors"] = r.preprocessors;
        d["nodes"] = r.nodes;
        d["parameters"] = r.parameters;
        return d;
      },
      py::arg("model_dir"), py::arg("output_dir"), py::arg("task") = "auto",
      py::arg("opset") = exporters::kOnnxDefaultOpset, py::arg("dtype") = "fp32", py::arg("dynamic_axes") = true,
      py::arg("batch_size") = 0, py::arg("sequence_length") = 0, py::arg("external_data") = false,
      "ONNX export of a local checkpoint folder (exporters/onnx.h)");
  m.def("registry_table", &tasks::registry_table);
  m.def("decoder_model_types", &tasks::decoder_model_types, "Decoder model types of the export registry");
  m.def("engine_decoder_model_types", &models::decoder_model_types, "Decoder families the engine registers");
  m.def(
      "decoder_dummy_inputs",
      [](const std::string& model_type, const std::string& task, int64_t vocab_size, int64_t pad_token_id,
         int64_t n_layers, int64_t n_heads_kv, int64_t head_dim, int64_t batch_size, int64_t sequence_length,
         int64_t past_sequence_length, uint64_t seed, bool left_padding) {
        const tasks::ExportConfig& c = tasks::get_export_config("native", model_type, task);
        tasks::DecoderDummyConfig dc{vocab_size, pad_token_id, n_layers, n_heads_kv, head_dim};
        tasks::DummyShapes s;
        s.batch_size = batch_size;
        s.sequence_length = sequence_length;
        s.past_sequence_length = past_sequence_length;
        py::dict out;
        for (const auto& [name, t] : tasks::generate_decoder_dummy_inputs(c, dc, s, seed, left_padding)) {
          out[py::str(name)] = to_numpy(t);
        }
        return out;
      },
      py::arg("model_type"), py::arg("task"), py::arg("vocab_size"), py::arg("pad_token_id"), py::arg("n_layers"),
      py::arg("n_heads_kv"), py::arg("head_dim"), py::arg("batch_size") = 2, py::arg("sequence_length") = 16,
      py::arg("past_sequence_length") = 16, py::arg("seed") = 0, py::arg("left_padding") = false);
  m.def(
      "export_native",
      [](const std::string& model_dir, const std::string& output_dir, const std::string& task,
         const std::string& dtype, const std::vector<std::string>& calibration_texts, bool strict,
         const std::string& fallback_dtype, double min_cosine, double min_agreement) {
        const auto o =
            export_options(task, dtype, calibration_texts, strict, fallback_dtype, min_cosine, min_agreement);
        exporters::ExportResult r;
        {
          py::gil_scoped_release release;
          r = exporters::export_native(model_dir, output_dir, o);
        }
        return result_dict(r);
      },
      py::arg("model_dir"), py::arg("output_dir"), py::arg("task") = "auto", py::arg("dtype") = "fp32",
      py::arg("calibration_texts") = std::vector<std::string>{}, py::arg("strict_accuracy") = false,
      py::arg("fallback_dtype") = "auto", py::arg("min_cosine") = 0.0, py::arg("min_agreement") = 0.0);
  m.def(
      "export_gguf",
      [](const std::string& gguf_path, const std::string& output_dir, const std::string& task,
         const std::string& dtype, const std::vector<std::string>& calibration_texts, bool strict,
         const std::string& fallback_dtype, double min_cosine, double min_agreement) {
        auto o = export_options(task, dtype, calibration_texts, strict, fallback_dtype, min_cosine, min_agreement);
        o.source_id = gguf_path;
        exporters::ExportResult r;
        {
          py::gil_scoped_release release;
          r = export_gguf(gguf_path, output_dir, o);
        }
        return result_dict(r);
      },
      py::arg("gguf_path"), py::arg("output_dir"), py::arg("task") = "auto", py::arg("dtype") = "fp32",
      py::arg("calibration_texts") = std::vector<std::string>{}, py::arg("strict_accuracy") = false,
      py::arg("fallback_dtype") = "auto", py::arg("min_cosine") = 0.0, py::arg("min_agreement") = 0.0);
}
