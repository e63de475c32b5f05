#include "optimum/serving/service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <iostream>
#include <list>
#include <regex>
#include <set>
#include <thread>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/generation/language_model.h"
#include "optimum/hub/hub.h"
#include "optimum/pipelines/pipeline.h"
#include "optimum/pipelines/text_generation.h"
#include "optimum/serving/archive.h"
#include "optimum/serving/metrics.h"
#include "optimum/serving/protocol.h"
#include "optimum/serving/status.h"
#include "scheduler.h"

namespace optimum::serving {

namespace fs = std::filesystem;
using detail::Clock;
using detail::Request;
using detail::ServedModel;

struct Service::State {
  mutable std::mutex mutex;
  struct Versions {
    std::map<std::string, std::shared_ptr<ServedModel>> versions;
    std::string default_version;
  };
  std::map<std::string, Versions> models;
  std::map<std::string, std::string> loading;  // "name/version" -> url, while an asynchronous load runs
  std::map<std::string, fs::path> extracted;   // "name/version" -> its extracted archive, removed on unregister
  std::set<std::string> downloading;           // archive names being downloaded into the model store
  std::unique_ptr<detail::ThreadPool> pool;      // tokenize / post-process
  std::unique_ptr<detail::ThreadPool> loader;    // asynchronous registrations
  // Requests in flight, for timeouts and cancellations.
  std::mutex inflight_mutex;
  std::list<std::weak_ptr<Request>> inflight;
  std::thread watchdog;
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping = false;
  fs::path work_dir;  // extracted archives (the server's own scratch space)
  std::atomic<uint64_t> counter{0};

