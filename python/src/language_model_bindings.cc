// Python bindings of generation::LanguageModel (a decoder with its tokenizer,
// chat template and generation defaults, from a folder, a Hub id or a GGUF
// file) and of the tokenizer alone with its chat template, behind
// optimum_cpp.AutoModelForCausalLM / AutoTokenizer. Loading releases the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "optimum/core/errors.h"
#include "optimum/generation/chat_template.h"
#include "optimum/generation/language_model.h"
#include "optimum/io/gguf.h"
#include "optimum/io/json.h"
#include "optimum/modeling/modeling.h"
#include "optimum/tokenizers/gguf.h"
#include "optimum/tokenizers/tokenizer.h"

namespace py = pybind11;
using namespace optimum;

namespace {

namespace fs = std::filesystem;

using LM = std::shared_ptr<generation::LanguageModel>;

// io::Json -> Python objects through the json module (configs are shallow).
py::object to_python(const io::Json& j) {
  static py::object loads = py::module_::import("json").attr("loads");
  return loads(j.dump(-1, ' ', false, io::Json::error_handler_t::replace));
}

modeling::ResolveOptions hub_options(const std::string& revision, const std::string& subfolder,
                                     const std::string& cache_dir, const std::string& token, bool force_download,
                                     bool local_files_only) {
  modeling::ResolveOptions h;
  h.revision = revision;
  h.subfolder = subfolder;
  h.cache_dir = cache_dir;
  h.token = token;
  h.force_download = force_download;
  h.local_files_only = local_files_only;
  return h;
}

// A tokenizer with what transformers' tokenizer object carries next to it.
struct TokenizerBundle {
  tokenizers::Tokenizer tokenizer;
  std::optional<std::string> chat_template;
  std::string path;
};

py::tuple bundle_tuple(TokenizerBundle&& b) {
  py::object tmpl = b.chat_template ? py::object(py::str(*b.chat_template)) : py::none();
  return py::make_tuple(py::cast(std::move(b.tokenizer)), tmpl, b.path);
}

// The tokenizer of a folder, a Hub id or a GGUF file (its embedded
// vocabulary, converted as transformers' AutoTokenizer(gguf_file=) does),
// without loading the model's weights.
TokenizerBundle load_tokenizer(const std::string& model_id, const std::string& gguf_file,
                               const modeling::ResolveOptions& hub) {
  std::error_code ec;
  const bool gguf_id = model_id.size() > 5 && model_id.compare(model_id.size() - 5, 5, ".gguf") == 0;
  if (!gguf_file.empty() || gguf_id) {
    fs::path file = model_id;
    if (!gguf_file.empty()) {
      if (gguf_file.find("..") != std::string::npos || fs::path(gguf_file).is_absolute())
        throw InvalidArgument("gguf_file '" + gguf_file + "' must be a file name inside the model folder");
      if (!fs::is_directory(model_id, ec)) {
        throw NotFound("AutoTokenizer.from_pretrained: '" + model_id +
                       "' is not a local folder (a Hub GGUF tokenizer loads through "
                       "AutoModelForCausalLM.from_pretrained(..., gguf_file=).tokenizer)");
      }
      file = fs::path(model_id) / gguf_file;
    }
    if (!fs::is_regular_file(file, ec)) throw NotFound("gguf_file " + file.string() + " does not exist");
    const io::GgufFile g = io::GgufFile::open(file);
    TokenizerBundle b{tokenizers::tokenizer_from_gguf(g.metadata(), file.string()), std::nullopt, file.string()};
    b.chat_template = b.tokenizer.config().chat_template;
    return b;
  }
  fs::path folder = model_id;
  if (!fs::is_directory(folder, ec)) folder = modeling::resolve(model_id, hub).folder;
  TokenizerBundle b{tokenizers::Tokenizer::from_pretrained(folder), std::nullopt, folder.string()};
  b.chat_template = b.tokenizer.config().chat_template;
  if (!b.chat_template || b.chat_template->empty()) b.chat_template = generation::load_chat_template(folder);
  return b;
}

}  // namespace

