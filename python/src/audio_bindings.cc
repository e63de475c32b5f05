// Audio decoding, resampling and the speech feature extractors
// (optimum/preprocessors/audio.h, feature_extraction.h). The transformers-
// style argument handling lives in optimum_cpp/feature_extraction.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/preprocessors/audio.h"
#include "optimum/preprocessors/feature_extraction.h"

namespace py = pybind11;
using namespace optimum;
using namespace optimum::preprocessors;

namespace {

// A vector handed to numpy without a copy (the capsule owns it).
py::array_t<float> to_numpy(std::vector<float>&& v) {
  auto* keep = new std::vector<float>(std::move(v));
  py::capsule owner(keep, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({static_cast<py::ssize_t>(keep->size())}, keep->data(), owner);
}

template <typename T>
py::array tensor_to_numpy(const Tensor& t) {
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array_t<T>(shape, keep->data<T>(), owner);
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

AudioLimits limits_of(int64_t max_frames) {
  AudioLimits limits;
  if (max_frames > 0) limits.max_frames = max_frames;
  return limits;
}

class PyFeatureExtractor {
 public:
  explicit PyFeatureExtractor(std::shared_ptr<FeatureExtractor> fe) : fe_(std::move(fe)) {}

  py::dict call(const std::vector<FloatArray>& batch, const std::string& padding, std::optional<int64_t> max_length,
                bool truncation, std::optional<int64_t> pad_to_multiple_of,
                std::optional<bool> return_attention_mask, std::optional<int64_t> sampling_rate,
                std::optional<bool> do_normalize) const {
    FeatureExtractionOptions o;
    o.padding = padding_from_name(padding);
    o.max_length = max_length;
    o.truncation = truncation;
    o.pad_to_multiple_of = pad_to_multiple_of;
    o.return_attention_mask = return_attention_mask;
    o.sampling_rate = sampling_rate;
    o.do_normalize = do_normalize;
    std::vector<std::span<const float>> spans;
    spans.reserve(batch.size());
    for (const FloatArray& a : batch) {
      if (a.ndim() != 1) {
        throw InvalidArgument("raw_speech items must be 1-D (mono) arrays, got " + std::to_string(a.ndim()) +
                              " dimensions");
      }
      spans.emplace_back(a.data(), static_cast<size_t>(a.shape(0)));
    }
    BatchFeatures features;
    {
      py::gil_scoped_release release;
      features = fe_->extract(spans, o);
    }
    py::dict out;
    out["input_features"] = tensor_to_numpy<float>(features.input_features);
    if (features.attention_mask.defined()) out["attention_mask"] = tensor_to_numpy<int32_t>(features.attention_mask);
    return out;
  }

  py::dict config() const {
    py::dict d;
    d["feature_extractor_type"] = fe_->type();
    if (const auto* w = dynamic_cast<const WhisperFeatureExtractor*>(fe_.get())) {
      const auto& c = w->config();
      d["feature_size"] = c.feature_size;
      d["sampling_rate"] = c.sampling_rate;
      d["hop_length"] = c.hop_length;
      d["chunk_length"] = c.chunk_length;
      d["n_fft"] = c.n_fft;
      d["padding_value"] = c.padding_value;
      d["dither"] = c.dither;
      d["return_attention_mask"] = c.return_attention_mask;
      d["padding_side"] = c.padding_side;
      d["n_samples"] = w->n_samples();
      d["nb_max_frames"] = w->n_samples() / c.hop_length;
    }
    return d;
  }

  std::string type() const { return fe_->type(); }
  int64_t sampling_rate() const { return fe_->sampling_rate(); }

 private:
  std::shared_ptr<FeatureExtractor> fe_;
};

}  // namespace

void bind_audio(py::module_& m) {
  m.def(
      "load_audio_file",
      [](const std::string& path, int64_t max_frames) {
        Audio audio;
        {
          py::gil_scoped_release release;
          audio = load_audio(path, limits_of(max_frames));
        }
        const int rate = audio.sample_rate;
        return py::make_tuple(to_numpy(std::move(audio.samples)), rate);
      },
      py::arg("path"), py::arg("max_frames") = 0, "Decode an audio file to mono float32: (samples, sample_rate)");
  m.def(
      "load_audio_bytes",
      [](const py::bytes& data, const std::string& source, int64_t max_frames) {
        char* buffer = nullptr;
        py::ssize_t size = 0;
        if (PyBytes_AsStringAndSize(data.ptr(), &buffer, &size) != 0) throw py::error_already_set();
        Audio audio;
        {
          py::gil_scoped_release release;  // bytes are immutable and `data` holds a reference
          audio = load_audio_bytes(std::string_view(buffer, static_cast<size_t>(size)), source, limits_of(max_frames));
        }
        const int rate = audio.sample_rate;
        return py::make_tuple(to_numpy(std::move(audio.samples)), rate);
      },
      py::arg("data"), py::arg("source") = "<audio bytes>", py::arg("max_frames") = 0,
      "Decode audio file bytes to mono float32: (samples, sample_rate)");
  m.def(
      "resample",
      [](const FloatArray& samples, int from_rate, int to_rate) {
        if (samples.ndim() != 1) {
          throw InvalidArgument("resample takes a 1-D (mono) array, got " + std::to_string(samples.ndim()) +
                                " dimensions");
        }
        std::vector<float> out;
        {
          py::gil_scoped_release release;
          out = resample(std::span<const float>(samples.data(), static_cast<size_t>(samples.shape(0))), from_rate,
                         to_rate);
        }
        return to_numpy(std::move(out));
      },
      py::arg("samples"), py::arg("orig_sr"), py::arg("target_sr"),
      "Resample mono float32 audio with libsoxr HQ (transformers' load_audio / librosa's soxr_hq)");
  py::class_<PyFeatureExtractor>(m, "FeatureExtractor")
      .def_static(
          "from_pretrained",
          [](const std::string& path) { return PyFeatureExtractor(load_feature_extractor(path)); },
          py::arg("path"), "AutoFeatureExtractor: dispatch on feature_extractor_type")
      .def_static(
          "whisper_from_pretrained",
          [](const std::string& path) { return PyFeatureExtractor(WhisperFeatureExtractor::from_pretrained(path)); },
          py::arg("path"))
      .def("__call__", &PyFeatureExtractor::call, py::arg("batch"), py::arg("padding") = "max_length",
           py::arg("max_length") = std::nullopt, py::arg("truncation") = true,
           py::arg("pad_to_multiple_of") = std::nullopt, py::arg("return_attention_mask") = std::nullopt,
           py::arg("sampling_rate") = std::nullopt, py::arg("do_normalize") = std::nullopt)
      .def_property_readonly("config", &PyFeatureExtractor::config)
      .def_property_readonly("type", &PyFeatureExtractor::type)
      .def_property_readonly("sampling_rate", &PyFeatureExtractor::sampling_rate);
}
