// Legacy PyTorch weights (pytorch_model.bin) read without Python or torch:
// the zip archive torch.save writes since torch 1.6 (<archive>/data.pkl plus
// one <archive>/data/<key> record per storage), and sharded folders through
// pytorch_model.bin.index.json. data.pkl runs in a restricted unpickler that
// accepts only the torch tensor-rebuild globals and implements them itself,
// so a hostile file cannot run code (os.system & co. are refused, named).
// Tensors are views of the mapped file when contiguous and aligned.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/io/zip_reader.h"

namespace optimum::io {

// Options of the torch checkpoint readers.
struct TorchCheckpointOptions {
  // DoubleStorage (float64) tensors are converted to F32, which is what
  // load_state_dict into an F32 model does; false refuses them with Unsupported.
  bool double_to_float = true;
};

// One tensor of a torch checkpoint, as data.pkl describes it.
struct TorchTensorInfo {
  std::string storage_type;    // torch's storage class, e.g. "HalfStorage"
  std::optional<DType> dtype;  // what get() returns; empty when get() refuses the storage type
  Shape shape;
  std::vector<int64_t> stride;  // in elements
  int64_t storage_offset = 0;   // in elements
  std::string record;           // zip entry holding the storage: <archive>/data/<key>
  bool contiguous = false;      // row-major strides: get() can return a view
};

// One torch.save zip archive holding a state dict.
class TorchCheckpoint {
 public:
  // Maps and validates `path`: the zip directory, data.pkl (run in the
  // restricted unpickler), every storage record (present, stored, large
  // enough) and every tensor's view (offset, size and stride within its
  // storage). NotFound if the file does not exist; FormatError naming the
  // file and the record, tensor or byte at fault; Unsupported naming the
  // global for a foreign pickle global, and for compressed records, big-endian
  // or pre-1.6 (non-zip) files.
  static TorchCheckpoint open(const std::filesystem::path& path, const TorchCheckpointOptions& options = {});

  // Tensor names in the state dict's order.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const { return infos_.count(name) != 0; }
  // NotFound naming the tensor and the file.
  const TorchTensorInfo& info(const std::string& name) const;
  // The tensor: a zero-copy view of the mapped file when its strides are
  // row-major and its bytes aligned to the element size, otherwise a
  // contiguous copy. Unsupported naming the tensor and torch dtype for
  // storage types without a DType (uint8, bool, int16, complex, and float64
  // unless double_to_float). NotFound naming the tensor and the file.
  Tensor get(const std::string& name) const;
  // Top-level entries of the state dict that are not tensors (skipped).
  const std::vector<std::string>& skipped() const { return skipped_; }
  const std::filesystem::path& path() const { return zip_->path(); }

 private:
  std::shared_ptr<const ZipReader> zip_;
  TorchCheckpointOptions options_;
  std::map<std::string, TorchTensorInfo> infos_;
  std::vector<std::string> names_;
  std::vector<std::string> skipped_;
};

// All weights of a model folder saved with safe_serialization=False:
// pytorch_model.bin, or the shards listed by pytorch_model.bin.index.json.
// The same interface as WeightStore.
class TorchWeights {
 public:
  // Opens `pytorch_model.bin` or `pytorch_model.bin.index.json` in `dir`;
  // NotFound naming the folder when neither exists.
  static TorchWeights open_dir(const std::filesystem::path& dir, const TorchCheckpointOptions& options = {});
  // Opens one checkpoint, or an index file (*.index.json) and its shards.
  static TorchWeights open(const std::filesystem::path& path, const TorchCheckpointOptions& options = {});

  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  // NotFound naming the tensor and the source.
  Tensor get(const std::string& name) const;
  const TorchTensorInfo& info(const std::string& name) const;
  // Sorted tensor names.
  std::vector<std::string> names() const;
  const std::string& source() const { return source_; }

 private:
  std::vector<TorchCheckpoint> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
  std::string source_;                   // path shown in error messages
};

}  // namespace optimum::io
