// safetensors: memory-mapped reader (single file or sharded through
// model.safetensors.index.json) and writer. The reader validates the header
// completely before any tensor is touched: header length within the file,
// known dtypes, offsets in range, non-overlapping, and byte sizes matching
// shapes.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/io/mapped_file.h"

namespace optimum::io {

// One tensor's entry in a safetensors header.
struct TensorInfo {
  DType dtype;
  Shape shape;
  size_t begin;  // byte offset into the data section
  size_t end;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`; FormatError naming the file and field on any
  // inconsistency, NotFound if the file does not exist.
  static SafetensorsFile open(const std::filesystem::path& path);

  // Tensor names in file order of their data offsets.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const { return infos_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  // A zero-copy view of the tensor (copied into aligned memory only when the
  // mapped bytes are not aligned to the element size). NotFound names the
  // tensor and the file.
  Tensor get(const std::string& name) const;
  // The "__metadata__" string map.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return file_->path(); }

 private:
  std::shared_ptr<const MappedFile> file_;
  size_t data_start_ = 0;
  std::map<std::string, TensorInfo> infos_;
  std::vector<std::string> names_;
  std::map<std::string, std::string> metadata_;
};

class TorchWeights;  // optimum/io/torch_checkpoint.h

// All weights of a model folder: model.safetensors, or the shards listed by
// model.safetensors.index.json; when the folder has neither, the legacy
// PyTorch pytorch_model.bin or pytorch_model.bin.index.json (read through the
// restricted unpickler of optimum/io/torch_checkpoint.h, so a hostile pickle
// is refused, never run).
class WeightStore {
 public:
  // Opens `model.safetensors`, `model.safetensors.index.json`,
  // `pytorch_model.bin` or `pytorch_model.bin.index.json` in `dir`, first
  // found in that order. NotFound naming the folder and the four names when
  // it has none of them.
  static WeightStore open_dir(const std::filesystem::path& dir);
  // Opens one file, or an index file (*.index.json) and its shards: torch
  // checkpoints for *.bin / *.pt / *.pth and pytorch_model.bin.index.json,
  // safetensors otherwise.
  static WeightStore open(const std::filesystem::path& path);
  // In-memory weights (e.g. dequantized from a GGUF file); `source` names
  // them in error messages.
  static WeightStore from_tensors(std::map<std::string, Tensor> tensors, std::string source);

  bool contains(const std::string& name) const;
  Tensor get(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::string& source() const { return source_; }
  // "safetensors", "pytorch" (pickled torch checkpoint) or "memory" (from_tensors).
  const char* format() const { return torch_ ? "pytorch" : memory_ ? "memory" : "safetensors"; }

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
  std::shared_ptr<const TorchWeights> torch_;  // set for torch checkpoints (files_ empty)
  std::shared_ptr<const std::map<std::string, Tensor>> memory_;  // set by from_tensors
  std::string source_;                   // path shown in error messages
};

// Writes tensors (any dtype above) to `path`, with an optional
// "__metadata__" map. Data are 64-byte aligned in the file and laid out
// contiguously as the safetensors library requires.
void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace optimum::io
