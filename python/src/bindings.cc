// Python bindings: the native model and the one table that maps C++
// exceptions to Python ones.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "optimum/core/threading.h"
#include "optimum/modeling/modeling.h"

namespace py = pybind11;
using namespace optimum;

// Defined in tokenizers_bindings.cc.
void bind_tokenizers(py::module_& m);

namespace {

Tensor tensor_from_numpy(const std::string& name, const py::handle& obj) {
  py::array arr = py::array::ensure(obj);
  if (!arr) throw InvalidArgument("input '" + name + "' is not array-like");
  const char kind = arr.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'b') {
    throw InvalidArgument("input '" + name + "' has dtype " + std::string(py::str(arr.dtype())) +
                          "; expected an integer array");
  }
  auto ints = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
  Shape shape(ints.shape(), ints.shape() + ints.ndim());
  return Tensor::from_data(DType::I64, shape, ints.data());
}

py::array tensor_to_numpy(const Tensor& t) {
  // The capsule keeps the tensor's storage alive while numpy uses it.
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array_t<float>(shape, keep->data<float>(), owner);
}

class PyModel {
 public:
  PyModel(const std::string& path, const std::string& task, int num_threads) {
    modeling::LoadOptions opts;
    opts.task = tasks::task_from_name(task);
    opts.num_threads = num_threads;
    py::gil_scoped_release release;
    model_ = modeling::OptimizedModel::from_pretrained(path, opts);
  }

  py::dict forward(const py::dict& inputs) const {
    std::map<std::string, Tensor> in;
    for (auto item : inputs) {
      if (item.second.is_none()) continue;
      const std::string name = py::str(item.first);
      in[name] = tensor_from_numpy(name, item.second);
    }
    modeling::NamedTensors out;
    {
      py::gil_scoped_release release;
      out = model_->forward(in);
    }
    py::dict result;
    for (const auto& [name, t] : out) result[py::str(name)] = tensor_to_numpy(t);
    return result;
  }

  std::vector<std::string> input_names() const { return model_->input_names(); }
  std::vector<std::string> output_names() const { return model_->output_names(); }
  std::string task() const { return tasks::task_name(model_->task()); }
  std::string model_type() const { return model_->config().model_type; }
  std::string config_json() const { return model_->config().raw.dump(); }
  std::string path() const { return model_->path().string(); }

 private:
  std::shared_ptr<modeling::OptimizedModel> model_;
};

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "optimum-cpp native engine";
  // One table: C++ error type -> Python exception class. Translators run
  // newest first, so the base class is registered before its subclasses.
  py::register_exception<Error>(m, "OptimumError", PyExc_RuntimeError);
  py::register_exception<InvalidArgument>(m, "InvalidArgumentError", PyExc_ValueError);
  py::register_exception<NotFound>(m, "NotFoundError", PyExc_FileNotFoundError);
  py::register_exception<Unsupported>(m, "UnsupportedError", PyExc_ValueError);
  py::register_exception<FormatError>(m, "FormatError", PyExc_ValueError);
  py::register_exception<IoError>(m, "IoError", PyExc_OSError);

  py::class_<PyModel>(m, "Model")
      .def(py::init<const std::string&, const std::string&, int>(), py::arg("path"),
           py::arg("task") = "feature-extraction", py::arg("num_threads") = 0)
      .def("forward", &PyModel::forward, py::arg("inputs"))
      .def_property_readonly("input_names", &PyModel::input_names)
      .def_property_readonly("output_names", &PyModel::output_names)
      .def_property_readonly("task", &PyModel::task)
      .def_property_readonly("model_type", &PyModel::model_type)
      .def_property_readonly("config_json", &PyModel::config_json)
      .def_property_readonly("path", &PyModel::path);
  bind_tokenizers(m);
  m.def("set_num_threads", &set_num_threads, py::arg("n"), "Compute threads (0: all cores)");
  m.def("get_num_threads", &num_threads);
}
