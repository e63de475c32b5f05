// hub_tool: exercises the hub layer from the command line for the pytest
// suite (tests/hub/test_hub.py). Every subcommand prints one JSON object on
// stdout; a failure prints {"error": <exception type>, "message": ...} and
// exits with status 1.
#include <cxxabi.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include <CLI/CLI.hpp>

#include "optimum/hub/errors.h"
#include "optimum/hub/hub.h"
#include "optimum/io/json.h"

namespace {

using optimum::io::Json;

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status),
                                              std::free);
  std::string out = status == 0 && name ? name.get() : type.name();
  const size_t colon = out.rfind("::");
  return colon == std::string::npos ? out : out.substr(colon + 2);
}

// Flags shared by the download subcommands.
struct DownloadFlags {
  optimum::hub::HubOptions options;
  std::string token;
  bool no_token = false;
  std::string cache_dir;

  void add_to(CLI::App* command) {
    command->add_option("--revision", options.revision, "branch, tag or commit (default: main)");
    command->add_option("--subfolder", options.subfolder, "folder inside the repository");
    command->add_option("--cache-dir", cache_dir, "cache root (default: HF_HUB_CACHE, else $HF_HOME/hub)");
    command->add_option("--token", token, "Bearer token (default: HF_TOKEN, then the token file)");
    command->add_flag("--no-token", no_token, "send no token at all");
    command->add_flag("--force-download", options.force_download, "download even when cached");
    command->add_flag("--local-files-only", options.local_files_only, "never use the network");
    command->add_option("--endpoint", options.endpoint, "Hub URL (default: HF_ENDPOINT)");
  }
  const optimum::hub::HubOptions& finish() {
    if (!token.empty()) options.token = token;
    if (no_token) options.token = std::string();
    options.cache_dir = cache_dir;
    return options;
  }
};

Json string_list(const std::vector<std::string>& items) {
  Json out = Json::array();
  for (const std::string& item : items) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hub_tool: optimum-cpp Hub client test driver (prints JSON)"};
  app.require_subcommand(1);

  std::string repo_id, filename, folder;
  std::vector<std::string> allow_patterns;

  DownloadFlags snapshot_flags;
  CLI::App* snapshot = app.add_subcommand("snapshot-download", "resolve a model id to a local folder");
  snapshot->add_option("repo_id", repo_id, "Hub id (org/name[@revision]) or local folder")->required();
  snapshot->add_option("--allow", allow_patterns, "fnmatch pattern of files to fetch (repeatable)");
  snapshot_flags.add_to(snapshot);

  DownloadFlags download_flags;
  CLI::App* download = app.add_subcommand("download", "download one file");
  download->add_option("repo_id", repo_id, "Hub id or local folder")->required();
  download->add_option("filename", filename, "path inside the repository")->required();
  download_flags.add_to(download);

  DownloadFlags exists_flags;
  CLI::App* exists = app.add_subcommand("exists", "whether a file exists");
  exists->add_option("repo_id", repo_id, "Hub id or local folder")->required();
  exists->add_option("filename", filename, "path inside the repository")->required();
  exists_flags.add_to(exists);

  optimum::hub::UploadOptions upload_options;
  std::string upload_token;
  CLI::App* upload = app.add_subcommand("upload", "commit a folder to a repository");
  upload->add_option("repo_id", repo_id, "Hub id")->required();
  upload->add_option("folder", folder, "local folder to upload")->required();
  upload->add_option("--revision", upload_options.revision, "branch (default: main)");
  upload->add_option("--path-in-repo", upload_options.path_in_repo, "target folder in the repository");
  upload->add_option("--commit-message", upload_options.commit_message, "commit summary");
  upload->add_option("--token", upload_token, "Bearer token (default: HF_TOKEN, then the token file)");
  upload->add_flag("--private", upload_options.private_repo, "create the repository private");
  upload->add_option("--endpoint", upload_options.endpoint, "Hub URL (default: HF_ENDPOINT)");

  CLI11_PARSE(app, argc, argv);

  Json out;
  try {
    if (snapshot->parsed()) {
      const optimum::hub::Snapshot result =
          optimum::hub::snapshot_download(repo_id, snapshot_flags.finish(), allow_patterns);
      out = {{"folder", result.folder.string()},
             {"commit", result.commit},
             {"repo_id", result.repo_id},
             {"is_local", result.is_local},
             {"files", string_list(result.files)}};
    } else if (download->parsed()) {
      out = {{"path", optimum::hub::hf_hub_download(repo_id, filename, download_flags.finish()).string()}};
    } else if (exists->parsed()) {
      out = {{"exists", optimum::hub::file_exists(repo_id, filename, exists_flags.finish())}};
    } else if (upload->parsed()) {
      if (!upload_token.empty()) upload_options.token = upload_token;
      const optimum::hub::CommitInfo result = optimum::hub::upload_folder(repo_id, folder, upload_options);
      out = {
          {"commit", result.commit}, {"commit_url", result.commit_url}, {"files", string_list(result.files)}};
    }
  } catch (const std::exception& e) {
    std::cout << Json{{"error", type_name(typeid(e))}, {"message", e.what()}}.dump() << std::endl;
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cout << out.dump() << std::endl;
  return 0;
}
