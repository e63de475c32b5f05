// The HTTP/1.1 server under every REST front end (Boost.Beast on Asio: a
// few I/O threads hold many keep-alive connections, each an idle async read
// costing a few kilobytes, so 10,000 idle clients need no thread each;
// cpp-httplib, the other Debian option, keeps a thread per connection).
// Route handlers see plain structs, never Beast types, and answer through a
// Responder that any thread may call (once) or stream chunks through.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "optimum/serving/server_config.h"

namespace optimum::serving {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // percent-decoded path
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::map<std::string, std::string> headers;              // lower-case names
  std::string body;
  std::string remote;  // peer address

  std::optional<std::string> header(const std::string& lower_name) const;
  std::optional<std::string> param(const std::string& name) const;  // last query value
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Answers one request. send() or the stream calls may come from any
// thread; the first send() wins. `cancelled` turns true when the client
// closes its connection before the answer.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void send(HttpResponse response) = 0;
  // Chunked transfer: begin once, then chunks, then end.
  virtual void begin_stream(int status, const std::string& content_type) = 0;
  virtual void write_chunk(std::string data) = 0;
  virtual void end_stream() = 0;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

using HttpHandler = std::function<void(HttpRequest&& request, std::shared_ptr<Responder> responder)>;

struct HttpListener {
  ListenAddress address;  // port 0: ephemeral
  HttpHandler handler;
  std::string name;       // "inference", "management", "metrics" (logs)
};

struct HttpLimits {
  size_t max_request_body = 6553500;  // larger bodies: 413
  size_t max_header_bytes = 16384;    // larger headers: 431
  size_t max_connections = 20000;     // beyond: new connections are closed
  std::chrono::seconds idle_timeout{300};     // keep-alive connection without a request
  std::chrono::seconds request_timeout{60};   // from the first byte to the whole request
};

class HttpServer {
 public:
  HttpServer(std::vector<HttpListener> listeners, int io_threads, HttpLimits limits);
  ~HttpServer();
  // Bound ports, in the order of the listeners (ephemeral ports resolved).
  std::vector<unsigned short> ports() const;
  size_t open_connections() const;
  // Stops accepting, closes connections, joins the I/O threads.
  void stop();

  struct Impl;  // Beast state (http_server.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace optimum::serving