  std::shared_ptr<ServedModel> find(const std::string& name, const std::string& version) const {
    std::lock_guard lock(mutex);
    auto it = models.find(name);
    if (it == models.end()) throw ServingError(Code::NotFound, "Model not found: " + name);
    const std::string& v = version.empty() ? it->second.default_version : version;
    auto vit = it->second.versions.find(v);
    if (vit == it->second.versions.end())
      throw ServingError(Code::NotFound, "Model version not found: " + name + " version " + version);
    return vit->second;
  }
};

namespace {

// Model names appear in URLs, file names and metric labels.
void check_model_name(const std::string& name) {
  static const std::regex ok("[A-Za-z0-9][A-Za-z0-9_.\\-]{0,127}");
  if (!std::regex_match(name, ok))
    throw ServingError(Code::BadRequest, "invalid model name '" + quote_untrusted(name) +
                                             "': letters, digits, '_', '-' and '.' only (at most 128)");
}

void check_version(const std::string& version) {
  static const std::regex ok("[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}");
  if (!std::regex_match(version, ok))
    throw ServingError(Code::BadRequest, "invalid model version '" + quote_untrusted(version) + "'");
}

bool is_archive_file(const fs::path& p) {
  const std::string s = p.filename().string();
  auto ends = [&](const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".mar") || ends(".tar.gz") || ends(".tgz") || ends(".zip");
}

std::string archive_stem(const fs::path& p) {
  std::string s = p.filename().string();
  for (const std::string suffix : {".tar.gz", ".tgz", ".mar", ".zip"}) {
    if (s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0)
      return s.substr(0, s.size() - suffix.size());
  }
  return s;
}

// Over-long names are the client's error (400), not a file-system failure (500).
void check_path_lengths(const fs::path& p, const std::string& url) {
  constexpr size_t kNameMax = 255, kPathMax = 4095;
  bool ok = p.native().size() <= kPathMax;
  for (const auto& part : p) ok = ok && part.native().size() <= kNameMax;
  if (!ok)
    throw ServingError(Code::BadRequest, "url '" + quote_untrusted(url) + "' names a path longer than the file system allows (" +
                                             std::to_string(kNameMax) + " bytes a name, " + std::to_string(kPathMax) +
                                             " in all)");
}

bool inside(const fs::path& root, const fs::path& p) {
  const fs::path r = fs::weakly_canonical(root), q = fs::weakly_canonical(p);
  auto ri = r.begin(), qi = q.begin();
  for (; ri != r.end(); ++ri, ++qi)
    if (qi == q.end() || *ri != *qi) return false;
  return true;
}

// The task of a handler name (ours or TorchServe's); "" stays "" (inferred later).
std::string task_of_handler(const std::string& handler) {
  if (handler.empty()) return handler;
  try {
    return check_handler(handler);
  } catch (const Error& e) {
    throw ServingError(Code::BadRequest, e.what());
  }
}

// A text-generation model loaded once for both of its front ends: the
// TorchServe pipeline and the continuous-batching engine of the OpenAI and
// OIP generate routes. The handler section may name the GGUF file
// (`gguf_file`; a folder without config.json holding one .gguf file needs
// none) and the precision (`dtype`: fp32, bf16, int8); its other keys are
// the pipeline's call defaults.
struct TextGenerationLoad {
  std::shared_ptr<const pipelines::Pipeline> pipeline;
  std::shared_ptr<detail::GenerationModel> engine;
};

TextGenerationLoad load_text_generation(const std::string& name, const std::string& version, const fs::path& model_dir,
                                        const ModelConfig& cfg, Metrics* metrics) {
  io::Json defaults = cfg.handler.is_object() ? cfg.handler : io::Json::object();
  generation::LanguageModelOptions lo;
  auto take_string = [&](const char* key) -> std::optional<std::string> {
    if (!defaults.contains(key)) return std::nullopt;
    if (!defaults[key].is_string())
      throw ServingError(Code::BadRequest, "model " + name + ": handler option '" + key + "' must be a string");
    std::string v = defaults[key].get<std::string>();
    defaults.erase(key);
    return v;
  };
  if (auto g = take_string("gguf_file")) {
    check_relative_path(*g, "handler option gguf_file");
    lo.gguf_file = *g;
  } else if (!fs::exists(model_dir / "config.json")) {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(model_dir))
      if (e.path().extension() == ".gguf") found.push_back(e.path().filename().string());
    if (found.size() > 1)
      throw ServingError(Code::BadRequest, "model " + name + ": the folder holds " + std::to_string(found.size()) +
                                               " .gguf files; name one with handler option gguf_file");
    if (found.size() == 1) lo.gguf_file = found[0];
  }
  if (auto d = take_string("dtype")) lo.dtype = *d;
  auto lm = generation::LanguageModel::from_pretrained(model_dir.string(), lo);
  TextGenerationLoad out;
  out.pipeline = pipelines::text_generation_pipeline(lm, defaults);
  detail::TextGenerationBackend backend;
  backend.model = lm->causal_lm();
  backend.defaults = lm->generation_config();
  backend.encode = [lm](const std::string& text) { return lm->encode(text, true); };
  backend.encode_rendered = [lm](const std::string& text) { return lm->encode(text, false); };
  backend.decode = [lm](const std::vector<int64_t>& ids) { return lm->decode(ids, true); };
  if (lm->chat_template()) {
    backend.render_chat = [lm](const io::Json& messages, const io::Json& tools, const io::Json& template_kwargs,
                               bool add_generation_prompt, bool continue_final_message) {
      io::OrderedJson kwargs = io::OrderedJson::parse(template_kwargs.is_object() ? template_kwargs.dump() : "{}");
      if (!tools.is_null()) kwargs["tools"] = io::OrderedJson::parse(tools.dump());
      return lm->apply_chat_template(io::OrderedJson::parse(messages.dump()), add_generation_prompt, kwargs,
                                     continue_final_message);
    };
  }
  detail::GenerationModel::Options go;
  go.slots = cfg.max_num_sequence > 0 ? cfg.max_num_sequence : cfg.batch_size > 1 ? cfg.batch_size : 8;
  if (cfg.max_sequence_length > 0) go.capacity = cfg.max_sequence_length;
  go.max_queue = static_cast<size_t>(std::max(cfg.job_queue_size, 1));
  out.engine = std::make_shared<detail::GenerationModel>(name, version, std::move(backend), go, metrics);
  return out;
}

// Runs `work` on a thread of its own and waits for it, rethrowing its error.
// Loading runs parallel regions (weight packing, validation): libgomp keeps
// the OpenMP team of the thread that ran them until that thread exits, and a
// team left on the main or loader thread counts against the CPUs. Past that
// count libgomp stops spinning between parallel regions (its throttled spin
// count), and the serving workers' forwards then sleep and wake their team
// at every region: about 40 futex wake-ups per MiniLM request, 1.2 ms at one
// client on 2 cores. The thread's exit releases its team.
void run_on_own_thread(const std::function<void()>& work) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

Service::Service(ServerConfig config)
    : config_(std::move(config)),
      auth_(std::make_unique<Auth>(!config_.disable_token_authorization, config_.key_file)),
      metrics_(std::make_unique<Metrics>()),
      state_(std::make_unique<State>()) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  state_->pool = std::make_unique<detail::ThreadPool>(std::max(2u, cores / 2));
  state_->loader = std::make_unique<detail::ThreadPool>(1);
  state_->work_dir = fs::temp_directory_path() / ("optimum-cpp-serve-" + std::to_string(getpid()));
  fs::remove_all(state_->work_dir);
  fs::create_directories(state_->work_dir);
  fs::permissions(state_->work_dir, fs::perms::owner_all, fs::perm_options::replace);
  state_->watchdog = std::thread([s = state_.get(), this] {
    std::unique_lock stop_lock(s->stop_mutex);
    while (!s->stopping) {
      s->stop_cv.wait_for(stop_lock, std::chrono::milliseconds(20));
      const auto now = Clock::now();
      std::vector<std::shared_ptr<ServedModel>> all;
      {
        std::lock_guard lock(s->mutex);
        for (auto& [name, v] : s->models)
          for (auto& [ver, m] : v.versions) all.push_back(m);
      }
      for (auto& m : all) m->reap(now);
      std::vector<std::shared_ptr<Request>> expired, cancelled;
      {
        std::lock_guard lock(s->inflight_mutex);
        for (auto it = s->inflight.begin(); it != s->inflight.end();) {
          auto r = it->lock();
          if (!r || r->finished.load()) {
            it = s->inflight.erase(it);
            continue;
          }
          if (r->cancelled && r->cancelled->load()) {
            cancelled.push_back(r);
          } else if (now >= r->deadline) {
            expired.push_back(r);
          }
          ++it;
        }
      }
      for (auto& r : cancelled)
        r->fail(std::make_exception_ptr(
            ServingError(Code::ClientClosedRequest, "the client closed the connection before the answer")));
      for (auto& r : expired)
        r->fail(std::make_exception_ptr(ServingError(
            Code::GatewayTimeout, "model " + r->model + " did not answer within its response timeout")));
    }
  });
}

