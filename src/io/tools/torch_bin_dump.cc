// torch_bin_dump: reads a PyTorch checkpoint with io::TorchWeights and prints
// one JSON object per tensor (name, dtype, shape, stride, zero_copy); with an
// output path it also writes every tensor to a safetensors file. The Python
// tests compare that file with what torch.load gives.
//
//   torch_bin_dump <pytorch_model.bin | *.bin.index.json | folder> [out.safetensors]
//   torch_bin_dump <file.safetensors>   (io::WeightStore; tests/python/test_safetensors_reference.py)
//
// Exit status 0 on success, 2 on a refused or malformed checkpoint (the error
// type and message on stderr), 1 on bad usage.
#include <iostream>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/io/safetensors.h"
#include "optimum/io/torch_checkpoint.h"

namespace {

const char* error_type(const optimum::Error& e) {
  if (dynamic_cast<const optimum::Unsupported*>(&e)) return "Unsupported";
  if (dynamic_cast<const optimum::FormatError*>(&e)) return "FormatError";
  if (dynamic_cast<const optimum::NotFound*>(&e)) return "NotFound";
  if (dynamic_cast<const optimum::InvalidArgument*>(&e)) return "InvalidArgument";
  if (dynamic_cast<const optimum::IoError*>(&e)) return "IoError";
  return "Error";
}

int run(const std::filesystem::path& in, const std::filesystem::path& out) {
  namespace io = optimum::io;
  if (in.extension() == ".safetensors") {
    const io::WeightStore store = io::WeightStore::open(in);
    for (const std::string& name : store.names()) {
      const optimum::Tensor t = store.get(name);
      std::cout << io::Json{{"name", name}, {"dtype", std::string(optimum::dtype_name(t.dtype()))}, {"shape", t.shape()}}
                       .dump()
                << "\n";
    }
    return 0;
  }
  const io::TorchWeights weights =
      std::filesystem::is_directory(in) ? io::TorchWeights::open_dir(in) : io::TorchWeights::open(in);
  std::vector<std::pair<std::string, optimum::Tensor>> tensors;
  for (const std::string& name : weights.names()) {
    const io::TorchTensorInfo& info = weights.info(name);
    optimum::Tensor t = weights.get(name);
    const io::Json line = {{"name", name},
                           {"dtype", std::string(optimum::dtype_name(t.dtype()))},
                           {"storage_type", info.storage_type},
                           {"shape", t.shape()},
                           {"stride", info.stride},
                           {"zero_copy", !t.is_owned()}};
    std::cout << line.dump() << "\n";
    tensors.emplace_back(name, std::move(t));
  }
  if (!out.empty()) io::save_safetensors(out, tensors);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cerr << "usage: torch_bin_dump <pytorch_model.bin | *.bin.index.json | folder> [out.safetensors]\n"
                 "Prints one JSON line per tensor; writes them to out.safetensors when given.\n";
    return 1;
  }
  try {
    return run(argv[1], argc == 3 ? std::filesystem::path(argv[2]) : std::filesystem::path());
  } catch (const optimum::Error& e) {
    std::cerr << error_type(e) << ": " << e.what() << "\n";
    return 2;
  }
}
