#include "optimum/hub/model_id.h"

#include <cctype>
#include <system_error>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/hub/settings.h"
#include "text.h"

namespace optimum::hub {

namespace {

constexpr size_t kMaxRepoIdLength = 96;
constexpr size_t kMaxRevisionLength = 255;

bool is_repo_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
}

// Why `segment` is not a valid part of a repo id; empty when it is.
std::string segment_problem(std::string_view segment) {
  if (segment.empty()) return "an empty name";
  for (char c : segment) {
    if (!is_repo_char(c)) return "the character " + detail::in_quotes(std::string_view(&c, 1));
  }
  const char first = segment.front();
  const char last = segment.back();
  if (first == '-' || first == '.') return "a name starting with '-' or '.'";
  if (last == '-' || last == '.') return "a name ending with '-' or '.'";
  return "";
}

// Ids that are meant as paths: absolute, explicitly relative, home-relative,
// or with more than one '/'.
bool looks_like_path(std::string_view text) {
  if (text.starts_with("/") || text.starts_with("./") || text.starts_with("../") || text.starts_with("~") ||
      text == "." || text == "..") {
    return true;
  }
  size_t slashes = 0;
  for (char c : text) slashes += c == '/';
  return slashes > 1;
}

}  // namespace

bool is_commit_hash(std::string_view revision) {
  if (revision.size() != 40) return false;
  for (char c : revision) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

CommitHash CommitHash::parse(std::string_view text, std::string_view source) {
  if (!is_commit_hash(text)) {
    throw FormatError("invalid commit hash " + quote_untrusted(text) + " in " + std::string(source) +
                      ": expected 40 lowercase hexadecimal characters (check HF_ENDPOINT)");
  }
  return CommitHash(std::string(text));
}

std::optional<CommitHash> CommitHash::from(std::string_view text) {
  if (!is_commit_hash(text)) return std::nullopt;
  return CommitHash(std::string(text));
}

void validate_revision(std::string_view revision) {
  const auto refuse = [&](const std::string& why) {
    throw InvalidArgument("invalid revision " + quote_untrusted(revision) + ": " + why +
                          " (expected a branch, tag or 40-character commit hash, such as 'main', 'v1.0' or "
                          "'refs/pr/1')");
  };
  if (revision.empty()) refuse("it is empty");
  if (revision.size() > kMaxRevisionLength) {
    refuse("longer than " + std::to_string(kMaxRevisionLength) + " characters");
  }
  for (char c : revision) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0) refuse("it contains a NUL byte");
    if (u < 0x20 || u == 0x7f) refuse("it contains a control character");
    if (c == '%') refuse("'%' is not allowed (pass it unencoded: it is URL-encoded when sent)");
    if (std::string_view(" ~^:?*[\\").find(c) != std::string_view::npos) {
      refuse("the character " + detail::in_quotes(std::string_view(&c, 1)) + " is not allowed");
    }
  }
  if (revision.front() == '/') refuse("it is an absolute path");
  if (revision.back() == '/' || revision.back() == '.') refuse("it ends with '/' or '.'");
  if (revision.find("..") != std::string_view::npos) refuse("'..' is not allowed");
  if (revision.find("@{") != std::string_view::npos || revision == "@") {
    refuse("'@{' and '@' are not allowed");
  }
  size_t start = 0;
  while (start <= revision.size()) {
    size_t end = revision.find('/', start);
    if (end == std::string_view::npos) end = revision.size();
    const std::string_view part = revision.substr(start, end - start);
    if (part.empty()) refuse("it has an empty '/'-separated part");
    if (part.front() == '.') refuse("a '/'-separated part starts with '.'");
    if (part.ends_with(".lock")) refuse("a '/'-separated part ends with '.lock'");
    start = end + 1;
  }
}

void validate_repo_id(std::string_view repo_id) {
  const std::string quoted = detail::in_quotes(repo_id);
  if (repo_id.empty()) throw InvalidArgument("invalid repo id '': it is empty");
  if (repo_id.size() > kMaxRepoIdLength) {
    throw InvalidArgument("invalid repo id " + quoted + ": longer than " + std::to_string(kMaxRepoIdLength) +
                          " characters");
  }
  if (repo_id.find("--") != std::string_view::npos || repo_id.find("..") != std::string_view::npos) {
    throw InvalidArgument("invalid repo id " + quoted + ": '--' and '..' are forbidden");
  }
  const size_t slash = repo_id.find('/');
  std::vector<std::string_view> segments;
  if (slash == std::string_view::npos) {
    segments.push_back(repo_id);
  } else {
    segments.push_back(repo_id.substr(0, slash));
    segments.push_back(repo_id.substr(slash + 1));
    if (segments[1].find('/') != std::string_view::npos) {
      throw InvalidArgument("invalid repo id " + quoted +
                            ": expected 'name' or 'org/name' (or an existing local folder)");
    }
  }
  for (std::string_view segment : segments) {
    const std::string problem = segment_problem(segment);
    if (!problem.empty()) {
      throw InvalidArgument("invalid repo id " + quoted + ": it has " + problem +
                            " (allowed: letters, digits, '-', '_', '.'; form 'name' or 'org/name')");
    }
  }
}

void validate_repo_path(std::string_view path) {
  if (path.empty()) throw InvalidArgument("invalid file path in repository: it is empty");
  check_relative_path(path, "file path in repository");
}

std::string join_repo_path(std::string_view subfolder, std::string_view path) {
  while (!subfolder.empty() && subfolder.back() == '/') subfolder.remove_suffix(1);
  while (!subfolder.empty() && subfolder.front() == '/') subfolder.remove_prefix(1);
  if (subfolder.empty()) return std::string(path);
  if (path.empty()) return std::string(subfolder);
  return std::string(subfolder) + "/" + std::string(path);
}

ModelId parse_model_id(std::string_view text) {
  ModelId out;
  std::error_code ec;
  const std::filesystem::path as_path = expand_user(text);
  if (!text.empty() && std::filesystem::is_directory(as_path, ec)) {
    out.is_local = true;
    out.local_path = as_path;
    return out;
  }
  if (!text.empty() && looks_like_path(text)) {
    throw NotFound("local folder " + detail::in_quotes(text) +
                   " does not exist (and it is not a Hub id of the form 'name' or 'org/name')");
  }
  std::string_view id = text;
  const size_t at = text.find('@');
  if (at != std::string_view::npos) {
    id = text.substr(0, at);
    out.revision = std::string(text.substr(at + 1));
    out.deprecated_revision_form = true;
    if (out.revision.empty()) {
      throw InvalidArgument("invalid model id " + detail::in_quotes(text) + ": empty revision after '@'");
    }
  }
  validate_repo_id(id);
  out.repo_id = std::string(id);
  return out;
}

}  // namespace optimum::hub
