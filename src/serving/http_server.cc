// HttpServer on Boost.Beast: one strand per connection, header read under
// the idle timeout, body under the request timeout, size limits from the
// parser, a disconnect watch while a request is being answered.
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>

#include <utility>  // boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/serving/http.h"
#include "optimum/serving/status.h"

namespace optimum::serving {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; '+' as space in query components. Bad escapes stay as they are.
std::string decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

HttpResponse plain_error(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = io::Json{{"code", status}, {"type", reason_phrase(status)}, {"message", message}}.dump();
  return r;
}

}  // namespace

std::optional<std::string> HttpRequest::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> HttpRequest::param(const std::string& name) const {
  std::optional<std::string> out;
  for (const auto& [k, v] : query)
    if (k == name) out = v;
  return out;
}

struct HttpServer::Impl {
  net::io_context ioc;
  std::vector<tcp::acceptor> acceptors;
  std::vector<HttpListener> listeners;
  HttpLimits limits;
  std::vector<std::thread> threads;
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopped{false};
  explicit Impl(int io_threads) : ioc(std::max(io_threads, 1)) {}
};

namespace {

class Session;

class SessionResponder : public Responder {
 public:
  explicit SessionResponder(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  void send(HttpResponse response) override;
  void begin_stream(int status, const std::string& content_type) override;
  void write_chunk(std::string data) override;
  void end_stream() override;

 private:
  std::shared_ptr<Session> session_;
  std::atomic<bool> answered_{false};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server, const HttpListener& listener)
      : stream_(std::move(socket)), server_(server), listener_(listener) {
    ++server_.connections;
  }
  ~Session() { --server_.connections; }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // ---- called on the strand ----
  void write_response(HttpResponse r) {
    stop_watch();
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->set(http::field::server, "optimum-cpp");
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(r.body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      self->after_write(ec);
    });
  }

