// Fuzz target: a model archive (.mar zip or tar.gz, told apart by its magic
// bytes) validated and extracted by open_archive, model-config.yaml and
// MANIFEST.json included; an input starting with 'Y' is a model-config.yaml
// on its own. Extraction goes into a fresh folder under a per-process
// temporary folder, removed after each input.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "fuzz_util.h"
#include "optimum/serving/archive.h"
#include "optimum/serving/model_config.h"

namespace {

const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fuzz_archive-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 0 && data[0] == 'Y') {
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    optimum::fuzz::accept_or_refuse([&] {
      const auto c = optimum::serving::ModelConfig::from_yaml_text(text, "model-config.yaml");
      const std::string dumped = c.handler.dump();
      optimum::fuzz::touch(dumped.data(), dumped.size());
    });
    return 0;
  }
  static optimum::fuzz::InputFile file("archive");
  const auto& path = file.write(data, size);
  optimum::serving::ArchiveLimits limits;
  limits.max_entries = 1000;
  limits.max_total_bytes = 64 << 20;
  limits.max_entry_bytes = 32 << 20;
  const std::filesystem::path dest = scratch() / "dest";
  optimum::fuzz::accept_or_refuse([&] {
    const auto x = optimum::serving::open_archive(path, dest, limits);
    // Everything written stays below dest.
    for (const auto& e : std::filesystem::recursive_directory_iterator(dest)) {
      const auto rel = e.path().lexically_relative(dest);
      if (rel.empty() || *rel.begin() == "..") std::abort();
      if (e.is_symlink()) std::abort();
    }
    if (x.model_dir.lexically_relative(dest).native().rfind("..", 0) == 0) std::abort();
  });
  std::error_code ec;
  std::filesystem::remove_all(dest, ec);
  // Nothing else appeared in the scratch folder (a failed extraction leaves no staging folder).
  if (!std::filesystem::is_empty(scratch())) std::abort();
  return 0;
}
