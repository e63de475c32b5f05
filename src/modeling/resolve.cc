// Model id -> local folders: a local folder as it is, a Hub id through the
// cache shared with huggingface_hub (optimum/hub/hub.h). Only what loading
// needs is fetched: config, preprocessors, sentence-transformers modules and
// one set of weights (safetensors when the repository has them, else
// pytorch_model.bin), all pinned to the commit the first request resolved.
#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/hub/errors.h"
#include "optimum/hub/hub.h"
#include "optimum/hub/model_id.h"
#include "optimum/hub/settings.h"
#include "optimum/io/json.h"
#include "optimum/modeling/modeling.h"
#include "optimum/models/native_files.h"
#include "optimum/preprocessors/preprocessors.h"

namespace optimum::modeling {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSafetensors = "model.safetensors";
constexpr const char* kSafetensorsIndex = "model.safetensors.index.json";
constexpr const char* kTorch = "pytorch_model.bin";
constexpr const char* kTorchIndex = "pytorch_model.bin.index.json";

bool contains(const std::vector<std::string>& files, const std::string& name) {
  return std::find(files.begin(), files.end(), name) != files.end();
}

ResolvedModel resolve_local(const fs::path& root, const std::string& model_id, const std::string& subfolder) {
  ResolvedModel r;
  std::error_code ec;
  r.folder = safe_join(root, subfolder, "subfolder");
  if (!fs::is_directory(r.folder, ec)) {
    throw NotFound("subfolder " + quote_untrusted(subfolder) + " not found in " + model_id);
  }
  // config.json falls back to the top level, as Optimum does.
  r.config_dir = fs::exists(r.folder / "config.json", ec) ? r.folder : root;
  return r;
}

// What the first request fetches: every small file loading may read.
std::vector<std::string> metadata_patterns() {
  std::vector<std::string> out = {"config.json", "optimum_export.json", "model_index.json", kSafetensorsIndex,
                                  kTorchIndex, models::kNativeWeightsIndex};
  for (const std::string& name : preprocessors::known_files()) out.push_back(name);
  return out;
}

// The shard file names an index (model.safetensors.index.json or
// pytorch_model.bin.index.json) lists; FormatError names the file.
std::vector<std::string> index_shards(const fs::path& index) {
  const io::Json json = io::read_json(index);
  if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object()) {
    throw FormatError("invalid index " + index.string() + ": missing object field 'weight_map'");
  }
  std::vector<std::string> out;
  for (const auto& [name, shard] : json["weight_map"].items()) {
    if (!shard.is_string()) {
      throw FormatError("invalid index " + index.string() + ": weight_map[" + quote_untrusted(name) +
                        "] is not a file name");
    }
    const std::string file = shard.get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file.find("..") != std::string::npos) {
      throw FormatError("invalid index " + index.string() + ": shard name " + quote_untrusted(file) +
                        " must be a plain file name");
    }
    if (!contains(out, file)) out.push_back(file);
  }
  return out;
}

// "<path>/" for every sentence-transformers module folder modules.json names;
// InvalidArgument (safe_join) for a path that would leave the snapshot.
std::vector<std::string> module_patterns(const fs::path& folder) {
  std::vector<std::string> out;
  std::error_code ec;
  const fs::path file = folder / "modules.json";
  if (!fs::exists(file, ec)) return out;
  const io::Json modules = io::read_json(file);
  if (!modules.is_array()) return out;
  for (const io::Json& m : modules) {
    if (!m.is_object() || !m.contains("path") || !m["path"].is_string()) continue;
    const std::string path = m["path"].get<std::string>();
    safe_join(folder, path, "module path in " + file.string());
    if (!path.empty()) out.push_back(path + "/");
  }
  return out;
}

