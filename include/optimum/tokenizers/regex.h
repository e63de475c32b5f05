// PCRE2 regular expressions (UTF + UCP, so \p{L}, \s and look-ahead work as
// in the Onig/fancy-regex patterns tokenizer.json files carry). A compiled
// Regex is immutable and safe to share between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "optimum/tokenizers/normalized_string.h"

namespace optimum::tokenizers {

class Regex : public Pattern {
 public:
  // Compiles `pattern`; FormatError names the pattern and PCRE2's message.
  explicit Regex(const std::string& pattern);
  ~Regex() override;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches, left to right, as [start, end) byte spans.
  std::vector<Offsets> find_all(std::string_view text) const;
  std::vector<Match> find_matches(std::string_view text) const override;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

}  // namespace optimum::tokenizers
