#include "optimum/io/torch_checkpoint.h"

#include <cstring>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/core/paths.h"
#include "torch_pickle.h"

namespace optimum::io {

namespace {


constexpr std::string_view kZipMagic = "PK\x03\x04";

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw FormatError("invalid torch checkpoint " + path.string() + ": " + what);
}

// The "<archive>/data.pkl" entry: torch puts every record under one folder
// named after the file it saved to.
const ZipEntry& find_pickle(const ZipReader& zip) {
  const ZipEntry* found = nullptr;
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash == 0 || slash == std::string::npos || e.name.substr(slash) != "/data.pkl") continue;
    if (found) {
      fail(zip.path(),
           "holds two pickles, " + quote_untrusted(found->name) + " and " + quote_untrusted(e.name));
    }
    found = &e;
  }
  if (!found) {
    fail(zip.path(), "no <archive>/data.pkl record (a zip archive, but not one written by torch.save)");
  }
  return *found;
}

// Whether `stride` is the row-major layout of `shape` (size-1 dims may have any stride).
bool is_contiguous(const Shape& shape, const std::vector<int64_t>& stride) {
  int64_t expected = 1;
  for (size_t k = shape.size(); k-- > 0;) {
    if (shape[k] == 0) return true;
    if (shape[k] != 1 && stride[k] != expected) return false;
    expected *= shape[k];
  }
  return true;
}

// Copies the strided view at `src` (strides in elements) into row-major `dst`.
void gather(uint8_t* dst, const uint8_t* src, size_t elsize, const Shape& shape,
            const std::vector<int64_t>& stride) {
  const size_t nd = shape.size();
  if (nd == 0) {
    std::memcpy(dst, src, elsize);
    return;
  }
  const int64_t inner = shape[nd - 1];
  const auto inner_stride = static_cast<size_t>(stride[nd - 1]) * elsize;
  std::vector<int64_t> index(nd - 1, 0);
  while (true) {
    size_t offset = 0;
    for (size_t k = 0; k + 1 < nd; ++k) offset += static_cast<size_t>(index[k] * stride[k]);
    const uint8_t* s = src + offset * elsize;
    if (inner_stride == elsize) {
      std::memcpy(dst, s, static_cast<size_t>(inner) * elsize);
      dst += static_cast<size_t>(inner) * elsize;
    } else {
      for (int64_t j = 0; j < inner; ++j, dst += elsize, s += inner_stride) std::memcpy(dst, s, elsize);
    }
    size_t k = nd - 1;
    while (k > 0 && ++index[k - 1] == shape[k - 1]) index[--k] = 0;
    if (k == 0) return;
  }
}

}  // namespace

TorchCheckpoint TorchCheckpoint::open(const std::filesystem::path& path,
                                      const TorchCheckpointOptions& options) {
  auto file = MappedFile::open(path);
  const std::string_view head(reinterpret_cast<const char*>(file->data()), std::min<size_t>(file->size(), 4));
  if (head != kZipMagic && !head.empty() && static_cast<uint8_t>(head[0]) == 0x80) {
    throw Unsupported("torch checkpoint " + path.string() +
                      " uses the legacy (pre-1.6, non-zip) serialization format, which is not supported; "
                      "re-save it with torch.save or as safetensors");
  }
  TorchCheckpoint ckpt;
  ckpt.options_ = options;
  ckpt.zip_ = std::make_shared<const ZipReader>(ZipReader::open(std::move(file)));
  const ZipReader& zip = *ckpt.zip_;

  const ZipEntry& pickle = find_pickle(zip);
  const std::string archive = pickle.name.substr(0, pickle.name.find('/'));
  if (const ZipEntry* order = zip.find(archive + "/byteorder")) {
    const std::string_view value = zip.checked_data(*order);
    if (value == "big") {
      throw Unsupported("torch checkpoint " + path.string() +
                        " was saved on a big-endian machine; not supported");
    }
    if (value != "little") {
      fail(path, "record " + quote_untrusted(order->name) + " holds " + quote_untrusted(value));
    }
  }
  const detail::TorchStateDict state =
      detail::unpickle_torch_state_dict(zip.checked_data(pickle), path.string() + " (" + pickle.name + ")");
  ckpt.skipped_ = state.skipped;

  for (const auto& [name, rec] : state.tensors) {
    const std::string where = "tensor " + quote_untrusted(name);
    TorchTensorInfo info;
    info.storage_type = std::string(rec.storage_type->name);
    info.dtype = rec.storage_type->dtype;
    if (!info.dtype && rec.storage_type->name == "DoubleStorage" && options.double_to_float)
      info.dtype = DType::F32;
    info.shape = rec.shape;
    info.stride = rec.stride;
    info.storage_offset = rec.storage_offset;
    info.record = archive + "/data/" + rec.storage_key;
    const ZipEntry* entry = zip.find(info.record);
    if (!entry) {
      fail(path, where + " refers to storage record " + quote_untrusted(info.record) + ", which is missing");
    }
    const std::string_view bytes = zip.data(*entry);  // Unsupported when compressed

    const size_t elsize = rec.storage_type->element_size;
    const unsigned __int128 storage_bytes = static_cast<unsigned __int128>(rec.storage_numel) * elsize;
    if (storage_bytes > bytes.size()) {
      fail(path, where + " storage " + quote_untrusted(info.record) + " should hold " +
                     std::to_string(rec.storage_numel) + " elements of " +
                     std::string(rec.storage_type->torch_dtype) + " but has only " +
                     std::to_string(bytes.size()) + " bytes");
    }
    int64_t numel = 0;
    try {
      numel = shape_numel(rec.shape);
    } catch (const InvalidArgument&) {
      fail(path, where + " size " + shape_str(rec.shape) + " is too large");
    }
    if (numel > 0) {
      // The last element the view reaches must lie inside the storage.
      __int128 last = rec.storage_offset;
      for (size_t k = 0; k < rec.shape.size(); ++k)
        last += static_cast<__int128>(rec.shape[k] - 1) * rec.stride[k];
      if (last >= rec.storage_numel) {
        fail(path, where + " with storage offset " + std::to_string(rec.storage_offset) + ", size " +
                       shape_str(rec.shape) + " and stride " + shape_str(rec.stride) + " reaches past the " +
                       std::to_string(rec.storage_numel) + " elements of storage " +
                       quote_untrusted(info.record));
      }
    }
    info.contiguous = is_contiguous(rec.shape, rec.stride);
    ckpt.names_.push_back(name);
    ckpt.infos_.emplace(name, std::move(info));
  }
  return ckpt;
}

