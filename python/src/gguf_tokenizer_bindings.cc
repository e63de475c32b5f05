// Python access to the GGUF tokenizer conversion (metadata as JSON text, the
// shape io::GgufFile::metadata() gives), for tests and tools.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "optimum/io/json.h"
#include "optimum/tokenizers/gguf.h"

namespace py = pybind11;
using namespace optimum;

void bind_gguf_tokenizer(py::module_& m) {
  m.def(
      "gguf_tokenizer_json",
      [](const std::string& metadata_json, const std::string& source) {
        const io::Json metadata = io::parse_json(metadata_json, source);
        py::gil_scoped_release release;
        return tokenizers::gguf_tokenizer_json(metadata, source).dump();
      },
      py::arg("metadata_json"), py::arg("source") = "<gguf>",
      "The tokenizer.json document (as text) transformers builds from GGUF metadata");
  m.def(
      "gguf_tokenizer_config",
      [](const std::string& metadata_json, const std::string& source) {
        const io::Json metadata = io::parse_json(metadata_json, source);
        const tokenizers::TokenizerConfig c = tokenizers::gguf_tokenizer_config(metadata, source);
        py::dict out;
        out["special_tokens"] = c.special_tokens;
        out["add_bos_token"] = c.add_bos_token;
        out["add_eos_token"] = c.add_eos_token;
        out["chat_template"] = c.chat_template;
        out["model_max_length"] = c.model_max_length;
        out["padding_side"] = c.padding_side == tokenizers::Direction::Left ? "left" : "right";
        out["raw"] = c.raw.dump();
        return out;
      },
      py::arg("metadata_json"), py::arg("source") = "<gguf>",
      "The tokenizer_config settings transformers derives from GGUF metadata");
  m.def(
      "tokenizer_from_gguf_metadata",
      [](const std::string& metadata_json, const std::string& source) {
        const io::Json metadata = io::parse_json(metadata_json, source);
        py::gil_scoped_release release;
        return tokenizers::tokenizer_from_gguf(metadata, source);
      },
      py::arg("metadata_json"), py::arg("source") = "<gguf>", "A Tokenizer built from GGUF metadata");
  m.def(
      "tokenizer_from_gguf_file",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return tokenizers::tokenizer_from_gguf_file(path);
      },
      py::arg("path"), "The Tokenizer embedded in a GGUF file (read by the C++ GGUF reader)");
}
