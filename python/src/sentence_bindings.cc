// Python bindings of the sentence-transformers layer: the native model
// behind optimum_cpp.SentenceTransformer and the similarity functions
// behind optimum_cpp.util.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/pipelines/sentence_transformer.h"

namespace py = pybind11;
using namespace optimum;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// A float32 copy of a 1-D or 2-D array-like.
Tensor float_tensor(const py::handle& obj, const char* name) {
  FloatArray arr = FloatArray::ensure(obj);
  if (!arr) throw InvalidArgument(std::string("'") + name + "' is not a numeric array-like");
  if (arr.ndim() != 1 && arr.ndim() != 2) {
    throw InvalidArgument(std::string("'") + name + "' must have 1 or 2 dimensions, got " +
                          std::to_string(arr.ndim()));
  }
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  return Tensor::from_data(DType::F32, shape, arr.data());
}

py::array to_numpy(const Tensor& t) {
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array_t<float>(shape, keep->data<float>(), owner);
}

using SimFn = Tensor (*)(const Tensor&, const Tensor&);

py::array call_similarity(SimFn f, const py::handle& a, const py::handle& b) {
  Tensor ta = float_tensor(a, "a");
  Tensor tb = float_tensor(b, "b");
  Tensor out;
  {
    py::gil_scoped_release release;
    out = f(ta, tb);
  }
  return to_numpy(out);
}

class PySentenceTransformer {
 public:
  PySentenceTransformer(const std::string& model_id, int num_threads, bool export_model,
                        const std::string& revision, const std::string& subfolder,
                        const std::string& cache_dir, const std::string& token, bool local_files_only,
                        const std::string& dtype, const std::string& export_cache_dir) {
    pipelines::SentenceTransformerOptions o;
    o.load.export_cache = export_cache_dir;
    o.load.dtype = dtype;
    o.load.num_threads = num_threads;
    o.load.export_model = export_model;
    o.load.hub.revision = revision;
    o.load.hub.subfolder = subfolder;
    o.load.hub.cache_dir = cache_dir;
    o.load.hub.token = token;
    o.load.hub.local_files_only = local_files_only;
    py::gil_scoped_release release;
    st_ = pipelines::SentenceTransformer::from_pretrained(model_id, o);
  }

  py::array encode(const std::vector<std::string>& sentences, size_t batch_size, bool normalize,
                   std::optional<std::string> prompt, std::optional<std::string> prompt_name) const {
    pipelines::EncodeOptions o;
    o.batch_size = batch_size;
    o.normalize_embeddings = normalize;
    o.prompt = std::move(prompt);
    o.prompt_name = std::move(prompt_name);
    Tensor out;
    {
      py::gil_scoped_release release;
      out = st_->encode(sentences, o);
    }
    return to_numpy(out);
  }

  // The Transformer module's output per sentence, real tokens only (what
  // encode(output_value="token_embeddings") gives): [(input_ids, token_type_ids,
  // attention_mask, F32 [tokens, hidden])], `batch_size` sentences per forward.
  py::list token_embeddings(const std::vector<std::string>& sentences, size_t batch_size,
                            const std::string& prompt) const {
    if (batch_size == 0) throw InvalidArgument("batch_size must be a positive integer, got 0");
    if (st_->decoder_model()) {
      throw Unsupported(st_->path().string() +
                        ": output_value='token_embeddings' needs an encoder Transformer module; this model's is a "
                        "decoder (use output_value='sentence_embedding')");
    }
    const modeling::OptimizedModel& model = st_->model();
    const auto names = model.input_names();
    const bool types = std::find(names.begin(), names.end(), "token_type_ids") != names.end();
    std::vector<tokenizers::Encoding> enc(sentences.size());
    std::vector<Tensor> rows(sentences.size());
    {
      py::gil_scoped_release release;
      for (size_t i = 0; i < sentences.size(); ++i) enc[i] = st_->tokenize(prompt + sentences[i]);
      for (size_t start = 0; start < enc.size(); start += batch_size) {
        const size_t stop = std::min(enc.size(), start + batch_size);
        const auto b = static_cast<int64_t>(stop - start);
        int64_t len = 0;
        for (size_t i = start; i < stop; ++i) len = std::max(len, static_cast<int64_t>(enc[i].ids.size()));
        if (len == 0) throw InvalidArgument("a sentence tokenized to no tokens");
        Tensor ids = Tensor::zeros(DType::I64, {b, len});
        Tensor mask = Tensor::zeros(DType::I64, {b, len});
        Tensor type_ids = Tensor::zeros(DType::I64, {b, len});
        for (size_t i = start; i < stop; ++i) {
          const auto r = static_cast<int64_t>(i - start);
          for (size_t t = 0; t < enc[i].ids.size(); ++t) {
            const int64_t at = r * len + static_cast<int64_t>(t);
            ids.mutable_data<int64_t>()[at] = enc[i].ids[t];
            mask.mutable_data<int64_t>()[at] = enc[i].attention_mask.empty() ? 1 : enc[i].attention_mask[t];
            type_ids.mutable_data<int64_t>()[at] = enc[i].type_ids.empty() ? 0 : enc[i].type_ids[t];
          }
        }
        std::map<std::string, Tensor> inputs = {{"input_ids", ids}, {"attention_mask", mask}};
        if (types) inputs["token_type_ids"] = type_ids;
        Tensor hidden;
        for (auto& [name, t] : model.forward(inputs, /*skip_padding=*/true)) {
          if (name == "last_hidden_state") hidden = t;
        }
        if (!hidden.defined() || hidden.shape().size() != 3) throw Error("the model returned no last_hidden_state");
        const int64_t h = hidden.shape()[2];
        for (size_t i = start; i < stop; ++i) {
          const auto r = static_cast<int64_t>(i - start);
          const auto n = static_cast<int64_t>(enc[i].ids.size());
          rows[i] = Tensor::from_data(DType::F32, {n, h}, hidden.data<float>() + r * len * h);
        }
      }
    }
    py::list out;
    for (size_t i = 0; i < enc.size(); ++i) {
      out.append(py::make_tuple(enc[i].ids, enc[i].type_ids, enc[i].attention_mask, to_numpy(rows[i])));
    }
    return out;
  }

