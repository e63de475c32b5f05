#include "optimum/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <tuple>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/io/torch_checkpoint.h"

namespace optimum::io {

namespace {

// Largest header the reference implementation accepts (100 MB).
constexpr uint64_t kMaxHeaderSize = 100'000'000;

// Deepest header nesting the reference accepts (serde_json refuses its 128th level).
constexpr int kMaxHeaderDepth = 127;

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// `v` for an error message. Nested containers are named by type only:
// dump() recurses, and a hostile header can nest millions of levels deep.
std::string brief(const Json& v) {
  for (const Json& e : v) {
    if (e.is_structured()) return std::string("a nested ") + v.type_name();
  }
  return v.dump();
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw FormatError("invalid safetensors file " + path.string() + ": " + what);
}

TensorInfo parse_entry(const std::filesystem::path& path, const std::string& name, const Json& e,
                       size_t data_size) {
  const std::string where = "tensor '" + name + "'";
  if (!e.is_object()) fail(path, where + " entry is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!e.contains(key)) fail(path, where + " has no field '" + key + "'");
  }
  if (!e["dtype"].is_string()) fail(path, where + " field 'dtype' is not a string");
  TensorInfo info{};
  try {
    info.dtype = dtype_from_name(e["dtype"].get<std::string>());
  } catch (const Unsupported& err) {
    throw FormatError("invalid safetensors file " + path.string() + ": " + where + ": " + err.what());
  }
  const Json& shape = e["shape"];
  if (!shape.is_array()) fail(path, where + " field 'shape' is not an array");
  for (const Json& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      fail(path, where + " field 'shape' holds " + brief(d) + ", not a non-negative integer");
    }
    info.shape.push_back(d.get<int64_t>());
  }
  const Json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned()) {
    fail(path, where + " field 'data_offsets' must be two non-negative integers, got " + brief(off));
  }
  info.begin = off[0].get<size_t>();
  info.end = off[1].get<size_t>();
  if (info.end < info.begin) fail(path, where + " data_offsets " + off.dump() + " end before begin");
  if (info.end > data_size) {
    fail(path, where + " data_offsets " + off.dump() + " past the end of the data section (" +
                   std::to_string(data_size) + " bytes)");
  }
  int64_t numel = 0;
  try {
    numel = shape_numel(info.shape);
  } catch (const InvalidArgument&) {
    fail(path, where + " shape " + shape_str(info.shape) + " is too large");
  }
  const unsigned __int128 expected =
      static_cast<unsigned __int128>(numel) * dtype_size(info.dtype);
  if (expected != info.end - info.begin) {
    fail(path, where + " has " + std::to_string(info.end - info.begin) + " bytes but shape " +
                   shape_str(info.shape) + " of " + std::string(dtype_name(info.dtype)) + " needs " +
                   std::to_string(static_cast<uint64_t>(expected)));
  }
  return info;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile st;
  st.file_ = MappedFile::open(path);
  const size_t size = st.file_->size();
  if (size < 8) fail(path, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  const uint64_t n = read_le64(st.file_->data());
  if (n > kMaxHeaderSize) fail(path, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > size - 8) {
    fail(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes)");
  }
  st.data_start_ = 8 + static_cast<size_t>(n);
  const size_t data_size = size - st.data_start_;
  const std::string_view text(reinterpret_cast<const char*>(st.file_->data() + 8), n);
  Json header;
  try {
    // As the reference (serde_json): 127 levels at most, no out-of-range numbers.
    header = parse_json(text, "header", {NumberOverflow::kReject, kMaxHeaderDepth, kMaxHeaderSize});
  } catch (const FormatError& e) {
    fail(path, e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");

  std::vector<std::pair<size_t, std::string>> order;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__ value of '" + m.key() + "' is not a string");
        st.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    TensorInfo info = parse_entry(path, it.key(), it.value(), data_size);
    order.emplace_back(info.begin, it.key());
    st.infos_.emplace(it.key(), std::move(info));
  }
  // As the reference: in offset order each tensor starts where the previous
  // one ended (no overlaps, no holes) and the last one ends the file.
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    const TensorInfo& ia = st.infos_.at(a.second);
    const TensorInfo& ib = st.infos_.at(b.second);
    return std::tie(ia.begin, ia.end, a.second) < std::tie(ib.begin, ib.end, b.second);
  });
  size_t prev_end = 0;
  std::string prev_name;
  for (const auto& [begin, name] : order) {
    const TensorInfo& info = st.infos_.at(name);
    if (begin != prev_end) {
      const std::string after = prev_name.empty() ? "the start of the data section" : "tensor '" + prev_name + "'";
      fail(path, "tensor '" + name + "' bytes [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                     (begin < prev_end ? ") overlap " + after : ") leave a hole after " + after) + " (ending at " +
                     std::to_string(prev_end) + ")");
    }
    prev_end = info.end;
    prev_name = name;
    if (info.end != info.begin) st.names_.push_back(name);
  }
  if (prev_end != data_size) {
    fail(path, "the tensors end at byte " + std::to_string(prev_end) + " of a data section of " +
                   std::to_string(data_size) + " bytes (trailing bytes are not allowed)");
  }
  for (const auto& [begin, name] : order) {
    const TensorInfo& info = st.infos_.at(name);
    if (info.end == info.begin) st.names_.push_back(name);
  }
  return st;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = infos_.find(name);
  if (it == infos_.end()) throw NotFound("tensor '" + name + "' not found in " + path().string());
  return it->second;
}

