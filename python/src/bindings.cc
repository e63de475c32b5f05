// Python bindings: the native model and the one table that maps C++
// exceptions to Python ones.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <exception>
#include <set>
#include <utility>
#include <vector>

#include "optimum/kernels/matmul.h"
#include "optimum/core/threading.h"
#include "optimum/core/version.h"
#include "optimum/exporters/export.h"
#include "optimum/generation/language_model.h"
#include "optimum/hub/errors.h"
#include "optimum/io/json.h"
#include "optimum/modeling/modeling.h"
#include "optimum/models/architecture.h"
#include "optimum/models/decoder_heads.h"

namespace py = pybind11;
using namespace optimum;

// Defined in tokenizers_bindings.cc.
void bind_tokenizers(py::module_& m);
// Defined in pipelines_bindings.cc.
void bind_pipelines(py::module_& m);
// Defined in sentence_bindings.cc.
void bind_sentence_transformers(py::module_& m);
// Defined in causal_lm_bindings.cc.
void bind_causal_lm(py::module_& m);
// Defined in generation_bindings.cc.
void bind_generation(py::module_& m);
// Defined in chat_template_bindings.cc.
void bind_chat_template(py::module_& m);
// Defined in gguf_tokenizer_bindings.cc.
void bind_gguf_tokenizer(py::module_& m);
// Defined in gguf_bindings.cc.
void bind_gguf(py::module_& m);
// Defined in language_model_bindings.cc.
void bind_language_model(py::module_& m);
// Defined in decoder_heads_bindings.cc.
void bind_decoder_heads(py::module_& m);
// Defined in export_bindings.cc.
void bind_export(py::module_& m);
// Defined in seq2seq_bindings.cc.
void bind_seq2seq(py::module_& m);
// Defined in image_bindings.cc.
void bind_image(py::module_& m);
// Defined in audio_bindings.cc.
void bind_audio(py::module_& m);

namespace {

Tensor tensor_from_numpy(const std::string& name, const py::handle& obj) {
  py::array arr = py::array::ensure(obj);
  if (!arr) throw InvalidArgument("input '" + name + "' is not array-like");
  const char kind = arr.dtype().kind();
  // Float inputs (images, audio features) go to the model as float32; ids
  // and masks stay integer-only, below.
  static const std::set<std::string> kFloatInputs = {"pixel_values", "input_features", "input_values"};
  if (kind == 'f' && kFloatInputs.count(name) != 0) {
    auto floats = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(arr);
    Shape shape(floats.shape(), floats.shape() + floats.ndim());
    return Tensor::from_data(DType::F32, shape, floats.data());
  }
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

// One Python exception class per C++ error type, in registration order (a
// base before its subclasses), for the translator below.
std::vector<std::pair<bool (*)(const std::exception&), PyObject*>>& error_table() {
  static std::vector<std::pair<bool (*)(const std::exception&), PyObject*>> table;
  return table;
}

// The Python FormatError class (set when the module is created).
PyObject*& format_error_class() {
  static PyObject* cls = nullptr;
  return cls;
}

// Registers Python class `name` (deriving from `base`) for C++ error type E.
template <class E>
py::object add_error(py::module_& m, const char* name, py::handle base) {
  auto& cls = py::register_exception<E>(m, name, base);
  error_table().emplace_back([](const std::exception& e) { return dynamic_cast<const E*>(&e) != nullptr; },
                             cls.ptr());
  return cls;
}

// Raises `cls(what)`. Messages may quote bytes of a hostile file or path that
// are not UTF-8: they are decoded with errors="backslashreplace", so Python
// gets the intended class (not UnicodeDecodeError) and a readable message.
void set_python_error(PyObject* cls, const char* what) {
  PyObject* msg = PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "backslashreplace");
  if (msg == nullptr) {
    PyErr_Clear();
    PyErr_SetString(cls, "(undecodable error message)");
    return;
  }
  PyErr_SetObject(cls, msg);
  Py_DECREF(msg);
}

// The most derived registered class of `e`; nlohmann errors that escaped a
// file-load boundary count as FormatError.
void translate_error(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const Error& e) {
    const auto& table = error_table();
    for (auto it = table.rbegin(); it != table.rend(); ++it) {
      if (it->first(e)) return set_python_error(it->second, e.what());
    }
    throw;
  } catch (const nlohmann::json::exception& e) {
    set_python_error(format_error_class(), io::json_error_message("JSON", e).c_str());
  }
}