Service::~Service() {
  shutdown();
  {
    std::lock_guard lock(state_->stop_mutex);
    state_->stopping = true;
  }
  state_->stop_cv.notify_all();
  if (state_->watchdog.joinable()) state_->watchdog.join();
  state_->loader.reset();
  state_->pool.reset();
  std::error_code ec;
  fs::remove_all(state_->work_dir, ec);
}

void Service::shutdown() {
  std::vector<std::shared_ptr<ServedModel>> all;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& [name, v] : state_->models)
      for (auto& [ver, m] : v.versions) all.push_back(m);
    state_->models.clear();
  }
  for (auto& m : all) m->stop("shutting down");
}

std::pair<std::string, std::string> Service::register_model(const RegisterRequest& request) {
  if (request.url.empty()) throw ServingError(Code::BadRequest, "Parameter url is required.");
  const fs::path store = config_.model_store;
  fs::path source;
  // What a failed registration wrote goes with it: the download, the extraction.
  struct Cleanup {
    fs::path download, extraction;
    ~Cleanup() {
      std::error_code ec;
      if (!download.empty()) fs::remove(download, ec);
      if (!extraction.empty()) fs::remove_all(extraction, ec);
    }
  } cleanup;
  const std::string& url = request.url;
  auto allowed = [&](const std::string& u) {
    for (const auto& pattern : config_.allowed_urls) {
      try {
        if (std::regex_match(u, std::regex(pattern))) return true;
      } catch (const std::regex_error&) {
        throw ServingError(Code::Internal, "allowed_urls pattern '" + pattern + "' is not a valid regular expression");
      }
    }
    return false;
  };
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    if (!allowed(url))
      throw ServingError(Code::Forbidden, "URL '" + quote_untrusted(url) +
                                              "' is not allowed: registration by URL is limited to allowed_urls "
                                              "(default: the model store only)");
    if (store.empty()) throw ServingError(Code::BadRequest, "no model store to download into (--model-store)");
    // The last path segment names the archive in the model store.
    std::string path = url.substr(url.find("://") + 3);
    path = path.substr(0, path.find_first_of("?#"));
    const std::string base = path.substr(path.find_last_of('/') + 1);
    if (base.empty() || !is_archive_file(base) || base[0] == '.')
      throw ServingError(Code::BadRequest, "URL '" + quote_untrusted(url) +
                                               "' must name an archive file (.mar, .tar.gz, .tgz)");
    check_relative_path(base, "url");
    source = store / base;
    check_path_lengths(source, url);
    // One download per archive name at a time: the others are 409 (they would
    // share the .part file, and a failing one would remove the winner's archive).
    {
      std::lock_guard lock(state_->mutex);
      if (fs::exists(source) || !state_->downloading.insert(base).second)
        throw ServingError(Code::Conflict, "Model archive file already exists in the model store: " + base);
    }
    struct Unreserve {
      State& state;
      std::string name;
      ~Unreserve() {
        std::lock_guard lock(state.mutex);
        state.downloading.erase(name);
      }
    } unreserve{*state_, base};
    try {
      hub::download_url(url, source, ArchiveLimits{}.max_total_bytes);
      cleanup.download = source;
    } catch (const Error& e) {
      throw ServingError(Code::BadRequest, std::string("Failed to download archive from: ") + e.what());
    }
  } else if (url.rfind("file://", 0) == 0) {
    source = url.substr(7);
    check_path_lengths(source, url);
    if (!(allowed(url) || (!store.empty() && inside(store, source))))
      throw ServingError(Code::Forbidden, "URL '" + quote_untrusted(url) + "' is outside the model store and allowed_urls");
  } else if (url.find("://") != std::string::npos) {
    throw ServingError(Code::BadRequest, "URL scheme of '" + quote_untrusted(url) + "' is not supported (http, https, file, or a model store name)");
  } else {
    if (store.empty()) throw ServingError(Code::BadRequest, "no model store configured (--model-store)");
    try {
      check_relative_path(url, "url");
    } catch (const Error& e) {
      throw ServingError(Code::BadRequest, e.what());
    }
    source = store / url;
    check_path_lengths(source, url);
    if (!inside(store, source))
      throw ServingError(Code::Forbidden, "url '" + quote_untrusted(url) + "' resolves outside the model store");
  }
  if (!fs::exists(source)) throw ServingError(Code::NotFound, "Model not found in model store: " + quote_untrusted(url));

  // Validate and extract (archives), or take a model folder as it is.
  fs::path model_dir;
  std::string name = request.model_name, version = "1.0", task = task_of_handler(request.handler);
  ModelConfig cfg;
  cfg.min_workers = cfg.max_workers = config_.default_workers_per_model;
  cfg.response_timeout_s = config_.default_response_timeout;
  cfg.job_queue_size = static_cast<int>(std::min<size_t>(config_.job_queue_size, 1u << 30));
  const bool archive = is_archive_file(source) || fs::exists(source / "MAR-INF" / "MANIFEST.json");
  if (archive) {
    const fs::path dest = state_->work_dir / (archive_stem(source) + "-" + std::to_string(++state_->counter));
    ExtractedArchive x;
    try {
      x = open_archive(source, dest);
    } catch (const Error& e) {
      throw ServingError(Code::BadRequest, e.what());
    }
    cleanup.extraction = dest;
    model_dir = x.model_dir;
    if (name.empty()) name = x.manifest.model_name;
    if (!x.manifest.model_version.empty()) version = x.manifest.model_version;
    if (task.empty()) task = task_of_handler(x.manifest.handler);
    if (x.config) {
      const int keep_queue = cfg.job_queue_size;
      cfg = *x.config;
      if (x.config->job_queue_size == ModelConfig{}.job_queue_size) cfg.job_queue_size = keep_queue;
    }
  } else {
    if (!fs::is_directory(source))
      throw ServingError(Code::BadRequest, "'" + quote_untrusted(url) + "' is neither a model archive nor a model folder");
    model_dir = source;
    if (name.empty()) name = source.filename().string();
    // A model folder may carry its model-config.yaml as an archive does.
    if (fs::exists(model_dir / "model-config.yaml")) {
      const int keep_queue = cfg.job_queue_size;
      try {
        cfg = ModelConfig::from_yaml_file(model_dir / "model-config.yaml");
      } catch (const Error& e) {
        throw ServingError(Code::BadRequest, e.what());
      }
      if (cfg.job_queue_size == ModelConfig{}.job_queue_size) cfg.job_queue_size = keep_queue;
    }
  }
  check_model_name(name);
  check_version(version);
  if (task.empty()) {
    try {
      task = default_handler(model_dir);
    } catch (const Error& e) {
      throw ServingError(Code::BadRequest, std::string("cannot tell the model's task (give handler=...): ") + e.what());
    }
  }
  if (request.batch_size) cfg.batch_size = *request.batch_size;
  if (request.max_batch_delay_ms) cfg.max_batch_delay_ms = *request.max_batch_delay_ms;
  if (request.response_timeout_s) cfg.response_timeout_s = *request.response_timeout_s;
  if (request.initial_workers) cfg.min_workers = *request.initial_workers;
  cfg.max_workers = std::max(cfg.max_workers, cfg.min_workers);
  try {
    cfg.validate(name);
  } catch (const Error& e) {
    throw ServingError(Code::BadRequest, e.what());
  }
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->models.find(name);
    if ((it != state_->models.end() && it->second.versions.count(version)) ||
        state_->loading.count(name + "/" + version))
      throw ServingError(Code::Conflict, "Model version " + version + " for model " + name + " is already registered.");
    state_->loading[name + "/" + version] = url;
  }

  const fs::path extraction = cleanup.extraction;
  auto load_now = [this, name, version, task, cfg, model_dir, url, extraction] {
    try {
      pipelines::PipelineOptions opts;
      opts.defaults = cfg.handler.is_object() ? cfg.handler : io::Json::object();
      opts.load.num_threads = 0;
      std::shared_ptr<const pipelines::Pipeline> pipe;
      std::shared_ptr<detail::GenerationModel> engine;
      if (task == "text-generation") {
        auto loaded = load_text_generation(name, version, model_dir, cfg, metrics_.get());
        pipe = std::move(loaded.pipeline);
        engine = std::move(loaded.engine);
      } else {
        pipe = pipelines::pipeline(task, model_dir.string(), opts);
      }
      ModelInfo identity;
      identity.name = name;
      identity.version = version;
      identity.url = url;
      identity.task = pipe->task();
      identity.config = cfg;
      identity.signature = task_signature(identity.task, pipe->embedding_dimension());
      auto model = std::make_shared<ServedModel>(identity, pipe, *metrics_, *state_->pool);
      if (engine) model->set_generation(std::move(engine));
      model->scale(cfg.min_workers, cfg.max_workers);
      std::lock_guard lock(state_->mutex);
      state_->loading.erase(name + "/" + version);
      if (!extraction.empty()) state_->extracted[name + "/" + version] = extraction;
      auto& v = state_->models[name];
      v.versions[version] = model;
      if (v.default_version.empty()) v.default_version = version;
    } catch (...) {
      std::lock_guard lock(state_->mutex);
      state_->loading.erase(name + "/" + version);
      throw;
    }
  };
  // Loading runs on a short-lived thread (run_on_own_thread says why).
  auto load = [load_now] { run_on_own_thread(load_now); };
  if (request.synchronous) {
    try {
      load();
    } catch (const ServingError&) {
      throw;
    } catch (const Error& e) {
      throw ServingError(Code::BadRequest, "Failed to load model " + name + ": " + e.what());
    }
  } else {
    state_->loader->post([load, name, extraction] {
      try {
        load();
      } catch (const std::exception& e) {
        std::cerr << "serving: loading model " << name << " failed: " << e.what() << "\n";
        std::error_code ec;
        if (!extraction.empty()) fs::remove_all(extraction, ec);
      }
    });
  }
  cleanup.download.clear();
  cleanup.extraction.clear();
  return {name, version};
}

