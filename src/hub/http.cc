#include "http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>
#include <mutex>

#include "optimum/core/paths.h"
#include "optimum/core/version.h"
#include "optimum/hub/errors.h"

namespace optimum::hub::detail {

namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;  // error bodies kept for messages only
constexpr const char* kProtocols = "http,https";

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};

// One handle per thread, reset between requests, so that connections to the
// same host are kept alive across the many small requests of a snapshot.
CURL* thread_handle() {
  global_init();
  thread_local std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  if (!handle) throw NetworkError("cannot initialise libcurl");
  curl_easy_reset(handle.get());
  return handle.get();
}

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

std::unique_ptr<CURLU, UrlDeleter> parse_url(const std::string& url) {
  std::unique_ptr<CURLU, UrlDeleter> handle(curl_url());
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    throw NetworkError("malformed URL " + quote_untrusted(url));
  }
  return handle;
}

std::string url_part(CURLU* url, CURLUPart part, unsigned flags) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

// State shared with the libcurl callbacks of one transfer.
struct Transfer {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  bool started = false;      // on_start called
  std::exception_ptr error;  // thrown by a sink, rethrown after the transfer
  size_t header_bytes = 0;   // header lines received, all responses together
  std::string failure;       // why a callback stopped the transfer
  bool error_body_full = false;  // an error body reached kMaxErrorBody: stopped there
};

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  try {
    return transfer->request->source(buffer, size * count);
  } catch (...) {
    transfer->error = std::current_exception();
    return CURL_READFUNC_ABORT;
  }
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  transfer->header_bytes += n;
  if (transfer->header_bytes > kMaxHeaderBytes) {
    transfer->failure = "the response headers from " + transfer->response->url + " exceed the limit of " +
                        std::to_string(kMaxHeaderBytes) + " bytes";
    return 0;
  }
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    transfer->response->headers.clear();  // a new response (e.g. after 100 Continue)
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  transfer->response->headers.add(std::string(line.substr(0, colon)), std::string(value));
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &status);
  const HttpRequest& request = *transfer->request;
  if (status / 100 == 2 && request.sink) {
    try {
      if (!transfer->started) {
        transfer->started = true;
        if (request.on_start) request.on_start(status, transfer->response->headers);
      }
      if (!request.sink(data, n)) return 0;
    } catch (...) {
      transfer->error = std::current_exception();
      return 0;
    }
    return n;
  }
  std::string& body = transfer->response->body;
  if (status / 100 == 2) {
    if (body.size() + n > request.max_body_bytes) {
      transfer->failure = "the response from " + transfer->response->url + " is larger than the limit of " +
                          std::to_string(request.max_body_bytes) + " bytes";
      return 0;
    }
    body.append(data, n);
    return n;
  }
  // An error body is only kept for the message: stop reading past the cap.
  body.append(data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, body.size())));
  if (body.size() >= kMaxErrorBody) {
    transfer->error_body_full = true;
    return 0;
  }
  return n;
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// One HTTP exchange, no redirect following.
HttpResponse send_once(const HttpRequest& request, const std::string& method, const std::string& url,
                       bool with_auth) {
  CURL* curl = thread_handle();
  HttpResponse response;
  response.url = url;
  Transfer transfer;
  transfer.curl = curl;
  transfer.request = &request;
  transfer.response = &response;

  curl_slist* header_list = nullptr;
  for (const std::string& header : request.headers)
    header_list = curl_slist_append(header_list, header.c_str());
  if (with_auth && request.bearer_token) {
    header_list = curl_slist_append(header_list, ("Authorization: Bearer " + *request.bearer_token).c_str());
  }
  // No "Expect: 100-continue" round trip for POST bodies.
  header_list = curl_slist_append(header_list, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers_guard(header_list, curl_slist_free_all);

  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  const std::string user_agent = std::string("optimum-cpp/") + optimum::version();
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // followed by hand, see http_send
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85: the string forms replace the deprecated bitmasks
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, kProtocols);
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, kProtocols);
#else
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, request.min_bytes_per_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, request.deadline_s);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (request.source) {
    // A streamed body: PUT through CURLOPT_UPLOAD, any other method by name.
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.source_size));
    if (method != "PUT") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!request.body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
  }

  const CURLcode code = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (transfer.error) std::rethrow_exception(transfer.error);
  if (!transfer.failure.empty()) throw NetworkError(transfer.failure);
  if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && transfer.error_body_full)) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    // The query is left out: on a storage URL it is a signature.
    std::string message = "cannot reach " + url.substr(0, url.find('?')) + ": " + detail;
    if (code == CURLE_OPERATION_TIMEDOUT) {
      message += " (connect limit " + std::to_string(request.connect_timeout_s) + " s, at least " +
                 std::to_string(request.min_bytes_per_s) + " bytes/s over " +
                 std::to_string(request.stall_timeout_s) + " s, " +
                 (request.deadline_s > 0 ? std::to_string(request.deadline_s) + " s in all"
                                         : std::string("no total limit")) +
                 "; set HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT to change them)";
    }
    throw NetworkError(message);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (response.status / 100 == 2 && request.sink && !transfer.started && request.on_start) {
    request.on_start(response.status, response.headers);  // empty body
  }
  return response;
}

}  // namespace

std::optional<std::string> HttpHeaders::get(std::string_view name) const {
  const std::string wanted = lower(name);
  for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
    if (lower(it->first) == wanted) return it->second;
  }
  return std::nullopt;
}

void check_scheme(const std::string& url, const std::string& what) {
  auto handle = parse_url(url);
  const std::string scheme = lower(url_part(handle.get(), CURLUPART_SCHEME, 0));
  if (scheme != "http" && scheme != "https") {
    throw NetworkError(what + " " + quote_untrusted(url) +
                       " is refused: only http and https URLs are fetched");
  }
}

std::string url_origin(const std::string& url) {
  auto handle = parse_url(url);
  return lower(url_part(handle.get(), CURLUPART_SCHEME, 0)) + "://" +
         lower(url_part(handle.get(), CURLUPART_HOST, 0)) + ":" +
         url_part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
}

std::string resolve_url(const std::string& base, const std::string& location) {
  auto handle = parse_url(base);
  if (curl_url_set(handle.get(), CURLUPART_URL, location.c_str(), 0) != CURLUE_OK) {
    throw NetworkError("malformed redirect location " + quote_untrusted(location) + " from " + base);
  }
  return url_part(handle.get(), CURLUPART_URL, 0);
}

std::string url_quote(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

HttpResponse http_send(const HttpRequest& request) {
  check_scheme(request.url, "the URL");
  const std::string origin = url_origin(request.url);
  std::string method = request.method;
  std::string url = request.url;
  const bool may_follow = request.follow_redirects && (method == "GET" || method == "HEAD");
  for (int hop = 0;; ++hop) {
    // The token goes only to the origin the caller addressed (a signed CDN
    // URL must not receive it).
    const bool with_auth = url_origin(url) == origin;
    HttpResponse response = send_once(request, method, url, with_auth);
    if (!may_follow || !is_redirect(response.status)) return response;
    const std::optional<std::string> location = response.headers.get("Location");
    if (!location) return response;
    const std::string target = resolve_url(url, *location);
    check_scheme(target, "the redirect from " + url + " to");
    if (request.stop_at_cross_origin && url_origin(target) != origin) return response;
    if (hop + 1 >= kMaxRedirects) {
      throw NetworkError("too many redirects (more than " + std::to_string(kMaxRedirects) + ") from " +
                         request.url);
    }
    if (response.status == 303) method = "GET";
    url = target;
  }
}

}  // namespace optimum::hub::detail
