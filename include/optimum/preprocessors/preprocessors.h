// Every preprocessor file of a model folder: tokenizer files, processor and
// feature-extractor configs, chat templates, generation config, and
// sentence-transformers modules. Discovered by name, copied byte for byte.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace optimum::preprocessors {

// Top-level file names treated as preprocessors (when present).
const std::vector<std::string>& known_files();

struct CopyReport {
  std::vector<std::string> copied;   // paths relative to the folder
  std::vector<std::string> skipped;  // unreadable ones, each with the reason
};

// Relative paths of the preprocessor files in `folder`: known_files(), and
// the sub-folders sentence-transformers' modules.json names (1_Pooling,
// 2_Dense, ...), recursively.
std::vector<std::string> find(const std::filesystem::path& folder);

// Copies find(src) into dst (created as needed). A file that cannot be read
// is skipped with a warning on stderr and listed in `skipped`.
CopyReport copy(const std::filesystem::path& src, const std::filesystem::path& dst);

}  // namespace optimum::preprocessors
