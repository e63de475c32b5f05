// NormalizedString and PreTokenizedString: text that is transformed
// (normalized, split) while every byte keeps its alignment to the original
// input, so tokens get offsets into the string the user gave. Semantics
// follow the Hugging Face `tokenizers` library (normalizer.rs,
// pre_tokenizer.rs); all offsets here are byte offsets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace optimum::tokenizers {

// [start, end) byte offsets.
using Offsets = std::pair<size_t, size_t>;

// How the matches of a pattern become pieces when splitting.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// One span of a string: [start, end) bytes, and whether it matched.
struct Match {
  size_t start;
  size_t end;
  bool is_match;
};

// Something that finds matches in a string. find_matches returns spans that
// cover the whole input in order (non-matching gaps included), as
// tokenizers' Pattern::find_matches does; an empty input gives one
// non-match span (0, 0).
class Pattern {
 public:
  virtual ~Pattern() = default;
  virtual std::vector<Match> find_matches(std::string_view text) const = 0;
};

// Matches a literal string (an empty literal matches nothing).
class StringPattern : public Pattern {
 public:
  explicit StringPattern(std::string literal) : literal_(std::move(literal)) {}
  std::vector<Match> find_matches(std::string_view text) const override;

 private:
  std::string literal_;
};

// Matches every single character for which the predicate holds.
class CharPredicatePattern : public Pattern {
 public:
  explicit CharPredicatePattern(std::function<bool(char32_t)> pred) : pred_(std::move(pred)) {}
  std::vector<Match> find_matches(std::string_view text) const override;

 private:
  std::function<bool(char32_t)> pred_;
};

// Inverts another pattern's matches (Split's `invert`).
class InvertedPattern : public Pattern {
 public:
  explicit InvertedPattern(const Pattern& inner) : inner_(inner) {}
  std::vector<Match> find_matches(std::string_view text) const override;

 private:
  const Pattern& inner_;
};

// One (character, change) of a transformation: change 0 replaces one
// character, 1 inserts a new one, -n replaces one and removes the n after it.
using CharChange = std::pair<char32_t, int>;

class NormalizedString {
 public:
  NormalizedString() = default;
  // original == normalized, each byte aligned to itself.
  explicit NormalizedString(std::string text);

  const std::string& original() const { return original_; }
  const std::string& normalized() const { return normalized_; }
  // Byte offset of original() inside the whole input (after slicing).
  size_t original_shift() const { return original_shift_; }
  // For each byte of normalized(): its [start, end) in original().
  const std::vector<Offsets>& alignments() const { return alignments_; }
  size_t size() const { return normalized_.size(); }
  bool empty() const { return normalized_.empty(); }

  // Replaces the normalized bytes [start, end) by `dest`, keeping
  // alignments; `initial_offset` is the number of characters removed at the
  // start of the range before the first of `dest` (tokenizers' transform_range).
  void transform_range(size_t start, size_t end, const std::vector<CharChange>& dest, size_t initial_offset);
  // transform_range over the whole string.
  void transform(const std::vector<CharChange>& dest, size_t initial_offset);
  // transform(dest, 0) unless dest replaces every character by itself.
  void transform_unless_identity(const std::vector<CharChange>& dest);

  // Per-character helpers built on transform().
  void map(const std::function<char32_t(char32_t)>& f);
  void filter(const std::function<bool(char32_t)>& keep);
  void nfd();
  void nfkd();
  void nfc();
  void nfkc();
  void lowercase();
  void strip(bool left, bool right);
  void prepend(std::string_view s);
  void append(std::string_view s);
  // Replaces every match of `pattern` by `content`.
  void replace(const Pattern& pattern, std::string_view content);

  // The sub-string for normalized bytes [start, end); nullopt when the range
  // is invalid or not on character boundaries.
  std::optional<NormalizedString> slice(size_t start, size_t end) const;
  // Splits on the pattern's matches with the given behavior.
  std::vector<NormalizedString> split(const Pattern& pattern, SplitBehavior behavior) const&;
  // The same; a string that stays whole is moved, not copied.
  std::vector<NormalizedString> split(const Pattern& pattern, SplitBehavior behavior) &&;

  // Normalized byte range -> range in original() (not shifted).
  std::optional<Offsets> to_original(size_t start, size_t end) const;
  // Original byte range -> range in normalized().
  std::optional<Offsets> to_normalized(size_t start, size_t end) const;

 private:
  std::string original_;
  std::string normalized_;
  std::vector<Offsets> alignments_;
  size_t original_shift_ = 0;
};

// A token produced by a model: id, text, and byte offsets into the
// NormalizedString it came from.
struct Token {
  uint32_t id = 0;
  std::string value;
  Offsets offsets{0, 0};
};

// One piece of a pre-tokenized string; `tokens` is set once the model (or
// the added vocabulary) has tokenized it, and later steps then skip it.
struct Split {
  NormalizedString normalized;
  std::optional<std::vector<Token>> tokens;
};

class PreTokenizedString {
 public:
  explicit PreTokenizedString(std::string text);
  explicit PreTokenizedString(NormalizedString normalized);

  // Replaces each split without tokens by the pieces f returns (f gets the
  // index of the split among all splits and the split's string).
  void split(const std::function<std::vector<NormalizedString>(size_t, NormalizedString&&)>& f);
  // Normalizes each split without tokens in place.
  void normalize(const std::function<void(NormalizedString&)>& f);
  // Tokenizes each split without tokens.
  void tokenize(const std::function<std::vector<Token>(const NormalizedString&)>& f);

  const std::string& original() const { return original_; }
  std::vector<Split>& splits() { return splits_; }
  const std::vector<Split>& splits() const { return splits_; }

 private:
  std::string original_;
  std::vector<Split> splits_;
};

}  // namespace optimum::tokenizers
