#include "models/wordpiece.h"

#include "json_fields.h"

namespace optimum::tokenizers::models {

WordPiece::WordPiece(StringIdMap vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)), vocab_r_(vocab_), options_(std::move(options)), unk_id_(vocab_.find(options_.unk_token)) {
  const std::string& prefix = options_.continuing_subword_prefix;
  vocab_.for_each([&](std::string_view key, uint32_t id) {
    start_trie_.insert(key, id);
    if (key.substr(0, prefix.size()) == prefix) cont_trie_.insert(key.substr(prefix.size()), id);
  });
}

std::unique_ptr<WordPiece> WordPiece::from_json(const Json& json) {
  Fields f(json, "model");
  StringIdMap vocab;
  read_vocab_object(f.object("vocab"), vocab, f.where());
  WordPieceOptions options;
  if (auto unk = f.opt_str("unk_token")) options.unk_token = *unk;
  if (auto prefix = f.opt_str("continuing_subword_prefix")) options.continuing_subword_prefix = *prefix;
  if (f.has("max_input_chars_per_word")) {
    const int64_t max_chars = f.integer("max_input_chars_per_word");
    if (max_chars < 0) f.fail("field 'max_input_chars_per_word' must be >= 0");
    options.max_input_chars_per_word = static_cast<size_t>(max_chars);
  }
  return std::make_unique<WordPiece>(std::move(vocab), std::move(options));
}

std::vector<Token> WordPiece::unk(std::string_view sequence) const {
  if (!unk_id_) {
    throw InvalidArgument("WordPiece: missing unk token '" + options_.unk_token + "' from the vocabulary (word '" +
                          std::string(sequence) + "')");
  }
  std::vector<Token> out;
  out.push_back(Token{*unk_id_, options_.unk_token, {0, sequence.size()}});
  return out;
}

std::vector<Token> WordPiece::tokenize(std::string_view sequence) const {
  size_t n_chars = 0;
  for (unsigned char c : sequence) n_chars += (c & 0xC0) != 0x80;
  if (n_chars > options_.max_input_chars_per_word) return unk(sequence);

  std::vector<Token> out;
  if (auto id = vocab_.find(sequence)) {
    out.push_back(Token{*id, std::string(sequence), {0, sequence.size()}});
    return out;
  }
  // Longest vocabulary piece at each position: the tries hold exactly the
  // strings tokenizers looks up ("piece" at 0, prefix + "piece" after).
  const std::string& prefix = options_.continuing_subword_prefix;
  size_t start = 0;
  while (start < sequence.size()) {
    const ByteTrie& trie = start == 0 ? start_trie_ : cont_trie_;
    uint32_t node = 0;
    size_t best_end = 0;
    uint32_t best_id = ByteTrie::kNone;
    for (size_t i = start; i < sequence.size(); ++i) {
      node = trie.step(node, static_cast<uint8_t>(sequence[i]));
      if (node == ByteTrie::kNone) break;
      const uint32_t value = trie.value(node);
      if (value != ByteTrie::kNone) {
        best_end = i + 1;
        best_id = value;
      }
    }
    if (best_id == ByteTrie::kNone) return unk(sequence);
    std::string value;
    if (start == 0) {
      value.assign(sequence.substr(0, best_end));
    } else {
      value.reserve(prefix.size() + best_end - start);
      value.append(prefix).append(sequence.substr(start, best_end - start));
    }
    out.push_back(Token{best_id, std::move(value), {start, best_end}});
    start = best_end;
  }
  return out;
}

std::optional<std::string> WordPiece::id_to_token(uint32_t id) const {
  const std::string* s = vocab_r_.find(id);
  return s ? std::optional<std::string>(*s) : std::nullopt;
}

}  // namespace optimum::tokenizers::models
