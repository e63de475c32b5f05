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

bool readable(const fs::path& p, std::string& why) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    why = errno_message("cannot read " + p.string());
    return false;
  }
  char c;
  in.read(&c, 1);
  if (in.bad()) {
    why = "cannot read " + p.string();
    return false;
  }
  return true;
}

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
    std::string why;
    if (!readable(src / rel, why)) {
      std::cerr << "warning: skipping preprocessor file " << rel << ": " << why << "\n";
      report.skipped.push_back(rel + ": " + why);
      continue;
    }
    const fs::path target = dst / rel;
    fs::create_directories(target.parent_path());
    std::error_code ec;
    fs::copy_file(src / rel, target, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      std::cerr << "warning: skipping preprocessor file " << rel << ": " << ec.message() << "\n";
      report.skipped.push_back(rel + ": " + ec.message());
      continue;
    }
    report.copied.push_back(rel);
  }
  return report;
}

}  // namespace optimum::preprocessors
