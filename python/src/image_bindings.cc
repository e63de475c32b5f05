// Image decoding and image processors (optimum/preprocessors/image*.h) for
// optimum_cpp.image_processing: images come in as paths, bytes or HxWxC uint8
// arrays; pixel_values go out as float32 numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/preprocessors/image.h"
#include "optimum/preprocessors/image_processor.h"

namespace py = pybind11;
using namespace optimum;
using namespace optimum::preprocessors;

namespace {

// One input image, decoded or copied while the GIL is held only for the copy.
struct PendingImage {
  enum Kind { kPath, kBytes, kPixels } kind;
  std::string text;               // path or bytes
  std::vector<uint8_t> pixels;    // HxWxC
  int64_t height = 0, width = 0, channels = 0;
};

PendingImage pending_from(const py::handle& item, size_t index) {
  PendingImage p{};
  if (py::isinstance<py::str>(item)) {
    p.kind = PendingImage::kPath;
    p.text = item.cast<std::string>();
    return p;
  }
  if (py::isinstance<py::bytes>(item) || py::isinstance<py::bytearray>(item) ||
      py::isinstance<py::memoryview>(item)) {
    p.kind = PendingImage::kBytes;
    p.text = py::bytes(py::reinterpret_borrow<py::object>(item)).cast<std::string>();
    return p;
  }
  if (py::isinstance<py::array>(item)) {
    py::array arr = py::reinterpret_borrow<py::array>(item);
    if (arr.dtype().kind() != 'u' || arr.itemsize() != 1) {
      throw InvalidArgument("image " + std::to_string(index) + ": array dtype " + std::string(py::str(arr.dtype())) +
                            " is not uint8 (pass HxWxC uint8 pixels)");
    }
    if (arr.ndim() != 2 && arr.ndim() != 3) {
      throw InvalidArgument("image " + std::to_string(index) + ": array has " + std::to_string(arr.ndim()) +
                            " dimensions; expected HxW or HxWxC");
    }
    auto c = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(arr);
    p.kind = PendingImage::kPixels;
    p.height = c.shape(0);
    p.width = c.shape(1);
    p.channels = c.ndim() == 3 ? c.shape(2) : 1;
    p.pixels.assign(c.data(), c.data() + c.size());
    return p;
  }
  throw py::type_error("image " + std::to_string(index) + ": expected a path (str), bytes or a uint8 numpy array, got " +
                       std::string(py::str(py::type::of(item))));
}

Image realize(const PendingImage& p, size_t index, bool composite_alpha, const DecodeOptions& options) {
  switch (p.kind) {
    case PendingImage::kPath: return load_image(p.text, options);
    case PendingImage::kBytes:
      return decode_image(reinterpret_cast<const uint8_t*>(p.text.data()), p.text.size(),
                          "image " + std::to_string(index) + " (bytes)", options);
    case PendingImage::kPixels:
      if (p.channels != 3 && !composite_alpha) {
        throw InvalidArgument("image " + std::to_string(index) + ": array has " + std::to_string(p.channels) +
                              " channels; this processor has do_convert_rgb off and needs 3 (RGB)");
      }
      return image_from_pixels(p.pixels.data(), p.height, p.width, p.channels, composite_alpha);
  }
  throw InvalidArgument("image " + std::to_string(index) + ": unknown input kind");
}

std::vector<PendingImage> pending_list(const py::object& images) {
  std::vector<PendingImage> out;
  if (py::isinstance<py::list>(images) || py::isinstance<py::tuple>(images)) {
    size_t i = 0;
    for (auto item : images) out.push_back(pending_from(item, i++));
  } else {
    out.push_back(pending_from(images, 0));
  }
  return out;
}

py::array image_to_numpy(Image img) {
  auto* keep = new std::vector<uint8_t>(std::move(img.pixels));
  py::capsule owner(keep, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
  return py::array_t<uint8_t>({img.height, img.width, int64_t{3}}, keep->data(), owner);
}

py::array float_tensor_to_numpy(const Tensor& t) {
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array_t<float>(shape, keep->data<float>(), owner);
}

DecodeOptions decode_options(int64_t max_pixels) {
  DecodeOptions o;
  if (max_pixels > 0) o.max_pixels = max_pixels;
  return o;
}

py::dict config_dict(const ImageProcessorConfig& c) {
  py::dict d;
  d["image_processor_type"] = c.image_processor_type;
  d["do_resize"] = c.do_resize;
  py::dict size;
  if (c.size.height) size["height"] = *c.size.height;
  if (c.size.width) size["width"] = *c.size.width;
  if (c.size.shortest_edge) size["shortest_edge"] = *c.size.shortest_edge;
  if (c.size.longest_edge) size["longest_edge"] = *c.size.longest_edge;
  d["size"] = size;
  d["resample"] = static_cast<int>(c.resample);
  d["do_center_crop"] = c.do_center_crop;
  if (c.crop_size) {
    py::dict crop;
    crop["height"] = c.crop_size->height.value_or(0);
    crop["width"] = c.crop_size->width.value_or(0);
    d["crop_size"] = crop;
  } else {
    d["crop_size"] = py::none();
  }
  d["do_rescale"] = c.do_rescale;
  d["rescale_factor"] = c.rescale_factor;
  d["do_normalize"] = c.do_normalize;
  d["image_mean"] = std::vector<double>(c.image_mean.begin(), c.image_mean.end());
  d["image_std"] = std::vector<double>(c.image_std.begin(), c.image_std.end());
  d["do_convert_rgb"] = c.do_convert_rgb;
  if (c.crop_pct) d["crop_pct"] = *c.crop_pct;
  return d;
}

}  // namespace

void bind_image(py::module_& m) {
  m.def(
      "load_image",
      [](const py::object& source, int64_t max_pixels) {
        PendingImage p = pending_from(source, 0);
        if (p.kind == PendingImage::kPixels) throw py::type_error("load_image takes a path (str) or bytes");
        Image img;
        {
          py::gil_scoped_release release;
          img = realize(p, 0, false, decode_options(max_pixels));
        }
        return image_to_numpy(std::move(img));
      },
      py::arg("source"), py::arg("max_pixels") = 0,
      "Decode a JPEG/PNG/WebP file (path) or bytes to an HxWx3 uint8 RGB array, as PIL's "
      "Image.open(...).convert('RGB'); max_pixels 0 keeps PIL's decompression-bomb limit");

  py::class_<ImageProcessor>(m, "ImageProcessor")
      .def_static(
          "from_pretrained", [](const std::string& path) { return ImageProcessor::from_pretrained(path); },
          py::arg("path"))
      .def_static(
          "from_json",
          [](const std::string& text, const std::string& source) {
            return ImageProcessor::from_config(io::parse_json(text, source), source);
          },
          py::arg("text"), py::arg("source") = "preprocessor_config.json")
      .def_property_readonly("config", [](const ImageProcessor& p) { return config_dict(p.config()); })
      .def(
          "preprocess",
          [](const ImageProcessor& proc, const py::object& images, int64_t max_pixels) {
            std::vector<PendingImage> pending = pending_list(images);
            Tensor out;
            {
              py::gil_scoped_release release;
              std::vector<Image> decoded;
              decoded.reserve(pending.size());
              const DecodeOptions options = decode_options(max_pixels);
              for (size_t i = 0; i < pending.size(); ++i) {
                decoded.push_back(realize(pending[i], i, proc.config().do_convert_rgb, options));
                pending[i] = PendingImage{};
              }
              out = proc.preprocess(decoded);
            }
            return float_tensor_to_numpy(out);
          },
          py::arg("images"), py::arg("max_pixels") = 0,
          "pixel_values [N, 3, H, W] float32 for paths, bytes or HxWxC uint8 arrays");
  m.def("supported_image_processors", &supported_image_processors);
}
