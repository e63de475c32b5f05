// Model ids: a local folder, or a Hub repository id ("org/name" or "name"),
// optionally in the deprecated "id@revision" form.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

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
// absolute, climbs out with "..", or holds a backslash or control byte.
void validate_repo_path(std::string_view path);

// True for a full commit hash: exactly 40 lowercase hexadecimal characters
// (huggingface_hub's REGEX_COMMIT_HASH; snapshot folders are named by it).
bool is_commit_hash(std::string_view revision);

// A validated full commit hash, the only name a snapshot folder may have.
class CommitHash {
 public:
  // FormatError naming `source` (a header, a refs file, a JSON field) and
  // the value unless `text` is a commit hash.
  static CommitHash parse(std::string_view text, std::string_view source);
  // The hash when `text` is one; nullopt otherwise.
  static std::optional<CommitHash> from(std::string_view text);

  const std::string& str() const { return value_; }
  operator std::string_view() const { return value_; }
  bool operator==(const CommitHash&) const = default;

 private:
  explicit CommitHash(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

// InvalidArgument naming the revision unless it is a usable branch, tag or
// commit: git's ref-name rules (no "..", "@{", leading/trailing/double '/',
// segment starting with '.' or ending in ".lock", no space ~ ^ : ? * [ or backslash),
// no control byte or NUL, no '%' (a revision is URL-encoded when sent, so a
// pre-encoded "%2e%2e" or "%2f" is refused), at most 255 characters. "main",
// "v1.0" and "refs/pr/1" pass.
void validate_revision(std::string_view revision);

// Joins a repository subfolder and a path ("" subfolder: the path itself).
std::string join_repo_path(std::string_view subfolder, std::string_view path);

}  // namespace optimum::hub
