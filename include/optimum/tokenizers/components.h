// The five component kinds of a tokenizer.json pipeline and their factories.
// Every implementation is immutable after construction and safe to use from
// many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "optimum/io/json.h"
#include "optimum/tokenizers/encoding.h"
#include "optimum/tokenizers/normalized_string.h"

namespace optimum::tokenizers {

using io::Json;

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(PreTokenizedString& s) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // Tokens of one pre-tokenized piece; offsets are byte offsets into `sequence`.
  // Throws InvalidArgument when the piece cannot be tokenized (no unk token).
  virtual std::vector<Token> tokenize(std::string_view sequence) const = 0;
  virtual std::optional<uint32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(uint32_t id) const = 0;
  virtual size_t vocab_size() const = 0;
  virtual std::unordered_map<std::string, uint32_t> vocab() const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Special tokens this processor adds to a single sequence or a pair.
  virtual size_t added_tokens(bool is_pair) const = 0;
  // Adds special tokens / type ids (when add_special_tokens) and merges the
  // pair, overflowing encodings included.
  virtual Encoding process(Encoding encoding, std::optional<Encoding> pair, bool add_special_tokens) const = 0;
  // Processes already-split encodings (one per sequence) in place; the
  // building block of process() and of the Sequence processor.
  virtual void process_encodings(std::vector<Encoding>& encodings, bool add_special_tokens) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Transforms the token strings; Sequence decoders chain these.
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
  // The decoded text: decode_chain joined.
  std::string decode(std::vector<std::string> tokens) const;
};

// Factories from the tokenizer.json objects ("normalizer", "pre_tokenizer",
// "model", "post_processor", "decoder"). FormatError / Unsupported name the
// component type and the field at fault, e.g.
// "normalizer 'Replace': missing field 'content'".
std::unique_ptr<Normalizer> make_normalizer(const Json& json);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& json);
std::unique_ptr<Model> make_model(const Json& json);
std::unique_ptr<PostProcessor> make_post_processor(const Json& json);
std::unique_ptr<Decoder> make_decoder(const Json& json);

}  // namespace optimum::tokenizers
