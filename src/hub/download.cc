// Downloads into the cache shared with huggingface_hub (see cache.h for the
// layout): snapshot_download, hf_hub_download, file_exists.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "client.h"
#include "http.h"
#include "optimum/hub/cache.h"
#include "optimum/hub/digest.h"
#include "optimum/hub/errors.h"
#include "optimum/hub/filters.h"
#include "optimum/hub/hub.h"
#include "optimum/hub/model_id.h"
#include "optimum/io/json.h"
#include "progress.h"
#include "text.h"

namespace optimum::hub {

namespace fs = std::filesystem;
using detail::HttpRequest;
using detail::HttpResponse;
using detail::in_quotes;
using detail::Session;
using detail::Target;

namespace {

// Transfer attempts per file; each retry resumes where the last one stopped.
constexpr int kMaxAttempts = 5;

// An exclusive flock(2) on a lock file, the primitive huggingface_hub's
// filelock uses, so Python and C++ never write the same blob at once.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw IoError(errno_message("cannot open lock file " + path.string()));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw IoError(errno_message("cannot lock " + path.string()));
      }
    }
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// A file opened for appending, closed on scope exit.
class AppendFile {
 public:
  explicit AppendFile(const fs::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd_ < 0) throw IoError(errno_message("cannot write " + path.string()));
  }
  ~AppendFile() { ::close(fd_); }
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void write(const char* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw IoError(errno_message("cannot write " + path_.string()));
      }
      data += n;
      size -= static_cast<size_t>(n);
    }
  }
  void truncate() {
    if (::ftruncate(fd_, 0) != 0) throw IoError(errno_message("cannot truncate " + path_.string()));
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

bool path_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);  // follows symlinks: a dangling snapshot link is absent
}

// Why downloads are off, for messages.
std::string offline_reason(const Session& session) {
  return session.offline_env ? "HF_HUB_OFFLINE is set (unset it or set HF_HUB_OFFLINE=0 to download)"
                             : "local_files_only is set";
}

[[noreturn]] void throw_offline_miss(const Session& session, const std::string& repo_id,
                                     const std::string& revision, const std::string& what) {
  throw OfflineCacheMiss("cannot find " + what + " of repository " + in_quotes(repo_id) + " (revision " +
                         in_quotes(revision) + ") in the cache " + session.cache_dir.string() + ", and " +
                         offline_reason(session) + ": run once with network access to fill the cache");
}

// The revision to use: options.revision, else the id's "@revision", else main.
std::string pick_revision(const ModelId& id, const HubOptions& options, std::string_view text) {
  if (id.deprecated_revision_form) {
    detail::warn("the model id form 'id@revision' (" + std::string(text) +
                 ") is deprecated: pass the revision separately (revision option / --revision)");
    if (!options.revision.empty() && options.revision != id.revision) {
      throw InvalidArgument("model id " + in_quotes(text) + " names revision " + in_quotes(id.revision) +
                            " but the revision option says " + in_quotes(options.revision));
    }
    validate_revision(id.revision);
    return id.revision;
  }
  std::string revision = options.revision.empty() ? std::string(kDefaultRevision) : options.revision;
  validate_revision(revision);
  return revision;
}

Session session_for(const HubOptions& options) {
  return detail::make_session(options.endpoint, options.token, options.cache_dir, options.local_files_only,
                              options.progress);
}

// `file` (checked by validate_repo_path) below a local folder the caller
// chose; its own symlinks are followed (a copy of a cache snapshot is all
// symlinks to ../../blobs).
fs::path local_file(const fs::path& folder, std::string_view file) {
  fs::path out = folder;
  out /= fs::path(std::string(file)).relative_path();
  return out;
}

// HEAD {endpoint}/{repo}/resolve/{revision}/{file}, stopping at a redirect
// to another host (the metadata is on that response).
HttpResponse head_file(const Session& session, const std::string& repo_id, const std::string& revision,
                       const std::string& file) {
  HttpRequest request = detail::make_request(
      session,
      session.endpoint + "/" + repo_id + "/resolve/" + detail::url_quote(revision, false) + "/" +
          detail::url_quote(file, true),
      detail::RequestKind::Metadata);
  request.headers = {"Accept-Encoding: identity"};
  request.stop_at_cross_origin = true;
  return detail::http_send(request);
}

