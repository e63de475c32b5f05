// `archive`: torch-model-archiver's flags over an exported model folder; with
// --check, validate an archive (and with --extract-to, extract it) the way
// the server does before loading it.
#include <iostream>
#include <memory>

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/serving/archive.h"

namespace optimum::cli {

namespace {

struct ArchiveArgs {
  serving::ArchiveOptions options;
  std::string extra_files;  // comma-separated
  std::string check;
  std::string extract_to;
  std::string runtime;  // torch-model-archiver's --runtime: always python in the manifest
  serving::ArchiveLimits limits;
};

io::Json config_json(const serving::ModelConfig& c) {
  return {{"minWorkers", c.min_workers},         {"maxWorkers", c.max_workers},
          {"batchSize", c.batch_size},           {"maxBatchDelay", c.max_batch_delay_ms},
          {"responseTimeout", c.response_timeout_s}, {"maxBatchTokens", c.max_batch_tokens},
          {"threadsPerWorker", c.threads_per_worker}, {"jobQueueSize", c.job_queue_size},
          {"handler", c.handler}};
}

}  // namespace

void add_archive_command(CLI::App& app) {
  auto a = std::make_shared<ArchiveArgs>();
  CLI::App* cmd = app.add_subcommand(
      "archive", "Package an exported model folder as a TorchServe model archive (.mar, tgz or folder), "
                 "or check / extract one (--check)");
  cmd->add_option("--model-name,--model_name", a->options.model_name,
                  "Archive name (letters, digits, '_', '-', '.'): writes NAME.mar");
  cmd->add_option("-v,--version", a->options.version, "Model version")->capture_default_str();
  cmd->add_option("--model,--serialized-file,--serialized_file", a->options.model_dir,
                  "Exported model folder (optimum-cpp export) or transformers checkpoint folder");
  cmd->add_option("--handler", a->options.handler,
                  "Task the server runs (default: the export's task; text-embedding for sentence-transformers)");
  cmd->add_option("--extra-files,--extra_files", a->extra_files,
                  "Comma-separated files (or folders, their content) put at the archive root");
  cmd->add_option("-c,--config-file,--config_file", a->options.config_file,
                  "model-config.yaml (minWorkers, maxWorkers, batchSize, maxBatchDelay, responseTimeout, handler)");
  cmd->add_option("-r,--requirements-file,--requirements_file", a->options.requirements_file,
                  "requirements.txt recorded in the manifest (never installed)");
  cmd->add_option("--archive-format,--archive_format", a->options.format,
                  "default (.mar zip), tgz (.tar.gz), no-archive (a folder) or zip-store (.mar, uncompressed)")
      ->capture_default_str();
  cmd->add_option("--export-path,--export_path", a->options.export_path, "Folder the archive is written to")
      ->capture_default_str();
  cmd->add_flag("-f,--force", a->options.force, "Overwrite an existing archive of the same name");
  cmd->add_option("--runtime", a->runtime, "Accepted for torch-model-archiver compatibility (ignored)")
      ->group("");
  cmd->add_option("--check", a->check,
                  "Validate an archive (.mar, .tar.gz or folder) as the server does; prints its manifest and "
                  "configuration as JSON");
  cmd->add_option("--extract-to,--extract_to", a->extract_to,
                  "With --check: extract into this folder (it must not exist)");
  cmd->add_option("--max-entries", a->limits.max_entries, "With --check: entry-count limit")->capture_default_str();
  cmd->add_option("--max-total-bytes", a->limits.max_total_bytes, "With --check: uncompressed size limit")
      ->capture_default_str();
  cmd->add_option("--max-entry-bytes", a->limits.max_entry_bytes, "With --check: per-entry size limit")
      ->capture_default_str();
  cmd->add_option("--max-compression-ratio", a->limits.max_compression_ratio,
                  "With --check: per-entry compression-ratio limit")
      ->capture_default_str();
  cmd->callback([a] {
    if (!a->check.empty()) {
      std::filesystem::path dest = a->extract_to;
      const bool folder = std::filesystem::is_directory(a->check);
      if (dest.empty() && !folder) throw InvalidArgument("--check of a file needs --extract-to DIR");
      const serving::ExtractedArchive x = serving::open_archive(a->check, dest, a->limits);
      io::Json out = {{"root", x.root.string()}, {"model_dir", x.model_dir.string()},
                      {"manifest", x.manifest.to_json()}};
      out["config"] = x.config ? config_json(*x.config) : io::Json();
      std::cout << out.dump(2) << "\n";
      return;
    }
    if (a->options.model_name.empty()) throw InvalidArgument("--model-name is required");
    if (a->options.model_dir.empty()) throw InvalidArgument("--model is required");
    size_t start = 0;
    while (start < a->extra_files.size()) {
      size_t end = a->extra_files.find(',', start);
      if (end == std::string::npos) end = a->extra_files.size();
      if (end > start) a->options.extra_files.emplace_back(a->extra_files.substr(start, end - start));
      start = end + 1;
    }
    check_local_path(a->options.model_dir.string(), "--model");
    const std::filesystem::path out = serving::write_archive(a->options);
    std::cout << out.string() << "\n";
  });
}

}  // namespace optimum::cli
