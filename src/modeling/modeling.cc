#include "optimum/modeling/modeling.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/hub/model_id.h"
#include "optimum/modeling/export_cache.h"
#include "optimum/models/architecture.h"
#include "optimum/models/decoder_heads.h"
#include "optimum/preprocessors/preprocessors.h"
#include "optimum/tasks/registry.h"

namespace optimum::modeling {

namespace fs = std::filesystem;

namespace {

// FNV-1a: a stable fingerprint for cache keys (not a security boundary).
uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = digits[v & 15];
  return s;
}

// What identifies a local folder's content: names, sizes and times of its files.
std::string local_fingerprint(const fs::path& folder) {
  std::string s = fs::absolute(folder).string();
  std::error_code ec;
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const auto size = e.file_size(ec);
    const auto time = e.last_write_time(ec).time_since_epoch().count();
    entries.push_back(e.path().filename().string() + ":" + std::to_string(size) + ":" + std::to_string(time));
  }
  std::sort(entries.begin(), entries.end());
  for (const auto& e : entries) s += "|" + e;
  return s;
}

// Where a model's files come from, for the cache key: a Hub repository at a
// commit (also when given as a path inside huggingface_hub's cache, as
// SentenceTransformer passes its Transformer module), else a local folder.
struct CacheSource {
  std::string repo_id;    // "" for a local folder
  std::string commit;
  std::string subfolder;
};

// Recognizes <...>/models--org--name/snapshots/<commit>[/sub/folder].
CacheSource cache_source(const ResolvedModel& resolved, const LoadOptions& options) {
  if (!resolved.commit.empty()) return {resolved.repo_id, resolved.commit, options.hub.subfolder};
  const fs::path p = fs::absolute(resolved.folder).lexically_normal();
  std::vector<std::string> parts;
  for (const auto& c : p) parts.push_back(c.string());
  while (!parts.empty() && parts.back().empty()) parts.pop_back();
  for (size_t i = 1; i + 1 < parts.size(); ++i) {
    if (parts[i] != "snapshots" || !parts[i - 1].starts_with("models--") || parts[i - 1].size() <= 8) continue;
    CacheSource s;
    const std::string folder_name = parts[i - 1].substr(8);
    for (size_t q = 0; q < folder_name.size(); ++q) {
      if (folder_name.compare(q, 2, "--") == 0) {
        s.repo_id += '/';
        ++q;
      } else {
        s.repo_id += folder_name[q];
      }
    }
    s.commit = parts[i + 1];
    for (size_t j = i + 2; j < parts.size(); ++j) s.subfolder += (s.subfolder.empty() ? "" : "/") + parts[j];
    return s;
  }
  return {};
}

// A folder name made of [A-Za-z0-9._-] only.
std::string readable(std::string s) {
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  while (!s.empty() && s.front() == '.') s.erase(s.begin());
  return s.empty() ? std::string("model") : s.substr(0, 96);
}

bool is_native_export(const fs::path& folder) {
  std::error_code ec;
  return fs::exists(folder / models::EncoderModel::kExportFile, ec);
}

// The precision options.dtype asks for; nullopt for "auto".
std::optional<kernels::WeightType> requested_type(const LoadOptions& options) {
  if (options.dtype == "auto") return std::nullopt;
  return kernels::weight_type_from_name(options.dtype);
}

// What an export made for `options` is written in: fp32 for "auto".
std::string export_dtype(const LoadOptions& options) {
  const auto t = requested_type(options);
  return std::string(kernels::weight_type_name(t.value_or(kernels::WeightType::F32)));
}

}  // namespace

std::filesystem::path export_cache_path(const ResolvedModel& resolved, const LoadOptions& options) {
  const CacheSource src = cache_source(resolved, options);
  fs::path folder = fs::absolute(resolved.folder).lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();
  const std::string source = src.repo_id.empty() ? local_fingerprint(folder) : src.repo_id + "@" + src.commit;
  std::string calibration;
  for (const std::string& t : options.calibration_texts) calibration += t + "\n";
  const std::string task = tasks::task_name(options.task);
  const std::string dtype = export_dtype(options);
  const std::string key = source + "|task=" + task + "|dtype=" + dtype +
                          (calibration.empty() ? "" : "|calibration=" + hex(fnv1a(calibration))) +
                          (options.fallback_dtype == "auto" ? "" : "|fallback=" + options.fallback_dtype) +
                          "|subfolder=" + src.subfolder + "|tool=" + exporters::tool_version() +
                          "|layout=" + std::to_string(models::kNativeLayoutVersion);
  const fs::path root = options.export_cache.empty() ? default_export_cache_dir() : fs::path(options.export_cache);
  std::string repo;
  if (src.repo_id.empty()) {
    repo = "local--" + readable(folder.filename().string());
  } else {
    std::string flat;
    for (char c : src.repo_id) flat += c == '/' ? std::string("--") : std::string(1, c);
    repo = "models--" + readable(flat);
  }
  return root / repo / (dtype + "-" + readable(task) + "-" + hex(fnv1a(key)).substr(0, 12));
}

