// Model ids: a local folder, or a Hub repository id ("org/name" or "name"),
// optionally in the deprecated "id@revision" form.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace optimum::hub {

// Branch used when no revision is given.
inline constexpr std::string_view kDefaultRevision = "main";

// What a model id names.
struct ModelId {
  bool is_local = false;                  // an existing local folder
  std::filesystem::path local_path;       // set when is_local
  std::string repo_id;                    // "org/name" or "name"; set when !is_local
  std::string revision;                   // from "id@revision"; empty when not given
  bool deprecated_revision_form = false;  // the id used "@revision"
};

// An existing folder is local (it wins over a Hub id of the same spelling).
// Otherwise splits "id@revision" and validates the repo id; NotFound for an
// explicit path ("/x", "./x", "~/x", "a/b/c") that does not exist,
// InvalidArgument for a malformed id.
ModelId parse_model_id(std::string_view text);

// InvalidArgument unless `repo_id` follows the Hub's rules: one or two
// segments of [A-Za-z0-9_.-], no "--" or "..", no leading/trailing '-' or
// '.' per segment, at most 96 characters.
void validate_repo_id(std::string_view repo_id);

// InvalidArgument for a file path inside a repository that is empty,
// absolute, or climbs out with "..".
void validate_repo_path(std::string_view path);

// True for a full 40-character hexadecimal commit hash.
bool is_commit_hash(std::string_view revision);

// Joins a repository subfolder and a path ("" subfolder: the path itself).
std::string join_repo_path(std::string_view subfolder, std::string_view path);

}  // namespace optimum::hub
