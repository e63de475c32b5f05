// GGUF header parsing and validation (layout: ggml/docs/gguf.md; checks as
// strict as llama.cpp's gguf.cpp, and bounded before every allocation).
#include "optimum/io/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "optimum/core/errors.h"

namespace optimum::io {

namespace {

constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr uint64_t kDefaultAlignment = 32;

// Metadata value types (gguf_type).
enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// Bytes of a scalar value type; 0 for string, array and unknown types.
uint64_t scalar_size(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

// A name from the file for an error message: non-printable and non-ASCII
// bytes escaped, long names cut.
std::string printable(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

// A bounded little-endian cursor over the mapped bytes.
class Reader {
 public:
  Reader(const uint8_t* data, uint64_t size, std::string source)
      : data_(data), size_(size), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("invalid GGUF file " + source_ + ": " + what);
  }

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  // Fails unless `n` more bytes are there; `what` names the field.
  void need(uint64_t n, const std::string& what) const {
    if (n > left()) {
      fail("truncated at " + what + ": needs " + std::to_string(n) + " bytes at offset " +
           std::to_string(pos_) + ", the file has " + std::to_string(size_));
    }
  }

  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // GGUF is little-endian, like every target
    pos_ += sizeof(T);
    return v;
  }

  std::string string(const std::string& what) {
    const auto n = read<uint64_t>(what + " length");
    if (n > left()) {
      fail(what + ": string length " + std::to_string(n) + " runs past the end of the file (" +
           std::to_string(left()) + " bytes left at offset " + std::to_string(pos_) + ")");
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

  // Fails unless `count` items of at least `min_size` bytes each can follow.
  void need_items(uint64_t count, uint64_t min_size, const std::string& what) const {
    if (min_size != 0 && count > left() / min_size) {
      fail(what + " " + std::to_string(count) + " cannot fit in the " + std::to_string(left()) +
           " bytes left in the file");
    }
  }

  Json value(uint32_t type, const std::string& key, int depth) {
    switch (type) {
      case kU8: return read<uint8_t>(key);
      case kI8: return read<int8_t>(key);
      case kU16: return read<uint16_t>(key);
      case kI16: return read<int16_t>(key);
      case kU32: return read<uint32_t>(key);
      case kI32: return read<int32_t>(key);
      case kU64: return read<uint64_t>(key);
      case kI64: return read<int64_t>(key);
      case kF32: return static_cast<double>(read<float>(key));
      case kF64: return read<double>(key);
      case kBool: return read<uint8_t>(key) != 0;
      case kString: return string(key);
      case kArray: {
        if (depth >= kGgufMaxArrayDepth) {
          fail("key '" + key + "': arrays nested deeper than " +
               std::to_string(kGgufMaxArrayDepth) + " levels");
        }
        const auto item_type = read<uint32_t>(key + " array item type");
        const auto count = read<uint64_t>(key + " array length");
        uint64_t min_size = scalar_size(item_type);
        if (item_type == kString) min_size = 8;
        if (item_type == kArray) min_size = 12;
        if (min_size == 0) {
          fail("key '" + key + "': unknown array item type " + std::to_string(item_type));
        }
        need_items(count, min_size, "key '" + key + "': array length");
        Json arr = Json::array();
        auto& items = arr.get_ref<Json::array_t&>();
        items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) items.push_back(value(item_type, key, depth + 1));
        return arr;
      }
      default:
        fail("key '" + key + "': unknown value type " + std::to_string(type));
    }
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string source_;
};

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile f;
  f.file_ = MappedFile::open(path);
  f.source_ = path.string();
  Reader r(f.file_->data(), f.file_->size(), f.source_);

  r.need(4, "magic");
  if (std::memcmp(f.file_->data(), "GGUF", 4) != 0) r.fail("bad magic (not a GGUF file)");
  r.read<uint32_t>("magic");
  f.version_ = r.read<uint32_t>("version");
  if (f.version_ != 2 && f.version_ != 3) {
    r.fail("unsupported version " + std::to_string(f.version_) +
           " (versions 2 and 3 are read; big-endian files are not)");
  }
  const auto n_tensors = r.read<uint64_t>("tensor count");
  const auto n_kv = r.read<uint64_t>("key-value count");
  // A key-value pair takes at least 13 bytes (key length, type, one byte), a
  // tensor info at least 24 (name length, n_dims, type, offset).
  r.need_items(n_kv, 13, "key-value count");
  r.need_items(n_tensors, 24, "tensor count");

  f.metadata_ = Json::object();
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string where = "key-value pair " + std::to_string(i);
    const std::string key = r.string(where + " key");
    const std::string shown = printable(key);
    if (f.metadata_.contains(key)) r.fail("duplicate key '" + shown + "'");
    const auto type = r.read<uint32_t>("key '" + shown + "' type");
    f.metadata_[key] = r.value(type, shown, 0);
    if (key == "general.alignment") {
      const Json& a = f.metadata_[key];
      if (type != kU32 || a.get<uint64_t>() == 0 || (a.get<uint64_t>() & (a.get<uint64_t>() - 1))) {
        r.fail("key 'general.alignment' must be a UINT32 power of two, not " + a.dump());
      }
      f.alignment_ = a.get<uint64_t>();
    }
  }

  f.tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = r.string("tensor info " + std::to_string(i) + " name");
    const std::string where = "tensor '" + printable(t.name) + "'";
    if (f.index_.count(t.name)) r.fail("duplicate " + where);
    const auto n_dims = r.read<uint32_t>(where + " n_dims");
    if (n_dims > kMaxDims) {
      r.fail(where + " has " + std::to_string(n_dims) + " dimensions (at most 4)");
    }
    std::vector<int64_t> ne(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto v = r.read<uint64_t>(where + " dimension " + std::to_string(d));
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (v != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / v)) {
        r.fail(where + " element count overflows (dimension " + std::to_string(d) + " is " +
               std::to_string(v) + ")");
      }
      numel *= v;
      ne[d] = static_cast<int64_t>(v);
    }
    t.type = r.read<uint32_t>(where + " type");
    const GgmlTypeTraits* traits = ggml_type_traits(t.type);
    if (!traits) r.fail(where + " has unknown ggml type " + std::to_string(t.type));
    const int64_t row = n_dims ? ne[0] : 1;
    if (row % traits->block_size != 0) {
      r.fail(where + " row size " + std::to_string(row) + " is not a multiple of the " +
             traits->name + " block size " + std::to_string(traits->block_size));
    }
    const uint64_t n_blocks = numel / static_cast<uint64_t>(traits->block_size);
    if (n_blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(traits->type_size)) {
      r.fail(where + " byte size overflows");
    }
    t.nbytes = n_blocks * static_cast<uint64_t>(traits->type_size);
    t.offset = r.read<uint64_t>(where + " offset");
    if (t.offset % f.alignment_ != 0) {
      r.fail(where + " offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
             std::to_string(f.alignment_));
    }
    t.shape.assign(ne.rbegin(), ne.rend());
    f.index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  const uint64_t size = f.file_->size();
  uint64_t data_start = r.pos();
  if (data_start % f.alignment_) data_start += f.alignment_ - data_start % f.alignment_;
  // Check ranges in offset order so that overlaps are found in one pass.
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(f.tensors_.size());
  for (auto& t : f.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  uint64_t prev_end = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : by_offset) {
    const std::string where = "tensor '" + printable(t->name) + "'";
    if (data_start > size || t->offset > size - data_start || t->nbytes > size - data_start - t->offset) {
      r.fail(where + " data (" + std::to_string(t->nbytes) + " bytes at data offset " +
             std::to_string(t->offset) + ") run past the end of the file (" + std::to_string(size) +
             " bytes, data section at " + std::to_string(data_start) + ")");
    }
    if (prev && t->offset < prev_end) {
      r.fail(where + " data overlap those of tensor '" + printable(prev->name) + "'");
    }
    if (t->nbytes) {
      prev_end = t->offset + t->nbytes;
      prev = t;
    }
  }
  for (auto& t : f.tensors_) t.offset += data_start;
  return f;
}

const GgufFile::TensorInfo& GgufFile::tensor(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw NotFound("tensor '" + printable(name) + "' not found in " + source_);
  return tensors_[it->second];
}

Tensor GgufFile::dequantize(const std::string& name) const {
  const TensorInfo& info = tensor(name);
  if (!ggml_can_dequantize(info.type)) {
    throw Unsupported("tensor '" + printable(name) + "' in " + source_ + " has ggml type " +
                      ggml_type_name(info.type) +
                      ", which cannot be dequantized (supported: F32, F16, BF16, Q4_0, Q4_1, "
                      "Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)");
  }
  Tensor out = Tensor::zeros(DType::F32, info.shape);
  dequantize_ggml(info.type, data(info), out.mutable_data<float>(), out.numel());
  return out;
}

}  // namespace optimum::io
