#include "optimum/preprocessors/preprocessors.h"

#include <algorithm>
#include <fstream>
#include <iostream>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"

namespace optimum::preprocessors {

namespace fs = std::filesystem;

const std::vector<std::string>& known_files() {
  static const std::vector<std::string> files = {
      // tokenizers
      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
      "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model", "source.spm",
      "target.spm", "bpe.codes",
      // processors, feature extractors, image processors, chat templates
      "processor_config.json", "preprocessor_config.json", "video_preprocessor_config.json", "chat_template.json",
      "chat_template.jinja",
      // generation
      "generation_config.json",
      // sentence-transformers
      "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"};
  return files;
}

namespace {

// Largest preprocessor file copied (1 GiB, io's JSON cap): tokenizer files
// are tens of MB; the cap stops /dev/zero behind a symlink.
constexpr uint64_t kMaxPreprocessorFile = io::kMaxJsonFileSize;

void add_tree(const fs::path& root, const fs::path& sub, std::vector<std::string>& out) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root / sub, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), root).generic_string());
  }
}

}  // namespace

std::vector<std::string> find(const fs::path& folder) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const std::string& name : known_files()) {
    // symlink_status: a dangling link is present-but-unreadable, not absent.
    if (fs::exists(fs::symlink_status(folder / name, ec))) out.push_back(name);
  }
  // sentence-transformers modules: every module folder other than the root transformer.
  const fs::path modules = folder / "modules.json";
  if (fs::exists(modules, ec)) {
    io::Json list;
    try {
      list = io::read_json(modules);
    } catch (const Error& e) {
      std::cerr << "warning: skipping sentence-transformers modules: " << e.what() << "\n";
      return out;
    }
    if (list.is_array()) {
      for (const io::Json& m : list) {
        if (!m.is_object() || !m.contains("path") || !m["path"].is_string()) continue;
        const std::string path = m["path"].get<std::string>();
        if (path.empty() || path.find("..") != std::string::npos || path[0] == '/') continue;
        if (fs::is_directory(folder / path, ec)) add_tree(folder, path, out);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

CopyReport copy(const fs::path& src, const fs::path& dst) {
  CopyReport report;
  for (const std::string& rel : find(src)) {
    // Read then written (not copy_file): a FIFO, device or oversized file
    // is refused by read_text_file without blocking, and what is checked is
    // what is written.
    std::string bytes;
    try {
      bytes = io::read_text_file(src / rel, kMaxPreprocessorFile);
    } catch (const Error& e) {
      std::cerr << "warning: skipping preprocessor file " << rel << ": " << e.what() << "\n";
      report.skipped.push_back(rel + ": " + e.what());
      continue;
    }
    const fs::path target = dst / rel;
    fs::create_directories(target.parent_path());
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw IoError(errno_message("cannot write " + target.string()));
    report.copied.push_back(rel);
  }
  return report;
}

}  // namespace optimum::preprocessors
