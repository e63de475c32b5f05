// `push`: upload a folder (an export, sub-folders kept) to a Hub repository.
#include <iostream>
#include <memory>

#include "optimum/io/json.h"  // nlohmann::json with the project's JSON_DIAGNOSTICS setup

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/progress.h"
#include "optimum/modeling/modeling.h"

namespace optimum::cli {

namespace {

struct PushArgs {
  std::string folder;
  std::string repo_id;
  modeling::PushOptions options;
};

}  // namespace

void add_push_command(CLI::App& app) {
  auto a = std::make_shared<PushArgs>();
  CLI::App* cmd = app.add_subcommand(
      "push", "Upload a folder (e.g. an export) to a Hub repository in one commit (large and binary files through "
      "Git LFS, as huggingface_hub does); prints the commit as JSON");
  cmd->add_option("folder", a->folder, "Folder to upload (sub-folders kept)")->required();
  cmd->add_option("repo_id", a->repo_id, "Hub repository (org/name), created when it does not exist")->required();
  cmd->add_option("--token", a->options.token, "Hub token (default: HF_TOKEN, then the token file)");
  cmd->add_flag("--private", a->options.private_repo, "Create the repository private");
  cmd->add_option("--revision", a->options.revision, "Branch to commit to")->capture_default_str();
  cmd->add_option("--commit-message,--commit_message", a->options.commit_message, "Commit summary")
      ->capture_default_str();
  cmd->add_option("--path-in-repo,--path_in_repo", a->options.path_in_repo,
                  "Folder inside the repository (default: its root)");
  cmd->callback([a] {
    hub::CommitInfo info;
    {
      ProgressStep step("upload", a->folder + " -> " + a->repo_id);
      info = modeling::push_folder_to_hub(check_local_path(a->folder, "folder"), a->repo_id, a->options);
    }
    nlohmann::json out = {{"commit", info.commit}, {"commit_url", info.commit_url}, {"files", info.files}};
    std::cout << out.dump() << "\n";
  });
}

}  // namespace optimum::cli
