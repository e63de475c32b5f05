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

  bool offline() const { return offline_env || local_files_only; }
};

// Builds a session: explicit values win over the environment.
Session make_session(const std::string& endpoint, const std::optional<std::string>& token,
                     const std::filesystem::path& cache_dir, bool local_files_only, bool progress);

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

// Whether a failed Hub call may be answered from the cache instead
// (unreachable Hub, server errors, private/unknown repository), as
// huggingface_hub does; a missing revision or file may not.
bool cache_fallback_allowed(const std::exception_ptr& error);

// Writes "warning: <message>" on stderr.
void warn(const std::string& message);

}  // namespace optimum::hub::detail
