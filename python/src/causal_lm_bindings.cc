// Python bindings of the decoder engine: a native causal LM (load, new_cache,
// step over ragged segments, hidden_states) and its KV cache, behind
// optimum_cpp.AutoModelForCausalLM. The GIL is released while a step runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>

#include "optimum/models/decoder.h"

namespace py = pybind11;
using namespace optimum;

namespace {

using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

py::array to_numpy(const Tensor& t) {
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array_t<float>(shape, keep->data<float>(), owner);
}

// A cache with the model that made it (kept alive) and a lock: one step at a time.
struct PyKvCache {
  std::shared_ptr<const models::DecoderModel> model;
  std::unique_ptr<models::KvCache> cache;
  std::mutex mutex;
};

class PyCausalLM {
 public:
  // A decoder already loaded (generation::LanguageModel's, e.g. from a GGUF file).
  explicit PyCausalLM(std::shared_ptr<const models::DecoderModel> model) : model_(std::move(model)) {}

  explicit PyCausalLM(const std::string& path, const std::string& dtype) {
    models::DecoderLoadOptions options;
    options.compute = kernels::weight_type_from_name(dtype);
    py::gil_scoped_release release;
    model_ = models::DecoderModel::load(std::filesystem::path(path), options);
  }

  std::shared_ptr<PyKvCache> new_cache(int64_t slots, int64_t capacity) const {
    auto c = std::make_shared<PyKvCache>();
    c->model = model_;
    py::gil_scoped_release release;
    c->cache = model_->new_cache(slots, capacity);
    return c;
  }

  py::array step(PyKvCache& cache, const py::list& segments, bool all_logits) const {
    return run(cache, segments, [&](std::vector<models::StepSegment>& s) {
      models::StepOptions o;
      o.all_logits = all_logits;
      return model_->step(*cache.cache, s, o);
    });
  }

  py::array hidden_states(PyKvCache& cache, const py::list& segments) const {
    return run(cache, segments,
               [&](std::vector<models::StepSegment>& s) { return model_->hidden_states(*cache.cache, s); });
  }

  // Embeddings and every layer's output, [n_layers + 1, rows, hidden].
  py::array layer_states(PyKvCache& cache, const py::list& segments) const {
    return run(cache, segments, [&](std::vector<models::StepSegment>& s) {
      const auto& c = model_->config();
      int64_t rows = 0;
      for (const auto& seg : s) rows += seg.count;
      Tensor out = Tensor::zeros(DType::F32, {c.n_layers + 1, rows, c.hidden_size});
      float* dst = out.mutable_data<float>();
      model_->hidden_states(*cache.cache, s, [&](const char*, int64_t layer, const float* data, int64_t r, int64_t cols) {
        std::copy_n(data, r * cols, dst + (layer + 1) * r * cols);
      });
      return out;
    });
  }

  const models::DecoderModel& model() const { return *model_; }
  const std::shared_ptr<const models::DecoderModel>& shared() const { return model_; }

 private:
  template <class Fn>
  py::array run(PyKvCache& cache, const py::list& segments, Fn&& fn) const {
    if (cache.model != model_) throw InvalidArgument("step: the cache was made by another model");
    std::vector<IdArray> ids;
    std::vector<models::StepSegment> segs;
    for (const py::handle& item : segments) {
      auto pair = item.cast<py::tuple>();
      if (pair.size() != 2) throw InvalidArgument("step: each segment must be a (slot, token_ids) pair");
      py::array raw = py::array::ensure(pair[1]);
      if (!raw || raw.ndim() != 1) throw InvalidArgument("step: token_ids must be a 1-D sequence of integers");
      const char kind = raw.dtype().kind();
      if (raw.size() > 0 && kind != 'i' && kind != 'u') {
        throw InvalidArgument(std::string("step: token_ids must be integers, got dtype kind '") + kind + "'");
      }
      IdArray a = IdArray::ensure(raw);
      if (!a) throw InvalidArgument("step: token_ids must be a 1-D sequence of integers");
      ids.push_back(a);
      segs.push_back({pair[0].cast<int64_t>(), a.data(), static_cast<int64_t>(a.size())});
    }
    Tensor out;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(cache.mutex);
      out = fn(segs);
    }
    return to_numpy(out);
  }

