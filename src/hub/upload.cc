// Pushes to the Hub: create_repo and upload_folder through the commit API,
// as huggingface_hub does: preupload classification, LFS transfers for large
// and binary files (upload_lfs.cc), then one NDJSON commit with LFS pointers
// (lfsFile) and the small text files inline, base64-encoded.
#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>

#include "client.h"
#include "http.h"
#include "optimum/hub/digest.h"
#include "optimum/hub/errors.h"
#include "optimum/hub/hub.h"
#include "optimum/hub/model_id.h"
#include "optimum/io/json.h"
#include "text.h"
#include "upload_lfs.h"

namespace optimum::hub {

namespace fs = std::filesystem;
using detail::HttpRequest;
using detail::HttpResponse;
using detail::in_quotes;
using detail::Session;

namespace {

// A session that must carry a token: writes are never anonymous.
Session write_session(const std::string& endpoint, const std::optional<std::string>& token,
                      const std::string& repo_id, const std::string& action) {
  Session session = detail::make_session(endpoint, token, {}, false, true);  // bars on a TTY only
  if (!session.token) {
    throw AccessDenied(action + " repository " + in_quotes(repo_id) +
                       " needs a token with write access: pass one or set HF_TOKEN (or log in with `hf auth "
                       "login`, which writes the token file)");
  }
  return session;
}

// Files to upload below `folder`, '/'-separated and sorted; skips .git/ and
// .cache/huggingface/ as huggingface_hub's upload_folder does.
std::vector<std::string> files_to_upload(const fs::path& folder) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string relative = it->path().lexically_relative(folder).generic_string();
    if (relative == ".git" || relative.starts_with(".git/") || relative == ".cache/huggingface" ||
        relative.starts_with(".cache/huggingface/")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    std::error_code status_ec;
    if (fs::is_regular_file(it->path(), status_ec)) out.push_back(relative);
  }
  if (ec) throw IoError("cannot list " + folder.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(errno_message("cannot read " + path.string()));
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(errno_message("cannot read " + path.string()));
  return content;
}

}  // namespace

std::string create_repo(std::string_view repo_id, const CreateRepoOptions& options) {
  validate_repo_id(repo_id);
  const std::string id(repo_id);
  const Session session = write_session(options.endpoint, options.token, id, "creating");
  io::Json payload = io::Json::object();
  const size_t slash = id.find('/');
  if (slash == std::string::npos) {
    payload["name"] = id;
  } else {
    payload["organization"] = id.substr(0, slash);
    payload["name"] = id.substr(slash + 1);
  }
  payload["private"] = options.private_repo;

  HttpRequest request;
  request.method = "POST";
  request.url = session.endpoint + "/api/repos/create";
  request.headers = {"Content-Type: application/json"};
  request.bearer_token = session.token;
  request.body = payload.dump();
  const HttpResponse response = detail::http_send(request);
  const std::string default_url = session.endpoint + "/" + id;
  if (response.status == 409) {
    if (options.exist_ok) return default_url;
    throw InvalidArgument("repository " + in_quotes(id) + " already exists on " + session.endpoint);
  }
  if (response.status / 100 != 2) {
    std::rethrow_exception(detail::http_error(response, detail::Target{id, "", ""}, session));
  }
  try {
    const io::Json reply = io::parse_json(response.body, "the reply of " + request.url);
    if (reply.is_object() && reply.contains("url") && reply["url"].is_string()) return reply["url"];
  } catch (const FormatError&) {
    // The repository exists now; the URL is only informative.
  }
  return default_url;
}

CommitInfo upload_folder(std::string_view repo_id, const fs::path& folder, const UploadOptions& options) {
  validate_repo_id(repo_id);
  const std::string id(repo_id);
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw NotFound("folder to upload not found: " + folder.string());
  if (options.revision.empty()) throw InvalidArgument("upload_folder: the revision (branch) is empty");
  validate_revision(options.revision);
  const Session session = write_session(options.endpoint, options.token, id, "uploading to");

  const std::vector<std::string> files = files_to_upload(folder);
  if (files.empty()) throw InvalidArgument("nothing to upload: folder " + folder.string() + " has no files");

  if (options.create_repo) {
    CreateRepoOptions create;
    create.token = session.token;
    create.private_repo = options.private_repo;
    create.exist_ok = true;
    create.endpoint = session.endpoint;
    create_repo(id, create);
  }

  // Classify (preupload), send large and binary files through LFS, then
  // commit: LFS files as pointers (lfsFile), the rest inline.
  const detail::UploadTarget target{id, options.revision};
  std::vector<detail::UploadItem> items;
  std::optional<std::string> gitignore;
  for (const std::string& file : files) {
    const std::string path_in_repo = join_repo_path(options.path_in_repo, file);
    validate_repo_path(path_in_repo);
    items.push_back(detail::make_upload_item(folder / fs::path(file), path_in_repo));
    if (path_in_repo == ".gitignore" && items.back().size <= detail::kMaxInlineBytes) {
      gitignore = read_file(items.back().local);
    }
  }
  detail::fetch_upload_modes(session, target, items, gitignore);
  detail::upload_lfs_files(session, target, items);

  CommitInfo out;
  std::string body;
  io::Json header = {{"key", "header"},
                     {"value", {{"summary", options.commit_message}, {"description", ""}}}};
  body += header.dump() + "\n";
  for (const detail::UploadItem& item : items) {
    if (item.ignore) continue;
    io::Json line;
    if (item.lfs) {
      line = {{"key", "lfsFile"},
              {"value",
               {{"path", item.path_in_repo}, {"algo", "sha256"}, {"oid", item.sha256}, {"size", item.size}}}};
    } else {
      line = {{"key", "file"},
              {"value",
               {{"content", base64_encode(read_file(item.local))},
                {"path", item.path_in_repo},
                {"encoding", "base64"}}}};
    }
    body += line.dump() + "\n";
    out.files.push_back(item.path_in_repo);
  }
  std::sort(out.files.begin(), out.files.end());

  HttpRequest request;
  request.method = "POST";
  request.url =
      session.endpoint + "/api/models/" + id + "/commit/" + detail::url_quote(options.revision, false);
  request.headers = {"Content-Type: application/x-ndjson"};
  request.bearer_token = session.token;
  request.body = std::move(body);
  request.connect_timeout_s = session.etag_timeout_s;
  request.stall_timeout_s = 6 * session.download_timeout_s;  // the Hub may think a while before it answers
  request.max_body_bytes = detail::kMaxListingBytes;
  const HttpResponse response = detail::http_send(request);
  if (response.status / 100 != 2) {
    std::rethrow_exception(detail::http_error(response, detail::Target{id, options.revision, ""}, session));
  }
  const io::Json reply = io::parse_json(response.body, "the commit reply of " + request.url);
  if (reply.is_object() && reply.contains("commitOid") && reply["commitOid"].is_string()) {
    out.commit = reply["commitOid"];
  }
  if (reply.is_object() && reply.contains("commitUrl") && reply["commitUrl"].is_string()) {
    out.commit_url = reply["commitUrl"];
  }
  if (!is_commit_hash(out.commit)) {
    throw NetworkError("the commit reply of " + request.url + " has no commit hash in \"commitOid\"");
  }
  return out;
}

}  // namespace optimum::hub
