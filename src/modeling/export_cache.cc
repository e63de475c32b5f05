#include "optimum/modeling/export_cache.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/io/json.h"

namespace optimum::modeling {

namespace fs = std::filesystem;

fs::path default_export_cache_dir() {
  if (const char* c = std::getenv("OPTIMUM_CPP_CACHE"); c && *c) return c;
  if (const char* h = std::getenv("HF_HOME"); h && *h) return fs::path(h) / "optimum-cpp" / "exports";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    return fs::path(x) / "huggingface" / "optimum-cpp" / "exports";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".cache" / "huggingface" / "optimum-cpp" / "exports";
}

namespace {

std::string shown(const fs::path& p) { return quote_untrusted(p.string()); }

// Whether `p` may be read as a folder of the cache: not a link, not a file. Says why not in `why`.
bool plain_folder(const fs::path& p, std::string& why) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(p, ec);
  if (ec) {
    why = shown(p) + ": cannot be read (" + ec.message() + "); skipped";
    return false;
  }
  if (fs::is_symlink(st)) {
    why = shown(p) + " is a symbolic link; skipped (links in the cache are never followed nor removed)";
    return false;
  }
  if (!fs::is_directory(st)) {
    why = shown(p) + " is a file where a folder is expected; skipped (remove it by hand)";
    return false;
  }
  return true;
}

// "<name>--<16 hex digits>": an entry of the flat layout of earlier versions.
bool legacy_name(const std::string& name) {
  if (name.size() < 19 || name.compare(name.size() - 18, 2, "--") != 0) return false;
  return std::all_of(name.end() - 16, name.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

void fill(ExportCacheEntry& e, std::vector<std::string>& warnings) {
  std::error_code ec;
  e.last_used = fs::last_write_time(e.path, ec);
  try {
    const io::Json meta = io::read_json(e.path / "optimum_export.json");
    if (!meta.is_object()) throw FormatError("not an object");
    e.dtype = meta.value("dtype", std::string());
    e.task = meta.value("task", std::string());
    if (meta.contains("source") && meta["source"].is_object()) {
      e.source = meta["source"].value("model_id", std::string());
      e.commit = meta["source"].value("commit", std::string());
    }
  } catch (const std::exception&) {
    e.complete = false;
  }
  bool unreadable = false;
  fs::recursive_directory_iterator it(e.path, fs::directory_options::skip_permission_denied, ec);
  if (ec) unreadable = true;
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    const fs::file_status st = it->symlink_status(fec);
    if (fec) {
      unreadable = true;
      continue;
    }
    if (fs::is_regular_file(st)) {
      const auto n = it->file_size(fec);
      if (!fec) e.size_bytes += n;
    } else if (fs::is_directory(st)) {
      // skip_permission_denied hides what cannot be listed; note it.
      std::error_code dec;
      fs::directory_iterator probe(it->path(), dec);
      if (dec) unreadable = true;
    }
  }
  if (ec) unreadable = true;
  if (unreadable) {
    warnings.push_back(shown(e.path) + ": part of the entry cannot be read (permission denied?); its size is a "
                       "lower bound and removing it may fail");
  }
}

}  // namespace

ExportCacheScan scan_export_cache(const fs::path& root) {
  ExportCacheScan scan;
  scan.root = root;
  std::error_code ec;
  const fs::file_status st = fs::status(root, ec);  // the root itself may be a link (a cache on another disk)
  if (!fs::exists(st)) return scan;
  if (!fs::is_directory(st)) {
    scan.warnings.push_back(shown(root) + " is not a folder: no export cache there");
    return scan;
  }
  fs::directory_iterator top(root, ec);
  if (ec) {
    scan.warnings.push_back(shown(root) + ": cannot be read (" + ec.message() + ")");
    return scan;
  }
  for (; !ec && top != fs::directory_iterator(); top.increment(ec)) {
    const fs::path repo_dir = top->path();
    const std::string name = repo_dir.filename().string();
    if (name.empty() || name.front() == '.') continue;
    std::string why;
    if (name.find(".partial-") != std::string::npos) {
      scan.warnings.push_back(shown(repo_dir) + " is a partial export (running, or interrupted); skipped");
      continue;
    }
    if (!plain_folder(repo_dir, why)) {
      scan.warnings.push_back(why);
      continue;
    }
    const bool hub = name.starts_with("models--"), local = name.starts_with("local--");
    if (!hub && !local) {
      std::error_code mec;
      if (fs::exists(repo_dir / "optimum_export.json", mec) || legacy_name(name)) {
        ExportCacheEntry e;
        e.path = repo_dir;
        e.repo = name;
        e.name = name;
        e.legacy = true;
        fill(e, scan.warnings);
        scan.entries.push_back(std::move(e));
      } else {
        scan.warnings.push_back(shown(repo_dir) + " is not an export cache entry; skipped");
      }
      continue;
    }
    const std::string rest = name.substr(hub ? 8 : 7);
    std::string repo = hub ? std::string() : "local/" + rest;
    for (size_t q = 0; hub && q < rest.size(); ++q) {
      if (rest.compare(q, 2, "--") == 0) {
        repo += '/';
        ++q;
      } else {
        repo += rest[q];
      }
    }
    std::error_code rec;
    fs::directory_iterator inner(repo_dir, rec);
    if (rec) {
      scan.warnings.push_back(shown(repo_dir) + ": cannot be read (" + rec.message() + "); skipped");
      continue;
    }
    for (; !rec && inner != fs::directory_iterator(); inner.increment(rec)) {
      const fs::path entry = inner->path();
      const std::string ename = entry.filename().string();
      if (ename.empty() || ename.front() == '.') continue;
      if (ename.find(".partial-") != std::string::npos) {
        scan.warnings.push_back(shown(entry) + " is a partial export (running, or interrupted); skipped");
        continue;
      }
      if (!plain_folder(entry, why)) {
        scan.warnings.push_back(why);
        continue;
      }
      ExportCacheEntry e;
      e.path = entry;
      e.repo = repo;
      e.name = ename;
      fill(e, scan.warnings);
      scan.entries.push_back(std::move(e));
    }
    if (rec) scan.warnings.push_back(shown(repo_dir) + ": listing stopped (" + rec.message() + ")");
  }
  if (ec) scan.warnings.push_back(shown(root) + ": listing stopped (" + ec.message() + ")");
  std::sort(scan.entries.begin(), scan.entries.end(), [](const ExportCacheEntry& a, const ExportCacheEntry& b) {
    return a.repo != b.repo ? a.repo < b.repo : a.name < b.name;
  });
  return scan;
}

void remove_export_cache_entry(const ExportCacheScan& scan, const ExportCacheEntry& entry) {
  const fs::path root = scan.root.lexically_normal();
  const fs::path path = entry.path.lexically_normal();
  const fs::path parent = path.parent_path();
  const bool direct = entry.legacy ? parent == root : parent.parent_path() == root;
  const std::string leaf = path.filename().string();
  if (!direct || leaf.empty() || leaf == "." || leaf == "..") {
    throw InvalidArgument("refusing to remove " + shown(entry.path) + ": not an entry of the export cache " +
                          shown(scan.root));
  }
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(path, ec)) ||
      (!entry.legacy && fs::is_symlink(fs::symlink_status(parent, ec)))) {
    throw InvalidArgument("refusing to remove " + shown(entry.path) + ": a symbolic link");
  }
  // remove_all never follows symbolic links: a link inside the entry goes, its target stays.
  fs::remove_all(path, ec);
  if (ec) throw IoError("cannot remove " + shown(entry.path) + ": " + ec.message());
  if (!entry.legacy && fs::is_empty(parent, ec) && !ec) fs::remove(parent, ec);
}

void touch_export_cache_entry(const fs::path& entry) {
  std::error_code ec;
  fs::last_write_time(entry, fs::file_time_type::clock::now(), ec);  // best effort: a read-only cache still loads
}

}  // namespace optimum::modeling