struct FileMetadata {
  CommitHash commit;
  std::string etag;
  uint64_t size = 0;     // bytes the file has, as the Hub lists it
  std::string location;  // where to GET the content
};

// A byte count; nullopt unless 1 to 19 decimal digits.
std::optional<uint64_t> parse_size(const std::optional<std::string>& text) {
  if (!text || text->empty() || text->size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

FileMetadata read_metadata(const HttpResponse& response, const Target& target) {
  const bool redirect = response.status / 100 == 3;
  const std::optional<std::string> commit = response.headers.get("X-Repo-Commit");
  if (!commit) {
    throw NetworkError("response from " + response.url +
                       " lacks the X-Repo-Commit header: the endpoint does not look like a Hugging Face Hub "
                       "(check HF_ENDPOINT)");
  }
  FileMetadata out{CommitHash::parse(*commit, "the X-Repo-Commit header from " + response.url), "", 0, ""};
  std::optional<std::string> etag = response.headers.get("X-Linked-Etag");
  if (!etag) etag = response.headers.get("ETag");
  out.etag = etag ? normalize_etag(*etag) : "";
  if (out.etag.empty()) {  // RepoCache refuses one that cannot name a file
    throw NetworkError("response from " + response.url + " for file " + in_quotes(target.file) +
                       " has no usable ETag, so the download cannot be cached reliably");
  }
  std::optional<uint64_t> size = parse_size(response.headers.get("X-Linked-Size"));
  if (!size && !redirect) size = parse_size(response.headers.get("Content-Length"));
  if (!size) {
    // Without a size the download could not be bounded.
    throw NetworkError("response from " + response.url + " for file " + in_quotes(target.file) +
                       " gives no size (X-Linked-Size or Content-Length): the download is refused");
  }
  out.size = *size;
  const std::optional<std::string> location = redirect ? response.headers.get("Location") : std::nullopt;
  out.location = location ? detail::resolve_url(response.url, *location) : response.url;
  return out;
}

void remove_quietly(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

// Downloads `url` into blobs/<etag>.incomplete (resuming what is there),
// verifies size and sha256, and renames it to blobs/<etag>. Never writes
// more than the size the Hub listed. The caller holds the blob's lock.
void download_blob(const Session& session, const RepoCache& cache, const FileMetadata& meta,
                   const Target& target, bool force_download) {
  const fs::path incomplete = cache.incomplete_path(meta.etag);
  const fs::path blob = cache.blob_path(meta.etag);
  std::error_code ec;
  fs::create_directories(blob.parent_path(), ec);
  if (ec) throw IoError("cannot create folder " + blob.parent_path().string() + ": " + ec.message());
  if (force_download) remove_quietly(incomplete);

  uint64_t have = 0;
  if (fs::is_regular_file(incomplete, ec)) have = fs::file_size(incomplete, ec);
  if (ec) have = 0;
  const uint64_t expected = meta.size;
  if (have > expected) {
    remove_quietly(incomplete);
    have = 0;
  }
  const bool check_sha = is_sha256_hex(meta.etag);
  Sha256 hasher;
  if (check_sha && have > 0) {
    // Hash what an earlier run left; the rest is hashed as it arrives.
    std::FILE* in = std::fopen(incomplete.c_str(), "rb");
    if (in == nullptr) throw IoError(errno_message("cannot read " + incomplete.string()));
    std::vector<char> chunk(1 << 20);
    size_t n = 0;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), in)) > 0) hasher.update(chunk.data(), n);
    std::fclose(in);
  }
  const auto too_long = [&](const std::string& what) {
    return CorruptDownload("download of " + in_quotes(target.file) + " from repository " +
                           in_quotes(target.repo_id) + " is refused: " + what + " than the " +
                           std::to_string(expected) + " bytes the Hub listed for it (" + meta.location + ")");
  };

  // The token goes to the Hub's own origin only, never to a CDN.
  const bool same_origin = detail::url_origin(meta.location) == detail::url_origin(session.endpoint);
  detail::ProgressBar bar(target.file, expected, have, session.progress);
  AppendFile out(incomplete);
  try {
    for (int attempt = 1;; ++attempt) {
      if (have == expected) break;
      HttpRequest request = detail::make_request(session, meta.location, detail::RequestKind::Download);
      // Bounded by the size: no slower than the low-speed limit allows, plus the set-up.
      request.deadline_s = session.etag_timeout_s + session.download_timeout_s +
                           static_cast<long>((expected - have) / kMinDownloadSpeed);
      request.headers = {"Accept-Encoding: identity"};
      if (have > 0) request.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
      if (!same_origin) request.bearer_token.reset();
      request.on_start = [&](long status, const detail::HttpHeaders& headers) {
        if (status == 200 && have > 0) {
          // The server ignored the Range request: start over.
          out.truncate();
          have = 0;
          hasher = Sha256();
          bar.reset(0);
        } else if (status == 206) {
          const std::string range = headers.get("Content-Range").value_or("");
          if (range.rfind("bytes " + std::to_string(have) + "-", 0) != 0) {
            throw NetworkError("server answered Range 'bytes=" + std::to_string(have) + "-' for " +
                               in_quotes(target.file) + " with Content-Range " + in_quotes(range));
          }
        }
        const std::optional<uint64_t> length = parse_size(headers.get("Content-Length"));
        if (length && *length > expected - have) {
          throw too_long("the server announces " + std::to_string(have + *length) + " bytes, more");
        }
      };
      request.sink = [&](const char* data, size_t size) {
        if (size > expected - have) throw too_long("the server sent more bytes");
        out.write(data, size);
        if (check_sha) hasher.update(data, size);
        have += size;
        bar.update(size);
        return true;
      };
      HttpResponse response;
      try {
        response = detail::http_send(request);
      } catch (const CorruptDownload&) {
        throw;
      } catch (const NetworkError& e) {
        if (attempt >= kMaxAttempts) throw;  // .incomplete stays for a later resume
        detail::warn(std::string(e.what()) + "; resuming the download of " + in_quotes(target.file) +
                     " at byte " + std::to_string(have));
        continue;
      }
      if (response.status == 416 && have > 0 && attempt < kMaxAttempts) {
        out.truncate();  // what we have does not fit the file: start over
        have = 0;
        hasher = Sha256();
        bar.reset(0);
        continue;
      }
      if (response.status / 100 != 2) std::rethrow_exception(detail::http_error(response, target, session));
      break;
    }
  } catch (const CorruptDownload&) {
    remove_quietly(incomplete);
    throw;
  }

  if (have != expected) {
    remove_quietly(incomplete);
    throw CorruptDownload("download of " + in_quotes(target.file) + " from repository " +
                          in_quotes(target.repo_id) + " is corrupt: expected " + std::to_string(expected) +
                          " bytes, received " + std::to_string(have) +
                          "; the partial file was removed, retry the download");
  }
  if (check_sha) {
    const std::string digest = hasher.hex_digest();
    std::string wanted = meta.etag;
    std::transform(wanted.begin(), wanted.end(), wanted.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (digest != wanted) {
      remove_quietly(incomplete);
      throw CorruptDownload("download of " + in_quotes(target.file) + " from repository " +
                            in_quotes(target.repo_id) + " is corrupt: sha256 mismatch, expected " + wanted +
                            " but got " + digest + "; the file was removed, retry the download");
    }
  }
  fs::rename(incomplete, blob, ec);
  if (ec) throw IoError("cannot move " + incomplete.string() + " to " + blob.string() + ": " + ec.message());
}

