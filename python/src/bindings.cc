// Python bindings: the native model and the one table that maps C++
// exceptions to Python ones.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "optimum/kernels/matmul.h"
#include "optimum/core/threading.h"
#include "optimum/exporters/export.h"
#include "optimum/hub/errors.h"
#include "optimum/modeling/modeling.h"

namespace py = pybind11;
using namespace optimum;

// Defined in tokenizers_bindings.cc.
void bind_tokenizers(py::module_& m);
// Defined in pipelines_bindings.cc.
void bind_pipelines(py::module_& m);
// Defined in sentence_bindings.cc.
void bind_sentence_transformers(py::module_& m);

namespace {

Tensor tensor_from_numpy(const std::string& name, const py::handle& obj) {
  py::array arr = py::array::ensure(obj);
  if (!arr) throw InvalidArgument("input '" + name + "' is not array-like");
  const char kind = arr.dtype().kind();
  // Ids index tables: integers only, as torch's embeddings require. A bool
  // attention_mask is a mask (transformers accepts it too).
  if (kind != 'i' && kind != 'u' && !(kind == 'b' && name == "attention_mask")) {
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

modeling::PushOptions push_options(const std::string& token, bool private_repo, const std::string& commit_message,
                                   const std::string& revision, const std::string& path_in_repo) {
  modeling::PushOptions o;
  o.token = token;
  o.private_repo = private_repo;
  if (!commit_message.empty()) o.commit_message = commit_message;
  o.revision = revision;
  o.path_in_repo = path_in_repo;
  return o;
}

py::dict commit_to_dict(const hub::CommitInfo& info) {
  py::dict out;
  out["commit"] = info.commit;
  out["commit_url"] = info.commit_url;
  out["files"] = info.files;
  return out;
}

class PyModel {
 public:
  PyModel(const std::string& model_id, const std::string& task, int num_threads, bool export_model,
          const std::string& dtype, const std::string& revision, const std::string& subfolder,
          const std::string& cache_dir, const std::string& token, bool force_download, bool local_files_only,
          const std::vector<std::string>& calibration_texts, bool strict_accuracy,
          const std::string& fallback_dtype) {
    modeling::LoadOptions opts;
    opts.task = tasks::task_from_name(task);
    opts.num_threads = num_threads;
    opts.export_model = export_model;
    opts.dtype = dtype;
    opts.hub.revision = revision;
    opts.hub.subfolder = subfolder;
    opts.hub.cache_dir = cache_dir;
    opts.hub.token = token;
    opts.hub.force_download = force_download;
    opts.hub.local_files_only = local_files_only;
    opts.calibration_texts = calibration_texts;
    opts.strict_accuracy = strict_accuracy;
    opts.fallback_dtype = fallback_dtype;
    py::gil_scoped_release release;
    model_ = modeling::OptimizedModel::from_pretrained(model_id, opts);
  }

  void save_pretrained(const std::string& dir) const {
    py::gil_scoped_release release;
    model_->save_pretrained(dir);
  }
  bool exported_now() const { return model_->exported_now(); }

  py::dict push_to_hub(const std::string& repo_id, const std::string& token, bool private_repo,
                       const std::string& commit_message, const std::string& revision) const {
    hub::CommitInfo info;
    {
      py::gil_scoped_release release;
      info = model_->push_to_hub(repo_id, push_options(token, private_repo, commit_message, revision, ""));
    }
    return commit_to_dict(info);
  }

  py::dict forward(const py::dict& inputs, bool skip_padding) const {
    std::map<std::string, Tensor> in;
    for (auto item : inputs) {
      if (item.second.is_none()) continue;
      const std::string name = py::str(item.first);
      in[name] = tensor_from_numpy(name, item.second);
    }
    modeling::NamedTensors out;
    {
      py::gil_scoped_release release;
      out = model_->forward(in, skip_padding);
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
  auto& io_error = py::register_exception<IoError>(m, "IoError", PyExc_OSError);
  // Hub errors (optimum/hub/errors.h), each under its core base class.
  py::register_exception<hub::RepositoryNotFound>(m, "RepositoryNotFoundError", m.attr("NotFoundError"));
  py::register_exception<hub::RevisionNotFound>(m, "RevisionNotFoundError", m.attr("NotFoundError"));
  py::register_exception<hub::EntryNotFound>(m, "EntryNotFoundError", m.attr("NotFoundError"));
  py::register_exception<hub::OfflineCacheMiss>(m, "OfflineCacheMissError", m.attr("NotFoundError"));
  py::register_exception<hub::AccessDenied>(m, "AccessDeniedError", m.attr("OptimumError"));
  py::register_exception<hub::NetworkError>(m, "NetworkError", io_error);
  py::register_exception<hub::CorruptDownload>(m, "CorruptDownloadError", io_error);
  py::register_exception<exporters::ValidationError>(m, "ValidationError", m.attr("OptimumError"));

  py::class_<PyModel>(m, "Model")
      .def(py::init<const std::string&, const std::string&, int, bool, const std::string&, const std::string&,
                    const std::string&, const std::string&, const std::string&, bool, bool,
                    const std::vector<std::string>&, bool, const std::string&>(),
           py::arg("model_id"), py::arg("task") = "feature-extraction", py::arg("num_threads") = 0,
           py::arg("export") = false, py::arg("dtype") = "auto", py::arg("revision") = "", py::arg("subfolder") = "",
           py::arg("cache_dir") = "", py::arg("token") = "", py::arg("force_download") = false,
           py::arg("local_files_only") = false, py::arg("calibration_texts") = std::vector<std::string>{},
           py::arg("strict_accuracy") = false, py::arg("fallback_dtype") = "auto")
      .def("save_pretrained", &PyModel::save_pretrained, py::arg("save_directory"))
      .def_property_readonly("exported_now", &PyModel::exported_now)
      .def("push_to_hub", &PyModel::push_to_hub, py::arg("repo_id"), py::arg("token") = "",
           py::arg("private") = false, py::arg("commit_message") = "", py::arg("revision") = "main")
      .def("forward", &PyModel::forward, py::arg("inputs"), py::arg("skip_padding") = false)
      .def_property_readonly("input_names", &PyModel::input_names)
      .def_property_readonly("output_names", &PyModel::output_names)
      .def_property_readonly("task", &PyModel::task)
      .def_property_readonly("model_type", &PyModel::model_type)
      .def_property_readonly("config_json", &PyModel::config_json)
      .def_property_readonly("path", &PyModel::path);
  bind_tokenizers(m);
  bind_pipelines(m);
  bind_sentence_transformers(m);
  m.def(
      "push_folder_to_hub",
      [](const std::string& folder, const std::string& repo_id, const std::string& token, bool private_repo,
         const std::string& commit_message, const std::string& revision, const std::string& path_in_repo) {
        hub::CommitInfo info;
        {
          py::gil_scoped_release release;
          info = modeling::push_folder_to_hub(folder, repo_id,
                                              push_options(token, private_repo, commit_message, revision, path_in_repo));
        }
        return commit_to_dict(info);
      },
      py::arg("folder"), py::arg("repo_id"), py::arg("token") = "", py::arg("private") = false,
      py::arg("commit_message") = "", py::arg("revision") = "main", py::arg("path_in_repo") = "",
      "Upload a folder (sub-folders kept) to a Hub repository in one commit");
  m.def("set_num_threads", &set_num_threads, py::arg("n"), "Compute threads (0: all cores)");
  m.def("cpu_isa", &kernels::cpu_isa,
        "Instruction set the engine's matmuls use on this CPU (capped by OPTIMUM_CPU_ISA)");
  m.def("get_num_threads", &num_threads);
}
