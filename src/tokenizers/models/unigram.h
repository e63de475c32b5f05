// Unigram model (tokenizers' models/unigram): the best-scoring split of a
// word by Viterbi over the vocabulary's pieces (encode_optimized), unknown
// characters fused into one piece, optional <0xXX> byte fallback.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/vocab.h"
#include "optimum/tokenizers/components.h"

namespace optimum::tokenizers::models {

struct UnigramOptions {
  std::optional<uint32_t> unk_id;  // index of the unknown piece in the vocab
  bool byte_fallback = false;      // unknown pieces become <0xXX> tokens when all exist
};

class Unigram final : public Model {
 public:
  // `vocab`: (piece, log-probability) in id order.
  Unigram(std::vector<std::pair<std::string, double>> vocab, UnigramOptions options);
  // From the tokenizer.json "model" object (type Unigram).
  static std::unique_ptr<Unigram> from_json(const Json& json);

  std::vector<Token> tokenize(std::string_view sequence) const override;
  std::optional<uint32_t> token_to_id(std::string_view token) const override { return token_to_id_.find(token); }
  std::optional<std::string> id_to_token(uint32_t id) const override;
  size_t vocab_size() const override { return pieces_.size(); }
  std::unordered_map<std::string, uint32_t> vocab() const override { return token_to_id_.to_unordered_map(); }

 private:
  // Pieces of the best path, as [start, end) byte ranges of `sentence`.
  void encode(std::string_view sentence, std::vector<std::pair<size_t, size_t>>& pieces) const;

  std::vector<std::pair<std::string, double>> pieces_;
  StringIdMap token_to_id_;
  ByteTrie trie_;
  UnigramOptions options_;
  double min_score_;
};

}  // namespace optimum::tokenizers::models
