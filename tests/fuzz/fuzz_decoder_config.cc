// Fuzz target: a decoder's config.json read through its architecture entry's
// key table (read_decoder_config) and validated, for the model_type the file
// names, or for every decoder when it names none: a clean refusal (an
// optimum::Error) or a config whose sizes validate_decoder_config accepts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "optimum/io/json.h"
#include "optimum/models/architecture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = (optimum::models::register_architectures(), true);
  (void)registered;
  static optimum::fuzz::InputFile file("config.json");
  const auto& path = file.write(data, size);
  optimum::fuzz::accept_or_refuse([&] {
    const optimum::io::Json j = optimum::io::read_json(path);
    for (const auto& arch : optimum::models::architectures()) {
      if (!arch.is_decoder()) continue;
      if (j.is_object() && j.contains("model_type")) {
        const auto& mt = j.at("model_type");
        if (!mt.is_string() || mt.get_ref<const std::string&>() != arch.model_type) continue;
      }
      optimum::fuzz::accept_or_refuse([&] {
        const auto c = arch.decoder->parse_config(j, path.string());
        optimum::models::validate_decoder_config(c, path.string());
        optimum::fuzz::touch(c.layers.data(), c.layers.size() * sizeof(c.layers[0]));
      });
    }
  });
  return 0;
}