ResolvedModel resolve_hub(const std::string& model_id, const ResolveOptions& options) {
  hub::HubOptions opts;
  opts.revision = options.revision;
  opts.subfolder = options.subfolder;
  opts.cache_dir = options.cache_dir;
  if (!options.token.empty()) opts.token = options.token;
  opts.force_download = options.force_download;
  opts.local_files_only = options.local_files_only;

  // 1. Config, preprocessors and weight indexes; resolves the revision to a
  // commit (the hub layer warns about the deprecated "id@revision" form).
  const hub::Snapshot meta = hub::snapshot_download(model_id, opts, metadata_patterns());
  ResolvedModel r;
  r.repo_id = meta.repo_id;
  r.commit = meta.commit;
  r.folder = meta.folder;
  r.config_dir = meta.folder;
  // Everything after this is pinned to that commit.
  hub::HubOptions pinned = opts;
  pinned.revision = meta.commit;

  // 2. One set of weights, plus the sentence-transformers module folders.
  std::vector<std::string> extra = module_patterns(meta.folder);
  // A sentence-transformers repository may keep its Transformer module in a
  // folder of its own (0_Transformer/): those weights come with the module
  // folders, and the loader names whatever is missing.
  const bool has_module_folders = !extra.empty();
  const auto fetch = [&](std::vector<std::string> patterns) {
    patterns.insert(patterns.end(), extra.begin(), extra.end());
    extra.clear();  // fetched with the first set
    return hub::snapshot_download(r.repo_id, pinned, patterns).files;
  };
  bool found = false;
  std::error_code ec;
  if (contains(meta.files, "optimum_export.json")) {
    // A native export: its engine-layout weights under the name its record
    // gives (model.optimum-cpp.safetensors, or model.safetensors in older ones).
    const fs::path record = meta.folder / "optimum_export.json";
    const io::Json export_meta = io::read_json(record);
    std::string named;
    if (export_meta.is_object() && export_meta.contains("weights") && export_meta["weights"].is_object() &&
        export_meta["weights"].contains("file") && export_meta["weights"]["file"].is_string()) {
      named = export_meta["weights"]["file"].get<std::string>();
      if (named.empty() || named.find('/') != std::string::npos || named.find("..") != std::string::npos) {
        throw FormatError(record.string() + ": weights.file " + quote_untrusted(named) +
                          " must be a plain file name");
      }
    }
    if (!named.empty() && named.ends_with(".index.json")) {
      fetch({named});
      fetch(index_shards(meta.folder / named));
      found = true;
    } else if (!named.empty()) {
      found = contains(fetch({named}), named);
    } else if (contains(meta.files, models::kNativeWeightsIndex)) {
      fetch(index_shards(meta.folder / models::kNativeWeightsIndex));
      found = true;
    } else {
      found = contains(fetch({models::kNativeWeightsFile}), models::kNativeWeightsFile);
    }
  }
  if (found) {
    // The export's own weights are fetched.
  } else if (contains(meta.files, kSafetensorsIndex)) {
    fetch(index_shards(meta.folder / kSafetensorsIndex));
    found = true;
  } else if (contains(fetch({kSafetensors}), kSafetensors)) {
    found = true;
  } else if (contains(meta.files, kTorchIndex)) {
    fetch(index_shards(meta.folder / kTorchIndex));
    found = true;
  } else {
    found = contains(fetch({kTorch}), kTorch);
  }
  if (!found && !has_module_folders) {
    const bool offline = options.local_files_only || hub::read_hub_env().offline;
    const std::string revision = options.revision.empty() ? std::string("main") : options.revision;
    std::string where = "repository " + quote_untrusted(r.repo_id) + " at revision " +
                        quote_untrusted(revision) + " (commit " + r.commit + ")";
    if (!options.subfolder.empty()) where += ", subfolder " + quote_untrusted(options.subfolder);
    const std::string names = std::string(kSafetensors) + ", " + kSafetensorsIndex + ", " + kTorch + ", " + kTorchIndex;
    if (offline) {
      throw hub::OfflineCacheMiss("no weights of " + where + " in the cache (looked for " + names + "), and " +
                                  (options.local_files_only ? std::string("local_files_only is set")
                                                            : std::string("HF_HUB_OFFLINE is set")) +
                                  ": run once with network access to fill the cache");
    }
    throw NotFound("no weights in " + where + ": none of " + names);
  }

  // 3. A subfolder without config.json uses the repository's top-level one.
  if (!options.subfolder.empty() && !fs::exists(meta.folder / "config.json", ec)) {
    hub::HubOptions top = pinned;
    top.subfolder.clear();
    try {
      r.config_dir = hub::hf_hub_download(r.repo_id, "config.json", top).parent_path();
    } catch (const hub::EntryNotFound&) {
      // Neither has one: loading names the subfolder's missing config.json.
    }
  }
  return r;
}

}  // namespace

ResolvedModel resolve(const std::string& model_id, const ResolveOptions& options) {
  const hub::ModelId id = hub::parse_model_id(model_id);
  if (id.is_local) return resolve_local(id.local_path, model_id, options.subfolder);
  return resolve_hub(model_id, options);
}

}  // namespace optimum::modeling