namespace {

// The export cache entry of `resolved` for `options`, exported now (and
// *exported_now set) when it holds no export yet.
fs::path cached_export(const std::string& model_id, const ResolvedModel& resolved, const LoadOptions& options,
                       bool* exported_now) {
  const fs::path cached = export_cache_path(resolved, options);
  if (is_native_export(cached)) {
    touch_export_cache_entry(cached);
    return cached;
  }
  exporters::ExportOptions eo;
  eo.task = tasks::task_name(options.task);
  eo.dtype = export_dtype(options);
  eo.calibration_texts = options.calibration_texts;
  eo.strict_accuracy = options.strict_accuracy;
  eo.fallback_dtype = options.fallback_dtype;
  const CacheSource src = cache_source(resolved, options);
  eo.source_id = src.repo_id.empty() ? model_id : src.repo_id;
  eo.source_commit = src.commit;
  eo.revision = options.hub.revision;
  eo.subfolder = options.hub.subfolder;
  eo.config_dir = resolved.config_dir;
  exporters::export_native(resolved.folder, cached, eo);
  if (exported_now != nullptr) *exported_now = true;
  return cached;
}

}  // namespace

NativeFolder native_folder(const std::string& model_id, const LoadOptions& options) {
  const ResolvedModel resolved = resolve(model_id, options.hub);
  models::register_architectures();
  tasks::check_loadable(resolved.config_dir);
  NativeFolder out;
  if (is_native_export(resolved.folder) || !options.export_model) {
    out.folder = resolved.folder;
    out.config_dir = resolved.config_dir;
    return out;
  }
  out.folder = cached_export(model_id, resolved, options, &out.exported_now);
  out.config_dir = out.folder;
  return out;
}

std::shared_ptr<OptimizedModel> OptimizedModel::from_pretrained(const std::string& model_id,
                                                                const LoadOptions& options) {
  if (options.num_threads > 0) set_num_threads(options.num_threads);
  const std::optional<kernels::WeightType> compute = requested_type(options);  // an unknown dtype fails first
  // 1-2. Id resolution (path normalization, revision parsing, download) and file discovery.
  const ResolvedModel resolved = resolve(model_id, options.hub);
  models::register_architectures();
  // 3-4. Library detection and config loading (refuses timm, diffusers, remote code): config.json is
  // read here, once, and handed to the backend's load.
  const fs::path config_file = resolved.config_dir / "config.json";
  std::error_code exists_ec;
  if (!fs::exists(config_file, exists_ec)) tasks::check_loadable(resolved.config_dir);  // diffusers, timm...
  io::Json config_json = io::read_json(config_file);
  tasks::check_loadable(resolved.config_dir, config_json);
  if (config_json.is_object() && config_json.contains("model_type") && config_json["model_type"].is_string()) {
    const models::Architecture* a = models::find_architecture(config_json["model_type"].get<std::string>());
    if (a != nullptr && a->is_seq2seq()) {
      throw Unsupported("model_type '" + a->model_type + "' (" + model_id +
                        ") is an encoder-decoder: load it with AutoModelForSeq2SeqLM or the text2text-generation, "
                        "summarization and translation pipelines");
    }
  }
  auto m = std::make_shared<OptimizedModel>();
  m->source_ = resolved.folder;
  m->config_dir_ = resolved.config_dir;
  m->dtype_ = export_dtype(options);
  // 5. Export decision.
  if (is_native_export(resolved.folder) || !options.export_model) {
    m->path_ = resolved.folder;
  } else {
    m->path_ = cached_export(model_id, resolved, options, &m->exported_now_);
    m->config_dir_ = m->path_;
    config_json = io::read_json(m->path_ / "config.json");  // the export's own
  }
  // 6. The backend's load (native CPU engine), in the requested precision: the decoder heads for a
  // decoder entry of the architecture registry, else the encoder engine (whose config parse names an
  // unsupported model_type).
  const std::string source = (m->config_dir_ / "config.json").string();
  const models::Architecture* arch = nullptr;
  if (config_json.is_object() && config_json.contains("model_type") && config_json["model_type"].is_string()) {
    arch = models::find_architecture(config_json["model_type"].get<std::string>());
  }
  if (options.task == tasks::Task::TextGeneration && (arch == nullptr || !arch->is_decoder())) {
    // Only the causal decoders have a text-generation head.
    std::string type = "?";
    if (config_json.is_object() && config_json.contains("model_type") && config_json["model_type"].is_string()) {
      type = config_json["model_type"].get<std::string>();
    }
    std::string list;
    for (const std::string& t : models::decoder_model_types()) list += (list.empty() ? "" : ", ") + t;
    throw Unsupported(source + ": model_type '" + type + "' is not a supported causal decoder for text-generation (supported: " + list + ")");
  }
  if (arch != nullptr && arch->is_decoder()) {
    models::DecoderLoadOptions dlo;
    dlo.compute = compute.value_or(kernels::WeightType::F32);
    m->model_ = models::DecoderSession::load(m->path_, config_json, options.task, dlo, options.allow_base_model);
  } else {
    m->model_ = models::EncoderModel::load(m->path_, options.task, config::parse_config(config_json, source), compute);
  }
  return m;
}

