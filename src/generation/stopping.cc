#include "stopping.h"

#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/tokenizers/tokenizer.h"

namespace optimum::generation {

DecodeFn tokenizer_decoder(const tokenizers::Tokenizer& tokenizer) {
  return [&tokenizer](const std::vector<int64_t>& ids) {
    std::vector<uint32_t> u;
    u.reserve(ids.size());
    for (const int64_t id : ids) {
      if (id < 0 || id > static_cast<int64_t>(UINT32_MAX)) throw InvalidArgument("token id " + std::to_string(id) + " cannot be decoded");
      u.push_back(static_cast<uint32_t>(id));
    }
    return tokenizer.decode(u, /*skip_special_tokens=*/false);
  };
}

namespace detail {

StopStrings::StopStrings(std::vector<std::string> strings, DecodeFn decode)
    : strings_(std::move(strings)), decode_(std::move(decode)) {
  if (!strings_.empty() && !decode_)
    throw InvalidArgument(
        "There are one or more stop strings, either in the arguments to `generate` or in the model's generation "
        "config, but we could not locate a tokenizer: pass a tokenizer or a decode function with `stop_strings`");
  size_t longest = 0;
  for (const auto& s : strings_) longest = std::max(longest, s.size());
  // Every token decodes to at least one byte in practice; a margin covers
  // the few that decode to nothing (a lone byte of a split character).
  window_ = longest + 8;
}

bool StopStrings::matches(const std::vector<int64_t>& sequence) const {
  if (strings_.empty() || sequence.empty()) return false;
  const size_t n = std::min(sequence.size(), window_);
  const std::vector<int64_t> tail(sequence.end() - static_cast<std::ptrdiff_t>(n), sequence.end());
  const std::string full = decode_(tail);
  const std::string before = decode_(std::vector<int64_t>(tail.begin(), tail.end() - 1));
  // The last token's text starts where `full` and `before` stop agreeing.
  size_t common = 0;
  while (common < before.size() && common < full.size() && before[common] == full[common]) ++common;
  for (const auto& s : strings_) {
    // An occurrence ending after `common` overlaps the last token.
    const size_t from = common >= s.size() ? common - s.size() + 1 : 0;
    if (full.find(s, from) != std::string::npos) return true;
  }
  return false;
}

}  // namespace detail
}  // namespace optimum::generation
