// Minimal HTTP client over libcurl for the Hub: one request at a time,
// redirects followed by hand so that the Authorization header never leaves
// the origin it was meant for. Only http and https are spoken, for the first
// request and every redirect; headers and bodies are capped; every request
// has connect, low-speed and total time-outs. Private to the hub layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace optimum::hub::detail {

// Response headers in arrival order; lookups ignore case.
class HttpHeaders {
 public:
  void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
  void clear() { items_.clear(); }
  // Last value of `name`; nullopt when absent.
  std::optional<std::string> get(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct HttpResponse {
  long status = 0;
  std::string url;  // URL of the request that produced this response
  HttpHeaders headers;
  std::string body;  // the body, unless it went to the request's sink
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;         // "Name: value" lines, Authorization excluded
  std::optional<std::string> bearer_token;  // sent as Authorization: Bearer, same origin only
  std::string body;                         // request body (POST, PUT)
  // Streams the request body instead of `body` (PUT and POST): fills the
  // buffer with up to `size` bytes and returns how many; `source_size` bytes
  // in all, announced as Content-Length. Exceptions abort the transfer and
  // are rethrown by http_send.
  std::function<size_t(char* buffer, size_t size)> source;
  uint64_t source_size = 0;
  // Follow 301/302/303/307/308 (GET and HEAD only).
  bool follow_redirects = true;
  // Return a redirect to another origin instead of following it (the Hub
  // puts file metadata on that response, as huggingface_hub reads it).
  bool stop_at_cross_origin = false;
  // Receives the body of the final 2xx response instead of `body`; return
  // false to abort. The first call comes after `on_start`.
  std::function<bool(const char* data, size_t size)> sink;
  // Called once with the final 2xx response's status and headers, before
  // any byte reaches `sink`.
  std::function<void(long status, const HttpHeaders& headers)> on_start;
  long connect_timeout_s = 10;
  // Abort when fewer than `min_bytes_per_s` bytes/s arrive, on average, for
  // `stall_timeout_s` seconds (a server trickling 2 bytes/s fails).
  long stall_timeout_s = 60;
  long min_bytes_per_s = 1;
  // Limit of each exchange (each redirect hop), in seconds; 0: none.
  long deadline_s = 0;
  // Largest 2xx body kept in `body` (a body sent to `sink` is the sink's to
  // bound); a longer one is a NetworkError naming the limit.
  size_t max_body_bytes = size_t{64} << 20;
};

// Largest response header block (all header lines of one response).
inline constexpr size_t kMaxHeaderBytes = 256 * 1024;
// Redirects followed per request.
inline constexpr int kMaxRedirects = 10;

// Performs `request`. Throws NetworkError (optimum/hub/errors.h) when no
// HTTP response arrives, the transfer breaks or times out, a URL or redirect
// is not http/https, redirects loop, or a cap is exceeded; HTTP error
// statuses are returned, not thrown.
HttpResponse http_send(const HttpRequest& request);

// NetworkError naming `what` unless `url` is an http or https URL.
void check_scheme(const std::string& url, const std::string& what);

// "scheme://host:port" of a URL (lowercase scheme and host, default port filled).
std::string url_origin(const std::string& url);

// `location` resolved against `base` (relative redirects).
std::string resolve_url(const std::string& base, const std::string& location);

// Percent-encodes everything but unreserved characters (and '/' when keep_slash).
std::string url_quote(std::string_view text, bool keep_slash);

}  // namespace optimum::hub::detail
