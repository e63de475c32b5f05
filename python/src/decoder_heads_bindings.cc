// Python bindings of the decoder heads besides ForCausalLM: the base model's
// last_hidden_state and ForSequenceClassification over padded batches,
// behind optimum_cpp.AutoModel / AutoModelForSequenceClassification for
// decoder checkpoints. The GIL is released while they run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "optimum/models/decoder_heads.h"

namespace py = pybind11;
using namespace optimum;

namespace {

using IdMatrix = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

py::array to_numpy(const Tensor& t) {
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array_t<float>(shape, keep->data<float>(), owner);
}

// input_ids / attention_mask as 2-D int64 matrices of one shape (1-D: one row).
struct Padded {
  IdMatrix ids, mask;
  models::PaddedTokens tokens;
};

Padded padded(const py::object& input_ids, const py::object& attention_mask) {
  Padded p;
  p.ids = IdMatrix::ensure(input_ids);
  if (!p.ids) throw InvalidArgument("input_ids must be an integer matrix");
  if (p.ids.ndim() == 1) p.ids = p.ids.reshape({py::ssize_t{1}, p.ids.shape(0)});
  if (p.ids.ndim() != 2) throw InvalidArgument("input_ids must have 1 or 2 dimensions, got " + std::to_string(p.ids.ndim()));
  p.tokens.ids = p.ids.data();
  p.tokens.batch = p.ids.shape(0);
  p.tokens.seq = p.ids.shape(1);
  if (!attention_mask.is_none()) {
    p.mask = IdMatrix::ensure(attention_mask);
    if (!p.mask) throw InvalidArgument("attention_mask must be an integer matrix");
    if (p.mask.ndim() == 1) p.mask = p.mask.reshape({py::ssize_t{1}, p.mask.shape(0)});
    if (p.mask.ndim() != 2 || p.mask.shape(0) != p.tokens.batch || p.mask.shape(1) != p.tokens.seq) {
      throw InvalidArgument("attention_mask shape differs from input_ids shape [" + std::to_string(p.tokens.batch) +
                            ", " + std::to_string(p.tokens.seq) + "]");
    }
    p.tokens.mask = p.mask.data();
  }
  return p;
}

// What each head computes over a padded batch.
Tensor run_head(const models::DecoderModel& model, const models::PaddedTokens& tokens) {
  return models::decoder_last_hidden_state(model, tokens);
}
Tensor run_head(const models::DecoderForSequenceClassification& model, const models::PaddedTokens& tokens) {
  return model.forward(tokens);
}

// A decoder head `Model` loaded from a checkpoint folder; forward runs it
// (run_head) over a padded batch.
template <class Model>
class PyDecoderHead {
 public:
  PyDecoderHead(const std::string& path, const std::string& dtype) {
    models::DecoderLoadOptions options;
    options.compute = kernels::weight_type_from_name(dtype);
    py::gil_scoped_release release;
    model_ = Model::load(std::filesystem::path(path), options);
  }
  py::array forward(const py::object& input_ids, const py::object& attention_mask) const {
    Padded p = padded(input_ids, attention_mask);
    Tensor out;
    {
      py::gil_scoped_release release;
      out = run_head(*model_, p.tokens);
    }
    return to_numpy(out);
  }
  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
};

using PyDecoderBase = PyDecoderHead<models::DecoderModel>;
using PyDecoderClassifier = PyDecoderHead<models::DecoderForSequenceClassification>;

}  // namespace

void bind_decoder_heads(py::module_& m) {
  py::class_<PyDecoderBase>(m, "DecoderBaseModel")
      .def(py::init<const std::string&, const std::string&>(), py::arg("path"), py::arg("dtype") = "fp32")
      .def("forward", &PyDecoderBase::forward, py::arg("input_ids"), py::arg("attention_mask") = py::none(),
           "last_hidden_state [batch, seq, hidden] (zeros at masked positions)")
      .def_property_readonly("hidden_size", [](const PyDecoderBase& p) { return p.model().config().hidden_size; })
      .def_property_readonly("model_type", [](const PyDecoderBase& p) { return p.model().model_type(); })
      .def_property_readonly("config_json", [](const PyDecoderBase& p) { return p.model().config().raw.dump(); });
  py::class_<PyDecoderClassifier>(m, "DecoderForSequenceClassification")
      .def(py::init<const std::string&, const std::string&>(), py::arg("path"), py::arg("dtype") = "fp32")
      .def("forward", &PyDecoderClassifier::forward, py::arg("input_ids"), py::arg("attention_mask") = py::none(),
           "logits [batch, num_labels] at each row's last non-pad token")
      .def_property_readonly("num_labels", [](const PyDecoderClassifier& p) { return p.model().num_labels(); })
      .def_property_readonly("pad_token_id", [](const PyDecoderClassifier& p) { return p.model().pad_token_id(); })
      .def_property_readonly("model_type",
                             [](const PyDecoderClassifier& p) { return p.model().base().model_type(); })
      .def_property_readonly("config_json",
                             [](const PyDecoderClassifier& p) { return p.model().base().config().raw.dump(); });
}