  // The disconnect watch stays on while a stream is written (a streamed
  // generation is cancelled when its client goes away); it ends with the
  // stream.
  void begin_stream(int status, std::string content_type) {
    streaming_ = true;
    auto res = std::make_shared<http::response<http::empty_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(status));
    res->set(http::field::server, "optimum-cpp");
    res->set(http::field::content_type, content_type);
    res->keep_alive(keep_alive_);
    res->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    chunks_.emplace_back(Pending{[self = shared_from_this(), res, sr](auto next) {
      http::async_write_header(self->stream_, *sr, [res, sr, next](beast::error_code ec, size_t) { next(ec); });
    }});
    pump();
  }

  void write_chunk(std::string data) {
    if (data.empty()) return;
    auto buf = std::make_shared<std::string>(std::move(data));
    chunks_.emplace_back(Pending{[self = shared_from_this(), buf](auto next) {
      net::async_write(self->stream_, http::make_chunk(net::buffer(*buf)),
                       [buf, next](beast::error_code ec, size_t) { next(ec); });
    }});
    pump();
  }

  void end_stream() {
    chunks_.emplace_back(Pending{[self = shared_from_this()](auto next) {
      net::async_write(self->stream_, http::make_chunk_last(), [next](beast::error_code ec, size_t) { next(ec); });
    }});
    chunks_.emplace_back(Pending{[self = shared_from_this()](auto) {
      self->stop_watch();
      self->streaming_ = false;
      self->after_write({});
    }});
    pump();
  }

  auto executor() { return stream_.get_executor(); }

 private:
  struct Pending {
    std::function<void(std::function<void(beast::error_code)>)> run;
  };

  void pump() {
    if (writing_ || chunks_.empty()) return;
    writing_ = true;
    auto p = std::move(chunks_.front());
    chunks_.pop_front();
    p.run([self = shared_from_this()](beast::error_code ec) {
      self->writing_ = false;
      if (ec) {
        // The client is gone: whatever produces the stream stops.
        if (self->cancelled_) *self->cancelled_ = true;
        self->chunks_.clear();
        self->close();
        return;
      }
      self->pump();
    });
  }

  void read_header() {
    if (server_.stopped) return;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.limits.max_header_bytes));
    parser_->body_limit(server_.limits.max_request_body);
    stream_.expires_after(server_.limits.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return fail_read(ec);
    // A declared body over the limit is refused before it is read.
    const auto& h = parser_->get();
    if (auto len = parser_->content_length(); len && *len > server_.limits.max_request_body) {
      keep_alive_ = false;
      return write_response(plain_error(413, "request body of " + std::to_string(*len) +
                                                 " bytes is over the limit of " +
                                                 std::to_string(server_.limits.max_request_body) + " bytes"));
    }
    (void)h;
    stream_.expires_after(server_.limits.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void fail_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return close();
    }
    keep_alive_ = false;
    if (ec == http::error::body_limit)
      return write_response(plain_error(
          413, "request body over the limit of " + std::to_string(server_.limits.max_request_body) + " bytes"));
    if (ec == http::error::header_limit)
      return write_response(plain_error(431, "request headers over the limit of " +
                                                 std::to_string(server_.limits.max_header_bytes) + " bytes"));
    return write_response(plain_error(400, std::string("malformed HTTP request: ") + ec.message()));
  }

  void on_read(beast::error_code ec) {
    if (ec) return fail_read(ec);
    stream_.expires_never();
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    const auto q = req.target.find('?');
    req.path = decode(std::string_view(req.target).substr(0, q), false);
    if (q != std::string::npos) {
      std::string_view rest = std::string_view(req.target).substr(q + 1);
      while (!rest.empty()) {
        const auto amp = rest.find('&');
        std::string_view kv = rest.substr(0, amp);
        if (!kv.empty()) {
          const auto eq = kv.find('=');
          req.query.emplace_back(decode(kv.substr(0, eq), true),
                                 eq == std::string_view::npos ? "" : decode(kv.substr(eq + 1), true));
        }
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
      }
    }
    for (const auto& f : msg) req.headers[lower(f.name_string())] = std::string(f.value());
    req.body = std::move(msg.body());
    beast::error_code ignored;
    const auto ep = stream_.socket().remote_endpoint(ignored);
    if (!ignored) req.remote = ep.address().to_string();
    auto responder = std::make_shared<SessionResponder>(shared_from_this());
    cancelled_ = responder->cancelled;
    watch_disconnect();
    try {
      listener_.handler(std::move(req), responder);
    } catch (...) {
      const auto st = classify(std::current_exception());
      responder->send(plain_error(st.http, st.message));
    }
  }

  // While the answer is computed, a readable socket with nothing to read
  // means the client left: the request is marked cancelled. The peek never
  // blocks the strand: Asio may report a socket readable again for data
  // that was already consumed (epoll edge), then the watch is re-armed.
  void watch_disconnect() {
    watching_ = true;
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->watching_) return;
      char c;
      const ssize_t n = ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        if (self->cancelled_) *self->cancelled_ = true;
        self->watching_ = false;
      } else if (n < 0) {
        self->watch_disconnect();  // nothing there: keep watching
      } else {
        self->watching_ = false;  // the client sent more (pipelining): it is still there
      }
    });
  }

  void stop_watch() {
    if (!watching_) return;
    watching_ = false;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
  }

  void after_write(beast::error_code ec) {
    if (ec || !keep_alive_) return close();
    read_header();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  const HttpListener& listener_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool watching_ = false;
  bool writing_ = false;
  bool streaming_ = false;
  std::deque<Pending> chunks_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

void SessionResponder::send(HttpResponse response) {
  if (answered_.exchange(true)) return;
  net::post(session_->executor(), [s = session_, r = std::move(response)]() mutable { s->write_response(std::move(r)); });
}

void SessionResponder::begin_stream(int status, const std::string& content_type) {
  if (answered_.exchange(true)) return;
  net::post(session_->executor(), [s = session_, status, content_type] { s->begin_stream(status, content_type); });
}

void SessionResponder::write_chunk(std::string data) {
  net::post(session_->executor(), [s = session_, d = std::move(data)]() mutable { s->write_chunk(std::move(d)); });
}

void SessionResponder::end_stream() {
  net::post(session_->executor(), [s = session_] { s->end_stream(); });
}

void accept_loop(HttpServer::Impl& server, tcp::acceptor& acceptor, const HttpListener& listener) {
  acceptor.async_accept(net::make_strand(server.ioc), [&server, &acceptor, &listener](beast::error_code ec,
                                                                                        tcp::socket socket) {
    if (server.stopped) return;
    if (!ec) {
      if (server.connections.load() >= server.limits.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), server, listener)->start();
      }
    } else if (ec == net::error::no_descriptors) {
      // Out of file descriptors: back off a little instead of spinning.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    accept_loop(server, acceptor, listener);
  });
}

// Many idle keep-alive connections need as many descriptors as the hard limit allows.
void raise_descriptor_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

HttpServer::HttpServer(std::vector<HttpListener> listeners, int io_threads, HttpLimits limits)
    : impl_(std::make_unique<Impl>(io_threads)) {
  raise_descriptor_limit();
  impl_->limits = limits;
  impl_->listeners = std::move(listeners);
  impl_->acceptors.reserve(impl_->listeners.size());
  for (const auto& l : impl_->listeners) {
    beast::error_code ec;
    const auto address = net::ip::make_address(l.address.host, ec);
    if (ec) throw InvalidArgument(l.name + " address: '" + l.address.host + "' is not an IP address");
    tcp::endpoint ep(address, l.address.port);
    tcp::acceptor acc(impl_->ioc);
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw IoError("cannot listen on " + l.address.host + ":" + std::to_string(l.address.port) + " (" + l.name +
                    " API): " + ec.message());
    impl_->acceptors.push_back(std::move(acc));
  }
  for (size_t i = 0; i < impl_->acceptors.size(); ++i) accept_loop(*impl_, impl_->acceptors[i], impl_->listeners[i]);
  const int n = std::max(io_threads, 1);
  for (int i = 0; i < n; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

HttpServer::~HttpServer() { stop(); }

std::vector<unsigned short> HttpServer::ports() const {
  std::vector<unsigned short> out;
  for (const auto& a : impl_->acceptors) out.push_back(a.local_endpoint().port());
  return out;
}

size_t HttpServer::open_connections() const { return impl_->connections.load(); }

void HttpServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  net::post(impl_->ioc, [this] {
    for (auto& a : impl_->acceptors) {
      beast::error_code ignored;
      a.close(ignored);
    }
  });
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
}

}  // namespace optimum::serving
