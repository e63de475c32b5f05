// Stopping criteria of one sequence (internal to the generation library).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "optimum/generation/generate.h"

namespace optimum::generation::detail {

// transformers' StopStringCriteria on decoded text: a stop string matches
// when the sequence's text contains it and the occurrence overlaps the text
// of the last token (a stop string that lay wholly before the last token
// was already seen, as transformers requires).
class StopStrings {
 public:
  StopStrings() = default;
  StopStrings(std::vector<std::string> strings, DecodeFn decode);
  bool empty() const { return strings_.empty(); }
  bool matches(const std::vector<int64_t>& sequence) const;

 private:
  std::vector<std::string> strings_;
  DecodeFn decode_;
  size_t window_ = 0;  // tokens decoded from the end
};

}  // namespace optimum::generation::detail
