// The restricted pickle machine behind TorchCheckpoint: it runs the data.pkl
// record of a torch.save zip archive without Python. It implements the
// opcodes pickle protocols 2-5 use for plain data, and of all Python globals
// accepts only collections.OrderedDict, torch's tensor-rebuild functions and
// the storage classes, which it implements itself. Anything else (os.system,
// builtins.eval, ...) is refused when the GLOBAL opcode names it, before any
// call could happen: a model file never runs code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "optimum/core/tensor.h"

namespace optimum::io::detail {

// A torch storage class ("FloatStorage", ...) and how its bytes are read.
struct TorchStorageType {
  std::string_view name;
  size_t element_size;
  std::optional<DType> dtype;    // empty: torch dtype with no DType here
  std::string_view torch_dtype;  // "torch.float32", for messages
};

// The storage class called `name` (without the "torch." module), or nullptr.
const TorchStorageType* find_storage_type(std::string_view name);

// A tensor as data.pkl describes it: a view of storage record `storage_key`.
struct TorchTensorRecord {
  const TorchStorageType* storage_type = nullptr;
  std::string storage_key;     // the record is <archive>/data/<storage_key>
  int64_t storage_numel = 0;   // elements of the storage, from its persistent id
  int64_t storage_offset = 0;  // in elements
  Shape shape;
  std::vector<int64_t> stride;  // in elements
};

// What unpickling a state dict gives.
struct TorchStateDict {
  // Tensor entries of the top-level dict, in pickle order (a repeated key keeps its first place).
  std::vector<std::pair<std::string, TorchTensorRecord>> tensors;
  // Top-level entries whose value is not a tensor (ints, strings, nested dicts).
  std::vector<std::string> skipped;
};

// Runs `pickle` and returns its top-level dict. `source` names the record in
// messages. Unsupported naming the global for any global outside the allowed
// set, and naming the opcode for opcodes this machine does not implement;
// FormatError naming the byte offset for malformed or truncated input.
TorchStateDict unpickle_torch_state_dict(std::string_view pickle, const std::string& source);

}  // namespace optimum::io::detail
