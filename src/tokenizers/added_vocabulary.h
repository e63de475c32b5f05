// The added vocabulary: tokens added on top of the model's vocabulary,
// found in the input before normalization (normalized=false) or after it
// (normalized=true), with leftmost-longest matching and the single_word /
// lstrip / rstrip rules of tokenizers' added_vocabulary.rs.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "optimum/tokenizers/components.h"
#include "optimum/tokenizers/tokenizer.h"

namespace optimum::tokenizers {

class AddedVocabulary {
 public:
  // Adds tokens (ids: existing id of the content, else the next free id
  // after the model vocabulary); returns how many were not ignored.
  size_t add_tokens(const std::vector<AddedToken>& tokens, const Model& model, const Normalizer* normalizer);

  std::optional<uint32_t> token_to_id(std::string_view token, const Model& model) const;
  std::optional<std::string> id_to_token(uint32_t id, const Model& model) const;
  // The content of an added token by id (no model fallback).
  const AddedToken* find(uint32_t id) const;
  // What tokenizers gives back for an added token id (id_to_token, decode):
  // the content, normalized when the token is normalized=true.
  const std::string* content_of(uint32_t id) const;
  // Added tokens whose content is not in the model vocabulary (tokenizers'
  // get_vocab_size(with_added_tokens=True) adds these to the model's size).
  size_t count_outside_model() const { return outside_model_; }
  bool is_special(const std::string& content) const { return special_set_.count(content) != 0; }
  size_t size() const { return map_.size(); }
  const std::unordered_map<std::string, uint32_t>& map() const { return map_; }
  // Added tokens ordered by id.
  const std::vector<AddedToken>& ordered() const { return ordered_; }

  // Splits `sequence` on added tokens, normalizing the pieces between them.
  PreTokenizedString extract_and_normalize(const Normalizer* normalizer, std::string_view sequence) const;

 private:
  // A byte trie over token contents for leftmost-longest matching.
  struct Trie {
    struct Node {
      std::unordered_map<uint8_t, uint32_t> next;
      int64_t token = -1;  // index into ids when a pattern ends here
    };
    std::vector<Node> nodes{Node{}};
    std::vector<uint32_t> ids;
    bool first_byte[256] = {};
    void add(const std::string& pattern, uint32_t id);
    // Longest pattern starting at pos: (length, id) or length 0.
    std::pair<size_t, uint32_t> longest_at(std::string_view s, size_t pos) const;
  };
  struct SplitPiece {
    size_t start;
    size_t end;
    std::optional<uint32_t> id;
  };
  std::vector<SplitPiece> find_matches(std::string_view s, const Trie& trie) const;
  std::vector<std::pair<NormalizedString, std::optional<std::vector<Token>>>> split_with_indices(
      NormalizedString s, const Trie& trie) const;
  void refresh(const Model& model, const Normalizer* normalizer);

  std::unordered_map<std::string, uint32_t> map_;
  std::unordered_map<uint32_t, AddedToken> map_r_;
  std::unordered_map<uint32_t, std::string> content_r_;
  size_t outside_model_ = 0;
  std::vector<AddedToken> added_;    // classic tokens in insertion order
  std::vector<AddedToken> special_;  // special tokens in insertion order
  std::unordered_set<std::string> special_set_;
  std::vector<AddedToken> ordered_;
  Trie split_trie_;
  Trie split_normalized_trie_;
};

}  // namespace optimum::tokenizers
