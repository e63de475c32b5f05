// Fuzz target: the restricted unpickler that runs a torch checkpoint's
// data.pkl, fed the pickle bytes directly (no zip around them).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "torch_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  optimum::fuzz::accept_or_refuse([&] {
    const std::string_view pickle(reinterpret_cast<const char*>(data), size);
    const auto dict = optimum::io::detail::unpickle_torch_state_dict(pickle, "archive/data.pkl");
    for (const auto& [name, record] : dict.tensors) {
      optimum::fuzz::touch(name.data(), name.size());
      optimum::fuzz::touch(record.stride.data(), record.stride.size() * sizeof(int64_t));
    }
  });
  return 0;
}
