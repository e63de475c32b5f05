// config.properties (TorchServe's keys, Java-properties syntax), listen
// addresses and token authorization (TorchServe's key_file.json).
#include "optimum/serving/server_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <regex>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/serving/status.h"

namespace optimum::serving {
namespace {

// Largest config.properties read (TorchServe's are a few hundred bytes).
constexpr uint64_t kMaxPropertiesBytes = 1 << 20;
// allowed_urls patterns are compiled with std::regex, which recurses on
// nesting: a bound on length and group depth keeps a hostile file harmless.
constexpr size_t kMaxRegexLength = 512;
constexpr int kMaxRegexDepth = 16;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\f')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\f' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

struct Entry {
  std::string key;
  std::string value;
  size_t line = 0;
};

// Java-properties logical lines: '#'/'!' comments, key=value / key: value /
// key value, trailing-backslash continuation, escapes (\t \n \r \f \uXXXX \x).
std::vector<Entry> parse_properties(const std::string& text, const std::string& source) {
  std::vector<Entry> entries;
  size_t pos = 0;
  size_t line_no = 0;
  auto next_line = [&](std::string_view& line) {
    if (pos >= text.size()) return false;
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string::npos) end = text.size();
    line = std::string_view(text).substr(pos, end - pos);
    pos = end;
    if (pos < text.size()) pos += (text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ? 2 : 1;
    ++line_no;
    return true;
  };
  std::string_view raw;
  while (next_line(raw)) {
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == '!') continue;
    const size_t first_line = line_no;
    // Join continuation lines: an odd number of trailing backslashes.
    std::string logical;
    for (;;) {
      size_t backslashes = 0;
      while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) {
        logical += line;
        break;
      }
      logical += line.substr(0, line.size() - 1);
      std::string_view more;
      if (!next_line(more)) break;
      line = trim(more);
    }
    // Split the key at the first unescaped '=', ':' or whitespace.
    std::string key, value;
    size_t i = 0;
    auto unescape = [&](std::string& out, bool stop_at_separator) {
      while (i < logical.size()) {
        const char c = logical[i];
        if (stop_at_separator && (c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f')) return;
        ++i;
        if (c != '\\' || i == logical.size()) {
          out += c;
          continue;
        }
        const char e = logical[i++];
        switch (e) {
          case 't': out += '\t'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 'f': out += '\f'; break;
          case 'u': {
            uint32_t cp = 0;
            const auto [p, ec] = std::from_chars(logical.data() + i, logical.data() + std::min(i + 4, logical.size()),
                                                 cp, 16);
            if (ec != std::errc() || p != logical.data() + i + 4) {
              throw FormatError(source + ":" + std::to_string(first_line) + ": malformed \\uXXXX escape");
            }
            i += 4;
            append_utf8(out, cp);
            break;
          }
          default: out += e;
        }
      }
    };
    unescape(key, true);
    while (i < logical.size() && (logical[i] == ' ' || logical[i] == '\t' || logical[i] == '\f')) ++i;
    if (i < logical.size() && (logical[i] == '=' || logical[i] == ':')) ++i;
    while (i < logical.size() && (logical[i] == ' ' || logical[i] == '\t' || logical[i] == '\f')) ++i;
    unescape(value, false);
    entries.push_back({std::move(key), std::string(trim(value)), first_line});
  }
  return entries;
}

struct Context {
  const std::string& source;
  const Entry& entry;
  std::string where() const { return source + ":" + std::to_string(entry.line) + ": " + entry.key; }
};

template <class T>
T parse_integer(const Context& c, T min, T max) {
  const std::string& v = c.entry.value;
  T out{};
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty() || out < min || out > max) {
    throw FormatError(c.where() + ": expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                      "], got '" + v.substr(0, 100) + "'");
  }
  return out;
}

bool parse_bool(const Context& c) {
  std::string v = c.entry.value;
  for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (v == "true") return true;
  if (v == "false") return false;
  throw FormatError(c.where() + ": expected true or false, got '" + c.entry.value.substr(0, 100) + "'");
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t end = v.find(',', start);
    if (end == std::string::npos) end = v.size();
    const auto item = trim(std::string_view(v).substr(start, end - start));
    if (!item.empty()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

std::string check_address(const Context& c) {
  try {
    ListenAddress::parse(c.entry.value, c.entry.key);
  } catch (const InvalidArgument& e) {
    throw FormatError(c.source + ":" + std::to_string(c.entry.line) + ": " + e.what());
  } catch (const Unsupported& e) {
    throw Unsupported(c.source + ":" + std::to_string(c.entry.line) + ": " + e.what());
  }
  return c.entry.value;
}

void check_regex(const Context& c, const std::string& pattern) {
  if (pattern.size() > kMaxRegexLength) {
    throw FormatError(c.where() + ": pattern longer than " + std::to_string(kMaxRegexLength) + " characters");
  }
  int depth = 0;
  bool escaped = false;
  for (char ch : pattern) {
    if (escaped) {
      escaped = false;
    } else if (ch == '\\') {
      escaped = true;
    } else if (ch == '(' || ch == '[' || ch == '{') {
      if (++depth > kMaxRegexDepth) {
        throw FormatError(c.where() + ": pattern nests deeper than " + std::to_string(kMaxRegexDepth) + " groups");
      }
    } else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  try {
    std::regex re(pattern);
  } catch (const std::regex_error& e) {
    throw FormatError(c.where() + ": invalid regular expression '" + pattern + "': " + e.what());
  }
}

}  // namespace

ServerConfig ServerConfig::from_properties_text(const std::string& text, const std::string& source) {
  ServerConfig config;
  for (const Entry& entry : parse_properties(text, source)) {
    const Context c{source, entry};
    const std::string& k = entry.key;
    const std::string& v = entry.value;
    if (k == "inference_address") config.inference_address = check_address(c);
    else if (k == "management_address") config.management_address = check_address(c);
    else if (k == "metrics_address") config.metrics_address = check_address(c);
    else if (k == "grpc_inference_port") config.grpc_inference_port = parse_integer<int>(c, -1, 65535);
    else if (k == "grpc_inference_address") {
      if (v.empty()) throw FormatError(c.where() + ": empty address");
      config.grpc_inference_address = v;
    } else if (k == "model_store") {
      if (v.empty()) throw FormatError(c.where() + ": empty path");
      config.model_store = v;
    } else if (k == "load_models") config.load_models = split_list(v);
    else if (k == "default_workers_per_model") config.default_workers_per_model = parse_integer<int>(c, 1, 1024);
    else if (k == "job_queue_size") config.job_queue_size = parse_integer<size_t>(c, 1, size_t{1} << 24);
    else if (k == "max_request_size") config.max_request_size = parse_integer<size_t>(c, 1, size_t{1} << 34);
    else if (k == "max_response_size") config.max_response_size = parse_integer<size_t>(c, 1, size_t{1} << 34);
    else if (k == "allowed_urls") {
      config.allowed_urls = split_list(v);
      for (const auto& pattern : config.allowed_urls) check_regex(c, pattern);
    } else if (k == "disable_token_authorization") config.disable_token_authorization = parse_bool(c);
    else if (k == "enable_model_api") config.enable_model_api = parse_bool(c);
    else if (k == "number_of_netty_threads") config.number_of_netty_threads = parse_integer<int>(c, 0, 1024);
    else if (k == "default_response_timeout") config.default_response_timeout = parse_integer<int>(c, 1, 86400 * 7);
    else if (k == "key_file") {
      if (v.empty()) throw FormatError(c.where() + ": empty path");
      config.key_file = v;
    } else if (k == "max_connections") config.max_connections = parse_integer<size_t>(c, 1, size_t{1} << 24);
    else {
      std::fprintf(stderr, "warning: %s:%zu: unknown key '%s' ignored\n", source.c_str(), entry.line,
                   k.substr(0, 200).c_str());
    }
  }
  return config;
}

ServerConfig ServerConfig::from_properties_file(const std::filesystem::path& file) {
  return from_properties_text(io::read_text_file(file, kMaxPropertiesBytes), file.string());
}

ListenAddress ListenAddress::parse(std::string_view address, const std::string& key) {
  const std::string shown = key + ": '" + std::string(address.substr(0, 200)) + "'";
  std::string_view rest = address;
  if (rest.starts_with("https://")) {
    throw Unsupported(shown + ": https is not supported; terminate TLS in a proxy in front of the server and "
                      "listen on http");
  }
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  ListenAddress out;
  std::string_view host, port;
  if (rest.starts_with("[")) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      throw InvalidArgument(shown + ": expected [ipv6]:port");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) throw InvalidArgument(shown + ": expected host:port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) throw InvalidArgument(shown + ": put an IPv6 host in brackets");
  }
  if (host.empty()) throw InvalidArgument(shown + ": empty host");
  for (char ch : host) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                    ch == '-' || ch == ':' || ch == '_' || ch == '%';
    if (!ok) throw InvalidArgument(shown + ": invalid character in host");
  }
  unsigned value = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    throw InvalidArgument(shown + ": port must be an integer in [0, 65535]");
  }
  out.host = std::string(host);
  out.port = static_cast<unsigned short>(value);
  return out;
}

