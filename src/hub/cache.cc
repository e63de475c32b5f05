#include "optimum/hub/cache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <system_error>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
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

// Refuses an ETag that is not a single path segment (it names a file).
std::string etag_name(std::string_view etag) {
  if (etag.empty() || etag.find('/') != std::string_view::npos || etag == "." || etag == "..") {
    throw FormatError("ETag " + quote_untrusted(etag) + " cannot name a blob file (check HF_ENDPOINT)");
  }
  return std::string(etag);
}

// A refs file's content (one hash); nullopt when it is absent. Bounded and
// never blocking: a FIFO or device there is an IoError naming it.
std::optional<std::string> read_small_file(const fs::path& path) {
  static constexpr uint64_t kMaxBytes = 4096;
  try {
    return io::read_text_file(path, kMaxBytes);
  } catch (const NotFound&) {
    return std::nullopt;
  }
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
  return safe_join(storage_folder_, "blobs/" + etag_name(etag), "blob of ETag");
}

fs::path RepoCache::incomplete_path(std::string_view etag) const {
  return safe_join(storage_folder_, "blobs/" + etag_name(etag) + ".incomplete", "download of ETag");
}

fs::path RepoCache::lock_path(std::string_view etag) const {
  return safe_join(cache_dir_, ".locks/" + repo_folder_name(repo_id_) + "/" + etag_name(etag) + ".lock",
                   "lock file");
}

fs::path RepoCache::snapshot_dir(const CommitHash& commit) const {
  return safe_join(storage_folder_, "snapshots/" + commit.str(), "snapshot folder");
}

fs::path RepoCache::snapshot_path(const CommitHash& commit, std::string_view file) const {
  validate_repo_path(file.empty() ? std::string_view(".") : file);
  return safe_join(storage_folder_, "snapshots/" + commit.str() + "/" + std::string(file), "snapshot file");
}

fs::path RepoCache::ref_path(std::string_view revision) const {
  validate_revision(revision);
  return safe_join(storage_folder_, "refs/" + std::string(revision), "revision");
}

fs::path RepoCache::no_exist_path(const CommitHash& commit, std::string_view file) const {
  validate_repo_path(file);
  return safe_join(storage_folder_, ".no_exist/" + commit.str() + "/" + std::string(file),
                   "missing-file marker");
}

fs::path RepoCache::tree_listing_path(const CommitHash& commit) const {
  return safe_join(storage_folder_, "trees/" + commit.str() + ".json", "tree listing");
}

std::optional<CommitHash> RepoCache::resolve_commit(std::string_view revision) const {
  if (std::optional<CommitHash> commit = CommitHash::from(revision)) return commit;
  const fs::path path = ref_path(revision);
  std::optional<std::string> content = read_small_file(path);
  if (!content) return std::nullopt;
  // huggingface_hub writes the bare hash; tolerate a trailing newline.
  while (!content->empty() &&
         (content->back() == '\n' || content->back() == '\r' || content->back() == ' ')) {
    content->pop_back();
  }
  return CommitHash::parse(*content, "the refs file " + path.string() + " (delete it to refresh the cache)");
}

void RepoCache::write_ref(std::string_view revision, const CommitHash& commit) const {
  if (revision == commit.str()) return;
  const fs::path path = ref_path(revision);
  if (read_small_file(path) == commit.str()) return;
  create_directories_or_throw(path.parent_path());
  const fs::path tmp = path.string() + unique_suffix();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit.str();
    if (!out) throw IoError(errno_message("cannot write " + tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError("cannot write " + path.string() + ": " + ec.message());
  }
}

void RepoCache::mark_missing(const CommitHash& commit, std::string_view file) const {
  const fs::path path = no_exist_path(commit, file);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return;  // a cache hint only: failing to record it changes nothing
  std::ofstream out(path, std::ios::binary | std::ios::app);
}

bool RepoCache::is_known_missing(const CommitHash& commit, std::string_view file) const {
  std::error_code ec;
  return fs::is_regular_file(no_exist_path(commit, file), ec);
}

void RepoCache::link_snapshot(const CommitHash& commit, std::string_view file, std::string_view etag) const {
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

std::optional<std::vector<std::string>> RepoCache::cached_tree_listing(const CommitHash& commit) const {
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

std::vector<std::string> RepoCache::snapshot_files(const CommitHash& commit, std::string_view prefix) const {
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
