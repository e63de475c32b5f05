#include <iostream>
#include <memory>

#include "commands.h"
#include "optimum/exporters/export.h"
#include "optimum/hub/model_id.h"
#include "optimum/modeling/modeling.h"

namespace optimum::cli {

namespace {

struct ExportArgs {
  modeling::ResolveOptions hub;
  exporters::ExportOptions exporter;
  std::string model;
  std::string output;
  double atol = -1;
  std::string push_to_hub;  // repository to upload the export to
  modeling::PushOptions push;
};

}  // namespace

void add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Export a checkpoint to the native format, validated against its source");
  cmd->add_option("--model,-m", a->model, "Hub model id or local folder")->required();
  cmd->add_option("--task", a->exporter.task, "Task (auto: inferred from the folder; Optimum synonyms accepted)")
      ->capture_default_str();
  cmd->add_option("--dtype", a->exporter.dtype, "Weight precision")->capture_default_str();
  cmd->add_option("--revision", a->hub.revision, "Branch, tag or commit of a Hub model");
  cmd->add_option("--subfolder", a->hub.subfolder, "Sub-folder of the repository holding the model");
  cmd->add_option("--cache-dir,--cache_dir", a->hub.cache_dir, "Hub cache folder")->envname("HF_HUB_CACHE");
  cmd->add_option("--token", a->hub.token, "Hub token")->envname("HF_TOKEN");
  cmd->add_flag("--local-files-only,--local_files_only", a->hub.local_files_only, "Use the cache only, no network");
  cmd->add_flag("--force-download,--force_download", a->hub.force_download, "Download again even when cached");
  cmd->add_option("--push-to-hub,--push_to_hub", a->push_to_hub,
                  "After a validated export, upload the output folder to this Hub repository (created if needed)");
  cmd->add_flag("--private", a->push.private_repo, "With --push-to-hub: create the repository private");
  cmd->add_option("--atol", a->atol, "Validation tolerance (default: the registry's, 1e-4 for encoders)");
  cmd->add_option("--batch-size,--batch_size", a->exporter.batch_size, "Dummy batch size")->capture_default_str();
  cmd->add_option("--sequence-length,--sequence_length", a->exporter.sequence_length, "Dummy sequence length")
      ->capture_default_str();
  cmd->add_option("output", a->output, "Output folder")->required();
  cmd->callback([a] {
    if (a->atol >= 0) a->exporter.atol = a->atol;
    const modeling::ResolvedModel src = modeling::resolve(a->model, a->hub);
    a->exporter.source_id = a->model;
    a->exporter.source_commit = src.commit;
    a->exporter.revision = a->hub.revision;
    a->exporter.subfolder = a->hub.subfolder;
    a->exporter.config_dir = src.config_dir;
    if (!a->push_to_hub.empty()) hub::validate_repo_id(a->push_to_hub);  // before the export work
    const exporters::ExportResult r = exporters::export_native(src.folder, a->output, a->exporter);
    std::cerr << "exported " << r.model_type << " (" << r.task << ") to " << r.output_dir.string()
              << "; validation max abs diff " << r.max_abs_diff << " <= atol " << r.atol << "; "
              << r.preprocessors.size() << " preprocessor files\n";
    if (!a->push_to_hub.empty()) {
      a->push.token = a->hub.token;
      const hub::CommitInfo info = modeling::push_folder_to_hub(r.output_dir, a->push_to_hub, a->push);
      std::cerr << "pushed " << info.files.size() << " files to " << a->push_to_hub << " (commit " << info.commit
                << ")\n";
    }
  });
}

}  // namespace optimum::cli
