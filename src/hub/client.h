// Pieces shared by the download and upload halves of the Hub client: the
// settings of one call and the translation of Hub HTTP errors into the
// exception types of optimum/hub/errors.h. Private to the hub layer.
#pragma once

#include <exception>
#include <filesystem>
#include <optional>
#include <string>

#include "http.h"
#include "optimum/hub/settings.h"

namespace optimum::hub::detail {

// Environment and options merged for one call.
struct Session {
  std::string endpoint;              // no trailing '/'
  std::optional<std::string> token;  // nullopt: send none
  std::filesystem::path cache_dir;
  bool offline_env = false;       // HF_HUB_OFFLINE
  bool local_files_only = false;  // the caller's option
  bool progress = true;
  long etag_timeout_s = kDefaultTimeoutSeconds;      // HF_HUB_ETAG_TIMEOUT
  long download_timeout_s = kDefaultTimeoutSeconds;  // HF_HUB_DOWNLOAD_TIMEOUT

  bool offline() const { return offline_env || local_files_only; }
};

// Builds a session: explicit values win over the environment.
Session make_session(const std::string& endpoint, const std::optional<std::string>& token,
                     const std::filesystem::path& cache_dir, bool local_files_only, bool progress);

// What a request fetches; decides its time-outs and size caps.
enum class RequestKind {
  Metadata,  // HEAD of a file: no body, HF_HUB_ETAG_TIMEOUT in all
  Listing,   // JSON of the API: kMaxListingBytes, 6x HF_HUB_ETAG_TIMEOUT in all
  Download,  // file content to a sink: bounded by its expected size (see download.cc)
};

// Largest JSON reply of the API accepted (model info with its file list).
inline constexpr size_t kMaxListingBytes = size_t{32} << 20;
// Most files a listing may name.
inline constexpr size_t kMaxListedFiles = 100'000;

// A GET of `url` with the session's token and its time-outs for `kind`:
// connect within HF_HUB_ETAG_TIMEOUT, at least kMinDownloadSpeed bytes/s over
// HF_HUB_DOWNLOAD_TIMEOUT, and the total limit of `kind`.
HttpRequest make_request(const Session& session, std::string url, RequestKind kind);

// What a request was about, for error messages.
struct Target {
  std::string repo_id;
  std::string revision;  // empty: not revision-specific
  std::string file;      // empty: not file-specific
};

// The exception for a non-2xx Hub response: AccessDenied (401/403),
// RepositoryNotFound / RevisionNotFound / EntryNotFound (404, from
// X-Error-Code), NetworkError otherwise.
std::exception_ptr http_error(const HttpResponse& response, const Target& target, const Session& session);

// The Hub's own explanation of a failed call: X-Error-Message, else the
// start of the body (its JSON "error" field when there is one).
std::string server_detail(const HttpResponse& response);

// Whether a failed Hub call may be answered from the cache instead
// (unreachable Hub, server errors, private/unknown repository), as
// huggingface_hub does; a missing revision or file may not.
bool cache_fallback_allowed(const std::exception_ptr& error);

// Writes "warning: <message>" on stderr.
void warn(const std::string& message);

}  // namespace optimum::hub::detail
