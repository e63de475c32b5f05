#include "optimum/core/paths.h"

#include <system_error>
#include <vector>

#include "optimum/core/errors.h"

namespace optimum {

namespace fs = std::filesystem;

namespace {

// Symlinks followed while resolving one path, as Linux's MAXSYMLINKS.
constexpr int kMaxSymlinks = 40;

// Why `relative` cannot be joined; empty when it can.
std::string lexical_problem(std::string_view relative) {
  if (relative.starts_with('/')) return "it is an absolute path";
  for (char c : relative) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0) return "it contains a NUL byte";
    if (u < 0x20 || u == 0x7f) return "it contains a control character";
    if (c == '\\') return "it contains a backslash";
  }
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    if (relative.substr(start, end - start) == "..") return "it has a '..' segment";
    start = end + 1;
  }
  return "";
}

// Pushes the components of `path` (root name excluded) on `stack` so that
// the first component is popped first.
void push_components(const fs::path& path, std::vector<fs::path>& stack) {
  std::vector<fs::path> parts;
  for (const fs::path& part : path.relative_path()) parts.push_back(part);
  stack.insert(stack.end(), parts.rbegin(), parts.rend());
}

// True when `path` is `root` or below it (both absolute and resolved).
bool is_within(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // trailing separator of root
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

fs::path resolved_location(const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  if (ec) throw IoError("cannot resolve " + path.string() + ": " + ec.message());
  std::vector<fs::path> todo;
  push_components(absolute, todo);
  fs::path out = absolute.root_path();
  int links = 0;
  while (!todo.empty()) {
    const fs::path part = todo.back();
    todo.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      out = out.parent_path();
      continue;
    }
    const fs::path next = out / part;
    if (!fs::is_symlink(fs::symlink_status(next, ec))) {
      out = next;
      continue;
    }
    if (++links > kMaxSymlinks) throw IoError("too many levels of symbolic links in " + path.string());
    const fs::path target = fs::read_symlink(next, ec);
    if (ec) throw IoError("cannot read symlink " + next.string() + ": " + ec.message());
    push_components(target, todo);
    if (target.is_absolute()) out = target.root_path();
  }
  return out;
}

void check_relative_path(std::string_view relative, std::string_view what) {
  const std::string problem = lexical_problem(relative);
  if (!problem.empty()) {
    throw InvalidArgument(std::string(what) + " " + quote_untrusted(relative) + " is refused: " + problem);
  }
}

fs::path safe_join(const fs::path& root, std::string_view relative, std::string_view what) {
  check_relative_path(relative, std::string(what) + " below " + root.string());
  fs::path out = root;
  size_t start = 0;
  while (start < relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    const std::string_view part = relative.substr(start, end - start);
    if (!part.empty() && part != ".") out /= std::string(part);
    start = end + 1;
  }
  if (relative.empty()) return out;
  const fs::path real_root = resolved_location(root);
  const fs::path real = resolved_location(out);
  if (!is_within(real, real_root)) {
    throw InvalidArgument(std::string(what) + " " + quote_untrusted(relative) +
                          " is refused: a symlink on disk makes " + out.string() + " lead to " +
                          real.string() +
                          ", outside " + root.string());
  }
  return out;
}

std::string quote_untrusted(std::string_view text) {
  static constexpr size_t kMax = 200;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (text.size() > kMax) out += "...";
  out.push_back('\'');
  return out;
}

}  // namespace optimum
