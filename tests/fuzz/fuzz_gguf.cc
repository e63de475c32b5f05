// Fuzz target: a GGUF file (header, key-value metadata, tensor infos, data).
// An accepted file has its metadata printed, every tensor dequantized (an
// unsupported type is a clean refusal) and is converted as a checkpoint, as
// from_pretrained(..., gguf_file=...) does.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "optimum/io/gguf.h"
#include "optimum/models/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static optimum::fuzz::InputFile file("model.gguf");
  const auto& path = file.write(data, size);
  optimum::fuzz::accept_or_refuse([&] {
    const auto gguf = optimum::io::GgufFile::open(path);
    const std::string meta = gguf.metadata().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    optimum::fuzz::touch(meta.data(), meta.size());
    for (const auto& info : gguf.tensors()) {
      optimum::fuzz::touch(gguf.data(info), info.nbytes);
      optimum::fuzz::accept_or_refuse([&] {
        const optimum::Tensor t = gguf.dequantize(info.name);
        optimum::fuzz::touch(t.raw(), t.nbytes());
      });
    }
  });
  optimum::fuzz::accept_or_refuse([&] {
    const auto ck = optimum::models::load_gguf_checkpoint(path);
    for (const auto& name : ck.weights.names()) {
      const optimum::Tensor t = ck.weights.get(name);
      optimum::fuzz::touch(t.raw(), t.nbytes());
    }
  });
  return 0;
}
