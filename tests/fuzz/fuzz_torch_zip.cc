// Fuzz target: a pytorch_model.bin (torch.save zip archive). The zip
// directory is read on its own (every entry's bytes, CRC-checked), then the
// archive as a checkpoint, every tensor read back whole.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "optimum/io/torch_checkpoint.h"
#include "optimum/io/zip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static optimum::fuzz::InputFile file("pytorch_model.bin");
  const auto& path = file.write(data, size);
  optimum::fuzz::accept_or_refuse([&] {
    const auto zip = optimum::io::ZipReader::open(path);
    for (const auto& entry : zip.entries()) {
      optimum::fuzz::accept_or_refuse([&] {
        const auto bytes = zip.checked_data(entry);
        optimum::fuzz::touch(bytes.data(), bytes.size());
      });
    }
  });
  optimum::fuzz::accept_or_refuse([&] {
    const auto ckpt = optimum::io::TorchCheckpoint::open(path);
    for (const auto& name : ckpt.names()) {
      optimum::fuzz::accept_or_refuse([&] {
        const optimum::Tensor t = ckpt.get(name);
        optimum::fuzz::touch(t.raw(), t.nbytes());
      });
    }
  });
  return 0;
}
