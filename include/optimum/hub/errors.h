// Errors of the Hub layer. Each derives from the core hierarchy
// (optimum/core/errors.h), so a caller that only knows NotFound or IoError
// still catches them; the finer types let front ends choose a status code.
#pragma once

#include "optimum/core/errors.h"

namespace optimum::hub {

// The repository does not exist on the Hub (HTTP 404, X-Error-Code RepoNotFound).
class RepositoryNotFound : public NotFound {
 public:
  using NotFound::NotFound;
};

// The repository exists but the branch, tag or commit does not (RevisionNotFound).
class RevisionNotFound : public NotFound {
 public:
  using NotFound::NotFound;
};

// The repository and revision exist but the file does not (EntryNotFound).
class EntryNotFound : public NotFound {
 public:
  using NotFound::NotFound;
};

// Downloads are disabled (HF_HUB_OFFLINE or local_files_only) and the cache
// does not hold what was asked for.
class OfflineCacheMiss : public NotFound {
 public:
  using NotFound::NotFound;
};

// The repository is private or gated and the token (or its absence) does not
// grant access (HTTP 401/403).
class AccessDenied : public Error {
 public:
  using Error::Error;
};

// The Hub could not be reached, or answered with an unexpected status.
class NetworkError : public IoError {
 public:
  using IoError::IoError;
};

// Downloaded bytes do not match the size or sha256 the Hub announced.
class CorruptDownload : public IoError {
 public:
  using IoError::IoError;
};

}  // namespace optimum::hub