namespace {

// 24 random bytes as 32 URL-safe base64 characters.
std::string random_key() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device device;
  std::string key;
  key.reserve(32);
  uint32_t bits = 0;
  int have = 0;
  while (key.size() < 32) {
    if (have < 6) {
      bits = (bits << 16) | (device() & 0xFFFF);
      have += 16;
    }
    key += kAlphabet[(bits >> (have - 6)) & 63];
    have -= 6;
  }
  return key;
}

// TorchServe's "expiration time": an ISO-8601 UTC instant.
std::string expiration_text(std::chrono::minutes from_now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + from_now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_private_file(const std::filesystem::path& path, const std::string& text) {
  // Written to a fresh 0600 file then renamed over the target, so the keys
  // are never readable by others, even for a moment.
  const std::filesystem::path tmp = path.string() + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw IoError(errno_message("cannot create key file " + tmp.string()));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      const std::string message = errno_message("cannot write key file " + tmp.string());
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError(message);
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, 0600);
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string message = errno_message("cannot write key file " + path.string());
    ::unlink(tmp.c_str());
    throw IoError(message);
  }
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Runs over the expected key's length whatever `a` is.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

}  // namespace

Auth::Auth(bool enabled, const std::filesystem::path& key_file) : enabled_(enabled) {
  if (!enabled_) return;
  management_key_ = random_key();
  inference_key_ = random_key();
  api_key_ = random_key();
  const std::string expires = expiration_text(std::chrono::minutes(60));
  const io::Json file = {
      {"management", {{"key", management_key_}, {"expiration time", expires}}},
      {"inference", {{"key", inference_key_}, {"expiration time", expires}}},
      {"API", {{"key", api_key_}}},
  };
  write_private_file(key_file, file.dump(2) + "\n");
}

