// File selection with huggingface_hub's pattern rules (fnmatch).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace optimum::hub {

// fnmatch: '*' matches any run of characters ('/' included, as in Python's
// fnmatch), '?' one character, "[abc]" / "[!abc]" / "[a-z]" one of a set.
bool fnmatch(std::string_view pattern, std::string_view text);

// True when `patterns` is empty or one matches `path`; a pattern ending in
// '/' matches everything below that folder (filter_repo_objects' rule).
bool matches_any(std::string_view path, const std::vector<std::string>& patterns);

}  // namespace optimum::hub
