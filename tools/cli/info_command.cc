// `info`: a model's configuration and supported tasks as JSON, from a local
// folder or a Hub id (only config.json and optimum_export.json are fetched).
#include <iostream>
#include <memory>

#include "optimum/io/json.h"  // nlohmann::json with the project's JSON_DIAGNOSTICS setup

#include "cli_support.h"
#include "commands.h"
#include "optimum/config/config.h"
#include "optimum/core/errors.h"
#include "optimum/hub/hub.h"
#include "optimum/models/architecture.h"

namespace optimum::cli {

namespace {

struct InfoArgs {
  std::string model;
  hub::HubOptions hub;
  std::string token;
  std::string cache_dir;
};

void run_info(InfoArgs& a) {
  const std::string id = check_local_path(a.model, "--model");
  if (!a.token.empty()) a.hub.token = a.token;
  if (!a.cache_dir.empty()) a.hub.cache_dir = a.cache_dir;
  const hub::Snapshot snap = hub::snapshot_download(id, a.hub, {"config.json", "optimum_export.json"});
  const std::filesystem::path config_file = snap.folder / "config.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(config_file, ec)) {
    throw NotFound((snap.is_local ? "folder '" + snap.folder.string() + "'" : "repository '" + snap.repo_id + "'") +
                   " has no config.json" + (a.hub.subfolder.empty() ? "" : " in subfolder '" + a.hub.subfolder + "'") +
                   " (is it a transformers model? give --subfolder when the model is in a sub-folder)");
  }
  const io::Json raw = io::read_json(config_file);
  nlohmann::json out;
  out["model"] = a.model;
  if (!snap.is_local) {
    out["repo_id"] = snap.repo_id;
    out["commit"] = snap.commit;
  }
  out["folder"] = snap.folder.string();
  const std::string model_type =
      raw.is_object() && raw.contains("model_type") && raw["model_type"].is_string() ? raw["model_type"].get<std::string>()
                                                                                    : std::string();
  const models::Architecture* arch = models::find_architecture(model_type);
  if (arch != nullptr && arch->is_seq2seq()) {
    const models::Seq2SeqConfig c = arch->seq2seq->parse_config(raw, config_file.string());
    out["model_type"] = model_type;
    out["architectures"] = raw.value("architectures", nlohmann::json::array());
    out["hidden_size"] = c.hidden_size;
    out["encoder_layers"] = c.encoder_layers;
    out["decoder_layers"] = c.decoder_layers;
    out["encoder_attention_heads"] = c.encoder_heads;
    out["decoder_attention_heads"] = c.decoder_heads;
    out["vocab_size"] = c.vocab_size;
  } else if (arch != nullptr && arch->is_decoder()) {
    const models::DecoderConfig c = arch->decoder->parse_config(raw, config_file.string());
    out["model_type"] = model_type;
    out["architectures"] = raw.value("architectures", nlohmann::json::array());
    out["hidden_size"] = c.hidden_size;
    out["num_hidden_layers"] = c.n_layers;
    out["num_attention_heads"] = c.n_heads;
    out["num_key_value_heads"] = c.n_heads_kv;
    out["vocab_size"] = c.vocab_size;
  } else {
    const config::EncoderConfig c = config::parse_config(raw, config_file.string());
    out["model_type"] = c.model_type;
    out["architectures"] = c.architectures;
    out["hidden_size"] = c.hidden_size;
    out["num_hidden_layers"] = c.num_hidden_layers;
    out["num_attention_heads"] = c.num_attention_heads;
    out["vocab_size"] = c.vocab_size;
    out["num_labels"] = c.num_labels;
    arch = &models::architecture(c.model_type);
  }
  out["blocks"] = models::describe(arch->blocks);
  out["tasks"] = models::architecture_tasks(*arch);
  const std::filesystem::path export_file = snap.folder / "optimum_export.json";
  if (std::filesystem::is_regular_file(export_file, ec)) {
    const io::Json meta = io::read_json(export_file);
    io::Json summary = io::Json::object();
    for (const char* key : {"format", "tool_version", "task", "dtype", "source"}) {
      if (meta.is_object() && meta.contains(key)) summary[key] = meta[key];
    }
    out["export"] = summary;
  }
  std::cout << out.dump(2) << "\n";
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "info", "Print a model's configuration and supported tasks as JSON (local folder or Hub id: only "
              "config.json and optimum_export.json are downloaded)");
  cmd->add_option("--model,-m,model", a->model, "Model folder or Hub id (org/name)")->required();
  cmd->add_option("--revision", a->hub.revision, "Branch, tag or commit of a Hub model");
  cmd->add_option("--subfolder", a->hub.subfolder, "Sub-folder of the repository holding the model");
  cmd->add_option("--cache-dir,--cache_dir", a->cache_dir, "Hub cache folder")->envname("HF_HUB_CACHE");
  cmd->add_option("--token", a->token, "Hub token (default: HF_TOKEN, then the token file)");
  cmd->add_flag("--local-files-only,--local_files_only", a->hub.local_files_only, "Use the cache only, no network");
  cmd->callback([a] { run_info(*a); });
}

}  // namespace optimum::cli
