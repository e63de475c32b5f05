// Fuzz target: a safetensors file (8-byte header length, JSON header, data).
// Every tensor of an accepted file is read back whole and converted to F32,
// as the model loaders do.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "optimum/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static optimum::fuzz::InputFile file("model.safetensors");
  const auto& path = file.write(data, size);
  optimum::fuzz::accept_or_refuse([&] {
    const auto st = optimum::io::SafetensorsFile::open(path);
    for (const auto& name : st.names()) {
      const optimum::Tensor t = st.get(name);
      optimum::fuzz::touch(t.raw(), t.nbytes());
      optimum::fuzz::accept_or_refuse([&] {
        const optimum::Tensor f = t.to(optimum::DType::F32);
        optimum::fuzz::touch(f.raw(), f.nbytes());
      });
    }
    for (const auto& [key, value] : st.metadata()) optimum::fuzz::touch(value.data(), value.size());
  });
  return 0;
}
