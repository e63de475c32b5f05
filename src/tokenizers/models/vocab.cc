#include "models/vocab.h"

#include <algorithm>

#include "optimum/core/errors.h"

namespace optimum::tokenizers::models {

void StringIdMap::grow() {
  const size_t capacity = slots_.empty() ? 64 : slots_.size() * 2;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (const Slot& s : old) {
    if (s.len == kEmpty) continue;
    size_t i = s.hash & mask_;
    while (slots_[i].len != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void StringIdMap::set(std::string_view key, uint32_t id) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t hash = hash_bytes(key);
  size_t i = hash & mask_;
  for (;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.len == kEmpty) break;
    if (s.hash == hash && s.len == key.size() && std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
      s.id = id;
      return;
    }
  }
  if (arena_.size() + key.size() > 0xFFFFFFF0u) throw Unsupported("vocabulary larger than 4 GiB");
  Slot& s = slots_[i];
  s.hash = hash;
  s.offset = static_cast<uint32_t>(arena_.size());
  s.len = static_cast<uint32_t>(key.size());
  s.id = id;
  arena_.append(key);
  ++size_;
}

std::unordered_map<std::string, uint32_t> StringIdMap::to_unordered_map() const {
  std::unordered_map<std::string, uint32_t> out;
  out.reserve(size_);
  for_each([&](std::string_view key, uint32_t id) { out.emplace(std::string(key), id); });
  return out;
}

IdToToken::IdToToken(const StringIdMap& vocab) {
  uint32_t max_id = 0;
  vocab.for_each([&](std::string_view, uint32_t id) { max_id = std::max(max_id, id); });
  sparse_ = static_cast<size_t>(max_id) > 2 * vocab.size() + 65536;
  if (!sparse_ && vocab.size() > 0) {
    dense_.resize(static_cast<size_t>(max_id) + 1);
    present_.assign(static_cast<size_t>(max_id) + 1, false);
  }
  vocab.for_each([&](std::string_view key, uint32_t id) {
    if (sparse_) {
      map_.emplace(id, std::string(key));
    } else if (!present_[id]) {
      present_[id] = true;
      dense_[id] = std::string(key);
    }
  });
}

ByteTrie::ByteTrie() : values_(1, kNone), edges_(16), mask_(15) { std::fill(std::begin(root_), std::end(root_), kNone); }

void ByteTrie::grow() {
  std::vector<Edge> old = std::move(edges_);
  edges_.assign(old.size() * 2, Edge{});
  mask_ = edges_.size() - 1;
  for (const Edge& e : old) {
    if (e.key == kEmptyKey) continue;
    size_t i = mix(e.key) & mask_;
    while (edges_[i].key != kEmptyKey) i = (i + 1) & mask_;
    edges_[i] = e;
  }
}

void ByteTrie::insert(std::string_view key, uint32_t value) {
  uint32_t node = 0;
  for (unsigned char byte : key) {
    uint32_t child = step(node, byte);
    if (child == kNone) {
      child = static_cast<uint32_t>(values_.size());
      values_.push_back(kNone);
      if (node == 0) {
        root_[byte] = child;
      } else {
        if ((n_edges_ + 1) * 2 > edges_.size()) grow();
        const uint64_t k = (static_cast<uint64_t>(node) << 8) | byte;
        size_t i = mix(k) & mask_;
        while (edges_[i].key != kEmptyKey) i = (i + 1) & mask_;
        edges_[i] = Edge{k, child};
        ++n_edges_;
      }
    }
    node = child;
  }
  values_[node] = value;
}

void read_vocab_object(const io::Json& json, StringIdMap& vocab, const std::string& where) {
  if (!json.is_object()) throw FormatError(where + ": field 'vocab' must be an object of token -> id");
  for (auto it = json.begin(); it != json.end(); ++it) {
    const io::Json& v = it.value();
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 0xFFFFFFFFll) {
      throw FormatError(where + ": field 'vocab': id of token '" + it.key() + "' must be a u32, got " + v.dump());
    }
    vocab.set(it.key(), static_cast<uint32_t>(v.get<int64_t>()));
  }
}

}  // namespace optimum::tokenizers::models
