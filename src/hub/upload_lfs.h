// The large-file half of a Hub commit, as huggingface_hub does it: the
// preupload call that classifies each file (inline "regular" or "lfs"), and
// the Git LFS batch API with its basic (one PUT) and multipart (PUT per part,
// then a completion POST) transfers and the verify call. Private to the hub
// layer; upload.cc builds the commit around it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "client.h"

namespace optimum::hub::detail {

// The most bytes a file may have to travel inline in the commit (base64):
// the Hub refuses larger regular files and wants them through LFS.
inline constexpr uint64_t kMaxInlineBytes = uint64_t{10} << 20;
// Files classified per preupload call and objects per LFS batch call, as
// huggingface_hub sends them.
inline constexpr size_t kFilesPerPreupload = 256;

// One file of a commit.
struct UploadItem {
  std::filesystem::path local;  // the file on disk
  std::string path_in_repo;
  uint64_t size = 0;
  std::string sample;   // its first 512 bytes, for the preupload call
  bool lfs = false;     // the Hub wants it through LFS
  bool ignore = false;  // the Hub's shouldIgnore (.gitignore): left out of the commit
  std::string sha256;   // hex digest; LFS files only, set by upload_lfs_files
};

// Where the files go.
struct UploadTarget {
  std::string repo_id;
  std::string revision;  // branch, not quoted
};

// Reads size and sample of `local` into a new item.
UploadItem make_upload_item(const std::filesystem::path& local, std::string path_in_repo);

// Sets `lfs` and `ignore` of every item from POST /api/models/{repo}/preupload/{revision};
// `gitignore`, when given, is the .gitignore content being committed. Empty
// files are always regular (S3 refuses empty objects), as in huggingface_hub.
void fetch_upload_modes(const Session& session, const UploadTarget& target, std::vector<UploadItem>& items,
                        const std::optional<std::string>& gitignore);

// Hashes every LFS item (streamed), asks the LFS batch API what to do with
// each, and uploads the content the Hub does not have yet. Throws
// NetworkError naming the file and the step on any refusal or malformed answer.
void upload_lfs_files(const Session& session, const UploadTarget& target, std::vector<UploadItem>& items);

}  // namespace optimum::hub::detail