void Auth::check(Api api, std::string_view authorization_header) const {
  if (!enabled_) return;
  const char* name = api == Api::Management ? "management" : "inference";
  std::string_view header = authorization_header;
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
  if (header.empty()) {
    throw ServingError(Code::Unauthorized, std::string("Token Authorization failed for the ") + name +
                                               " API: no Authorization header (send \"Authorization: Bearer <key>\" "
                                               "with the " + name + " key from key_file.json)");
  }
  constexpr std::string_view kBearer = "bearer ";
  bool bearer = header.size() > kBearer.size();
  for (size_t i = 0; bearer && i < kBearer.size(); ++i) {
    bearer = static_cast<char>(std::tolower(static_cast<unsigned char>(header[i]))) == kBearer[i];
  }
  if (!bearer) {
    throw ServingError(Code::Unauthorized, std::string("Token Authorization failed for the ") + name +
                                               " API: the Authorization header is not \"Bearer <key>\"");
  }
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  std::lock_guard lock(mutex_);
  const std::string& expected = api == Api::Management ? management_key_ : inference_key_;
  if (!constant_time_equal(token, expected)) {
    throw ServingError(Code::Unauthorized,
                       std::string("Token Authorization failed for the ") + name + " API: wrong key");
  }
}

std::string Auth::key(Api api) const {
  std::lock_guard lock(mutex_);
  return api == Api::Management ? management_key_ : inference_key_;
}

}  // namespace optimum::serving