Tensor SafetensorsFile::get(const std::string& name) const {
  const TensorInfo& ti = info(name);
  const uint8_t* p = file_->data() + data_start_ + ti.begin;
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(ti.dtype) != 0) {
    return Tensor::from_data(ti.dtype, ti.shape, p);
  }
  return Tensor::borrow(ti.dtype, ti.shape, file_, p);
}

WeightStore WeightStore::open_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const char* name : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json"}) {
    if (std::filesystem::exists(dir / name, ec)) return open(dir / name);
  }
  throw NotFound("no weights in " + dir.string() +
                 ": none of model.safetensors, model.safetensors.index.json, pytorch_model.bin, "
                 "pytorch_model.bin.index.json");
}

namespace {

// Whether `path` names a pickled torch checkpoint (or an index of them).
bool is_torch_path(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  if (name.ends_with(".index.json")) name.resize(name.size() - 11);
  return name.ends_with(".bin") || name.ends_with(".pt") || name.ends_with(".pth");
}

}  // namespace

WeightStore WeightStore::open(const std::filesystem::path& path) {
  WeightStore ws;
  ws.source_ = path.string();
  if (is_torch_path(path)) {
    ws.torch_ = std::make_shared<const TorchWeights>(TorchWeights::open(path));
    return ws;
  }
  const std::string fname = path.filename().string();
  if (fname.size() > 11 && fname.ends_with(".index.json")) {
    const Json idx = read_json(path);
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object()) {
      throw FormatError("invalid index " + path.string() + ": missing object field 'weight_map'");
    }
    std::map<std::string, size_t> shard_index;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        throw FormatError("invalid index " + path.string() + ": weight_map['" + it.key() +
                          "'] is not a file name");
      }
      const std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos) {
        throw FormatError("invalid index " + path.string() + ": shard name '" + shard +
                          "' must be a plain file name");
      }
      auto s = shard_index.find(shard);
      if (s == shard_index.end()) {
        ws.files_.push_back(SafetensorsFile::open(path.parent_path() / shard));
        s = shard_index.emplace(shard, ws.files_.size() - 1).first;
      }
      if (!ws.files_[s->second].contains(it.key())) {
        throw FormatError("invalid index " + path.string() + ": tensor '" + it.key() +
                          "' is mapped to " + shard + " which does not contain it");
      }
      ws.where_[it.key()] = s->second;
    }
  } else {
    ws.files_.push_back(SafetensorsFile::open(path));
    for (const auto& n : ws.files_[0].names()) ws.where_[n] = 0;
  }
  return ws;
}

WeightStore WeightStore::from_tensors(std::map<std::string, Tensor> tensors, std::string source) {
  WeightStore ws;
  ws.source_ = std::move(source);
  ws.memory_ = std::make_shared<const std::map<std::string, Tensor>>(std::move(tensors));
  return ws;
}

bool WeightStore::contains(const std::string& name) const {
  if (memory_) return memory_->count(name) != 0;
  return torch_ ? torch_->contains(name) : where_.count(name) != 0;
}

Tensor WeightStore::get(const std::string& name) const {
  if (memory_) {
    auto it = memory_->find(name);
    if (it == memory_->end()) throw NotFound("tensor '" + name + "' not found in " + source_);
    return it->second;
  }
  if (torch_) return torch_->get(name);
  auto it = where_.find(name);
  if (it == where_.end()) throw NotFound("tensor '" + name + "' not found in " + source_);
  return files_[it->second].get(name);
}

std::vector<std::string> WeightStore::names() const {
  if (torch_) return torch_->names();
  std::vector<std::string> out;
  if (memory_) {
    out.reserve(memory_->size());
    for (const auto& [n, t] : *memory_) out.push_back(n);
    return out;
  }
  out.reserve(where_.size());
  for (const auto& [n, i] : where_) out.push_back(n);
  return out;
}

void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Larger elements first, then by name, so every tensor stays aligned to its
  // element size without gaps (the format forbids holes between tensors).
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const size_t sa = dtype_size(tensors[a].second.dtype());
    const size_t sb = dtype_size(tensors[b].second.dtype());
    if (sa != sb) return sa > sb;
    return tensors[a].first < tensors[b].first;
  });
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (size_t i : order) {
    const auto& [name, t] = tensors[i];
    if (!t.defined()) throw InvalidArgument("tensor '" + name + "' is undefined");
    if (name == "__metadata__") throw InvalidArgument("'__metadata__' is not a valid tensor name");
    if (header.contains(name)) throw InvalidArgument("duplicate tensor name '" + name + "'");
    header[name] = {{"dtype", std::string(dtype_name(t.dtype()))},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  // Pad with spaces so the data section starts 64-byte aligned.
  while ((8 + text.size()) % kAlignment != 0) text.push_back(' ');
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(errno_message("cannot write " + tmp));
    uint8_t len[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (size_t i : order) {
      const Tensor& t = tensors[i].second;
      if (t.nbytes()) out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    }
    if (!out) throw IoError(errno_message("cannot write " + tmp));
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace optimum::io
