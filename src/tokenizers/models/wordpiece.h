// WordPiece model: greedy longest-match-first sub-words (BERT), as
// tokenizers' models/wordpiece. Matching walks two byte tries (word-start
// pieces, and continuation pieces without their prefix) instead of trying
// every substring, which gives the same longest match in linear time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "models/vocab.h"
#include "optimum/tokenizers/components.h"

namespace optimum::tokenizers::models {

struct WordPieceOptions {
  std::string unk_token = "[UNK]";                 // whole-word replacement when a word cannot be split
  std::string continuing_subword_prefix = "##";    // marks pieces that continue a word
  size_t max_input_chars_per_word = 100;           // longer words become unk_token
};

class WordPiece final : public Model {
 public:
  WordPiece(StringIdMap vocab, WordPieceOptions options);
  // From the tokenizer.json "model" object (type WordPiece).
  static std::unique_ptr<WordPiece> from_json(const Json& json);

  std::vector<Token> tokenize(std::string_view sequence) const override;
  std::optional<uint32_t> token_to_id(std::string_view token) const override { return vocab_.find(token); }
  std::optional<std::string> id_to_token(uint32_t id) const override;
  size_t vocab_size() const override { return vocab_.size(); }
  std::unordered_map<std::string, uint32_t> vocab() const override { return vocab_.to_unordered_map(); }

 private:
  std::vector<Token> unk(std::string_view sequence) const;

  StringIdMap vocab_;
  IdToToken vocab_r_;
  WordPieceOptions options_;
  std::optional<uint32_t> unk_id_;
  ByteTrie start_trie_;  // every token
  ByteTrie cont_trie_;   // tokens starting with the prefix, prefix removed
};

}  // namespace optimum::tokenizers::models