void Service::unregister_model(const std::string& name, const std::string& version) {
  std::shared_ptr<ServedModel> model;
  fs::path extraction;
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->models.find(name);
    if (it == state_->models.end()) throw ServingError(Code::NotFound, "Model not found: " + name);
    auto& v = it->second;
    const std::string ver = version.empty() ? v.default_version : version;
    auto vit = v.versions.find(ver);
    if (vit == v.versions.end())
      throw ServingError(Code::NotFound, "Model version not found: " + name + " version " + version);
    if (!version.empty() && ver == v.default_version && v.versions.size() > 1)
      throw ServingError(Code::Forbidden, "Cannot remove default version " + ver + " for model " + name);
    model = vit->second;
    if (auto x = state_->extracted.find(name + "/" + ver); x != state_->extracted.end()) {
      extraction = x->second;
      state_->extracted.erase(x);
    }
    v.versions.erase(vit);
    if (v.versions.empty()) {
      state_->models.erase(it);
    } else if (ver == v.default_version) {
      v.default_version = v.versions.rbegin()->first;
    }
  }
  model->stop("unregistered");
  // The extracted archive goes with the model (register/unregister cycles do not fill the disk).
  std::error_code ec;
  if (!extraction.empty()) fs::remove_all(extraction, ec);
}

