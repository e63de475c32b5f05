// `serve`: loads the models of a model store and serves them over HTTP
// (TorchServe inference/management/metrics APIs, KServe v2 and v1, OpenAI
// embeddings) and gRPC (KServe v2), until SIGTERM or SIGINT.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <iostream>
#include <thread>

#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/serving/http.h"
#include "optimum/serving/routes.h"
#include "optimum/serving/service.h"
#include "optimum/serving/status.h"
#ifdef OPTIMUM_WITH_GRPC
#include "optimum/serving/grpc_server.h"
#endif

namespace optimum::cli {

namespace {

struct ServeArgs {
  std::string model_store;
  std::vector<std::string> models;
  std::string ts_config;
  bool foreground = false;
  bool disable_token_auth = false;
  bool enable_model_api = false;
  std::string inference_address, management_address, metrics_address;
  std::optional<int> grpc_port;
  std::string ports_file;
  std::string key_file;
};

// "name=file.mar", "file.mar", "name=folder", or "ALL" (every archive in the store).
std::vector<serving::RegisterRequest> startup_models(const serving::ServerConfig& cfg) {
  std::vector<serving::RegisterRequest> out;
  for (const auto& spec : cfg.load_models) {
    if (spec.empty()) continue;
    if (spec == "ALL" || spec == "all") {
      std::vector<std::string> names;
      for (const auto& e : std::filesystem::directory_iterator(cfg.model_store)) {
        const std::string n = e.path().filename().string();
        if (n.empty() || n[0] == '.') continue;
        if (e.is_regular_file() || std::filesystem::exists(e.path() / "MAR-INF" / "MANIFEST.json")) names.push_back(n);
      }
      std::sort(names.begin(), names.end());
      for (auto& n : names) out.push_back(serving::RegisterRequest{n, "", "", {}, {}, {}, {}, true});
      continue;
    }
    serving::RegisterRequest r;
    const auto eq = spec.find('=');
    if (eq != std::string::npos) {
      r.model_name = spec.substr(0, eq);
      r.url = spec.substr(eq + 1);
    } else {
      r.url = spec;
    }
    out.push_back(r);
  }
  return out;
}

int serve(const ServeArgs& a) {
  serving::ServerConfig cfg;
  if (!a.ts_config.empty()) cfg = serving::ServerConfig::from_properties_file(a.ts_config);
  if (!a.model_store.empty()) cfg.model_store = a.model_store;
  if (!a.models.empty()) cfg.load_models = a.models;
  if (a.disable_token_auth) cfg.disable_token_authorization = true;
  if (a.enable_model_api) cfg.enable_model_api = true;
  if (!a.inference_address.empty()) cfg.inference_address = a.inference_address;
  if (!a.management_address.empty()) cfg.management_address = a.management_address;
  if (!a.metrics_address.empty()) cfg.metrics_address = a.metrics_address;
  if (a.grpc_port) cfg.grpc_inference_port = *a.grpc_port;
  if (!a.key_file.empty()) cfg.key_file = a.key_file;
  if (cfg.model_store.empty()) throw InvalidArgument("--model-store (or model_store in config.properties) is required");
  if (!std::filesystem::is_directory(cfg.model_store))
    throw NotFound("model store '" + cfg.model_store.string() + "' is not a folder");

  if (!a.foreground) {
    // Like `torchserve --start`: the server goes to the background; its pid is printed.
    const pid_t pid = fork();
    if (pid < 0) throw IoError(errno_message("fork"));
    if (pid > 0) {
      std::cout << "optimum-cpp serve started in the background: pid " << pid << std::endl;
      return 0;
    }
    setsid();
  }

  // Signals are taken by sigwait below, not by whichever thread runs.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  serving::Service service(cfg);
  serving::Routes routes(service);
  const auto inference = serving::ListenAddress::parse(cfg.inference_address, "inference_address");
  const auto management = serving::ListenAddress::parse(cfg.management_address, "management_address");
  const auto metrics = serving::ListenAddress::parse(cfg.metrics_address, "metrics_address");
  serving::HttpLimits limits;
  limits.max_request_body = cfg.max_request_size;
  limits.max_connections = cfg.max_connections;
  const int io_threads = cfg.number_of_netty_threads > 0
                             ? cfg.number_of_netty_threads
                             : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  serving::HttpServer http({{inference, routes.inference(), "inference"},
                            {management, routes.management(), "management"},
                            {metrics, routes.metrics(), "metrics"}},
                           io_threads, limits);
  int grpc_port = 0;
#ifdef OPTIMUM_WITH_GRPC
  std::unique_ptr<serving::GrpcServer> grpc;
  if (cfg.grpc_inference_port >= 0) {
    grpc = std::make_unique<serving::GrpcServer>(service, cfg.grpc_inference_address, cfg.grpc_inference_port);
    grpc_port = grpc->port();
  }
#endif
  for (const auto& r : startup_models(cfg)) {
    try {
      const auto [name, version] = service.register_model(r);
      std::cerr << "serve: loaded model " << name << " version " << version << " from " << r.url << "\n";
    } catch (const std::exception& e) {
      std::cerr << "serve: model " << (r.model_name.empty() ? r.url : r.model_name) << " failed to load: " << e.what()
                << "\n";
    }
  }
  const auto ports = http.ports();
  io::Json ready{{"event", "ready"},
                 {"pid", static_cast<int>(getpid())},
                 {"inference_port", ports[0]},
                 {"management_port", ports[1]},
                 {"metrics_port", ports[2]},
                 {"grpc_port", grpc_port},
                 {"token_authorization", service.auth().enabled()},
                 {"key_file", service.auth().enabled() ? cfg.key_file.string() : ""}};
  if (!a.ports_file.empty()) {
    const std::string tmp = a.ports_file + ".tmp";
    std::ofstream(tmp) << ready.dump() << "\n";
    std::filesystem::rename(tmp, a.ports_file);
  }
  std::cout << ready.dump() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << "serve: signal " << sig << ", stopping\n";
  http.stop();
#ifdef OPTIMUM_WITH_GRPC
  if (grpc) grpc->shutdown();
#endif
  service.shutdown();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Serve models over HTTP (TorchServe, KServe v2/v1, OpenAI) and gRPC (KServe v2)");
  cmd->add_option("--model-store", a->model_store, "Folder of model archives (.mar, .tar.gz) and model folders");
  cmd->add_option("--models", a->models, "Models to load at start: name=file.mar, file.mar, name=folder, or ALL");
  cmd->add_option("--ts-config", a->ts_config, "TorchServe config.properties");
  cmd->add_flag("--foreground", a->foreground, "Stay in the foreground (default: go to the background)");
  cmd->add_flag("--disable-token-auth", a->disable_token_auth, "Serve without token authorization");
  cmd->add_flag("--enable-model-api", a->enable_model_api, "Allow registering and unregistering models over the management API");
  cmd->add_option("--inference-address", a->inference_address, "e.g. http://127.0.0.1:8080 (port 0: any free port)");
  cmd->add_option("--management-address", a->management_address, "e.g. http://127.0.0.1:8081");
  cmd->add_option("--metrics-address", a->metrics_address, "e.g. http://127.0.0.1:8082");
  cmd->add_option("--grpc-port", a->grpc_port, "KServe v2 gRPC port (0: any free port, -1: no gRPC)");
  cmd->add_option("--key-file", a->key_file, "Where the token keys are written (default ./key_file.json)");
  cmd->add_option("--ports-file", a->ports_file, "Write the ready line (bound ports, pid) to this file");
  cmd->callback([a] {
    const int rc = serve(*a);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace optimum::cli
