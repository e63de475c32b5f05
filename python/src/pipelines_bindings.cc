// Python bindings of the task pipelines. Inputs, options and results cross
// as JSON text: the Python side (optimum_cpp.pipeline) turns kwargs into JSON
// and results back into dicts and lists.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

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

  std::string task() const { return pipeline_->task(); }
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
      .def_property_readonly("task", &PyPipeline::task)
      .def_property_readonly("model_path", &PyPipeline::model_path);
  m.def("pipeline_tasks", &pipelines::pipeline_tasks, "Task names pipeline() accepts");
}
