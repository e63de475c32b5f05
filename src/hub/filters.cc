#include "optimum/hub/filters.h"

namespace optimum::hub {

namespace {

// Matches `c` against the "[...]" set whose '[' is pattern[p]: 1 when it
// matches, 0 when not (`next` then points past the ']'), -1 when the set is
// never closed (the '[' is then a literal, as in Python's fnmatch).
int match_set(std::string_view pattern, size_t p, char c, size_t& next) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && pattern[i] == '!') {
    negate = true;
    ++i;
  }
  const size_t first = i;
  bool matched = false;
  while (i < pattern.size() && (pattern[i] != ']' || i == first)) {
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      if (pattern[i] <= c && c <= pattern[i + 2]) matched = true;
      i += 3;
    } else {
      if (pattern[i] == c) matched = true;
      ++i;
    }
  }
  if (i >= pattern.size()) return -1;
  next = i + 1;
  return matched != negate ? 1 : 0;
}

}  // namespace

bool fnmatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard matching with backtracking to the last '*'.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star = p++;
        star_text = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        size_t next = 0;
        const int set = match_set(pattern, p, text[t], next);
        if (set == 1) {
          p = next;
          ++t;
          continue;
        }
        if (set == -1 && text[t] == '[') {
          ++p;
          ++t;
          continue;
        }
      } else if (pc == text[t]) {
        ++p;
        ++t;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;
    t = ++star_text;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool matches_any(std::string_view path, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (const std::string& pattern : patterns) {
    if (!pattern.empty() && pattern.back() == '/') {
      if (fnmatch(pattern + "*", path)) return true;
    } else if (fnmatch(pattern, path)) {
      return true;
    }
  }
  return false;
}

}  // namespace optimum::hub