void Service::scale_workers(const std::string& name, const std::string& version, std::optional<int> min_worker,
                            std::optional<int> max_worker, bool /*synchronous*/) {
  auto model = state_->find(name, version);
  const int lo = min_worker.value_or(1);
  if (max_worker && *max_worker < lo)
    throw ServingError(Code::BadRequest, "max_worker (" + std::to_string(*max_worker) + ") cannot be less than min_worker (" +
                                             std::to_string(lo) + ")");
  const int hi = max_worker.value_or(std::max(lo, model->config().max_workers));
  model->scale(lo, std::max(hi, lo));
}

void Service::set_default_version(const std::string& name, const std::string& version) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->models.find(name);
  if (it == state_->models.end()) throw ServingError(Code::NotFound, "Model not found: " + name);
  if (!it->second.versions.count(version))
    throw ServingError(Code::NotFound, "Model version not found: " + name + " version " + version);
  it->second.default_version = version;
}

std::vector<ModelInfo> Service::describe(const std::string& name, const std::string& version) const {
  std::vector<std::shared_ptr<ServedModel>> picked;
  std::string def;
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->models.find(name);
    if (it == state_->models.end()) throw ServingError(Code::NotFound, "Model not found: " + name);
    def = it->second.default_version;
    if (version.empty() || version == "all") {
      for (auto& [v, m] : it->second.versions)
        if (version == "all" || v == def) picked.push_back(m);
    } else {
      auto vit = it->second.versions.find(version);
      if (vit == it->second.versions.end())
        throw ServingError(Code::NotFound, "Model version not found: " + name + " version " + version);
      picked.push_back(vit->second);
    }
  }
  std::vector<ModelInfo> out;
  for (auto& m : picked) {
    out.push_back(m->info());
    out.back().is_default = out.back().version == def;
  }
  return out;
}