  py::array similarity(const py::handle& a, const py::handle& b) const {
    Tensor ta = float_tensor(a, "a");
    Tensor tb = float_tensor(b, "b");
    return to_numpy(st_->similarity(ta, tb));
  }

  std::string similarity_fn_name() const { return pipelines::similarity_function_name(st_->similarity_fn()); }
  void set_similarity_fn_name(const std::string& name) {
    st_->set_similarity_fn(pipelines::similarity_function_from_name(name));
  }
  std::optional<size_t> max_seq_length() const { return st_->max_seq_length(); }
  void set_max_seq_length(std::optional<size_t> n) { st_->set_max_seq_length(n); }
  int64_t dimension() const { return st_->dimension(); }
  std::map<std::string, std::string> prompts() const { return st_->prompts(); }
  std::optional<std::string> default_prompt_name() const { return st_->default_prompt_name(); }
  std::vector<std::string> module_names() const { return st_->module_names(); }
  std::vector<std::string> pooling_modes() const {
    std::vector<std::string> out;
    for (auto m : st_->pooling().modes) out.push_back(pipelines::pooling_mode_name(m));
    return out;
  }
  bool do_lower_case() const { return st_->do_lower_case(); }
  std::string path() const { return st_->path().string(); }
  std::string model_path() const { return st_->decoder_model() ? st_->path().string() : st_->model().path().string(); }
  std::string session() const { return st_->model().describe(); }
  bool exported_now() const { return !st_->decoder_model() && st_->model().exported_now(); }

 private:
  std::shared_ptr<pipelines::SentenceTransformer> st_;
};

}  // namespace

void bind_sentence_transformers(py::module_& m) {
  py::class_<PySentenceTransformer>(m, "SentenceTransformerModel")
      .def(py::init<const std::string&, int, bool, const std::string&, const std::string&, const std::string&,
                    const std::string&, bool, const std::string&, const std::string&>(),
           py::arg("model_id"), py::arg("num_threads") = 0, py::arg("export") = false,
           py::arg("revision") = "", py::arg("subfolder") = "", py::arg("cache_dir") = "",
           py::arg("token") = "", py::arg("local_files_only") = false, py::arg("dtype") = "auto",
           py::arg("export_cache_dir") = "")
      .def("encode", &PySentenceTransformer::encode, py::arg("sentences"), py::arg("batch_size") = 32,
           py::arg("normalize_embeddings") = false, py::arg("prompt") = py::none(),
           py::arg("prompt_name") = py::none())
      .def("similarity", &PySentenceTransformer::similarity, py::arg("a"), py::arg("b"))
      .def("token_embeddings", &PySentenceTransformer::token_embeddings, py::arg("sentences"),
           py::arg("batch_size") = 32, py::arg("prompt") = "")
      .def_property("similarity_fn_name", &PySentenceTransformer::similarity_fn_name,
                    &PySentenceTransformer::set_similarity_fn_name)
      .def_property("max_seq_length", &PySentenceTransformer::max_seq_length,
                    &PySentenceTransformer::set_max_seq_length)
      .def_property_readonly("dimension", &PySentenceTransformer::dimension)
      .def_property_readonly("prompts", &PySentenceTransformer::prompts)
      .def_property_readonly("default_prompt_name", &PySentenceTransformer::default_prompt_name)
      .def_property_readonly("module_names", &PySentenceTransformer::module_names)
      .def_property_readonly("pooling_modes", &PySentenceTransformer::pooling_modes)
      .def_property_readonly("do_lower_case", &PySentenceTransformer::do_lower_case)
      .def_property_readonly("path", &PySentenceTransformer::path)
      .def_property_readonly("model_path", &PySentenceTransformer::model_path)
      .def_property_readonly("exported_now", &PySentenceTransformer::exported_now)
      .def_property_readonly("session", &PySentenceTransformer::session,
                             "The Transformer module's OptimizedModel and its session type");

  m.def(
      "cos_sim", [](py::handle a, py::handle b) { return call_similarity(&pipelines::cos_sim, a, b); },
      py::arg("a"), py::arg("b"), "Cosine similarity matrix (sentence_transformers.util.cos_sim)");
  m.def(
      "dot_score", [](py::handle a, py::handle b) { return call_similarity(&pipelines::dot_score, a, b); },
      py::arg("a"), py::arg("b"), "Dot-product matrix (sentence_transformers.util.dot_score)");
  m.def(
      "euclidean_sim",
      [](py::handle a, py::handle b) { return call_similarity(&pipelines::euclidean_sim, a, b); },
      py::arg("a"), py::arg("b"), "Negative euclidean distances (sentence_transformers.util.euclidean_sim)");
  m.def(
      "manhattan_sim",
      [](py::handle a, py::handle b) { return call_similarity(&pipelines::manhattan_sim, a, b); },
      py::arg("a"), py::arg("b"), "Negative manhattan distances (sentence_transformers.util.manhattan_sim)");
  m.def(
      "normalize_embeddings",
      [](py::handle a) {
        Tensor t = float_tensor(a, "embeddings");
        return to_numpy(pipelines::normalize_rows(t));
      },
      py::arg("embeddings"), "Rows scaled to unit L2 norm");
}