void bind_language_model(py::module_& m) {
  py::class_<generation::LanguageModel, LM>(
      m, "LanguageModel",
      "A causal LM with its tokenizer, chat template and generation defaults (folder, Hub id or GGUF file)")
      .def(py::init([](const std::string& model_id, const std::string& gguf_file, const std::string& dtype,
                       const std::string& revision, const std::string& subfolder, const std::string& cache_dir,
                       const std::string& token, bool force_download, bool local_files_only, int num_threads) {
             generation::LanguageModelOptions o;
             o.gguf_file = gguf_file;
             o.dtype = dtype;
             o.hub = hub_options(revision, subfolder, cache_dir, token, force_download, local_files_only);
             o.num_threads = num_threads;
             py::gil_scoped_release release;
             return std::const_pointer_cast<generation::LanguageModel>(
                 generation::LanguageModel::from_pretrained(model_id, o));
           }),
           py::arg("model_id"), py::arg("gguf_file") = "", py::arg("dtype") = "fp32", py::arg("revision") = "",
           py::arg("subfolder") = "", py::arg("cache_dir") = "", py::arg("token") = "",
           py::arg("force_download") = false, py::arg("local_files_only") = false, py::arg("num_threads") = 0)
      .def_property_readonly("causal_lm",
                             [](const generation::LanguageModel& lm) {
                               return std::const_pointer_cast<models::CausalLM>(lm.causal_lm());
                             })
      .def_property_readonly("config", [](const generation::LanguageModel& lm) { return to_python(lm.config()); })
      .def_property_readonly("generation_config",
                             [](const generation::LanguageModel& lm) {
                               return to_python(lm.generation_config().to_json());
                             })
      .def_property_readonly("path", [](const generation::LanguageModel& lm) { return lm.path().string(); })
      .def_property_readonly("is_gguf", &generation::LanguageModel::is_gguf)
      .def_property_readonly(
          "tokenizer",
          [](const py::object& self) {
            // The model's own tokenizer (kept alive by the model). optimum_cpp's
            // AutoTokenizer never reconfigures it (padding is done in Python).
            const auto& lm = self.cast<const generation::LanguageModel&>();
            py::object tok = py::cast(const_cast<tokenizers::Tokenizer*>(&lm.tokenizer()),
                                      py::return_value_policy::reference_internal, self);
            py::object tmpl = lm.chat_template() ? py::object(py::str(lm.chat_template()->source())) : py::none();
            return py::make_tuple(tok, tmpl, lm.path().string());
          },
          "(Tokenizer, chat template source or None, path)")
      .def(
          "save_pretrained",
          [](const generation::LanguageModel& lm, const std::string& dir) {
            py::gil_scoped_release release;
            lm.save_pretrained(dir);
          },
          py::arg("save_directory"),
          "config.json, model.safetensors (f32), tokenizer files with the chat template, generation_config.json");

  m.def(
      "load_tokenizer",
      [](const std::string& model_id, const std::string& gguf_file, const std::string& revision,
         const std::string& subfolder, const std::string& cache_dir, const std::string& token, bool force_download,
         bool local_files_only) {
        std::optional<TokenizerBundle> b;
        {
          py::gil_scoped_release release;
          b = load_tokenizer(model_id, gguf_file,
                             hub_options(revision, subfolder, cache_dir, token, force_download, local_files_only));
        }
        return bundle_tuple(std::move(*b));
      },
      py::arg("model_id"), py::arg("gguf_file") = "", py::arg("revision") = "", py::arg("subfolder") = "",
      py::arg("cache_dir") = "", py::arg("token") = "", py::arg("force_download") = false,
      py::arg("local_files_only") = false,
      "(Tokenizer, chat template source or None, path) of a folder, Hub id or GGUF file");
}