std::string Service::task(const std::string& name, const std::string& version) const {
  return state_->find(name, version)->task();
}

std::vector<std::pair<std::string, std::string>> Service::list_models() const {
  std::lock_guard lock(state_->mutex);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [name, v] : state_->models) {
    auto it = v.versions.find(v.default_version);
    out.emplace_back(name, it == v.versions.end() ? "" : it->second->info().url);
  }
  return out;
}

bool Service::ready() const {
  std::lock_guard lock(state_->mutex);
  if (!state_->loading.empty()) return false;
  for (auto& [name, v] : state_->models)
    for (auto& [ver, m] : v.versions)
      if (!m->ready()) return false;
  return true;
}

void Service::infer(const std::string& name, const std::string& version, InferCall call, CancelFlag cancelled,
                    Done done) {
  auto request = std::make_shared<Request>();
  request->model = name;
  request->version = version;
  request->start = Clock::now();
  request->done = std::move(done);
  request->cancelled = std::move(cancelled);
  try {
    auto model = state_->find(name, version);
    request->metrics = metrics_.get();  // only registered models get metrics (no label from a client's typo)
    request->version = model->version();
    request->deadline = request->start + std::chrono::seconds(std::max(model->config().response_timeout_s, 1));
    request->call = std::move(call);
    // Whatever the protocol, an image model gets image bytes, never a string it would read as a file path.
    if (task_takes_images(model->task())) image_inputs(request->call, model->task());
    if (request->call.inputs.size() > config_.job_queue_size)
      throw ServingError(Code::PayloadTooLarge, "the request has " + std::to_string(request->call.inputs.size()) +
                                                    " inputs, more than job_queue_size (" +
                                                    std::to_string(config_.job_queue_size) + ")");
    {
      std::lock_guard lock(state_->inflight_mutex);
      state_->inflight.push_back(request);
    }
    model->submit(request);
  } catch (...) {
    request->fail(std::current_exception());
  }
}

std::shared_ptr<detail::GenerationModel> Service::generation_model(const std::string& name, const std::string& version) {
  auto model = state_->find(name, version);
  if (!model->generation())
    throw ServingError(Code::BadRequest, "model '" + name + "' is a " + model->info().task +
                                             " model; the generation routes need a text-generation model");
  return model->generation();
}

InferResult Service::infer_sync(const std::string& name, const std::string& version, InferCall call) {
  std::promise<InferResult> promise;
  auto future = promise.get_future();
  infer(name, version, std::move(call), nullptr, [&promise](InferResult r, std::exception_ptr e) {
    if (e) {
      promise.set_exception(e);
    } else {
      promise.set_value(std::move(r));
    }
  });
  return future.get();
}

}  // namespace optimum::serving
