#include "optimum/hub/cache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <system_error>

#include "optimum/core/errors.h"
#include "optimum/hub/model_id.h"
#include "optimum/io/json.h"

namespace optimum::hub {

namespace fs = std::filesystem;

namespace {

// A name no other writer uses: process id plus a counter.
std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  std::string out = ".";
  out.append(std::to_string(::getpid())).append(".").append(std::to_string(counter++)).append(".tmp");
  return out;
}

void create_directories_or_throw(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create folder " + dir.string() + ": " + ec.message());
}

// `path` under `root`, built from a '/'-separated repository path.
fs::path under(const fs::path& root, std::string_view repo_path) {
  fs::path out = root;
  size_t start = 0;
  while (start < repo_path.size()) {
    size_t end = repo_path.find('/', start);
    if (end == std::string_view::npos) end = repo_path.size();
    if (end > start) out /= std::string(repo_path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::optional<std::string> read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string repo_folder_name(std::string_view repo_id) {
  std::string out = "models";
  size_t start = 0;
  while (start <= repo_id.size()) {
    size_t end = repo_id.find('/', start);
    if (end == std::string_view::npos) end = repo_id.size();
    out.append("--").append(repo_id.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string normalize_etag(std::string_view etag) {
  // Python's lstrip("W/") and strip('"'): strip characters of those sets.
  while (!etag.empty() && (etag.front() == 'W' || etag.front() == '/')) etag.remove_prefix(1);
  while (!etag.empty() && etag.front() == '"') etag.remove_prefix(1);
  while (!etag.empty() && etag.back() == '"') etag.remove_suffix(1);
  return std::string(etag);
}

RepoCache::RepoCache(fs::path cache_dir, std::string repo_id)
    : cache_dir_(std::move(cache_dir)), repo_id_(std::move(repo_id)) {
  storage_folder_ = cache_dir_ / repo_folder_name(repo_id_);
}

fs::path RepoCache::blob_path(std::string_view etag) const {
  return storage_folder_ / "blobs" / std::string(etag);
}

fs::path RepoCache::incomplete_path(std::string_view etag) const {
  return storage_folder_ / "blobs" / (std::string(etag) + ".incomplete");
}

fs::path RepoCache::lock_path(std::string_view etag) const {
  return cache_dir_ / ".locks" / repo_folder_name(repo_id_) / (std::string(etag) + ".lock");
}

fs::path RepoCache::snapshot_dir(std::string_view commit) const {
  return storage_folder_ / "snapshots" / std::string(commit);
}

fs::path RepoCache::snapshot_path(std::string_view commit, std::string_view file) const {
  return under(snapshot_dir(commit), file);
}

fs::path RepoCache::ref_path(std::string_view revision) const {
  return under(storage_folder_ / "refs", revision);
}

fs::path RepoCache::no_exist_path(std::string_view commit, std::string_view file) const {
  return under(storage_folder_ / ".no_exist" / std::string(commit), file);
}

fs::path RepoCache::tree_listing_path(std::string_view commit) const {
  return storage_folder_ / "trees" / (std::string(commit) + ".json");
}

std::optional<std::string> RepoCache::resolve_commit(std::string_view revision) const {
  if (is_commit_hash(revision)) return std::string(revision);
  std::optional<std::string> content = read_small_file(ref_path(revision));
  if (!content) return std::nullopt;
  // huggingface_hub writes the bare hash; tolerate a trailing newline.
  while (!content->empty() &&
         (content->back() == '\n' || content->back() == '\r' || content->back() == ' ')) {
    content->pop_back();
  }
  if (!is_commit_hash(*content)) return std::nullopt;
  return content;
}

void RepoCache::write_ref(std::string_view revision, std::string_view commit) const {
  if (revision == commit) return;
  const fs::path path = ref_path(revision);
  if (read_small_file(path) == std::string(commit)) return;
  create_directories_or_throw(path.parent_path());
  const fs::path tmp = path.string() + unique_suffix();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;
    if (!out) throw IoError(errno_message("cannot write " + tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError("cannot write " + path.string() + ": " + ec.message());
  }
}

void RepoCache::mark_missing(std::string_view commit, std::string_view file) const {
  const fs::path path = no_exist_path(commit, file);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return;  // a cache hint only: failing to record it changes nothing
  std::ofstream out(path, std::ios::binary | std::ios::app);
}

bool RepoCache::is_known_missing(std::string_view commit, std::string_view file) const {
  std::error_code ec;
  return fs::is_regular_file(no_exist_path(commit, file), ec);
}

void RepoCache::link_snapshot(std::string_view commit, std::string_view file, std::string_view etag) const {
  const fs::path pointer = snapshot_path(commit, file);
  create_directories_or_throw(pointer.parent_path());
  const fs::path target = blob_path(etag).lexically_relative(pointer.parent_path());
  const fs::path tmp = pointer.string() + unique_suffix();
  std::error_code ec;
  fs::create_symlink(target, tmp, ec);
  if (ec) throw IoError("cannot create symlink " + tmp.string() + ": " + ec.message());
  fs::rename(tmp, pointer, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw IoError("cannot create " + pointer.string() + ": " + ec.message());
  }
}

void RepoCache::write_cachedir_tag() const {
  const fs::path tag = cache_dir_ / "CACHEDIR.TAG";
  std::error_code ec;
  if (fs::exists(tag, ec)) return;
  fs::create_directories(cache_dir_, ec);
  std::ofstream out(tag, std::ios::binary);
  out << "Signature: 8a477f597d28d172789f06886806bc55\n"
         "# This file is a cache directory tag created by optimum-cpp (the Hugging Face Hub cache).\n"
         "# For information about cache directory tags, see:\n"
         "#\thttps://bford.info/cachedir/\n";
}

std::optional<std::vector<std::string>> RepoCache::cached_tree_listing(std::string_view commit) const {
  const fs::path path = tree_listing_path(commit);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    const io::Json listing = io::read_json(path);
    if (!listing.is_object() || listing.value("format_version", 0) != 1) return std::nullopt;
    const io::Json& files = listing.at("files");
    if (!files.is_object()) return std::nullopt;
    std::vector<std::string> out;
    for (auto it = files.begin(); it != files.end(); ++it) out.push_back(it.key());
    std::sort(out.begin(), out.end());
    return out;
  } catch (const std::exception&) {
    return std::nullopt;  // huggingface_hub also ignores a corrupt listing
  }
}

std::vector<std::string> RepoCache::snapshot_files(std::string_view commit, std::string_view prefix) const {
  const fs::path root = snapshot_path(commit, prefix);
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code status_ec;
    if (fs::is_regular_file(it->path(), status_ec)) {  // follows the snapshot symlinks
      out.push_back(it->path().lexically_relative(root).generic_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace optimum::hub