// `root` as Python objects (dict, list, str, int, float, bool, None), built
// without recursion: a config may nest 1000 levels (io::kMaxJsonDepth), more
// than json.loads can take under Python's default recursion limit.
py::object json_to_python(const io::Json& root) {
  auto make = [](const io::Json& v) -> py::object {
    switch (v.type()) {
      case io::Json::value_t::object: return py::dict();
      case io::Json::value_t::array: return py::list();
      case io::Json::value_t::string: {
        const auto& s = v.get_ref<const std::string&>();
        return py::reinterpret_steal<py::object>(
            PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace"));
      }
      case io::Json::value_t::boolean: return py::bool_(v.get<bool>());
      case io::Json::value_t::number_integer: return py::int_(v.get<int64_t>());
      case io::Json::value_t::number_unsigned: return py::int_(v.get<uint64_t>());
      case io::Json::value_t::number_float: return py::float_(v.get<double>());
      default: return py::none();
    }
  };
  py::object out = make(root);
  std::vector<std::pair<const io::Json*, py::object>> stack;
  if (root.is_structured()) stack.emplace_back(&root, out);
  while (!stack.empty()) {
    auto [json, target] = std::move(stack.back());
    stack.pop_back();
    for (auto it = json->begin(); it != json->end(); ++it) {
      py::object child = make(it.value());
      if (json->is_object()) {
        target[py::str(it.key())] = child;
      } else {
        target.cast<py::list>().append(child);
      }
      if (it.value().is_structured()) stack.emplace_back(&it.value(), std::move(child));
    }
  }
  return out;
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
          const std::string& fallback_dtype, const std::string& export_cache_dir, bool allow_base_model) {
    modeling::LoadOptions opts;
    opts.export_cache = export_cache_dir;
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
    opts.allow_base_model = allow_base_model;
    py::gil_scoped_release release;
    model_ = modeling::OptimizedModel::from_pretrained(model_id, opts);
  }

  // A model already loaded (generation::LanguageModel's).
  explicit PyModel(std::shared_ptr<const modeling::OptimizedModel> model) : model_(std::move(model)) {}

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
  std::string model_type() const { return model_->model_type(); }
  std::string config_json() const { return model_->config_json().dump(); }
  py::object config() const { return json_to_python(model_->config_json()); }
  std::string path() const { return model_->path().string(); }

  std::string session() const { return model_->describe(); }
  std::string session_type() const { return model_->session().session_type(); }
  // The decoder engine as the _C.CausalLM generation runs (shares the session's lifetime).
  std::shared_ptr<models::CausalLM> causal_lm() const {
    const auto* d = decoder();
    if (d == nullptr || !d->model()) {
      throw Unsupported("model_type '" + model_->model_type() + "' (task " + task() +
                        ") has no causal language model: load a decoder for text-generation or feature-extraction");
    }
    return std::const_pointer_cast<models::CausalLM>(std::static_pointer_cast<const models::CausalLM>(d->model()));
  }

  // The decoder head session, or null for an encoder.
  const models::DecoderSession* decoder() const {
    return dynamic_cast<const models::DecoderSession*>(&model_->session());
  }
  int64_t hidden_size() const {
    if (const auto* d = decoder()) return d->base().config().hidden_size;
    return model_->config().hidden_size;
  }
  // A decoder classifier's score rows, an encoder's config num_labels; None for other decoder heads.
  py::object num_labels() const {
    const auto* d = decoder();
    if (d == nullptr) return py::int_(model_->config().num_labels);
    if (d->classifier() != nullptr) return py::int_(d->classifier()->num_labels());
    return py::none();
  }
  // The pad id a decoder classifier pools with (None without one).
  py::object pad_token_id() const {
    const auto* d = decoder();
    if (d == nullptr || d->classifier() == nullptr || !d->classifier()->pad_token_id()) return py::none();
    return py::int_(*d->classifier()->pad_token_id());
  }

 private:
  std::shared_ptr<const modeling::OptimizedModel> model_;
};

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "optimum-cpp native engine";
  m.attr("__version__") = optimum::version();
  // The config, task and supported lists derive from the architecture registry.
  models::register_architectures();
  // One table: C++ error type -> Python exception class. Translators run
  // newest first, so the base class is registered before its subclasses.
  add_error<Error>(m, "OptimumError", PyExc_RuntimeError);
  add_error<InvalidArgument>(m, "InvalidArgumentError", PyExc_ValueError);
  add_error<NotFound>(m, "NotFoundError", PyExc_FileNotFoundError);
  add_error<Unsupported>(m, "UnsupportedError", PyExc_ValueError);
  format_error_class() = add_error<FormatError>(m, "FormatError", PyExc_ValueError).ptr();
  const py::object io_error = add_error<IoError>(m, "IoError", PyExc_OSError);
  // Hub errors (optimum/hub/errors.h), each under its core base class.
  add_error<hub::RepositoryNotFound>(m, "RepositoryNotFoundError", m.attr("NotFoundError"));
  add_error<hub::RevisionNotFound>(m, "RevisionNotFoundError", m.attr("NotFoundError"));
  add_error<hub::EntryNotFound>(m, "EntryNotFoundError", m.attr("NotFoundError"));
  add_error<hub::OfflineCacheMiss>(m, "OfflineCacheMissError", m.attr("NotFoundError"));
  add_error<hub::AccessDenied>(m, "AccessDeniedError", m.attr("OptimumError"));
  add_error<hub::NetworkError>(m, "NetworkError", io_error);
  add_error<hub::CorruptDownload>(m, "CorruptDownloadError", io_error);
  add_error<exporters::ValidationError>(m, "ValidationError", m.attr("OptimumError"));
  // Registered last, so it runs first: one translator for every class above.
  py::register_exception_translator(&translate_error);

  py::class_<PyModel>(m, "Model")
      .def(py::init<const std::string&, const std::string&, int, bool, const std::string&, const std::string&,
                    const std::string&, const std::string&, const std::string&, bool, bool,
                    const std::vector<std::string>&, bool, const std::string&, const std::string&, bool>(),
           py::arg("model_id"), py::arg("task") = "feature-extraction", py::arg("num_threads") = 0,
           py::arg("export") = false, py::arg("dtype") = "auto", py::arg("revision") = "", py::arg("subfolder") = "",
           py::arg("cache_dir") = "", py::arg("token") = "", py::arg("force_download") = false,
           py::arg("local_files_only") = false, py::arg("calibration_texts") = std::vector<std::string>{},
           py::arg("strict_accuracy") = false, py::arg("fallback_dtype") = "auto",
           py::arg("export_cache_dir") = "", py::arg("allow_base_model") = false)
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
      .def_property_readonly("config", &PyModel::config, "config.json as a dict (inf kept, any depth)")
      .def_property_readonly("path", &PyModel::path)
      .def_property_readonly("is_decoder", [](const PyModel& p) { return p.decoder() != nullptr; })
      .def_property_readonly("hidden_size", &PyModel::hidden_size)
      .def_property_readonly("num_labels", &PyModel::num_labels)
      .def_property_readonly("pad_token_id", &PyModel::pad_token_id)
      .def_property_readonly("session", &PyModel::session,
                             "OptimizedModel(session=<EncoderModel|DecoderSession>, task=..., model_type=...)")
      .def_property_readonly("session_type", &PyModel::session_type)
      .def_property_readonly("causal_lm", &PyModel::causal_lm,
                             "A decoder's engine as the _C.CausalLM that generate() runs");
  bind_tokenizers(m);
  bind_gguf_tokenizer(m);
  bind_pipelines(m);
  bind_chat_template(m);
  bind_sentence_transformers(m);
  bind_causal_lm(m);
  bind_generation(m);
  bind_gguf(m);
  bind_language_model(m);
  m.def(
      "language_model_session",
      [](const std::shared_ptr<generation::LanguageModel>& lm) { return PyModel(lm->optimized_model()); },
      py::arg("language_model"), "The OptimizedModel (a DecoderSession) a LanguageModel generates with");
  bind_decoder_heads(m);
  bind_export(m);
  bind_seq2seq(m);
  bind_image(m);
  bind_audio(m);
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