// The cached copy of `file` at `revision`, when the cache has one.
std::optional<fs::path> cached_file(const RepoCache& cache, const std::string& revision,
                                    const std::string& file) {
  const std::optional<CommitHash> commit = cache.resolve_commit(revision);
  if (!commit) return std::nullopt;
  const fs::path pointer = cache.snapshot_path(*commit, file);
  if (path_exists(pointer)) return pointer;
  return std::nullopt;
}

[[noreturn]] void throw_known_missing(const std::string& repo_id, const std::string& revision,
                                      const std::string& file) {
  throw EntryNotFound("file " + in_quotes(file) + " not found in repository " + in_quotes(repo_id) +
                      " at revision " + in_quotes(revision) + " (recorded as missing in the cache)");
}

// hf_hub_download for a validated repo id and full repository path.
fs::path download_file(const Session& session, const RepoCache& cache, const std::string& revision,
                       const std::string& file, bool force_download) {
  validate_repo_path(file);
  const std::string& repo_id = cache.repo_id();
  if (const std::optional<CommitHash> commit = CommitHash::from(revision); commit && !force_download) {
    const fs::path pointer = cache.snapshot_path(*commit, file);
    if (path_exists(pointer)) return pointer;
    if (cache.is_known_missing(*commit, file)) throw_known_missing(repo_id, revision, file);
  }
  if (session.offline()) {
    if (force_download) {
      throw InvalidArgument("force_download cannot be honoured for " + in_quotes(file) + ": " +
                            offline_reason(session));
    }
    if (std::optional<fs::path> pointer = cached_file(cache, revision, file)) return *pointer;
    if (std::optional<CommitHash> commit = cache.resolve_commit(revision)) {
      if (cache.is_known_missing(*commit, file)) throw_known_missing(repo_id, revision, file);
    }
    throw_offline_miss(session, repo_id, revision, "file " + in_quotes(file));
  }

  const Target target{repo_id, revision, file};
  std::exception_ptr failure;
  HttpResponse response;
  try {
    response = head_file(session, repo_id, revision, file);
  } catch (const NetworkError&) {
    failure = std::current_exception();
  }
  if (!failure && response.status / 100 != 2 && response.status / 100 != 3) {
    if (response.status == 404 && response.headers.get("X-Error-Code") == std::string("EntryNotFound")) {
      if (std::optional<CommitHash> commit =
              CommitHash::from(response.headers.get("X-Repo-Commit").value_or(""))) {
        cache.mark_missing(*commit, file);
        cache.write_ref(revision, *commit);
      }
    }
    failure = detail::http_error(response, target, session);
  }
  if (failure) {
    if (!force_download && detail::cache_fallback_allowed(failure)) {
      if (std::optional<fs::path> pointer = cached_file(cache, revision, file)) {
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          detail::warn(std::string(e.what()) + "; using the cached " + pointer->string());
        }
        return *pointer;
      }
    }
    std::rethrow_exception(failure);
  }

  const FileMetadata meta = read_metadata(response, target);
  cache.write_ref(revision, meta.commit);
  const fs::path pointer = cache.snapshot_path(meta.commit, file);
  if (!force_download && path_exists(pointer)) return pointer;

  cache.write_cachedir_tag();
  FileLock lock(cache.lock_path(meta.etag));
  if (force_download || !path_exists(cache.blob_path(meta.etag))) {
    download_blob(session, cache, meta, Target{repo_id, revision, file}, force_download);
  }
  cache.link_snapshot(meta.commit, file, meta.etag);
  return pointer;
}

