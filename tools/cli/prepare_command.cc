// `prepare`: TorchServe's Hugging Face example setup_config.json/.yaml to a
// saved model folder and its archive, in one step.
#include <iostream>
#include <memory>

#include "cli_support.h"
#include "commands.h"
#include "optimum/serving/archive.h"

namespace optimum::cli {

namespace {

struct PrepareArgs {
  std::string config;
  serving::PrepareOptions options;
};

}  // namespace

void add_prepare_command(CLI::App& app) {
  auto a = std::make_shared<PrepareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "prepare", "From TorchServe's setup_config.json/.yaml (model_name, mode, save_mode, max_length, ...): "
                 "save the model and write its archive");
  cmd->add_option("--config", a->config, "setup_config.json or .yaml")->required();
  cmd->add_option("--output", a->options.output, "Model store folder the archive is written to")
      ->capture_default_str();
  cmd->add_option("--save-dir,--save_dir", a->options.save_dir,
                  "Folder the model is saved to before archiving (default: ./Transformer_model)");
  cmd->add_option("--model-name,--model_name", a->options.archive_name,
                  "Archive name (default: the last part of model_name)");
  cmd->add_option("-v,--version", a->options.version, "Model version")->capture_default_str();
  cmd->add_option("--archive-format,--archive_format", a->options.archive_format,
                  "default (.mar), tgz or no-archive")
      ->capture_default_str();
  cmd->add_option("--batch-size,--batch_size", a->options.batch_size,
                  "batchSize written to model-config.yaml (default: 1)");
  cmd->add_option("--max-batch-delay,--max_batch_delay", a->options.max_batch_delay_ms,
                  "maxBatchDelay (ms) written to model-config.yaml (default: 100)");
  cmd->add_flag("-f,--force", a->options.force, "Replace an existing save folder and archive");
  cmd->add_flag("--local-files-only,--local_files_only", a->options.local_files_only,
                "Use the Hub cache only, no network");
  cmd->add_option("--cache-dir,--cache_dir", a->options.cache_dir, "Hub cache folder")->envname("HF_HUB_CACHE");
  cmd->callback([a] {
    const serving::SetupConfig config = serving::SetupConfig::from_file(a->config);
    const serving::PrepareResult r = serving::prepare(config, a->options);
    inform("archived " + r.save_dir.string() + " (" + r.task + ") as " + r.archive.string());
    std::cout << r.archive.string() << "\n";
  });
}

}  // namespace optimum::cli
