#include "models/wordlevel.h"

#include "json_fields.h"

namespace optimum::tokenizers::models {

WordLevel::WordLevel(StringIdMap vocab, WordLevelOptions options)
    : vocab_(std::move(vocab)), vocab_r_(vocab_), options_(std::move(options)), unk_id_(vocab_.find(options_.unk_token)) {}

std::unique_ptr<WordLevel> WordLevel::from_json(const Json& json) {
  Fields f(json, "model");
  StringIdMap vocab;
  read_vocab_object(f.object("vocab"), vocab, f.where());
  WordLevelOptions options;
  if (auto unk = f.opt_str("unk_token")) options.unk_token = *unk;
  return std::make_unique<WordLevel>(std::move(vocab), std::move(options));
}

std::vector<Token> WordLevel::tokenize(std::string_view sequence) const {
  std::vector<Token> out;
  if (auto id = vocab_.find(sequence)) {
    out.push_back(Token{*id, std::string(sequence), {0, sequence.size()}});
  } else if (unk_id_) {
    out.push_back(Token{*unk_id_, options_.unk_token, {0, sequence.size()}});
  } else {
    throw InvalidArgument("WordLevel: '" + std::string(sequence) + "' is not in the vocabulary and the unk token '" +
                          options_.unk_token + "' is missing from it");
  }
  return out;
}

std::optional<std::string> WordLevel::id_to_token(uint32_t id) const {
  const std::string* s = vocab_r_.find(id);
  return s ? std::optional<std::string>(*s) : std::nullopt;
}

}  // namespace optimum::tokenizers::models
