// Encoding: the result of tokenizing one sequence (or pair), with the fields
// of tokenizers' Encoding. Offsets are byte offsets into the input until
// Tokenizer converts them to character offsets for the user.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "optimum/tokenizers/normalized_string.h"

namespace optimum::tokenizers {

enum class Direction { Left, Right };

struct Encoding {
  std::vector<uint32_t> ids;
  std::vector<uint32_t> type_ids;
  std::vector<std::string> tokens;
  std::vector<std::optional<uint32_t>> words;
  std::vector<Offsets> offsets;
  std::vector<uint32_t> special_tokens_mask;
  std::vector<uint32_t> attention_mask;
  std::vector<Encoding> overflowing;
  // sequence id -> [start, end) token range of that sequence.
  std::map<size_t, std::pair<size_t, size_t>> sequence_ranges;

  size_t size() const { return ids.size(); }
  bool empty() const { return ids.empty(); }
  // Sequence id of each token (nullopt for tokens outside every range).
  std::vector<std::optional<size_t>> sequence_ids() const;
  void set_sequence_id(size_t id);
  void set_type_ids(uint32_t type_id);

  // Appends one token.
  void push(uint32_t id, std::string token, Offsets offsets, std::optional<uint32_t> word, uint32_t type_id,
            bool special);

  // Truncates to max_length tokens; the rest goes to `overflowing` in
  // windows of max_length overlapping by `stride` (tokenizers' truncate).
  void truncate(size_t max_length, size_t stride, Direction direction);
  // Appends `pair` (tokenizers' merge_with, overflowings combined);
  // growing_offsets shifts the pair's offsets after ours.
  void merge_with(Encoding pair, bool growing_offsets);
  // Concatenates encodings (tokenizers' Encoding::merge).
  static Encoding merge(std::vector<Encoding> encodings, bool growing_offsets);
  // Pads to target_length (overflowings too).
  void pad(size_t target_length, uint32_t pad_id, uint32_t pad_type_id, const std::string& pad_token,
           Direction direction);
};

}  // namespace optimum::tokenizers