// Files under `folder` relative to it, '/'-separated, sorted.
std::vector<std::string> list_local_files(const fs::path& folder) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code status_ec;
    if (fs::is_regular_file(it->path(), status_ec)) {
      out.push_back(it->path().lexically_relative(folder).generic_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string normalized_subfolder(std::string_view subfolder) {
  std::string out = join_repo_path(subfolder, "");
  if (!out.empty()) validate_repo_path(out);
  return out;
}

// Paths of `files` below `subfolder` (relative to it) that match `patterns`.
std::vector<std::string> select(const std::vector<std::string>& files, const std::string& subfolder,
                                const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  const std::string prefix = subfolder.empty() ? "" : subfolder + "/";
  for (const std::string& file : files) {
    if (!file.starts_with(prefix)) continue;
    const std::string relative = file.substr(prefix.size());
    if (matches_any(relative, patterns)) out.push_back(relative);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Snapshot local_snapshot(const ModelId& id, const std::string& subfolder,
                        const std::vector<std::string>& patterns) {
  Snapshot out;
  out.is_local = true;
  out.folder = subfolder.empty() ? id.local_path : local_file(id.local_path, subfolder);
  std::error_code ec;
  if (!fs::is_directory(out.folder, ec)) {
    throw NotFound("subfolder " + in_quotes(subfolder) + " not found in local folder " +
                   id.local_path.string());
  }
  out.files = select(list_local_files(out.folder), "", patterns);
  return out;
}

// The model info of a revision: its commit and every file path.
struct RevisionListing {
  CommitHash commit;
  std::vector<std::string> files;
};

RevisionListing fetch_listing(const Session& session, const std::string& repo_id,
                              const std::string& revision) {
  const HttpRequest request = detail::make_request(
      session,
      session.endpoint + "/api/models/" + repo_id + "/revision/" + detail::url_quote(revision, false),
      detail::RequestKind::Listing);
  const HttpResponse response = detail::http_send(request);
  const Target target{repo_id, revision, ""};
  if (response.status / 100 != 2) std::rethrow_exception(detail::http_error(response, target, session));
  io::Json info;
  try {
    info = io::parse_json(response.body, "the model info from " + response.url);
  } catch (const FormatError& e) {
    throw NetworkError(std::string(e.what()) + " (check HF_ENDPOINT)");
  }
  if (!info.is_object() || !info.contains("sha") || !info["sha"].is_string()) {
    throw NetworkError("model info from " + response.url +
                       " has no commit hash in \"sha\" (check HF_ENDPOINT)");
  }
  RevisionListing out{
      CommitHash::parse(info["sha"].get<std::string>(),
                        "field \"sha\" of the model info from " + response.url),
      {}};
  if (info.contains("siblings") && info["siblings"].is_array()) {
    if (info["siblings"].size() > detail::kMaxListedFiles) {
      throw FormatError("model info from " + response.url + " lists " +
                        std::to_string(info["siblings"].size()) +
                        " files, more than the limit of " + std::to_string(detail::kMaxListedFiles));
    }
    for (const io::Json& sibling : info["siblings"]) {
      if (sibling.is_object() && sibling.contains("rfilename") && sibling["rfilename"].is_string()) {
        out.files.push_back(sibling["rfilename"]);
      }
    }
  }
  return out;
}

// The cached snapshot of `revision`, checked against huggingface_hub's tree
// listing when one is cached; nullopt when the cache lacks it.
std::optional<Snapshot> cached_snapshot(const RepoCache& cache, const std::string& revision,
                                        const std::string& subfolder,
                                        const std::vector<std::string>& patterns, const std::string& why) {
  const std::optional<CommitHash> commit = cache.resolve_commit(revision);
  std::error_code ec;
  if (!commit || !fs::is_directory(cache.snapshot_dir(*commit), ec)) return std::nullopt;
  Snapshot out;
  out.commit = commit->str();
  out.repo_id = cache.repo_id();
  out.folder = cache.snapshot_path(*commit, subfolder);
  if (!fs::is_directory(out.folder, ec)) {
    throw OfflineCacheMiss("subfolder " + in_quotes(subfolder) + " of repository " +
                           in_quotes(cache.repo_id()) + " is not in the cached snapshot " +
                           cache.snapshot_dir(*commit).string() + " (" + why + ")");
  }
  out.files = select(cache.snapshot_files(*commit, subfolder), "", patterns);
  if (std::optional<std::vector<std::string>> listing = cache.cached_tree_listing(*commit)) {
    std::vector<std::string> missing;
    for (const std::string& file : select(*listing, subfolder, patterns)) {
      if (!std::binary_search(out.files.begin(), out.files.end(), file)) missing.push_back(file);
    }
    if (!missing.empty()) {
      throw OfflineCacheMiss("the cached snapshot of repository " + in_quotes(cache.repo_id()) +
                             " (revision " + in_quotes(revision) + ", commit " + commit->str() +
                             ") is incomplete: " + std::to_string(missing.size()) +
                             " file(s) missing, first " + in_quotes(missing[0]) + " (" + why + ")");
    }
  }
  return out;
}

}  // namespace

Snapshot snapshot_download(std::string_view repo_id_or_path, const HubOptions& options,
                           const std::vector<std::string>& allow_patterns) {
  const ModelId id = parse_model_id(repo_id_or_path);
  const std::string subfolder = normalized_subfolder(options.subfolder);
  if (id.is_local) return local_snapshot(id, subfolder, allow_patterns);

  const std::string revision = pick_revision(id, options, repo_id_or_path);
  const Session session = session_for(options);
  const RepoCache cache(session.cache_dir, id.repo_id);

  if (session.offline()) {
    if (options.force_download) {
      throw InvalidArgument("force_download cannot be honoured for " + in_quotes(id.repo_id) + ": " +
                            offline_reason(session));
    }
    if (std::optional<Snapshot> cached =
            cached_snapshot(cache, revision, subfolder, allow_patterns, offline_reason(session))) {
      return *cached;
    }
    throw_offline_miss(session, id.repo_id, revision, "a snapshot");
  }

  std::optional<RevisionListing> fetched;
  try {
    fetched = fetch_listing(session, id.repo_id, revision);
  } catch (const Error&) {
    const std::exception_ptr failure = std::current_exception();
    if (!options.force_download && detail::cache_fallback_allowed(failure)) {
      std::string why;
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        why = e.what();
      }
      if (std::optional<Snapshot> cached = cached_snapshot(cache, revision, subfolder, allow_patterns, why)) {
        detail::warn(why + "; using the cached snapshot " + cached->commit);
        return *cached;
      }
    }
    throw;
  }

  const RevisionListing& listing = *fetched;
  cache.write_ref(revision, listing.commit);
  Snapshot out;
  out.commit = listing.commit.str();
  out.repo_id = id.repo_id;
  out.files = select(listing.files, subfolder, allow_patterns);
  if (!subfolder.empty() && select(listing.files, subfolder, {}).empty()) {
    throw EntryNotFound("subfolder " + in_quotes(subfolder) + " not found in repository " +
                        in_quotes(id.repo_id) + " at revision " + in_quotes(revision));
  }
  for (const std::string& file : out.files) {
    download_file(session, cache, listing.commit.str(), join_repo_path(subfolder, file),
                  options.force_download);
  }
  out.folder = cache.snapshot_path(listing.commit, subfolder);
  std::error_code ec;
  fs::create_directories(out.folder, ec);
  return out;
}

fs::path hf_hub_download(std::string_view repo_id, std::string_view filename, const HubOptions& options) {
  const ModelId id = parse_model_id(repo_id);
  const std::string file = join_repo_path(normalized_subfolder(options.subfolder), filename);
  validate_repo_path(file);
  if (id.is_local) {
    const fs::path path = local_file(id.local_path, file);
    if (!path_exists(path)) {
      throw EntryNotFound("file " + in_quotes(file) + " not found in local folder " + id.local_path.string());
    }
    return path;
  }
  const std::string revision = pick_revision(id, options, repo_id);
  const Session session = session_for(options);
  return download_file(session, RepoCache(session.cache_dir, id.repo_id), revision, file,
                       options.force_download);
}

bool file_exists(std::string_view repo_id, std::string_view filename, const HubOptions& options) {
  const ModelId id = parse_model_id(repo_id);
  const std::string file = join_repo_path(normalized_subfolder(options.subfolder), filename);
  validate_repo_path(file);
  if (id.is_local) return path_exists(local_file(id.local_path, file));
  const std::string revision = pick_revision(id, options, repo_id);
  const Session session = session_for(options);
  const RepoCache cache(session.cache_dir, id.repo_id);

  // Answer from the cache: offline, or a commit whose content cannot change.
  const auto from_cache = [&]() -> std::optional<bool> {
    const std::optional<CommitHash> commit = cache.resolve_commit(revision);
    if (!commit) return std::nullopt;
    if (path_exists(cache.snapshot_path(*commit, file))) return true;
    if (cache.is_known_missing(*commit, file)) return false;
    return std::nullopt;
  };
  if (session.offline() || is_commit_hash(revision)) {
    if (std::optional<bool> known = from_cache()) return *known;
    if (session.offline()) throw_offline_miss(session, id.repo_id, revision, "file " + in_quotes(file));
  }

  std::exception_ptr failure;
  HttpResponse response;
  try {
    response = head_file(session, id.repo_id, revision, file);
  } catch (const NetworkError&) {
    failure = std::current_exception();
  }
  if (!failure) {
    if (response.status / 100 == 2 || response.status / 100 == 3) return true;
    if (response.status == 404 && response.headers.get("X-Error-Code") == std::string("EntryNotFound")) {
      if (std::optional<CommitHash> commit =
              CommitHash::from(response.headers.get("X-Repo-Commit").value_or(""))) {
        cache.mark_missing(*commit, file);
      }
      return false;
    }
    failure = detail::http_error(response, Target{id.repo_id, revision, file}, session);
  }
  if (detail::cache_fallback_allowed(failure)) {
    if (std::optional<bool> known = from_cache()) return *known;
  }
  std::rethrow_exception(failure);
}

}  // namespace optimum::hub
