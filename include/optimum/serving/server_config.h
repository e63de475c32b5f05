// The server's settings: TorchServe's config.properties keys, command-line
// overrides, and token authorization (TorchServe's key_file.json scheme).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace optimum::serving {

struct ServerConfig {
  std::string inference_address = "http://127.0.0.1:8080";
  std::string management_address = "http://127.0.0.1:8081";
  std::string metrics_address = "http://127.0.0.1:8082";
  int grpc_inference_port = 7070;           // 0: any free port; -1: no gRPC front end
  std::string grpc_inference_address = "127.0.0.1";
  std::filesystem::path model_store;
  std::vector<std::string> load_models;     // "name=file.mar", "file.mar", "ALL"
  int default_workers_per_model = 1;
  size_t job_queue_size = 1000;
  size_t max_request_size = 6553500;        // bytes (TorchServe's default)
  size_t max_response_size = 6553500;
  std::vector<std::string> allowed_urls;    // regular expressions; empty: the model store only
  bool disable_token_authorization = false;
  bool enable_model_api = false;            // registration/unregistration over the management API
  int number_of_netty_threads = 0;          // I/O threads; 0: cores
  int default_response_timeout = 120;       // seconds
  std::filesystem::path key_file = "key_file.json";
  size_t max_connections = 20000;

  // Parses config.properties (key=value lines, '#'/'!' comments, TorchServe's
  // keys); unknown keys are warned about on stderr; bad values are
  // FormatError naming the file, line and key.
  static ServerConfig from_properties_file(const std::filesystem::path& file);
  static ServerConfig from_properties_text(const std::string& text, const std::string& source);
};

// "http://127.0.0.1:8080" -> host "127.0.0.1", port 8080 (https refused:
// Unsupported; put TLS in front). InvalidArgument on anything else.
struct ListenAddress {
  std::string host;
  unsigned short port = 0;
  static ListenAddress parse(std::string_view address, const std::string& key);
};

enum class Api { Inference, Management };

// Token authorization: on by default. Keys are generated at start (random,
// URL-safe) and written to `key_file` as TorchServe does:
// {"management": {"key", "expiration time"}, "inference": {...}, "API": {"key"}}.
// Requests carry "Authorization: Bearer <key>" (gRPC: the "authorization"
// metadata).
class Auth {
 public:
  Auth(bool enabled, const std::filesystem::path& key_file);
  bool enabled() const { return enabled_; }
  // Throws ServingError 401 naming the API when the header is missing or wrong.
  void check(Api api, std::string_view authorization_header) const;
  std::string key(Api api) const;

 private:
  bool enabled_;
  mutable std::mutex mutex_;
  std::string management_key_, inference_key_, api_key_;
};

}  // namespace optimum::serving