  std::shared_ptr<const models::DecoderModel> model_;
};

}  // namespace

void bind_causal_lm(py::module_& m) {
  py::class_<PyKvCache, std::shared_ptr<PyKvCache>>(m, "KvCache")
      .def_property_readonly("slots", [](const PyKvCache& c) { return c.cache->slots(); })
      .def_property_readonly("capacity", [](const PyKvCache& c) { return c.cache->capacity(); })
      .def_property_readonly("nbytes", [](const PyKvCache& c) { return c.cache->nbytes(); })
      .def("length", [](const PyKvCache& c, int64_t slot) { return c.cache->length(slot); }, py::arg("slot"))
      .def(
          "truncate",
          [](PyKvCache& c, int64_t slot, int64_t length) {
            std::lock_guard<std::mutex> lock(c.mutex);
            c.cache->truncate(slot, length);
          },
          py::arg("slot"), py::arg("length"))
      .def(
          "copy_slot",
          [](PyKvCache& c, int64_t src, int64_t dst) {
            std::lock_guard<std::mutex> lock(c.mutex);
            c.cache->copy_slot(src, dst);
          },
          py::arg("src"), py::arg("dst"));

  // "DecoderLM": _C.CausalLM is the engine-independent interface type
  // (generation_bindings.cc) that `causal_lm` hands to generate().
  py::class_<PyCausalLM>(m, "DecoderLM")
      .def(py::init<const std::string&, const std::string&>(), py::arg("path"), py::arg("dtype") = "fp32")
      .def_static(
          "_wrap",
          [](const std::shared_ptr<models::CausalLM>& lm) {
            auto decoder = std::dynamic_pointer_cast<const models::DecoderModel>(lm);
            if (!decoder) throw InvalidArgument("DecoderLM._wrap: the model is not a decoder of the native engine");
            return PyCausalLM(std::move(decoder));
          },
          py::arg("causal_lm"), "The decoder behind a _C.CausalLM (LanguageModel.causal_lm)")
      .def("new_cache", &PyCausalLM::new_cache, py::arg("slots"), py::arg("capacity"))
      .def("step", &PyCausalLM::step, py::arg("cache"), py::arg("segments"), py::arg("all_logits") = false,
           "Logits [rows, vocab] of [(slot, token_ids), ...] appended to their slots")
      .def("hidden_states", &PyCausalLM::hidden_states, py::arg("cache"), py::arg("segments"),
           "Final-normed hidden states [rows, hidden] of every new token")
      .def("layer_states", &PyCausalLM::layer_states, py::arg("cache"), py::arg("segments"),
           "Embeddings and each layer's output [n_layers + 1, rows, hidden] (transformers' output_hidden_states "
           "before the final norm), appending to the cache as step() does")
      .def_property_readonly("vocab_size", [](const PyCausalLM& p) { return p.model().vocab_size(); })
      .def_property_readonly("hidden_size", [](const PyCausalLM& p) { return p.model().config().hidden_size; })
      .def_property_readonly("max_positions", [](const PyCausalLM& p) { return p.model().max_positions(); })
      .def_property_readonly("cache_bytes_per_position",
                             [](const PyCausalLM& p) { return p.model().cache_bytes_per_position(); })
      .def_property_readonly("has_lm_head", [](const PyCausalLM& p) { return p.model().has_lm_head(); })
      .def_property_readonly("model_type", [](const PyCausalLM& p) { return p.model().model_type(); })
      .def_property_readonly("causal_lm",
                             [](const PyCausalLM& p) {
                               return std::const_pointer_cast<models::CausalLM>(
                                   std::static_pointer_cast<const models::CausalLM>(p.shared()));
                             })
      .def_property_readonly("config_json", [](const PyCausalLM& p) { return p.model().config().raw.dump(); });
  m.def("decoder_model_types", &models::decoder_model_types, "model_types the decoder engine supports");
}
