// BPE model (tokenizers' models/bpe): characters of a word are merged by
// merge rank, lowest first, exactly as word.rs merge_all orders them.
// Words already seen are served from a lock-free cache shared by threads.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "models/vocab.h"
#include "optimum/tokenizers/components.h"

namespace optimum::tokenizers::models {

// (id, byte length) of each symbol of a merged word.
using BpeSymbols = std::vector<std::pair<uint32_t, uint32_t>>;

// Lock-free map from words to their merged symbols, shared by all threads.
// Slots are filled once by compare-and-swap and never evicted; once
// `capacity` words are in, later words are not cached (as tokenizers' Cache).
// A slot packs the entry pointer with 16 bits of the word's hash, so probes
// past other words do not touch their entries.
class BpeWordCache {
 public:
  explicit BpeWordCache(size_t capacity);
  ~BpeWordCache();
  BpeWordCache(const BpeWordCache&) = delete;
  BpeWordCache& operator=(const BpeWordCache&) = delete;

  // The symbols cached for `word` (whose hash_bytes is `hash`), or nullopt.
  std::optional<std::span<const std::pair<uint32_t, uint32_t>>> find(std::string_view word, uint64_t hash) const;
  void insert(std::string_view word, uint64_t hash, const BpeSymbols& symbols);

 private:
  struct Entry;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  size_t mask_ = 0;
  size_t capacity_;
  std::atomic<size_t> size_{0};
};

struct BpeOptions {
  std::optional<std::string> unk_token;                  // replaces characters outside the vocab (else dropped)
  std::optional<std::string> continuing_subword_prefix;  // added to every non-initial character
  std::optional<std::string> end_of_word_suffix;         // added to the last character
  bool fuse_unk = false;                                 // consecutive unknowns become one unk token
  bool byte_fallback = false;                            // unknown characters become <0xXX> byte tokens
  bool ignore_merges = false;                            // a word found in the vocab is one token
  size_t cache_capacity = 10000;                         // words kept in the cache (0 disables it)
};

class BPE final : public Model {
 public:
  // `merges` in rank order; each pair's parts and their concatenation
  // (prefix removed from the second) must be in the vocab.
  BPE(StringIdMap vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);
  // From the tokenizer.json "model" object (type BPE).
  static std::unique_ptr<BPE> from_json(const Json& json);

  std::vector<Token> tokenize(std::string_view sequence) const override;
  std::optional<uint32_t> token_to_id(std::string_view token) const override { return vocab_.find(token); }
  std::optional<std::string> id_to_token(uint32_t id) const override;
  size_t vocab_size() const override { return vocab_.size(); }
  std::unordered_map<std::string, uint32_t> vocab() const override { return vocab_.to_unordered_map(); }

 private:
  using Symbols = BpeSymbols;
  struct Merge {
    uint32_t rank;
    uint32_t new_id;
  };
  struct MergeSlot {
    uint64_t key;  // left id << 32 | right id; ~0 when empty
    Merge merge;
  };

  void merge_word(std::string_view word, Symbols& out) const;
  void merge_all(Symbols& symbols) const;
  const Merge* find_merge(uint32_t a, uint32_t b) const;
  std::optional<uint32_t> char_id(std::string_view ch, bool first, bool last) const;
  uint32_t unk_id() const;
  void append_tokens(std::span<const std::pair<uint32_t, uint32_t>> symbols, std::vector<Token>& out) const;

  StringIdMap vocab_;
  IdToToken vocab_r_;
  BpeOptions options_;
  // Merges: open addressing on the (left, right) id pair, key and value
  // side by side so a lookup touches one cache line.
  std::vector<MergeSlot> merges_;
  size_t merge_mask_ = 0;
  // Id of each code point below kCharTable as a first / middle / last /
  // only character (prefix and suffix applied); kNoId when absent.
  static constexpr uint32_t kCharTable = 0x800;
  static constexpr uint32_t kNoId = 0xFFFFFFFFu;
  std::vector<uint32_t> char_ids_;  // [4][kCharTable]
  std::array<uint32_t, 256> byte_ids_{};  // "<0xXX>" ids (kNoId when absent)
  mutable std::unique_ptr<BpeWordCache> cache_;  // null when disabled
};

}  // namespace optimum::tokenizers::models
