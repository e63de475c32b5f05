// The Hub cache, laid out exactly like huggingface_hub's so that Python and
// C++ share one cache:
//   <cache_dir>/models--org--name/
//     blobs/<etag>                     file content, named by ETag (sha256 for LFS)
//     blobs/<etag>.incomplete          a download in progress (resumed with Range)
//     snapshots/<commit>/<path>        relative symlink to ../../blobs/<etag>
//     refs/<revision>                  file holding the commit hash of a branch/tag
//     .no_exist/<commit>/<path>        empty marker: the file is known to be missing
//     trees/<commit>.json              huggingface_hub's listing of a commit's files
//   <cache_dir>/.locks/models--org--name/<etag>.lock
//   <cache_dir>/CACHEDIR.TAG
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "optimum/hub/model_id.h"

namespace optimum::hub {

// "org/name" -> "models--org--name" (repo_folder_name in huggingface_hub).
std::string repo_folder_name(std::string_view repo_id);

// Removes an ETag's weak marker and quotes: W/"abc" -> abc.
std::string normalize_etag(std::string_view etag);

// Paths and small file operations for one repository in one cache folder.
// Every path is built by optimum::safe_join (optimum/core/paths.h), so no
// ETag, commit, revision or file name, and no symlink already on disk, can
// lead outside the cache (InvalidArgument/FormatError name the value).
class RepoCache {
 public:
  RepoCache(std::filesystem::path cache_dir, std::string repo_id);

  const std::filesystem::path& cache_dir() const { return cache_dir_; }
  const std::string& repo_id() const { return repo_id_; }
  // <cache_dir>/models--org--name
  const std::filesystem::path& storage_folder() const { return storage_folder_; }

  // FormatError unless `etag` can name a blob (a single path segment).
  std::filesystem::path blob_path(std::string_view etag) const;
  std::filesystem::path incomplete_path(std::string_view etag) const;
  std::filesystem::path lock_path(std::string_view etag) const;
  std::filesystem::path snapshot_dir(const CommitHash& commit) const;
  std::filesystem::path snapshot_path(const CommitHash& commit, std::string_view file) const;
  // InvalidArgument for a revision validate_revision refuses.
  std::filesystem::path ref_path(std::string_view revision) const;
  std::filesystem::path no_exist_path(const CommitHash& commit, std::string_view file) const;
  std::filesystem::path tree_listing_path(const CommitHash& commit) const;

  // The commit a revision names in the cache: the revision itself for a
  // commit hash, else the content of refs/<revision>; nullopt when unknown.
  // FormatError naming the refs file when it holds anything but a hash.
  std::optional<CommitHash> resolve_commit(std::string_view revision) const;

  // Records that `revision` (a branch or tag) points at `commit`; atomic,
  // and a no-op when the revision is that commit or the ref is up to date.
  void write_ref(std::string_view revision, const CommitHash& commit) const;

  // Creates the .no_exist marker for `file` at `commit`.
  void mark_missing(const CommitHash& commit, std::string_view file) const;
  bool is_known_missing(const CommitHash& commit, std::string_view file) const;

  // Points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink
  // (atomically replacing an existing entry).
  void link_snapshot(const CommitHash& commit, std::string_view file, std::string_view etag) const;

  // Writes <cache_dir>/CACHEDIR.TAG (the Cache Directory Tagging Standard,
  // as huggingface_hub does) when absent, so backup tools skip the cache.
  void write_cachedir_tag() const;

  // The files of huggingface_hub's trees/<commit>.json listing, when that
  // file exists and parses; nullopt otherwise.
  std::optional<std::vector<std::string>> cached_tree_listing(const CommitHash& commit) const;

  // Files (regular files or symlinks to them) under snapshots/<commit>/<prefix>,
  // as repository paths relative to that folder, sorted.
  std::vector<std::string> snapshot_files(const CommitHash& commit, std::string_view prefix = "") const;

 private:
  std::filesystem::path cache_dir_;
  std::string repo_id_;
  std::filesystem::path storage_folder_;
};

}  // namespace optimum::hub
