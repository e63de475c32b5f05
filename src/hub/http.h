// Minimal HTTP client over libcurl for the Hub: one request at a time,
// redirects followed by hand so that the Authorization header never leaves
// the origin it was meant for. Private to the hub layer.
#pragma once

#include <cstddef>
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
  std::string body;                         // request body (POST)
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
  // Abort when fewer than 1 byte/s arrive for this long.
  long stall_timeout_s = 60;
};

// Performs `request`. Throws NetworkError (optimum/hub/errors.h) when no
// HTTP response arrives or the transfer breaks; HTTP error statuses are
// returned, not thrown.
HttpResponse http_send(const HttpRequest& request);

// "scheme://host:port" of a URL (lowercase scheme and host, default port filled).
std::string url_origin(const std::string& url);

// `location` resolved against `base` (relative redirects).
std::string resolve_url(const std::string& base, const std::string& location);

// Percent-encodes everything but unreserved characters (and '/' when keep_slash).
std::string url_quote(std::string_view text, bool keep_slash);

}  // namespace optimum::hub::detail
