// OptimizedModel: the user-facing entry point. from_pretrained is a template
// method: resolve the id (local folder or Hub, revision, subfolder), find the
// files, pick the config folder, detect the library, load the config, decide
// whether to export, then hand over to the backend's load or export.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "optimum/exporters/export.h"
#include "optimum/hub/hub.h"
#include "optimum/modeling/export_cache.h"
#include "optimum/models/model.h"
#include "optimum/models/session.h"

namespace optimum::modeling {

using models::NamedTensors;

// Where a model comes from (the Hub part of from_pretrained's options).
struct ResolveOptions {
  std::string revision;             // branch, tag or commit; "" = main
  std::string subfolder;            // sub-folder holding the model files
  std::string cache_dir;            // "" = HF_HUB_CACHE / HF_HOME/hub
  std::string token;                // "" = HF_TOKEN / the token file
  bool force_download = false;      // ignore cached files
  bool local_files_only = false;    // never touch the network
};

// A model id made local.
struct ResolvedModel {
  std::filesystem::path folder;     // folder holding the model files (subfolder applied)
  std::filesystem::path config_dir; // folder holding config.json (falls back to the top level)
  std::string repo_id;              // "" for local folders
  std::string commit;               // resolved commit ("" for local folders)
};

// Resolves a local folder or a Hub id (org/name, or the deprecated
// org/name@revision, which warns on stderr). A Hub id is downloaded into the
// cache shared with huggingface_hub (optimum/hub/hub.h): config.json,
// preprocessors, sentence-transformers module folders and one set of weights
// (model.safetensors or its shards, else pytorch_model.bin or its shards),
// all at the commit the revision resolves to. With a subfolder that has no
// config.json, the top-level config.json is used (and fetched), as Optimum
// does. Errors are the hub layer's (optimum/hub/errors.h): unknown
// repository / revision, private repository without a token, offline cache
// miss (naming HF_HUB_OFFLINE or local_files_only), corrupt download.
ResolvedModel resolve(const std::string& model_id, const ResolveOptions& options);

// How push_to_hub uploads.
struct PushOptions {
  std::string token;                  // "" = HF_TOKEN / the token file
  bool private_repo = false;          // visibility when the repository is created
  std::string revision = "main";      // branch to commit to
  std::string commit_message = "Upload model exported with optimum-cpp";
  std::string path_in_repo;           // folder inside the repository; "" = its root
  std::string endpoint;               // "" = HF_ENDPOINT, else https://huggingface.co
};

// Uploads the files of `folder` (sub-folders kept, e.g. sentence-transformers'
// 1_Pooling/) to a Hub repository in one commit, creating the repository when
// it does not exist.
hub::CommitInfo push_folder_to_hub(const std::filesystem::path& folder, const std::string& repo_id,
                                   const PushOptions& options = {});

struct LoadOptions {
  tasks::Task task = tasks::Task::FeatureExtraction;  // head to load
  bool export_model = false;  // convert a vanilla checkpoint to the native format (cached) before loading
  // Precision of the encoder-layer Linears: "auto" (an export's own, else
  // fp32), "fp32", "bf16" or "int8". A checkpoint loaded directly packs them
  // in it (int8 quantized at load); with export_model the export is written
  // in it (accuracy guard: exporters/accuracy.h); an export written in bf16 /
  // int8 loads only as "auto" or its own dtype.
  std::string dtype = "auto";
  std::vector<std::string> calibration_texts;  // export guard inputs; empty: built-in texts
  bool strict_accuracy = false;                // export: a missed guard threshold is an error
  std::string fallback_dtype = "auto";         // export: precision of the layers the guard keeps out of dtype
  ResolveOptions hub;
  int num_threads = 0;        // 0 keeps the current setting (cores by default)
  std::string export_cache;   // "" = default_export_cache_dir() (modeling/export_cache.h)
  // text-generation of a decoder: also load a checkpoint without an lm_head
  // (a base model; its hidden states only, logits refused when run), as
  // AutoModelForCausalLM does.
  bool allow_base_model = false;
};

class OptimizedModel {
 public:
  // Loads a model: an exported folder directly, a vanilla checkpoint
  // directly (layout converted in memory) or, with export_model, through a
  // cached native export keyed by source commit and options.
  static std::shared_ptr<OptimizedModel> from_pretrained(const std::string& model_id,
                                                         const LoadOptions& options = {});
  // A model over a session already made (a decoder converted from a GGUF
  // file in memory); `source` is the file or folder it came from.
  // save_pretrained exports such a model only when `source` is a folder.
  static std::shared_ptr<OptimizedModel> from_session(std::shared_ptr<const models::Session> session,
                                                      const std::filesystem::path& source);

  // Runs the model; see EncoderModel::forward and DecoderSession for names
  // and shapes. `skip_padding`: compute attended tokens only
  // (models::EncoderInputs::skip_padding).
  NamedTensors forward(const std::map<std::string, Tensor>& inputs, bool skip_padding = false) const;

  // Writes the model in the native format (weights, config, metadata,
  // preprocessors) to `dir`.
  void save_pretrained(const std::filesystem::path& dir) const;

  // save_pretrained into a temporary folder, then push_folder_to_hub: the
  // repository then loads with from_pretrained(repo_id) like any export.
  hub::CommitInfo push_to_hub(const std::string& repo_id, const PushOptions& options = {}) const;

  std::vector<std::string> input_names() const { return model_->input_names(); }
  std::vector<std::string> output_names() const { return model_->output_names(); }
  tasks::Task task() const { return model_->task(); }
  const std::string& model_type() const { return model_->model_type(); }
  // config.json as read at load.
  const io::Json& config_json() const { return model_->config_json(); }
  bool is_decoder() const { return model_->is_decoder(); }
  // The backend session (models::EncoderModel or models::DecoderSession).
  const models::Session& session() const { return *model_; }
  // The session shared (its lifetime is the caller's too).
  std::shared_ptr<const models::Session> shared_session() const { return model_; }
  // "OptimizedModel(session=DecoderSession, task=text-generation, model_type=llama)".
  std::string describe() const;
  // The encoder's typed config; Unsupported for a decoder (see config_json()).
  const config::EncoderConfig& config() const;
  // Folder the model was loaded from (the export cache entry when exported).
  const std::filesystem::path& path() const { return path_; }
  // True when from_pretrained converted the checkpoint in this call.
  bool exported_now() const { return exported_now_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path source_;
  std::filesystem::path config_dir_;  // where config.json was read (differs from path_ for a config-less subfolder)
  bool exported_now_ = false;
  std::string dtype_ = "fp32";        // save_pretrained of a checkpoint exports in it
  std::shared_ptr<const models::Session> model_;
};

// The folder a model id loads from with `options`: the resolved folder (a
// native export, or a checkpoint when !export_model), else its export cache
// entry, exported now when missing (any architecture: encoders, decoders and
// encoder-decoders, which models::Seq2SeqModel::load then reads).
struct NativeFolder {
  std::filesystem::path folder;
  std::filesystem::path config_dir;  // where config.json is (differs for a config-less subfolder)
  bool exported_now = false;
};
NativeFolder native_folder(const std::string& model_id, const LoadOptions& options);

// Cache entry of a native export of `resolved` with these options:
// <root>/models--org--name/<dtype>-<task>-<hash> (modeling/export_cache.h).
std::filesystem::path export_cache_path(const ResolvedModel& resolved, const LoadOptions& options);

}  // namespace optimum::modeling
