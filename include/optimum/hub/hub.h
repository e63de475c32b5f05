// Model resolution and transfers with the Hugging Face Hub: local folders or
// Hub ids in, local paths out, through the cache shared with huggingface_hub
// (optimum/hub/cache.h). Environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT,
// HF_TOKEN (and the token file), HF_HUB_OFFLINE, HF_HUB_ETAG_TIMEOUT,
// HF_HUB_DOWNLOAD_TIMEOUT (optimum/hub/settings.h).
// Errors: optimum/hub/errors.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optimum::hub {

// How to find and fetch a repository's files.
struct HubOptions {
  // Branch, tag or 40-hex commit; empty: the "@revision" of the id, else "main".
  std::string revision;
  // Folder inside the repository holding the model; empty: the root.
  std::string subfolder;
  // Cache root; empty: HF_HUB_CACHE, else $HF_HOME/hub.
  std::filesystem::path cache_dir;
  // Bearer token; nullopt: HF_TOKEN, then the token file; "": send none.
  std::optional<std::string> token;
  // Download again even when the cache has the files.
  bool force_download = false;
  // Never touch the network (also forced by HF_HUB_OFFLINE=1).
  bool local_files_only = false;
  // Hub URL; empty: HF_ENDPOINT, else https://huggingface.co.
  std::string endpoint;
  // Progress bar on stderr (drawn only when stderr is a terminal).
  bool progress = true;
};

// A resolved model folder.
struct Snapshot {
  // The folder to load from: the local folder, or snapshots/<commit> in the
  // cache, with the subfolder appended.
  std::filesystem::path folder;
  // Resolved commit hash; empty for a local folder.
  std::string commit;
  // Repository id; empty for a local folder.
  std::string repo_id;
  // Files under `folder`, relative to it, sorted.
  std::vector<std::string> files;
  bool is_local = false;
};

// Resolves a local folder or a Hub id to a folder holding its files,
// downloading the missing ones into the cache. `allow_patterns` are fnmatch
// patterns ("*.json", "onnx/*") matched against paths relative to the
// subfolder; empty: every file.
Snapshot snapshot_download(std::string_view repo_id_or_path, const HubOptions& options = {},
                           const std::vector<std::string>& allow_patterns = {});

// Local path of one file of a repository (options.subfolder prepended),
// downloaded into the cache when missing.
std::filesystem::path hf_hub_download(std::string_view repo_id, std::string_view filename,
                                      const HubOptions& options = {});

// Whether the repository has `filename` (options.subfolder prepended) at the
// revision; answered from the cache when offline. Errors for an unknown
// repository or revision, or a private repository without access.
bool file_exists(std::string_view repo_id, std::string_view filename, const HubOptions& options = {});

// How to create a repository.
struct CreateRepoOptions {
  // Bearer token; nullopt: HF_TOKEN, then the token file.
  std::optional<std::string> token;
  // Create it private.
  bool private_repo = false;
  // An existing repository is not an error.
  bool exist_ok = true;
  // Hub URL; empty: HF_ENDPOINT, else https://huggingface.co.
  std::string endpoint;
};

// Creates a model repository (POST /api/repos/create); returns its URL.
std::string create_repo(std::string_view repo_id, const CreateRepoOptions& options = {});

// How to push a folder.
struct UploadOptions {
  // Bearer token; nullopt: HF_TOKEN, then the token file.
  std::optional<std::string> token;
  // Branch to commit to.
  std::string revision = "main";
  // Commit summary.
  std::string commit_message = "Upload folder using optimum-cpp";
  // Folder inside the repository to upload into; empty: the root.
  std::string path_in_repo;
  // Create the repository first when it does not exist.
  bool create_repo = true;
  // Visibility when the repository is created here.
  bool private_repo = false;
  // Hub URL; empty: HF_ENDPOINT, else https://huggingface.co.
  std::string endpoint;
};

// The commit an upload made.
struct CommitInfo {
  std::string commit;              // new commit hash
  std::string commit_url;          // as the Hub reports it
  std::vector<std::string> files;  // repository paths written, sorted
};

// Commits every file under `folder` (sub-folders kept as paths; .git/ and
// .cache/huggingface/ skipped) in one commit, as huggingface_hub does: the
// preupload call classifies each file, large and binary ones go through
// Git LFS (basic or multipart PUT, verify; streamed from disk) and the
// commit carries them as pointers (lfsFile), small text files inline.
// Files the Hub says .gitignore matches are left out of the commit and of
// CommitInfo::files.
CommitInfo upload_folder(std::string_view repo_id, const std::filesystem::path& folder,
                         const UploadOptions& options = {});

}  // namespace optimum::hub

namespace optimum::hub {

// Downloads one http/https URL to `dest` (written to a temporary file next
// to it, renamed when complete). Redirects are followed only within the
// URL's origin: a redirect to another host, port or scheme is a
// NetworkError naming both URLs (callers that allow-list URLs, such as
// model registration, rely on it). A body over `max_bytes` or a non-2xx
// status is a NetworkError naming the URL.
void download_url(const std::string& url, const std::filesystem::path& dest, uint64_t max_bytes,
                  long timeout_s = 600);

}  // namespace optimum::hub
