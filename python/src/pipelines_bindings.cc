// Python bindings of the task pipelines. Inputs, options and results cross
// as JSON text: the Python side (optimum_cpp.pipeline) turns kwargs into JSON
// and results back into dicts and lists.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/pipelines/pipeline.h"

namespace py = pybind11;
using namespace optimum;

namespace {

class PyPipeline {
 public:
  PyPipeline(const std::string& task, const std::string& model, const std::string& kwargs_json) {
    const auto kwargs = io::parse_json(kwargs_json, "pipeline kwargs");
    const auto options = pipelines::PipelineOptions::from_kwargs(kwargs);
    py::gil_scoped_release release;
    pipeline_ = pipelines::pipeline(task, model, options);
  }

  std::string call(const std::string& inputs_json, const std::string& options_json) const {
    const auto inputs = io::parse_json(inputs_json, "pipeline inputs");
    const auto options = io::parse_json(options_json, "pipeline options");
    io::Json result;
    {
      py::gil_scoped_release release;
      result = (*pipeline_)(inputs, options);
    }
    return result.dump(-1, ' ', false, io::Json::error_handler_t::replace);
  }

  // Pipeline::run_batch: a list of inputs, one result per input.
  std::string run_batch(const std::string& inputs_json, const std::string& options_json, size_t batch_size) const {
    const auto inputs = io::parse_json(inputs_json, "pipeline inputs");
    const auto options = io::parse_json(options_json, "pipeline options");
    if (!inputs.is_array()) throw InvalidArgument("run_batch: inputs must be a list, got " + inputs.dump());
    std::vector<io::Json> items(inputs.begin(), inputs.end());
    io::Json result;
    {
      py::gil_scoped_release release;
      result = io::Json(pipeline_->run_batch(items, options, batch_size));
    }
    return result.dump(-1, ' ', false, io::Json::error_handler_t::replace);
  }

  // The staged API as the server drives it: [[input, options], ...], each
  // with its own call options, `batch_size` of them per forward.
  std::string run_staged(const std::string& items_json, size_t batch_size) const {
    const auto items = io::parse_json(items_json, "pipeline items");
    if (!items.is_array()) throw InvalidArgument("run_staged: items must be a list of [input, options]");
    if (batch_size == 0) throw InvalidArgument("run_staged: batch_size must be a positive integer, got 0");
    io::Json result = io::Json::array();
    {
      py::gil_scoped_release release;
      std::vector<std::unique_ptr<pipelines::PreparedInput>> prepared;
      for (const auto& item : items) {
        if (!item.is_array() || item.size() != 2)
          throw InvalidArgument("run_staged: each item must be [input, options], got " + item.dump());
        prepared.push_back(pipeline_->preprocess(item[0], item[1]));
      }
      for (size_t start = 0; start < prepared.size(); start += batch_size) {
        std::vector<pipelines::PreparedInput*> batch;
        for (size_t i = start; i < std::min(prepared.size(), start + batch_size); ++i)
          batch.push_back(prepared[i].get());
        pipeline_->forward(batch);
        for (auto* p : batch) result.push_back(pipeline_->postprocess(*p));
      }
    }
    return result.dump(-1, ' ', false, io::Json::error_handler_t::replace);
  }

  std::string task() const { return pipeline_->task(); }
  size_t batch_size() const { return pipeline_->batch_size(); }
  int64_t embedding_dimension() const { return pipeline_->embedding_dimension(); }
  std::string model_path() const { return pipeline_->model().path().string(); }

 private:
  std::unique_ptr<pipelines::Pipeline> pipeline_;
};

}  // namespace

void bind_pipelines(py::module_& m) {
  py::class_<PyPipeline>(m, "Pipeline")
      .def(py::init<const std::string&, const std::string&, const std::string&>(), py::arg("task"),
           py::arg("model"), py::arg("kwargs_json") = "{}")
      .def("call_json", &PyPipeline::call, py::arg("inputs_json"), py::arg("options_json") = "{}")
      .def("run_batch_json", &PyPipeline::run_batch, py::arg("inputs_json"), py::arg("options_json") = "{}",
           py::arg("batch_size") = 1)
      .def("run_staged_json", &PyPipeline::run_staged, py::arg("items_json"), py::arg("batch_size") = 1)
      .def_property_readonly("task", &PyPipeline::task)
      .def_property_readonly("batch_size", &PyPipeline::batch_size)
      .def_property_readonly("embedding_dimension", &PyPipeline::embedding_dimension)
      .def_property_readonly("model_path", &PyPipeline::model_path);
  m.def("pipeline_tasks", &pipelines::pipeline_tasks, "Task names pipeline() accepts");
}