std::shared_ptr<OptimizedModel> OptimizedModel::from_session(std::shared_ptr<const models::Session> session,
                                                            const fs::path& source) {
  if (!session) throw InvalidArgument("OptimizedModel::from_session: no session");
  auto m = std::make_shared<OptimizedModel>();
  m->path_ = m->source_ = m->config_dir_ = source;
  m->model_ = std::move(session);
  return m;
}

std::string OptimizedModel::describe() const {
  return std::string("OptimizedModel(session=") + model_->session_type() + ", task=" + tasks::task_name(task()) +
         ", model_type=" + model_type() + ")";
}

NamedTensors OptimizedModel::forward(const std::map<std::string, Tensor>& inputs, bool skip_padding) const {
  models::RunOptions run;
  run.skip_padding = skip_padding;
  return model_->run(inputs, run);
}

const config::EncoderConfig& OptimizedModel::config() const {
  const auto* encoder = dynamic_cast<const models::EncoderModel*>(model_.get());
  if (encoder == nullptr) {
    throw Unsupported("model_type '" + model_->model_type() +
                      "' is a decoder: it has no encoder config (read config_json())");
  }
  return encoder->config();
}

void OptimizedModel::save_pretrained(const fs::path& dir) const {
  if (is_native_export(path_)) {
    fs::create_directories(dir);
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(path_)) {
      if (!e.is_regular_file()) continue;
      const fs::path target = dir / fs::relative(e.path(), path_);
      fs::create_directories(target.parent_path());
      fs::copy_file(e.path(), target, fs::copy_options::overwrite_existing, ec);
      if (ec) throw IoError("cannot copy " + e.path().string() + " to " + target.string() + ": " + ec.message());
    }
    exporters::upgrade_export_folder(dir);  // an older export is written with today's names and card
    return;
  }
  exporters::ExportOptions eo;
  eo.task = tasks::task_name(model_->task());
  eo.config_dir = config_dir_;
  eo.dtype = dtype_;
  exporters::export_native(path_, dir, eo);
}

hub::CommitInfo push_folder_to_hub(const fs::path& folder, const std::string& repo_id, const PushOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw NotFound("cannot push " + folder.string() + ": not a folder");
  hub::UploadOptions uo;
  if (!options.token.empty()) uo.token = options.token;
  uo.private_repo = options.private_repo;
  uo.revision = options.revision.empty() ? std::string("main") : options.revision;
  uo.commit_message = options.commit_message;
  uo.path_in_repo = options.path_in_repo;
  uo.endpoint = options.endpoint;
  return hub::upload_folder(repo_id, folder, uo);
}

namespace {

// A fresh folder under the system temp folder, removed with its content on scope exit.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "optimum-cpp-push-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw IoError(errno_message("cannot create a folder in " + pattern));
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

hub::CommitInfo OptimizedModel::push_to_hub(const std::string& repo_id, const PushOptions& options) const {
  hub::validate_repo_id(repo_id);  // before any export work
  ScratchDir scratch;
  save_pretrained(scratch.path() / "model");
  return push_folder_to_hub(scratch.path() / "model", repo_id, options);
}

}  // namespace optimum::modeling
