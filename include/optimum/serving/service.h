// The server's one request path: a model store of registered models (each
// with its versions, workers and scheduler) and the calls every front end
// (TorchServe REST, KServe v2 REST and gRPC, KServe v1, OpenAI) makes on it.
// Front ends parse their wire format into an InferCall (protocol.h), call
// infer(), and turn the InferResult or the error (status.h) into their
// answer.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "optimum/serving/metrics.h"
#include "optimum/serving/model_config.h"
#include "optimum/serving/protocol.h"
#include "optimum/serving/server_config.h"

namespace optimum::serving {

namespace detail {
class GenerationModel;  // continuous batching of a text-generation model (src/serving)
}

// Set by a front end when its client goes away: queued inputs of the request
// are dropped before compute.
using CancelFlag = std::shared_ptr<std::atomic<bool>>;

struct WorkerInfo {
  int id = 0;
  std::string status;  // "READY", "BUSY"
  int threads = 0;
};

// What describe/list answer (TorchServe's DescribeModelResponse fields).
struct ModelInfo {
  std::string name;
  std::string version;
  std::string url;
  std::string task;
  bool is_default = false;
  bool ready = false;
  ModelConfig config;
  std::vector<WorkerInfo> workers;
  Signature signature;
  std::string load_error;  // why it is not ready, if it failed
  // Text-generation models: the continuous-batching engine's state (slots,
  // positions per slot, KV cache bytes, queue, running sequences).
  std::optional<GenerationStats> generation;
};

// Registration, as the management API and --models give it.
struct RegisterRequest {
  std::string url;                 // archive file name in the model store, a folder, or an allowed URL
  std::string model_name;          // "" = the archive's
  std::string handler;             // task override
  std::optional<int> batch_size, max_batch_delay_ms, initial_workers, response_timeout_s;
  bool synchronous = true;         // false: load in the background (202)
};

class Service {
 public:
  explicit Service(ServerConfig config);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const ServerConfig& config() const { return config_; }
  const Auth& auth() const { return *auth_; }
  Metrics& metrics() { return *metrics_; }

  // ---- Management ----
  // Loads and starts a model version. ServingError: 409 when that name and
  // version exist, 403 for a URL outside allowed_urls, 400 for a bad archive,
  // 404 for a missing file. Returns its name and version.
  std::pair<std::string, std::string> register_model(const RegisterRequest& request);
  void unregister_model(const std::string& name, const std::string& version);
  // Sets worker bounds (and starts or stops workers); synchronous waits until they run.
  void scale_workers(const std::string& name, const std::string& version, std::optional<int> min_worker,
                     std::optional<int> max_worker, bool synchronous);
  void set_default_version(const std::string& name, const std::string& version);
  // Every version of `name` ("" version) or the one named; NotFound otherwise.
  std::vector<ModelInfo> describe(const std::string& name, const std::string& version = "") const;
  // The task a registered model serves (ServingError NotFound otherwise); cheaper than describe.
  std::string task(const std::string& name, const std::string& version = "") const;
  // Model names (sorted) with their default version's url.
  std::vector<std::pair<std::string, std::string>> list_models() const;

  // ---- Health ----
  bool live() const { return true; }
  // Every registered model has at least one ready worker.
  bool ready() const;

  // ---- Inference ----
  using Done = std::function<void(InferResult result, std::exception_ptr error)>;
  // Runs `call` on model `name` (default version when `version` is empty).
  // Never blocks on compute: inputs are preprocessed on the service's pool,
  // queued (429 when the queue is full), batched with other requests' and
  // `done` is called once from a worker (or at once on an error). 504 after
  // the model's response timeout; a request whose cancel flag is set before
  // its batch runs is dropped (done gets 499).
  void infer(const std::string& name, const std::string& version, InferCall call, CancelFlag cancelled, Done done);
  // The continuous-batching engine of text-generation model `name` (default
  // version when `version` is empty) for the OpenAI and OIP generate routes;
  // NotFound for an unknown model, BadRequest naming the model's task when
  // it does not generate text.
  std::shared_ptr<detail::GenerationModel> generation_model(const std::string& name, const std::string& version = "");
  // Synchronous form (tests, CLI).
  InferResult infer_sync(const std::string& name, const std::string& version, InferCall call);

  // Shuts every model down; pending requests get 503.
  void shutdown();

 private:
  struct State;  // models, thread pool, watchdog (service.cc)
  ServerConfig config_;
  std::unique_ptr<Auth> auth_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<State> state_;
};

}  // namespace optimum::serving
