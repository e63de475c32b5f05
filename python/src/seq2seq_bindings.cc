// Python front end of the encoder-decoder engine: _C.Seq2SeqModel (load,
// encode, step-wise decoder logits for parity tests); _C.generate drives it
// (generation_bindings.cc) as it drives a causal model.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/modeling/modeling.h"
#include "optimum/models/seq2seq.h"

namespace py = pybind11;
using namespace optimum;

namespace {

using IntArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// [batch, seq] ids and mask (all ones when None), checked against each other.
std::pair<IntArray, IntArray> ids_and_mask(const py::object& input_ids, const py::object& attention_mask) {
  IntArray ids = IntArray::ensure(input_ids);
  if (!ids || ids.ndim() != 2) throw InvalidArgument("input_ids must be a 2-D integer array [batch, sequence]");
  IntArray mask;
  if (attention_mask.is_none()) {
    mask = IntArray({ids.shape(0), ids.shape(1)});
    std::fill_n(mask.mutable_data(), mask.size(), 1);
  } else {
    mask = IntArray::ensure(attention_mask);
    if (!mask || mask.ndim() != 2 || mask.shape(0) != ids.shape(0) || mask.shape(1) != ids.shape(1)) {
      throw InvalidArgument("attention_mask must have input_ids' shape [" + std::to_string(ids.shape(0)) + ", " +
                            std::to_string(ids.shape(1)) + "]");
    }
  }
  return {ids, mask};
}

models::EncoderOutput encode(const models::Seq2SeqModel& m, const IntArray& ids, const IntArray& mask) {
  py::gil_scoped_release release;
  return m.encode(ids.data(), mask.data(), ids.shape(0), ids.shape(1));
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

models::EncoderOutput encode_features(const models::Seq2SeqModel& m, const FloatArray& features) {
  if (!features || features.ndim() != 3) {
    throw InvalidArgument("input_features must be a 3-D float array [batch, num_mel_bins, frames]");
  }
  py::gil_scoped_release release;
  return m.encode_features(features.data(), features.shape(0), features.shape(1), features.shape(2));
}

}  // namespace

void bind_seq2seq(py::module_& m) {
  m.def(
      "seq2seq_folder",
      [](const std::string& model_id, bool export_model, const std::string& dtype, const std::string& revision,
         const std::string& subfolder, const std::string& cache_dir, const std::string& token, bool force_download,
         bool local_files_only, const std::vector<std::string>& calibration_texts, bool strict_accuracy,
         const std::string& fallback_dtype, const std::string& export_cache_dir) {
        modeling::LoadOptions o;
        o.task = tasks::Task::Text2TextGeneration;
        o.export_model = export_model;
        o.dtype = dtype;
        o.hub.revision = revision;
        o.hub.subfolder = subfolder;
        o.hub.cache_dir = cache_dir;
        o.hub.token = token;
        o.hub.force_download = force_download;
        o.hub.local_files_only = local_files_only;
        o.calibration_texts = calibration_texts;
        o.strict_accuracy = strict_accuracy;
        o.fallback_dtype = fallback_dtype;
        o.export_cache = export_cache_dir;
        modeling::NativeFolder f;
        {
          py::gil_scoped_release release;
          f = modeling::native_folder(model_id, o);
        }
        return py::make_tuple(f.folder.string(), f.exported_now);
      },
      py::arg("model_id"), py::arg("export") = false, py::arg("dtype") = "auto", py::arg("revision") = "",
      py::arg("subfolder") = "", py::arg("cache_dir") = "", py::arg("token") = "", py::arg("force_download") = false,
      py::arg("local_files_only") = false, py::arg("calibration_texts") = std::vector<std::string>{},
      py::arg("strict_accuracy") = false, py::arg("fallback_dtype") = "auto", py::arg("export_cache_dir") = "",
      "The folder an encoder-decoder loads from (modeling::native_folder): a local folder or Hub id resolved, with "
      "export=True converted once to the native format in the export cache. Returns (folder, exported_now)");
  py::class_<models::Seq2SeqModel, std::shared_ptr<models::Seq2SeqModel>>(
      m, "Seq2SeqModel", "An encoder-decoder (t5, bart, mbart, marian, whisper) of the native engine")
      .def(py::init([](const std::string& path) {
             return std::const_pointer_cast<models::Seq2SeqModel>(models::Seq2SeqModel::load(path));
           }),
           py::arg("path"))
      .def_property_readonly("model_type", [](const models::Seq2SeqModel& s) { return s.config().model_type; })
      .def_property_readonly("vocab_size", [](const models::Seq2SeqModel& s) { return s.config().vocab_size; })
      .def_property_readonly("decoder_start_token_id",
                             [](const models::Seq2SeqModel& s) { return s.config().decoder_start_token_id; })
      .def(
          "encode",
          [](const models::Seq2SeqModel& s, const py::object& input_ids, const py::object& attention_mask) {
            auto [ids, mask] = ids_and_mask(input_ids, attention_mask);
            models::EncoderOutput out = encode(s, ids, mask);
            const Shape& sh = out.hidden.shape();
            py::array_t<float> arr({sh[0], sh[1], sh[2]});
            std::copy_n(out.hidden.data<float>(), out.hidden.numel(), arr.mutable_data());
            return arr;
          },
          py::arg("input_ids"), py::arg("attention_mask") = py::none(),
          "The encoder's last_hidden_state [batch, seq, d_model]")
      .def(
          "encode_features",
          [](const models::Seq2SeqModel& s, const FloatArray& features) {
            models::EncoderOutput out = encode_features(s, features);
            const Shape& sh = out.hidden.shape();
            py::array_t<float> arr({sh[0], sh[1], sh[2]});
            std::copy_n(out.hidden.data<float>(), out.hidden.numel(), arr.mutable_data());
            return arr;
          },
          py::arg("input_features"), "The audio encoder's last_hidden_state [batch, frames / 2, d_model] (whisper)")
      .def(
          "decoder_logits_features",
          [](const models::Seq2SeqModel& s, const FloatArray& features, const IntArray& dec) {
            if (!dec || dec.ndim() != 2 || dec.shape(0) != features.shape(0)) {
              throw InvalidArgument("decoder_input_ids must be a 2-D integer array [batch, steps]");
            }
            const int64_t B = dec.shape(0), T = dec.shape(1), V = s.config().vocab_size;
            py::array_t<float> out({B, T, V});
            models::EncoderOutput enc = encode_features(s, features);
            py::gil_scoped_release release;
            auto bound = s.bind(std::move(enc), 1);
            auto cache = bound->new_cache(B, T);
            float* o = out.mutable_data();
            for (int64_t t = 0; t < T; ++t) {
              std::vector<models::StepSegment> segs;
              for (int64_t b = 0; b < B; ++b) segs.push_back({b, dec.data() + b * T + t, 1});
              Tensor l = bound->step(*cache, segs);
              for (int64_t b = 0; b < B; ++b) std::copy_n(l.data<float>() + b * V, V, o + (b * T + t) * V);
            }
            return out;
          },
          py::arg("input_features"), py::arg("decoder_input_ids"),
          "Logits [batch, steps, vocab] of every decoder position, step by step over the KV cache (whisper)")
      .def(
          "decoder_logits",
          [](const models::Seq2SeqModel& s, const py::object& input_ids, const py::object& attention_mask,
             const py::object& decoder_input_ids, bool one_step) {
            auto [ids, mask] = ids_and_mask(input_ids, attention_mask);
            IntArray dec = IntArray::ensure(decoder_input_ids);
            if (!dec || dec.ndim() != 2 || dec.shape(0) != ids.shape(0)) {
              throw InvalidArgument("decoder_input_ids must be a 2-D integer array [batch, steps]");
            }
            const int64_t B = dec.shape(0), T = dec.shape(1), V = s.config().vocab_size;
            py::array_t<float> out({B, T, V});
            {
              models::EncoderOutput enc = encode(s, ids, mask);
              py::gil_scoped_release release;
              auto bound = s.bind(std::move(enc), 1);
              auto cache = bound->new_cache(B, T);
              float* o = out.mutable_data();
              if (one_step) {
                // The whole decoder input as one segment per item (prefill path).
                std::vector<models::StepSegment> segs;
                for (int64_t b = 0; b < B; ++b) segs.push_back({b, dec.data() + b * T, T});
                models::StepOptions opt;
                opt.all_logits = true;
                Tensor l = bound->step(*cache, segs, opt);
                std::copy_n(l.data<float>(), l.numel(), o);
              } else {
                // One token per step over the cache (the generation path).
                for (int64_t t = 0; t < T; ++t) {
                  std::vector<models::StepSegment> segs;
                  for (int64_t b = 0; b < B; ++b) segs.push_back({b, dec.data() + b * T + t, 1});
                  Tensor l = bound->step(*cache, segs);
                  for (int64_t b = 0; b < B; ++b) std::copy_n(l.data<float>() + b * V, V, o + (b * T + t) * V);
                }
              }
            }
            return out;
          },
          py::arg("input_ids"), py::arg("attention_mask") = py::none(), py::arg("decoder_input_ids"),
          py::arg("one_step") = false,
          "Logits [batch, steps, vocab] of every decoder position: step by step over the KV cache, or all "
          "positions in one step (one_step=True)");
}
