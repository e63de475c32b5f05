#include "client.h"

#include <cstdio>

#include "optimum/hub/errors.h"
#include "text.h"

namespace optimum::hub::detail {

namespace {

constexpr size_t kMaxDetail = 300;

}  // namespace

std::string server_detail(const HttpResponse& response) {
  if (std::optional<std::string> message = response.headers.get("X-Error-Message")) return *message;
  std::string body = response.body.substr(0, kMaxDetail);
  const size_t key = body.find("\"error\"");
  if (key != std::string::npos) {
    const size_t open = body.find('"', body.find(':', key) + 1);
    const size_t close = open == std::string::npos ? open : body.find('"', open + 1);
    if (close != std::string::npos) return body.substr(open + 1, close - open - 1);
  }
  for (char& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return body;
}

Session make_session(const std::string& endpoint, const std::optional<std::string>& token,
                     const std::filesystem::path& cache_dir, bool local_files_only, bool progress) {
  const HubEnv env = read_hub_env();
  Session session;
  session.endpoint = endpoint.empty() ? env.endpoint : endpoint;
  while (session.endpoint.size() > 1 && session.endpoint.back() == '/') session.endpoint.pop_back();
  session.token = resolve_token(token, env);
  session.cache_dir = cache_dir.empty() ? env.hub_cache : expand_user(cache_dir.string());
  session.offline_env = env.offline;
  session.local_files_only = local_files_only;
  session.progress = progress;
  session.etag_timeout_s = env.etag_timeout_s;
  session.download_timeout_s = env.download_timeout_s;
  return session;
}

HttpRequest make_request(const Session& session, std::string url, RequestKind kind) {
  HttpRequest request;
  request.url = std::move(url);
  request.bearer_token = session.token;
  request.connect_timeout_s = session.etag_timeout_s;
  request.stall_timeout_s = session.download_timeout_s;
  request.min_bytes_per_s = kMinDownloadSpeed;
  switch (kind) {
    case RequestKind::Metadata:
      request.method = "HEAD";
      request.deadline_s = session.etag_timeout_s;
      request.max_body_bytes = 0;
      break;
    case RequestKind::Listing:
      request.deadline_s = 6 * session.etag_timeout_s;
      request.max_body_bytes = kMaxListingBytes;
      break;
    case RequestKind::Download:
      break;  // the caller sets the deadline from the expected size
  }
  return request;
}

std::exception_ptr http_error(const HttpResponse& response, const Target& target, const Session& session) {
  const std::string code = response.headers.get("X-Error-Code").value_or("");
  const std::string where = " (HTTP " + std::to_string(response.status) + " from " + response.url + ")";
  const std::string repo = in_quotes(target.repo_id);
  if (response.status == 401 || response.status == 403 || code == "GatedRepo") {
    std::string message =
        "repository " + repo + " is private or gated: pass a token (HF_TOKEN) with access to it";
    if (session.token) {
      message += "; the token sent was refused";
    } else if (response.status == 401) {
      message += ", or check the repo id: the Hub answers 401 for unknown repositories too";
    }
    if (code == "GatedRepo") message += "; a gated repository also needs its conditions accepted on the Hub";
    return std::make_exception_ptr(AccessDenied(message + where));
  }
  if (response.status == 404) {
    if (code == "RevisionNotFound") {
      return std::make_exception_ptr(
          RevisionNotFound("revision " + in_quotes(target.revision) + " not found in repository " + repo +
                           " (a branch, tag or 40-character commit hash)" + where));
    }
    if (code == "EntryNotFound" || (code.empty() && !target.file.empty())) {
      return std::make_exception_ptr(EntryNotFound("file " + in_quotes(target.file) +
                                                   " not found in repository " + repo + " at revision " +
                                                   in_quotes(target.revision) + where));
    }
    return std::make_exception_ptr(
        RepositoryNotFound("repository " + repo + " not found on " + session.endpoint +
                           " (check the id; for a private repository pass a token: HF_TOKEN)" + where));
  }
  std::string message = "Hub request about repository " + repo;
  if (!target.file.empty()) message += ", file " + in_quotes(target.file);
  message += " failed" + where;
  const std::string detail = server_detail(response);
  // The server's words, escaped: they may hold any bytes (invalid UTF-8 included).
  if (!detail.empty()) message += ": " + in_quotes(detail);
  return std::make_exception_ptr(NetworkError(message));
}

bool cache_fallback_allowed(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const NetworkError&) {
    return true;
  } catch (const AccessDenied&) {
    return true;
  } catch (const RepositoryNotFound&) {
    return true;
  } catch (...) {
    return false;
  }
}

void warn(const std::string& message) {
  std::fprintf(stderr, "warning: %s\n", message.c_str());
  std::fflush(stderr);
}

}  // namespace optimum::hub::detail
