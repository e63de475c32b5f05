// `optimum-cpp export --native -m FILE.gguf OUT` (or --gguf-file): a GGUF file (read as transformers'
// from_pretrained(gguf_file=) reads it) exported to the native format.
#include <unistd.h>

#include <filesystem>

#include "optimum/exporters/export.h"
#include "optimum/generation/language_model.h"

namespace optimum::cli {

namespace fs = std::filesystem;

// The GGUF file written as a checkpoint folder next to the output (removed
// afterwards), then exported with export_native (a decoder export).
exporters::ExportResult export_gguf_native(const std::string& model, const std::string& gguf_file,
                                           const modeling::ResolveOptions& hub, const fs::path& output_dir,
                                           const exporters::ExportOptions& options) {
  generation::LanguageModelOptions lo;
  lo.gguf_file = gguf_file;
  lo.hub = hub;
  const auto lm = generation::LanguageModel::from_pretrained(model, lo);
  fs::path out = output_dir;
  if (out.filename().empty()) out = out.parent_path();
  const fs::path tmp = out.parent_path() / (out.filename().string() + ".gguf-" + std::to_string(::getpid()));
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  lm->save_pretrained(tmp);
  exporters::ExportOptions o = options;
  o.source_id = gguf_file.empty() ? model : model + "/" + gguf_file;
  o.config_dir.clear();
  return exporters::export_native(tmp, out, o);
}

}  // namespace optimum::cli
