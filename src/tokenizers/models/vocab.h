// Lookup structures shared by the models (internal to the tokenizers layer):
// a flat string -> id hash map, an id -> string table, and a byte trie. All
// are built once and then only read, so many threads may share them.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "optimum/io/json.h"

namespace optimum::tokenizers::models {

// 64-bit hash of a byte string (multiply-xorshift over 8-byte words).
inline uint64_t hash_bytes(std::string_view s) {
  auto mix = [](uint64_t a, uint64_t b) {
    const __uint128_t r = static_cast<__uint128_t>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  };
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xA0761D6478BD642Full);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = mix(h ^ v, 0xE7037ED1A0B428DBull);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = mix(h ^ v, 0x8EBC6AF09C88C6E3ull);
  }
  return mix(h, 0x589965CC75374CC3ull);
}

// Open-addressing map from byte strings to ids; keys live in one arena.
class StringIdMap {
 public:
  // Inserts or overwrites (the last value for a key wins, as in a HashMap
  // collected from an iterator).
  void set(std::string_view key, uint32_t id);
  std::optional<uint32_t> find(std::string_view key) const { return find(key, hash_bytes(key)); }
  std::optional<uint32_t> find(std::string_view key, uint64_t hash) const {
    if (slots_.empty()) return std::nullopt;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.len == kEmpty) return std::nullopt;
      if (s.hash == hash && s.len == key.size() && std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
        return s.id;
      }
    }
  }
  size_t size() const { return size_; }
  // Calls f(key, id) for every entry.
  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.len != kEmpty) f(std::string_view(arena_.data() + s.offset, s.len), s.id);
    }
  }
  std::unordered_map<std::string, uint32_t> to_unordered_map() const;

 private:
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint32_t len = kEmpty;
    uint32_t id = 0;
  };
  void grow();

  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// id -> token; dense ids use a vector, sparse ones a hash map.
class IdToToken {
 public:
  // Built from a vocab; when two tokens share an id the first one seen wins.
  explicit IdToToken(const StringIdMap& vocab);
  IdToToken() = default;
  const std::string* find(uint32_t id) const {
    if (!sparse_) return id < present_.size() && present_[id] ? &dense_[id] : nullptr;
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : &it->second;
  }

 private:
  bool sparse_ = false;
  std::vector<std::string> dense_;
  std::vector<bool> present_;
  std::unordered_map<uint32_t, std::string> map_;
};

// A trie over bytes: node 0 is the root; each node may carry a value.
class ByteTrie {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  ByteTrie();
  // Adds `key` with `value` (overwriting).
  void insert(std::string_view key, uint32_t value);

  // Child of `node` along `byte`, or kNone.
  uint32_t step(uint32_t node, uint8_t byte) const {
    if (node == 0) return root_[byte];
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | byte;
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      const Edge& e = edges_[i];
      if (e.key == key) return e.child;
      if (e.key == kEmptyKey) return kNone;
    }
  }
  // Value stored at `node`, or kNone.
  uint32_t value(uint32_t node) const { return values_[node]; }

 private:
  static constexpr uint64_t kEmptyKey = ~0ull;
  struct Edge {
    uint64_t key = kEmptyKey;
    uint32_t child = 0;
  };
  static uint64_t mix(uint64_t k) {
    k ^= k >> 29;
    k *= 0xBF58476D1CE4E5B9ull;
    k ^= k >> 32;
    return k;
  }

  void grow();

  uint32_t root_[256];
  std::vector<uint32_t> values_;
  std::vector<Edge> edges_;  // open addressing on (node << 8 | byte)
  size_t mask_ = 0;
  size_t n_edges_ = 0;
};

// Reads a {"token": id, ...} object into `vocab`; `fail` reports errors.
void read_vocab_object(const io::Json& json, StringIdMap& vocab, const std::string& where);

}  // namespace optimum::tokenizers::models
