// GGUF (llama.cpp's single-file model format, versions 2 and 3): a
// memory-mapped reader that validates the whole header before any tensor is
// touched, and dequantization to f32 bit-for-bit as the `gguf` Python
// package's gguf.quants.dequantize does it (the numbers transformers loads
// with `from_pretrained(..., gguf_file=...)`).
//
// Hostile files: every count, length and offset is checked against the bytes
// left in the file before anything is allocated, arrays nest at most
// kGgufMaxArrayDepth deep, tensors have at most 4 dimensions whose element
// count cannot overflow, keys and tensor names are unique, tensor data lie
// inside the file, aligned, without overlap. Every failure is a FormatError
// naming the file and the key, tensor or field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/io/json.h"
#include "optimum/io/mapped_file.h"

namespace optimum::io {

// ggml tensor types (ggml.h's enum ggml_type; the gguf package's GGMLQuantizationType).
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

// Layout of a ggml type: elements per block and bytes per block.
struct GgmlTypeTraits {
  const char* name;  // "Q4_K"
  int64_t block_size;
  int64_t type_size;
};

// Traits of a ggml type id; nullptr for an id this build does not know.
const GgmlTypeTraits* ggml_type_traits(uint32_t type);

// "Q4_K", or "type 123" for an unknown id.
std::string ggml_type_name(uint32_t type);

// Whether dequantize_ggml handles `type`: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
bool ggml_can_dequantize(uint32_t type);

// Dequantizes `n_elements` (a multiple of the type's block size) from `src`
// into `dst` with the same float operations, in the same order, as
// gguf.quants.dequantize, so the results are bit-identical. Large inputs run
// on the compute threads. Unsupported naming the type otherwise.
void dequantize_ggml(uint32_t type, const uint8_t* src, float* dst, int64_t n_elements);

// Deepest nesting of arrays in a metadata value (an array of arrays is depth 2).
inline constexpr int kGgufMaxArrayDepth = 8;

class GgufFile {
 public:
  // One tensor's entry in the header.
  struct TensorInfo {
    std::string name;
    uint32_t type;                // ggml type id (GgmlType)
    std::vector<int64_t> shape;   // PyTorch order: ggml's dims reversed
    uint64_t offset;              // absolute byte offset of the data in the file
    uint64_t nbytes;              // bytes of data
  };

  // Maps and validates `path`: NotFound if it does not exist, FormatError
  // naming the file and the key, tensor or field on any inconsistency.
  static GgufFile open(const std::filesystem::path& path);

  // Every key-value pair of the header, in a JSON object: integers as JSON
  // integers, FLOAT32/FLOAT64 as doubles (a FLOAT32 widened exactly, as
  // Python's float(np.float32) does), BOOL as a boolean, strings as the
  // file's bytes, arrays as JSON arrays. Strings are not checked for UTF-8:
  // nlohmann keeps any bytes, and only dump() throws on invalid UTF-8 (use
  // dump with error_handler_t::replace to print untrusted metadata).
  const Json& metadata() const { return metadata_; }
  // The GGUF version (2 or 3).
  uint32_t version() const { return version_; }
  // general.alignment, or 32.
  uint64_t alignment() const { return alignment_; }

  // Tensors in header order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // NotFound naming the tensor and the file.
  const TensorInfo& tensor(const std::string& name) const;
  // The tensor's raw bytes (TensorInfo::nbytes of them) inside the mapping.
  const uint8_t* data(const TensorInfo& info) const { return file_->data() + info.offset; }

  // The tensor as a new f32 tensor of its PyTorch shape. NotFound for an
  // unknown name; Unsupported naming the tensor and its ggml type for a type
  // ggml_can_dequantize refuses.
  Tensor dequantize(const std::string& name) const;

  // The path, for error messages.
  const std::string& source() const { return source_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::string source_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  Json metadata_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace optimum::io
