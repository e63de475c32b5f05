// Tokenizer: the tokenizer.json pipeline (added tokens -> normalizer ->
// pre-tokenizer -> model -> truncation -> post-processor -> padding), plus
// what tokenizer_config.json / special_tokens_map.json / added_tokens.json
// add. Reproduces the Hugging Face `tokenizers` library: ids, tokens,
// type ids, masks, word ids and character offsets into the input.
// Immutable once configured; encode/decode are safe from many threads.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "optimum/tokenizers/components.h"
#include "optimum/tokenizers/encoding.h"

namespace optimum::tokenizers {

// A token of the added vocabulary (tokenizer.json "added_tokens").
struct AddedToken {
  std::string content;
  uint32_t id = 0;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };

struct TruncationParams {
  size_t max_length = 512;
  size_t stride = 0;  // tokens repeated between overflowing windows
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  Direction direction = Direction::Right;
};

struct PaddingParams {
  std::optional<size_t> length;    // fixed length; nullopt pads to the longest of the batch
  size_t pad_to_multiple_of = 0;   // 0: no rounding
  uint32_t pad_id = 0;
  uint32_t pad_type_id = 0;
  std::string pad_token = "[PAD]";
  Direction direction = Direction::Right;
};

// Settings of tokenizer_config.json and special_tokens_map.json that
// transformers applies on top of tokenizer.json.
struct TokenizerConfig {
  std::optional<size_t> model_max_length;  // absent or "infinite" (1e30) -> nullopt
  Direction padding_side = Direction::Right;
  Direction truncation_side = Direction::Right;
  std::map<std::string, std::string> special_tokens;  // bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<std::string> chat_template;
  Json raw;  // tokenizer_config.json as read (empty when absent)
};

// One input: a sequence or a pair of sequences.
struct EncodeInput {
  std::string first;
  std::optional<std::string> second;
};

// Settings of one encode_batch call, used instead of the configured
// truncation and padding (nullopt: none), as transformers' tokenizer call
// sets them per call. The tokenizer itself is not changed, so calls with
// different settings may run from many threads at once.
struct EncodeSettings {
  bool add_special_tokens = true;
  std::optional<TruncationParams> truncation;
  std::optional<PaddingParams> padding;  // length nullopt: the longest of the batch
};

class Tokenizer {
 public:
  // tokenizer.json at `path`.
  static Tokenizer from_file(const std::filesystem::path& path);
  // A parsed tokenizer.json; `source` names it in errors.
  static Tokenizer from_json(const Json& json, const std::string& source);
  // A model folder: tokenizer.json (else vocab.txt, or vocab.json +
  // merges.txt, converted as transformers converts them) with
  // tokenizer_config.json, special_tokens_map.json and added_tokens.json.
  static Tokenizer from_pretrained(const std::filesystem::path& folder);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes one sequence or pair; offsets are character offsets into the
  // sequence they come from. Truncation and padding apply as configured.
  Encoding encode(std::string_view sequence, std::optional<std::string_view> pair = std::nullopt,
                  bool add_special_tokens = true) const;
  // Encodes many inputs on all cores; batch-longest padding applies.
  std::vector<Encoding> encode_batch(const std::vector<EncodeInput>& inputs, bool add_special_tokens = true) const;
  // Encodes many inputs with per-call truncation and padding (see
  // EncodeSettings); InvalidArgument for a stride beyond the effective max length.
  std::vector<Encoding> encode_batch(const std::vector<EncodeInput>& inputs, const EncodeSettings& settings) const;
  std::string decode(const std::vector<uint32_t>& ids, bool skip_special_tokens = true) const;
  std::vector<std::string> decode_batch(const std::vector<std::vector<uint32_t>>& ids,
                                        bool skip_special_tokens = true) const;

  void enable_truncation(const TruncationParams& params);
  void no_truncation();
  void enable_padding(const PaddingParams& params);
  void no_padding();
  const std::optional<TruncationParams>& truncation() const;
  const std::optional<PaddingParams>& padding() const;

  std::optional<uint32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(uint32_t id) const;
  size_t vocab_size(bool with_added_tokens = true) const;
  std::unordered_map<std::string, uint32_t> vocab(bool with_added_tokens = true) const;
  const std::vector<AddedToken>& added_tokens() const;
  const TokenizerConfig& config() const;
  // Adds tokens to the added vocabulary (new ids after the vocab); returns how many were new.
  size_t add_tokens(const std::vector<AddedToken>& tokens);
  // Folder-level settings, filled by from_pretrained.
  TokenizerConfig& mutable_config();
  // Replaces the post-processor (transformers rebuilds it from add_bos_token / add_eos_token).
  void set_post_processor(const Json& json);
  // Runs the normalizer `json` describes before the current one (what
  // sentence-transformers' do_lower_case does with a Lowercase normalizer).
  void prepend_normalizer(const Json& json);

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace optimum::tokenizers
