// WordLevel model: every pre-tokenized word maps to one vocabulary entry
// (tokenizers' models/wordlevel).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "models/vocab.h"
#include "optimum/tokenizers/components.h"

namespace optimum::tokenizers::models {

struct WordLevelOptions {
  std::string unk_token = "<unk>";  // used for words outside the vocab
};

class WordLevel final : public Model {
 public:
  WordLevel(StringIdMap vocab, WordLevelOptions options);
  // From the tokenizer.json "model" object (type WordLevel).
  static std::unique_ptr<WordLevel> from_json(const Json& json);

  std::vector<Token> tokenize(std::string_view sequence) const override;
  std::optional<uint32_t> token_to_id(std::string_view token) const override { return vocab_.find(token); }
  std::optional<std::string> id_to_token(uint32_t id) const override;
  size_t vocab_size() const override { return vocab_.size(); }
  std::unordered_map<std::string, uint32_t> vocab() const override { return vocab_.to_unordered_map(); }

 private:
  StringIdMap vocab_;
  IdToToken vocab_r_;
  WordLevelOptions options_;
  std::optional<uint32_t> unk_id_;
};

}  // namespace optimum::tokenizers::models
