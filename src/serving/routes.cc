// REST routes of the three listeners. Every protocol goes through
// Service::infer and answers errors through classify() (status.h), each in
// its own error body shape.
#include "optimum/serving/routes.h"

#include <unistd.h>

#include <chrono>
#include <iostream>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/core/version.h"
#include "optimum/serving/metrics.h"
#include "optimum/serving/status.h"
#include "routes_generate.h"
#include "scheduler.h"

namespace optimum::serving {

namespace {

using io::Json;

enum class Protocol { TorchServe, V2, V1, OpenAI };

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    const size_t j = path.find('/', i);
    if (i < path.size()) out.push_back(path.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j;
  }
  return out;
}

HttpResponse json_response(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

HttpResponse error_response(Protocol protocol, std::exception_ptr error) {
  const ErrorStatus st = classify(error);
  HttpResponse r;
  r.status = st.http;
  switch (protocol) {
    case Protocol::TorchServe:
    case Protocol::V1:
      r = json_response(st.http, Json{{"code", st.http}, {"type", st.type}, {"message", st.message}});
      break;
    case Protocol::V2:
      r.body = v2_error(st.message);
      break;
    case Protocol::OpenAI:
      r.body = openai_error(st.message, st.type, st.http);
      break;
  }
  r.status = st.http;
  if (st.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(st.retry_after_s));
  return r;
}

void send_error(const std::shared_ptr<Responder>& res, Protocol protocol, std::exception_ptr error) {
  res->send(error_response(protocol, error));
}

int int_param(const HttpRequest& req, const std::string& name, int fallback, int lo, int hi) {
  const auto v = req.param(name);
  if (!v || v->empty()) return fallback;
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v->size() || n < lo || n > hi)
    throw ServingError(Code::BadRequest, "parameter " + name + "='" + quote_untrusted(*v) + "' must be an integer in [" +
                                             std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(n);
}

std::optional<int> opt_int_param(const HttpRequest& req, const std::string& name, int lo, int hi) {
  if (!req.param(name) || req.param(name)->empty()) return std::nullopt;
  return int_param(req, name, 0, lo, hi);
}

bool bool_param(const HttpRequest& req, const std::string& name, bool fallback) {
  const auto v = req.param(name);
  if (!v || v->empty()) return fallback;
  if (*v == "true" || *v == "True" || *v == "1") return true;
  if (*v == "false" || *v == "False" || *v == "0") return false;
  throw ServingError(Code::BadRequest, "parameter " + name + "='" + quote_untrusted(*v) + "' must be true or false");
}

Json describe_json(const ModelInfo& m) {
  Json workers = Json::array();
  for (const auto& w : m.workers)
    workers.push_back(Json{{"id", std::to_string(w.id)},
                           {"startTime", ""},
                           {"status", w.status},
                           {"memoryUsage", 0},
                           {"pid", static_cast<int>(getpid())},
                           {"gpu", false},
                           {"gpuUsage", "N/A"},
                           {"threads", w.threads}});
  Json out{{"modelName", m.name},
              {"modelVersion", m.version},
              {"modelUrl", m.url},
              {"runtime", "optimum-cpp"},
              {"handler", m.task},
              {"minWorkers", m.config.min_workers},
              {"maxWorkers", m.config.max_workers},
              {"batchSize", m.config.batch_size},
              {"maxBatchDelay", m.config.max_batch_delay_ms},
              {"responseTimeout", m.config.response_timeout_s},
              {"maxBatchTokens", m.config.max_batch_tokens},
              {"isDefault", m.is_default},
              {"ready", m.ready},
              {"loadedAtStartup", false},
              {"workers", workers}};
  if (m.generation) {
    const auto& g = *m.generation;
    out["generation"] = Json{{"maxNumSequence", g.slots},
                             {"maxSequenceLength", g.capacity},
                             {"kvCacheBytes", g.cache_bytes},
                             {"queued", g.queued},
                             {"running", g.running},
                             {"requests", g.requests},
                             {"promptTokens", g.prompt_tokens},
                             {"generatedTokens", g.generated_tokens}};
  }
  return out;
}

Json tensor_specs(const std::vector<TensorSpec>& specs) {
  Json out = Json::array();
  for (const auto& t : specs) out.push_back(Json{{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  return out;
}

Json api_description() {
  auto op = [](const std::string& summary) { return Json{{"summary", summary}}; };
  Json paths = Json::object();
  paths["/ping"]["get"] = op("Health of the server.");
  paths["/predictions/{model_name}"]["post"] = op("Predictions of the model's default version.");
  paths["/predictions/{model_name}/{model_version}"]["post"] = op("Predictions of one version.");
  paths["/api-description"]["get"] = op("This description.");
  paths["/v2"]["get"] = op("KServe v2 server metadata.");
  paths["/v2/health/live"]["get"] = op("KServe v2 liveness.");
  paths["/v2/health/ready"]["get"] = op("KServe v2 readiness.");
  paths["/v2/models/{model_name}"]["get"] = op("KServe v2 model metadata.");
  paths["/v2/models/{model_name}/ready"]["get"] = op("KServe v2 model readiness.");
  paths["/v2/models/{model_name}/infer"]["post"] = op("KServe v2 inference (JSON or binary tensors).");
  paths["/v2/models/{model_name}/versions/{model_version}/infer"]["post"] = op("KServe v2 inference of one version.");
  paths["/v1/models/{model_name}"]["get"] = op("KServe v1 model status.");
  paths["/v1/models/{model_name}:predict"]["post"] = op("KServe v1 prediction.");
  paths["/v1/embeddings"]["post"] = op("OpenAI-compatible embeddings.");
  paths["/v1/models"]["get"] = op("OpenAI-compatible model list.");
  paths["/v1/completions"]["post"] = op("OpenAI-compatible text completion (stream: server-sent events).");
  paths["/v1/chat/completions"]["post"] = op("OpenAI-compatible chat completion (stream: server-sent events).");
  paths["/v2/models/{model_name}/generate"]["post"] = op("Open Inference Protocol generate extension.");
  paths["/v2/models/{model_name}/generate_stream"]["post"] = op("OIP generate, streamed as server-sent events.");
  return Json{{"openapi", "3.0.1"},
              {"info", {{"title", "optimum-cpp inference API"}, {"version", optimum::version()}}},
              {"paths", paths}};
}

}  // namespace

struct Routes::Impl {
  Service& service;
  detail::ThreadPool management_pool{2};
  explicit Impl(Service& s) : service(s) {}

  void check_auth(const HttpRequest& req, Api api) const {
    service.auth().check(api, req.header("authorization").value_or(""));
  }

  // ---------------- inference listener ----------------
  void infer_and_send(const std::string& model, const std::string& version, InferCall call,
                      const std::shared_ptr<Responder>& res, Protocol protocol,
                      std::function<HttpResponse(const InferCall&, const InferResult&)> render) {
    auto kept = std::make_shared<InferCall>(call);
    const size_t max_response = service.config().max_response_size;
    service.infer(model, version, std::move(call), res->cancelled,
                  [res, protocol, kept, render, max_response](InferResult result, std::exception_ptr error) {
                    if (error) return send_error(res, protocol, error);
                    try {
                      HttpResponse out = render(*kept, result);
                      if (out.body.size() > max_response)
                        throw ServingError(Code::InsufficientStorage,
                                           "the response of " + std::to_string(out.body.size()) +
                                               " bytes is over max_response_size (" + std::to_string(max_response) +
                                               " bytes)");
                      res->send(std::move(out));
                    } catch (...) {
                      send_error(res, protocol, std::current_exception());
                    }
                  });
  }

  // Streams one NDJSON line per input as each is answered ({"index", "result"} or {"index", "error"}).
  void stream_predictions(const std::string& model, const std::string& version, InferCall call,
                          const std::shared_ptr<Responder>& res) {
    const size_t n = call.inputs.size();
    res->begin_stream(200, "application/x-ndjson");
    auto left = std::make_shared<std::atomic<size_t>>(n);
    for (size_t i = 0; i < n; ++i) {
      InferCall one;
      one.inputs.push_back(std::move(call.inputs[i]));
      one.options = call.options;
      service.infer(model, version, std::move(one), res->cancelled,
                    [res, i, left](InferResult result, std::exception_ptr error) {
                      Json line{{"index", i}};
                      if (error) {
                        const auto st = classify(error);
                        line["error"] = Json{{"code", st.http}, {"type", st.type}, {"message", st.message}};
                      } else {
                        line["result"] = result.outputs.at(0);
                      }
                      res->write_chunk(line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
                      if (--*left == 0) res->end_stream();
                    });
    }
  }

  void inference(HttpRequest&& req, const std::shared_ptr<Responder>& res) {
    const auto seg = split_path(req.path);
    const std::string& m = req.method;
    Protocol protocol = Protocol::TorchServe;
    if (!seg.empty() && seg[0] == "v2") protocol = Protocol::V2;
    if (seg.size() >= 2 && seg[0] == "v1" &&
        (seg[1] == "embeddings" || seg[1] == "completions" || seg[1] == "chat" || (seg[1] == "models" && seg.size() == 2)))
      protocol = Protocol::OpenAI;
    else if (!seg.empty() && seg[0] == "v1")
      protocol = Protocol::V1;
    try {
      // Health needs no token (probes carry none).
      if (m == "GET" && seg.size() == 1 && seg[0] == "ping")
        return res->send(json_response(200, Json{{"status", "Healthy"}}));
      if (m == "GET" && seg.size() == 3 && seg[0] == "v2" && seg[1] == "health") {
        if (seg[2] == "live") return res->send(json_response(200, Json{{"live", true}}));
        if (seg[2] == "ready") {
          const bool ready = service.ready();
          return res->send(json_response(ready ? 200 : 503, Json{{"ready", ready}}));
        }
      }
      check_auth(req, Api::Inference);
      if ((m == "GET" && seg.size() == 1 && seg[0] == "api-description") || (m == "OPTIONS" && seg.empty()))
        return res->send(json_response(200, api_description()));
      // TorchServe predictions.
      if (!seg.empty() && (seg[0] == "predictions" || seg[0] == "explanations")) {
        if (seg[0] == "explanations")
          throw ServingError(Code::NotImplemented, "explanations are not supported (captum is not part of optimum-cpp)");
        if (m != "POST" && m != "PUT")
          throw ServingError(Code::MethodNotAllowed, "use POST for /predictions");
        if (seg.size() < 2 || seg.size() > 3) throw ServingError(Code::NotFound, "expected /predictions/{model}[/{version}]");
        const std::string version = seg.size() == 3 ? seg[2] : "";
        InferCall call = torchserve_call(req.header("content-type").value_or(""), req.body, 1024,
                                         task_takes_images(service.task(seg[1], version)));
        const auto accept = req.header("accept").value_or("");
        if (bool_param(req, "stream", false) || accept.find("application/x-ndjson") != std::string::npos)
          return stream_predictions(seg[1], version, std::move(call), res);
        return infer_and_send(seg[1], version, std::move(call), res, protocol,
                              [](const InferCall& c, const InferResult& r) {
                                HttpResponse out;
                                out.body = torchserve_response(c, r);
                                return out;
                              });
      }
      if (protocol == Protocol::V2) return v2(req, seg, res);
      if (protocol == Protocol::OpenAI) return openai(req, seg, res);
      if (protocol == Protocol::V1) return v1(req, seg, res);
      throw ServingError(Code::NotFound, "no route for " + m + " " + quote_untrusted(req.path));
    } catch (...) {
      send_error(res, protocol, std::current_exception());
    }
  }

  void v2(HttpRequest& req, const std::vector<std::string>& seg, const std::shared_ptr<Responder>& res) {
    const std::string& m = req.method;
    if (seg.size() == 1) {
      if (m != "GET") throw ServingError(Code::MethodNotAllowed, "use GET for /v2");
      return res->send(json_response(
          200, Json{{"name", "optimum-cpp"}, {"version", optimum::version()}, {"extensions", {"binary_tensor_data"}}}));
    }
    if (seg.size() < 3 || seg[1] != "models") throw ServingError(Code::NotFound, "no route for " + quote_untrusted(req.path));
    const std::string& model = seg[2];
    std::string version;
    size_t next = 3;
    if (seg.size() >= 5 && seg[3] == "versions") {
      version = seg[4];
      next = 5;
    }
    const std::string action = seg.size() > next ? seg[next] : "";
    if (seg.size() > next + 1) throw ServingError(Code::NotFound, "no route for " + quote_untrusted(req.path));
    if (action.empty()) {
      if (m != "GET") throw ServingError(Code::MethodNotAllowed, "use GET for model metadata");
      const auto infos = service.describe(model, version.empty() ? "all" : version);
      Json versions = Json::array();
      for (const auto& i : infos) versions.push_back(i.version);
      const auto& first = infos.at(0);
      const ModelInfo& shown = [&]() -> const ModelInfo& {
        for (const auto& i : infos)
          if (i.is_default || !version.empty()) return i;
        return first;
      }();
      return res->send(json_response(200, Json{{"name", model},
                                               {"versions", versions},
                                               {"platform", "optimum-cpp"},
                                               {"inputs", tensor_specs(shown.signature.inputs)},
                                               {"outputs", tensor_specs(shown.signature.outputs)}}));
    }
    if (action == "ready") {
      if (m != "GET") throw ServingError(Code::MethodNotAllowed, "use GET for model readiness");
      const auto info = service.describe(model, version).at(0);
      return res->send(json_response(info.ready ? 200 : 503, Json{{"name", model}, {"ready", info.ready}}));
    }
    if (action == "generate" || action == "generate_stream") {
      if (m != "POST") throw ServingError(Code::MethodNotAllowed, "use POST for " + action);
      auto engine = service.generation_model(model, version);
      const std::string resolved = service.describe(model, version).at(0).version;
      GenerateCall call = detail::oip_generate_call(req.body, model);
      return detail::serve_oip_generate(*engine, std::move(call), model, resolved, action == "generate_stream", res,
                                        [](std::exception_ptr e) { return error_response(Protocol::V2, std::move(e)); });
    }
    if (action == "infer") {
      if (m != "POST") throw ServingError(Code::MethodNotAllowed, "use POST for inference");
      std::optional<size_t> header_length;
      if (auto h = req.header("inference-header-content-length")) {
        size_t used = 0;
        unsigned long long n = 0;
        try {
          n = std::stoull(*h, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != h->size() || n > req.body.size())
          throw ServingError(Code::BadRequest, "Inference-Header-Content-Length '" + quote_untrusted(*h) +
                                                   "' is not a length within the body (" +
                                                   std::to_string(req.body.size()) + " bytes)");
        header_length = static_cast<size_t>(n);
      }
      // The model's task and resolved version, looked up once per request.
      const ModelInfo info = service.describe(model, version).at(0);
      auto request = std::make_shared<V2Request>(parse_v2_request(req.body, header_length));
      InferCall call = v2_call(*request, info.task);
      return infer_and_send(model, version, std::move(call), res, Protocol::V2,
                            [request, model, resolved = info.version, task = info.task](const InferCall&,
                                                                                       const InferResult& r) {
                              auto [body, len] = serialize_v2_response(v2_response(*request, r, model, resolved, task));
                              HttpResponse out;
                              out.body = std::move(body);
                              if (len) {
                                out.content_type = "application/octet-stream";
                                out.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*len));
                              }
                              return out;
                            });
    }
    throw ServingError(Code::NotFound, "no route for " + quote_untrusted(req.path));
  }

  void v1(HttpRequest& req, const std::vector<std::string>& seg, const std::shared_ptr<Responder>& res) {
    if (seg.size() != 3 || seg[1] != "models") throw ServingError(Code::NotFound, "no route for " + quote_untrusted(req.path));
    const std::string& last = seg[2];
    const auto colon = last.rfind(':');
    if (colon != std::string::npos) {
      const std::string model = last.substr(0, colon), verb = last.substr(colon + 1);
      if (verb != "predict") throw ServingError(Code::NotFound, "unknown verb ':" + quote_untrusted(verb) + "' (expected :predict)");
      if (req.method != "POST") throw ServingError(Code::MethodNotAllowed, "use POST for :predict");
      InferCall call = v1_call(req.body);
      return infer_and_send(model, "", std::move(call), res, Protocol::V1, [](const InferCall&, const InferResult& r) {
        HttpResponse out;
        out.body = v1_response(r);
        return out;
      });
    }
    if (req.method != "GET") throw ServingError(Code::MethodNotAllowed, "use GET for model status");
    const auto info = service.describe(last).at(0);
    return res->send(json_response(200, Json{{"name", last}, {"ready", info.ready}}));
  }

  void openai(HttpRequest& req, const std::vector<std::string>& seg, const std::shared_ptr<Responder>& res) {
    if (seg.size() == 2 && seg[1] == "models") {
      if (req.method != "GET") throw ServingError(Code::MethodNotAllowed, "use GET for /v1/models");
      Json data = Json::array();
      for (const auto& [name, url] : service.list_models())
        data.push_back(Json{{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "optimum-cpp"}});
      return res->send(json_response(200, Json{{"object", "list"}, {"data", data}}));
    }
    const bool completions = seg.size() == 2 && seg[1] == "completions";
    const bool chat = seg.size() == 3 && seg[1] == "chat" && seg[2] == "completions";
    if (completions || chat) {
      if (req.method != "POST") throw ServingError(Code::MethodNotAllowed, "use POST for " + quote_untrusted(req.path));
      GenerateCall call = openai_generate_call(req.body, chat);
      auto engine = service.generation_model(call.model);
      return detail::serve_openai_generate(*engine, std::move(call), res, [](std::exception_ptr e) {
        return error_response(Protocol::OpenAI, std::move(e));
      });
    }
    if (seg.size() != 2 || seg[1] != "embeddings")
      throw ServingError(Code::NotFound, "no route for " + req.method + " " + quote_untrusted(req.path));
    if (req.method != "POST") throw ServingError(Code::MethodNotAllowed, "use POST for /v1/embeddings");
    auto call = std::make_shared<EmbeddingsCall>(openai_embeddings_call(req.body));
    if (call->model.empty()) throw InvalidArgument("'model' is required");
    const auto info = service.describe(call->model).at(0);
    if (info.task != "text-embedding")
      throw ServingError(Code::BadRequest, "model '" + call->model + "' is a " + info.task +
                                               " model; /v1/embeddings needs a text-embedding model");
    if (call->dimensions) {
      const auto& out = info.signature.outputs.at(0);
      const int64_t dim = out.shape.size() == 2 ? out.shape[1] : -1;
      if (*call->dimensions != dim)
        throw InvalidArgument("'dimensions' " + std::to_string(*call->dimensions) + " differs from the model's " +
                              std::to_string(dim) + " (shortening embeddings is not supported)");
    }
    InferCall inner = call->call;
    return infer_and_send(call->model, "", std::move(inner), res, Protocol::OpenAI,
                          [call](const InferCall&, const InferResult& r) {
                            HttpResponse out;
                            out.body = openai_embeddings_response(*call, r);
                            return out;
                          });
  }

  // ---------------- management listener ----------------
  void management(HttpRequest&& req, const std::shared_ptr<Responder>& res) {
    try {
      check_auth(req, Api::Management);
    } catch (...) {
      return send_error(res, Protocol::TorchServe, std::current_exception());
    }
    // Loading, scaling and unloading block: they run off the I/O threads.
    auto shared = std::make_shared<HttpRequest>(std::move(req));
    management_pool.post([this, shared, res] {
      try {
        res->send(manage(*shared));
      } catch (...) {
        send_error(res, Protocol::TorchServe, std::current_exception());
      }
    });
  }

  void require_model_api() const {
    if (!service.config().enable_model_api)
      throw ServingError(Code::MethodNotAllowed,
                         "model registration and unregistration are disabled: start the server with "
                         "enable_model_api=true in config.properties (or --enable-model-api)");
  }

  HttpResponse manage(const HttpRequest& req) {
    const auto seg = split_path(req.path);
    const std::string& m = req.method;
    if ((m == "GET" && seg.size() == 1 && seg[0] == "api-description") || (m == "OPTIONS" && seg.empty()))
      return json_response(200, api_description());
    if (seg.empty() || seg[0] != "models") throw ServingError(Code::NotFound, "no route for " + m + " " + quote_untrusted(req.path));
    if (seg.size() == 1) {
      if (m == "GET") {
        const int limit = int_param(req, "limit", 100, 1, 1000);
        const int start = int_param(req, "next_page_token", 0, 0, 1 << 30);
        const auto all = service.list_models();
        Json models = Json::array();
        for (size_t i = static_cast<size_t>(start); i < all.size() && models.size() < static_cast<size_t>(limit); ++i)
          models.push_back(Json{{"modelName", all[i].first}, {"modelUrl", all[i].second}});
        Json out{{"models", models}};
        const size_t end = static_cast<size_t>(start) + models.size();
        if (end < all.size()) out["nextPageToken"] = std::to_string(end);
        return json_response(200, out);
      }
      if (m == "POST") {
        require_model_api();
        RegisterRequest r;
        r.url = req.param("url").value_or("");
        r.model_name = req.param("model_name").value_or("");
        r.handler = req.param("handler").value_or("");
        r.batch_size = opt_int_param(req, "batch_size", 1, 4096);
        r.max_batch_delay_ms = opt_int_param(req, "max_batch_delay", 0, 600000);
        r.initial_workers = opt_int_param(req, "initial_workers", 0, 64);
        r.response_timeout_s = opt_int_param(req, "response_timeout", 1, 86400);
        r.synchronous = bool_param(req, "synchronous", true);
        const auto [name, version] = service.register_model(r);
        if (!r.synchronous)
          return json_response(202, Json{{"status", "Model \"" + name + "\" Version: " + version +
                                                        " registration started; workers start when it is loaded"}});
        const auto info = service.describe(name, version).at(0);
        return json_response(200, Json{{"status", "Model \"" + name + "\" Version: " + version + " registered with " +
                                                      std::to_string(info.workers.size()) + " initial workers"}});
      }
      throw ServingError(Code::MethodNotAllowed, "use GET or POST for /models");
    }
    const std::string& name = seg[1];
    std::string version = seg.size() >= 3 ? seg[2] : "";
    if (seg.size() == 4 && seg[3] == "set-default") {
      if (m != "PUT") throw ServingError(Code::MethodNotAllowed, "use PUT for set-default");
      service.set_default_version(name, version);
      return json_response(200, Json{{"status", "Default version successfully updated for model \"" + name +
                                                    "\" to \"" + version + "\""}});
    }
    if (seg.size() > 3) throw ServingError(Code::NotFound, "no route for " + quote_untrusted(req.path));
    if (m == "GET") {
      Json out = Json::array();
      for (const auto& info : service.describe(name, version)) out.push_back(describe_json(info));
      return json_response(200, out);
    }
    if (m == "PUT") {
      const auto min_worker = opt_int_param(req, "min_worker", 0, 64);
      const auto max_worker = opt_int_param(req, "max_worker", 0, 64);
      const bool sync = bool_param(req, "synchronous", false);
      service.scale_workers(name, version, min_worker, max_worker, sync);
      const auto info = service.describe(name, version).at(0);
      if (!sync) return json_response(202, Json{{"status", "Processing worker updates..."}});
      return json_response(200, Json{{"status", "Workers scaled to " + std::to_string(info.workers.size()) +
                                                    " for model: " + name + ", version: " + info.version}});
    }
    if (m == "DELETE") {
      require_model_api();
      service.unregister_model(name, version);
      return json_response(200, Json{{"status", "Model \"" + name + "\" unregistered"}});
    }
    throw ServingError(Code::MethodNotAllowed, "use GET, PUT or DELETE for /models/{name}");
  }

  // ---------------- metrics listener ----------------
  void metrics(HttpRequest&& req, const std::shared_ptr<Responder>& res) {
    const auto seg = split_path(req.path);
    if (req.method != "GET" || seg.size() != 1 || seg[0] != "metrics") {
      return send_error(res, Protocol::TorchServe,
                        std::make_exception_ptr(ServingError(Code::NotFound, "the metrics API serves GET /metrics")));
    }
    std::vector<std::string> names;
    for (const auto& [k, v] : req.query)
      if (k == "name[]" || k == "name") names.push_back(v);
    HttpResponse out;
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    out.body = service.metrics().render(names);
    res->send(std::move(out));
  }
};

Routes::Routes(Service& service) : impl_(std::make_unique<Impl>(service)) {}
Routes::~Routes() = default;

HttpHandler Routes::inference() {
  return [impl = impl_.get()](HttpRequest&& req, std::shared_ptr<Responder> res) { impl->inference(std::move(req), res); };
}
HttpHandler Routes::management() {
  return [impl = impl_.get()](HttpRequest&& req, std::shared_ptr<Responder> res) { impl->management(std::move(req), res); };
}
HttpHandler Routes::metrics() {
  return [impl = impl_.get()](HttpRequest&& req, std::shared_ptr<Responder> res) { impl->metrics(std::move(req), res); };
}

}  // namespace optimum::serving
