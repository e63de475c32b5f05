// Fuzz target: a model's config.json, read and parsed into the typed
// encoder configuration.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "optimum/config/config.h"
#include "optimum/models/architecture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = (optimum::models::register_architectures(), true);  // the config specs
  (void)registered;
  static optimum::fuzz::InputFile file("config.json");
  const auto& path = file.write(data, size);
  optimum::fuzz::accept_or_refuse([&] {
    const auto config = optimum::config::load_config(path);
    optimum::fuzz::touch(config.model_type.data(), config.model_type.size());
  });
  return 0;
}
