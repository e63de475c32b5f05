// Python bindings of the GGUF reader and checkpoint conversion, for tests and
// tools: optimum_cpp._C.GgufFile, gguf_metadata, gguf_tensor, gguf_checkpoint.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "optimum/io/gguf.h"
#include "optimum/models/gguf.h"

namespace py = pybind11;
using namespace optimum;

namespace {

// A float32 numpy array sharing the tensor's storage.
py::array to_numpy(const Tensor& t) {
  auto* keep = new Tensor(t.to(DType::F32));
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(keep->shape().begin(), keep->shape().end());
  return py::array_t<float>(shape, keep->data<float>(), owner);
}

// Metadata may hold invalid UTF-8 (strings are the file's bytes): replaced here.
std::string dump(const io::Json& j) { return j.dump(-1, ' ', false, io::Json::error_handler_t::replace); }

}  // namespace

void bind_gguf(py::module_& m) {
  py::class_<io::GgufFile>(m, "GgufFile")
      .def(py::init([](const std::string& path) { return io::GgufFile::open(path); }), py::arg("path"))
      .def_property_readonly("version", &io::GgufFile::version)
      .def_property_readonly("alignment", &io::GgufFile::alignment)
      .def("metadata_json", [](const io::GgufFile& f) { return dump(f.metadata()); })
      .def("tensor_infos",
           [](const io::GgufFile& f) {
             py::list out;
             for (const auto& t : f.tensors()) {
               out.append(py::make_tuple(t.name, t.type, io::ggml_type_name(t.type), t.shape, t.offset,
                                         t.nbytes));
             }
             return out;
           },
           "[(name, ggml type id, type name, PyTorch shape, absolute offset, nbytes)]")
      .def("dequantize", [](const io::GgufFile& f, const std::string& name) {
        Tensor t;
        {
          py::gil_scoped_release release;
          t = f.dequantize(name);
        }
        return to_numpy(t);
      });
  m.def("gguf_metadata", [](const std::string& path) { return dump(io::GgufFile::open(path).metadata()); },
        py::arg("path"), "Every key-value pair of a GGUF file, as a JSON string");
  m.def(
      "gguf_tensor",
      [](const std::string& path, const std::string& name) {
        Tensor t;
        {
          py::gil_scoped_release release;
          t = io::GgufFile::open(path).dequantize(name);
        }
        return to_numpy(t);
      },
      py::arg("path"), py::arg("name"), "One tensor of a GGUF file dequantized to float32");
  m.def(
      "gguf_checkpoint",
      [](const std::string& path) {
        models::GgufCheckpoint ck;
        {
          py::gil_scoped_release release;
          ck = models::load_gguf_checkpoint(path);
        }
        py::dict weights;
        for (const auto& name : ck.weights.names()) weights[py::str(name)] = to_numpy(ck.weights.get(name));
        py::dict extra;
        extra["generation_config"] = dump(ck.generation_config);
        extra["tokenizer_config"] = dump(ck.tokenizer_config);
        extra["architecture"] = ck.architecture;
        return py::make_tuple(dump(ck.config), weights, extra);
      },
      py::arg("path"),
      "(config JSON, {HF name: float32 array}, {generation_config, tokenizer_config, architecture}) "
      "as transformers' load_gguf_checkpoint makes them");
  m.def("gguf_supported_architectures", &models::gguf_supported_architectures);
}