const TorchTensorInfo& TorchCheckpoint::info(const std::string& name) const {
  auto it = infos_.find(name);
  if (it == infos_.end()) {
    throw NotFound("tensor " + quote_untrusted(name) + " not found in " + path().string());
  }
  return it->second;
}

Tensor TorchCheckpoint::get(const std::string& name) const {
  const TorchTensorInfo& ti = info(name);
  const detail::TorchStorageType* st = detail::find_storage_type(ti.storage_type);
  if (!ti.dtype) {
    throw Unsupported("tensor " + quote_untrusted(name) + " in " + path().string() + " has dtype " +
                      std::string(st->torch_dtype) + " (" + ti.storage_type + "), which is not supported");
  }
  const DType dtype = *ti.dtype;
  const bool widen = st->element_size != dtype_size(dtype);  // float64 read as F32
  if (shape_numel(ti.shape) == 0) return Tensor::zeros(dtype, ti.shape);
  const ZipEntry* entry = zip_->find(ti.record);
  const auto* base = reinterpret_cast<const uint8_t*>(zip_->data(*entry).data()) +
                     static_cast<size_t>(ti.storage_offset) * st->element_size;
  if (!widen) {
    if (!ti.contiguous) {
      Tensor out = Tensor::zeros(dtype, ti.shape);
      gather(static_cast<uint8_t*>(out.raw_mutable()), base, st->element_size, ti.shape, ti.stride);
      return out;
    }
    if (reinterpret_cast<uintptr_t>(base) % st->element_size != 0)
      return Tensor::from_data(dtype, ti.shape, base);
    return Tensor::borrow(dtype, ti.shape, zip_->file(), base);
  }
  const auto n = static_cast<size_t>(shape_numel(ti.shape));
  std::vector<double> wide(n);
  gather(reinterpret_cast<uint8_t*>(wide.data()), base, sizeof(double), ti.shape, ti.stride);
  Tensor out = Tensor::zeros(DType::F32, ti.shape);
  float* dst = out.mutable_data<float>();
  for (size_t k = 0; k < n; ++k) dst[k] = static_cast<float>(wide[k]);
  return out;
}

TorchWeights TorchWeights::open_dir(const std::filesystem::path& dir, const TorchCheckpointOptions& options) {
  const auto single = dir / "pytorch_model.bin";
  const auto index = dir / "pytorch_model.bin.index.json";
  std::error_code ec;
  if (std::filesystem::exists(single, ec)) return open(single, options);
  if (std::filesystem::exists(index, ec)) return open(index, options);
  throw NotFound("no pytorch_model.bin or pytorch_model.bin.index.json in " + dir.string());
}

TorchWeights TorchWeights::open(const std::filesystem::path& path, const TorchCheckpointOptions& options) {
  TorchWeights tw;
  tw.source_ = path.string();
  const std::string fname = path.filename().string();
  if (fname.size() > 11 && fname.ends_with(".index.json")) {
    const Json idx = read_json(path);
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object()) {
      throw FormatError("invalid index " + path.string() + ": missing object field 'weight_map'");
    }
    std::map<std::string, size_t> shard_index;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        throw FormatError("invalid index " + path.string() + ": weight_map[" + quote_untrusted(it.key()) +
                          "] is not a file name");
      }
      const std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard.find("..") != std::string::npos) {
        throw FormatError("invalid index " + path.string() + ": shard name " + quote_untrusted(shard) +
                          " must be a plain file name");
      }
      auto s = shard_index.find(shard);
      if (s == shard_index.end()) {
        tw.files_.push_back(TorchCheckpoint::open(path.parent_path() / shard, options));
        s = shard_index.emplace(shard, tw.files_.size() - 1).first;
      }
      if (!tw.files_[s->second].contains(it.key())) {
        throw FormatError("invalid index " + path.string() + ": tensor " + quote_untrusted(it.key()) +
                          " is mapped to " + shard + " which does not contain it");
      }
      tw.where_[it.key()] = s->second;
    }
  } else {
    tw.files_.push_back(TorchCheckpoint::open(path, options));
    for (const auto& n : tw.files_[0].names()) tw.where_[n] = 0;
  }
  return tw;
}

Tensor TorchWeights::get(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw NotFound("tensor " + quote_untrusted(name) + " not found in " + source_);
  return files_[it->second].get(name);
}

const TorchTensorInfo& TorchWeights::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw NotFound("tensor " + quote_untrusted(name) + " not found in " + source_);
  return files_[it->second].info(name);
}

std::vector<std::string> TorchWeights::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [n, i] : where_) out.push_back(n);
  return out;
}

}  // namespace optimum::io
