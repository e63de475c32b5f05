// Preupload classification and Git LFS transfers of a Hub commit, following
// huggingface_hub (_commit_api.py _fetch_upload_modes / _upload_files, lfs.py).
//
// Where the token goes: the Bearer token is only ever attached to URLs on the
// endpoint's origin (preupload, batch, and verify / multipart completion when
// the Hub puts them there). Upload URLs (presigned storage URLs on another
// host) get no token. huggingface_hub sends no header at all with its PUTs
// and its token to the verify URL wherever it points; here the headers an
// action carries (the git-lfs spec's "header") are sent with that action's
// request, after checking they are well-formed header lines, and the token
// stays on the endpoint's origin.
#include "upload_lfs.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "optimum/hub/digest.h"
#include "optimum/hub/errors.h"
#include "optimum/io/json.h"
#include "progress.h"
#include "text.h"

namespace optimum::hub::detail {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLfsMediaType = "application/vnd.git-lfs+json";
constexpr const char* kDefaultEndpoint = "https://huggingface.co";
constexpr size_t kSampleBytes = 512;
// Most headers one action may carry (multipart: chunk_size and one URL per part).
constexpr size_t kMaxActionHeaders = kMaxUploadParts + 16;
// Attempts of one PUT when storage answers 5xx (huggingface_hub's http_backoff retries them too).
constexpr int kPutAttempts = 3;

// A URL for messages: the query (a storage signature) left out.
std::string shown(const std::string& url) { return url.substr(0, url.find('?')); }

std::string status_text(const HttpResponse& response) {
  std::string out = "HTTP " + std::to_string(response.status) + " from " + shown(response.url);
  const std::string detail = server_detail(response);
  if (!detail.empty()) out += ": " + in_quotes(detail);
  return out;
}

// The files an error is about: "'a'" or "'a', 'b' and 3 more".
std::string file_list(const std::vector<const UploadItem*>& items) {
  std::string out;
  const size_t shown_count = std::min<size_t>(items.size(), 3);
  for (size_t i = 0; i < shown_count; ++i) out += (i ? ", " : "") + in_quotes(items[i]->path_in_repo);
  if (items.size() > shown_count) out += " and " + std::to_string(items.size() - shown_count) + " more";
  return out;
}

[[noreturn]] void fail(const UploadTarget& target, const std::string& files, const std::string& step,
                       const std::string& why) {
  throw NetworkError("cannot upload " + files + " to repository " + in_quotes(target.repo_id) + ": " + step +
                     ": " + why);
}

// http_send, with a transport failure (no answer, time-out, cap) named after the file and step.
HttpResponse send_step(const HttpRequest& request, const UploadTarget& target, const std::string& files,
                       const std::string& step) {
  try {
    return http_send(request);
  } catch (const NetworkError& e) {
    fail(target, files, step, e.what());
  }
}

// huggingface_hub's fix_hf_endpoint_in_url: a Hub URL on the default endpoint
// is moved to a custom one (a proxy or mirror).
std::string fix_endpoint(const std::string& url, const std::string& endpoint) {
  const std::string prefix = kDefaultEndpoint;
  if (endpoint == prefix || !url.starts_with(prefix)) return url;
  if (url.size() > prefix.size() && url[prefix.size()] != '/' && url[prefix.size()] != '?') return url;
  return endpoint + url.substr(prefix.size());
}

bool same_origin(const std::string& url, const std::string& endpoint) {
  return url_origin(url) == url_origin(endpoint);
}

bool is_header_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) !=
                                                                     std::string_view::npos;
  });
}

bool is_header_value(std::string_view value) {
  return value.size() <= 8192 && std::none_of(value.begin(), value.end(), [](char c) {
           return c == '\r' || c == '\n' || c == '\0';
         });
}

// An action of the batch reply ({"href", "header"}), checked.
struct Action {
  std::string href;
  std::map<std::string, std::string> header;
};

Action parse_action(const io::Json& value, const Session& session, const std::string& name,
                    const std::function<void(const std::string&)>& bad) {
  if (!value.is_object()) bad("\"" + name + "\" is not an object");
  if (!value.contains("href") || !value["href"].is_string()) bad("\"" + name + "\" has no \"href\" string");
  Action action;
  action.href = fix_endpoint(value["href"].get<std::string>(), session.endpoint);
  try {
    check_scheme(action.href, "the \"" + name + "\" URL");
  } catch (const NetworkError& e) {
    bad(e.what());
  }
  if (value.contains("header") && !value["header"].is_null()) {
    const io::Json& header = value["header"];
    if (!header.is_object()) bad("\"" + name + ".header\" is not an object");
    if (header.size() > kMaxActionHeaders) {
      bad("\"" + name + ".header\" has " + std::to_string(header.size()) + " entries, more than the limit of " +
          std::to_string(kMaxActionHeaders));
    }
    for (const auto& [key, entry] : header.items()) {
      if (entry.is_string()) {
        action.header[key] = entry.get<std::string>();
      } else if (entry.is_number_unsigned()) {
        action.header[key] = std::to_string(entry.get<uint64_t>());
      } else {
        bad("\"" + name + ".header\" entry " + in_quotes(key) + " is neither a string nor a count");
      }
    }
  }
  return action;
}

// "Name: value" lines of an action's header map that are HTTP headers (not
// multipart metadata: chunk_size and part numbers).
std::vector<std::string> http_headers(const Action& action, const std::function<void(const std::string&)>& bad) {
  std::vector<std::string> out;
  for (const auto& [name, value] : action.header) {
    if (name == "chunk_size" || std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    if (!is_header_name(name) || !is_header_value(value)) {
      bad("the action header " + in_quotes(name) + " is not a valid HTTP header line");
    }
    out.push_back(name + ": " + value);
  }
  return out;
}

bool has_header(const std::vector<std::string>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const std::string& line) {
    if (line.size() <= name.size() || line[name.size()] != ':') return false;
    return std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
  });
}

// A POST to the Hub's API: JSON in, JSON out, bounded.
HttpRequest api_post(const Session& session, std::string url, std::string body, std::vector<std::string> headers) {
  HttpRequest request = make_request(session, std::move(url), RequestKind::Listing);
  request.method = "POST";
  request.body = std::move(body);
  request.headers = std::move(headers);
  // The Hub may think for a while before it answers a call that covers many files.
  request.min_bytes_per_s = 1;
  request.stall_timeout_s = 6 * session.download_timeout_s;
  request.deadline_s = 6 * (session.etag_timeout_s + session.download_timeout_s);
  if (!same_origin(request.url, session.endpoint)) request.bearer_token.reset();
  return request;
}

// Reads `length` bytes of a file from `offset`, for a streamed request body.
class FileReader {
 public:
  FileReader(const fs::path& path, uint64_t offset, uint64_t length, ProgressBar* progress)
      : path_(path), in_(path, std::ios::binary), remaining_(length), progress_(progress) {
    if (!in_) throw IoError(errno_message("cannot read " + path.string()));
    in_.seekg(static_cast<std::streamoff>(offset));
    if (!in_) throw IoError("cannot read " + path.string() + " from byte " + std::to_string(offset));
  }

  size_t read(char* buffer, size_t size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(size, remaining_));
    if (want == 0) return 0;
    in_.read(buffer, static_cast<std::streamsize>(want));
    const auto got = static_cast<size_t>(in_.gcount());
    if (got == 0) {
      throw IoError(path_.string() + " became shorter while it was being uploaded (" +
                    std::to_string(remaining_) + " bytes missing)");
    }
    remaining_ -= got;
    if (progress_ != nullptr) progress_->update(got);
    return got;
  }

 private:
  fs::path path_;
  std::ifstream in_;
  uint64_t remaining_;
  ProgressBar* progress_;
};

// PUTs bytes [offset, offset + length) of `item` to `url`; retried on 5xx.
HttpResponse put_bytes(const Session& session, const UploadTarget& target, const UploadItem& item,
                       const std::string& step, const std::string& url, uint64_t offset, uint64_t length,
                       const std::vector<std::string>& headers, ProgressBar& progress) {
  for (int attempt = 1;; ++attempt) {
    progress.reset(offset);
    FileReader reader(item.local, offset, length, &progress);
    HttpRequest request = make_request(session, url, RequestKind::Download);
    request.method = "PUT";
    request.headers = headers;
    if (!has_header(headers, "Content-Type")) request.headers.push_back("Content-Type:");
    // Storage URLs are presigned: the Hub token goes to the endpoint's origin only.
    if (!same_origin(url, session.endpoint) || has_header(headers, "Authorization")) request.bearer_token.reset();
    request.source = [&reader](char* buffer, size_t size) { return reader.read(buffer, size); };
    request.source_size = length;
    request.deadline_s = session.etag_timeout_s + session.download_timeout_s +
                         static_cast<long>(length / kMinDownloadSpeed);
    request.max_body_bytes = kMaxListingBytes;
    HttpResponse response = send_step(request, target, in_quotes(item.path_in_repo), step);
    if (response.status / 100 == 5 && attempt < kPutAttempts) {
      std::this_thread::sleep_for(std::chrono::seconds(attempt));
      continue;
    }
    return response;
  }
}

// One object of the batch reply, checked against what was asked.
struct BatchObject {
  std::optional<Action> upload;  // nullopt: the Hub has the content already
  std::optional<Action> verify;
};

void upload_one(const Session& session, const UploadTarget& target, const UploadItem& item,
                const BatchObject& object) {
  const std::string file = in_quotes(item.path_in_repo);
  const Action& upload = *object.upload;
  auto bad = [&](const std::string& step) {
    return [&, step](const std::string& why) { fail(target, file, step, why); };
  };
  ProgressBar progress("Uploading " + item.path_in_repo, item.size, 0, session.progress);

  const auto chunk = upload.header.find("chunk_size");
  if (chunk == upload.header.end()) {
    // Basic transfer: one PUT of the whole file.
    const std::vector<std::string> headers = http_headers(upload, bad("the LFS batch reply"));
    const std::string put_step = "upload (PUT " + shown(upload.href) + ")";
    const HttpResponse response =
        put_bytes(session, target, item, put_step, upload.href, 0, item.size, headers, progress);
    if (response.status / 100 != 2) fail(target, file, put_step, status_text(response));
  } else {
    // Multipart transfer: chunk_size bytes to each numbered part URL, then a completion POST.
    const std::string step = "multipart upload";
    const std::string& text = chunk->second;
    uint64_t chunk_size = 0;
    if (text.empty() || text.size() > 19 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        (chunk_size = std::stoull(text)) == 0) {
      fail(target, file, step, "the LFS batch reply gives chunk_size " + in_quotes(text) +
                                   ", not a positive integer");
    }
    const uint64_t n_parts = (item.size + chunk_size - 1) / chunk_size;
    if (n_parts > kMaxUploadParts) {
      fail(target, file, step, "chunk_size " + text + " splits " + std::to_string(item.size) + " bytes into " +
                                   std::to_string(n_parts) + " parts, more than the limit of " +
                                   std::to_string(kMaxUploadParts));
    }
    std::vector<std::string> part_urls(n_parts);
    size_t n_given = 0;
    for (const auto& [key, value] : upload.header) {
      if (key == "chunk_size" || key.empty() || !std::all_of(key.begin(), key.end(), [](char c) {
            return c >= '0' && c <= '9';
          }))
        continue;
      ++n_given;
      const uint64_t number = key.size() > 6 ? 0 : std::stoull(key);
      if (number < 1 || number > n_parts || std::to_string(number) != key) {
        fail(target, file, step, "the LFS batch reply names part " + in_quotes(key) + " of a file of " +
                                     std::to_string(n_parts) + " parts of " + text + " bytes");
      }
      const std::string url = fix_endpoint(value, session.endpoint);
      try {
        check_scheme(url, "the URL of part " + key);
      } catch (const NetworkError& e) {
        fail(target, file, step, e.what());
      }
      part_urls[number - 1] = url;
    }
    if (n_given != n_parts) {
      fail(target, file, step, "the LFS batch reply gives " + std::to_string(n_given) + " part URLs for " +
                                   std::to_string(n_parts) + " parts of " + text + " bytes");
    }
    io::Json parts = io::Json::array();
    for (uint64_t i = 0; i < n_parts; ++i) {
      const uint64_t offset = i * chunk_size;
      const uint64_t length = std::min(chunk_size, item.size - offset);
      const std::string part_step =
          "part " + std::to_string(i + 1) + " of " + std::to_string(n_parts) + " (PUT " + shown(part_urls[i]) + ")";
      const HttpResponse response =
          put_bytes(session, target, item, part_step, part_urls[i], offset, length, {}, progress);
      if (response.status / 100 != 2) fail(target, file, part_step, status_text(response));
      const std::optional<std::string> etag = response.headers.get("ETag");
      if (!etag || etag->empty() || !is_header_value(*etag) || etag->size() > 1024) {
        fail(target, file, part_step, "the storage answered without an ETag header");
      }
      parts.push_back({{"partNumber", i + 1}, {"etag", *etag}});
    }
    const io::Json completion = {{"oid", item.sha256}, {"parts", std::move(parts)}};
    const HttpRequest request = api_post(session, upload.href, completion.dump(),
                                         {std::string("Accept: ") + kLfsMediaType,
                                          std::string("Content-Type: ") + kLfsMediaType});
    const std::string completion_step = "multipart completion (POST " + shown(upload.href) + ")";
    const HttpResponse response = send_step(request, target, file, completion_step);
    if (response.status / 100 != 2) fail(target, file, completion_step, status_text(response));
  }

  if (object.verify) {
    const Action& verify = *object.verify;
    std::vector<std::string> headers = http_headers(verify, bad("the LFS batch reply"));
    if (!has_header(headers, "Content-Type")) headers.push_back("Content-Type: application/json");
    HttpRequest request =
        api_post(session, verify.href, io::Json{{"oid", item.sha256}, {"size", item.size}}.dump(), headers);
    if (has_header(headers, "Authorization")) request.bearer_token.reset();
    const std::string verify_step = "verify (POST " + shown(verify.href) + ")";
    const HttpResponse response = send_step(request, target, file, verify_step);
    if (response.status / 100 != 2) fail(target, file, verify_step, status_text(response));
  }
}

// The batch call for `items` (LFS, hashed): what to do with each distinct oid.
std::map<std::string, BatchObject> lfs_batch(const Session& session, const UploadTarget& target,
                                             const std::vector<const UploadItem*>& items) {
  std::map<std::string, uint64_t> wanted;  // oid -> size
  io::Json objects = io::Json::array();
  for (const UploadItem* item : items) {
    if (wanted.emplace(item->sha256, item->size).second) {
      objects.push_back({{"oid", item->sha256}, {"size", item->size}});
    }
  }
  const io::Json payload = {{"operation", "upload"},
                            {"transfers", {"basic", "multipart"}},
                            {"objects", std::move(objects)},
                            {"hash_algo", "sha256"},
                            {"ref", {{"name", target.revision}}}};
  const std::string url = session.endpoint + "/" + target.repo_id + ".git/info/lfs/objects/batch";
  const HttpRequest request =
      api_post(session, url, payload.dump(),
               {std::string("Accept: ") + kLfsMediaType, std::string("Content-Type: ") + kLfsMediaType});
  const std::string files = file_list(items);
  const std::string step = "LFS batch (POST " + url + ")";
  const HttpResponse response = send_step(request, target, files, step);
  if (response.status == 401 || response.status == 403 || response.status == 404) {
    std::rethrow_exception(http_error(response, Target{target.repo_id, target.revision, ""}, session));
  }
  if (response.status / 100 != 2) fail(target, files, step, status_text(response));

  io::Json reply;
  try {
    reply = io::parse_json(response.body, "the LFS batch reply of " + url);
  } catch (const std::exception& e) {
    fail(target, files, step, e.what());
  }
  auto bad_reply = [&](const std::string& why) { fail(target, files, step, "malformed reply: " + why); };
  if (!reply.is_object() || !reply.contains("objects") || !reply["objects"].is_array()) {
    bad_reply("no \"objects\" list");
  }
  std::map<std::string, BatchObject> out;
  std::vector<std::string> refused;
  for (const io::Json& object : reply["objects"]) {
    if (!object.is_object() || !object.contains("oid") || !object["oid"].is_string()) {
      bad_reply("an object has no \"oid\" string");
    }
    const std::string oid = object["oid"];
    const auto asked = wanted.find(oid);
    if (asked == wanted.end()) bad_reply("object " + in_quotes(oid) + " was not asked for");
    if (out.contains(oid)) bad_reply("object " + oid + " is listed twice");
    if (!object.contains("size") || !object["size"].is_number_unsigned() ||
        object["size"].get<uint64_t>() != asked->second) {
      bad_reply("object " + oid + " has \"size\" " +
                (object.contains("size") ? object["size"].dump() : std::string("(none)")) + ", not " +
                std::to_string(asked->second));
    }
    BatchObject entry;
    if (object.contains("error")) {
      const io::Json& error = object["error"];
      std::string message = error.is_object() && error.contains("message") && error["message"].is_string()
                                ? error["message"].get<std::string>()
                                : error.dump();
      if (error.is_object() && error.contains("code") && error["code"].is_number_integer()) {
        message = std::to_string(error["code"].get<int64_t>()) + " " + message;
      }
      for (const UploadItem* item : items) {
        if (item->sha256 == oid) refused.push_back(in_quotes(item->path_in_repo) + ": " + in_quotes(message));
      }
      out.emplace(oid, entry);
      continue;
    }
    if (object.contains("actions") && !object["actions"].is_null()) {
      const io::Json& actions = object["actions"];
      if (!actions.is_object()) bad_reply("\"actions\" of object " + oid + " is not an object");
      if (!actions.contains("upload")) bad_reply("object " + oid + " has \"actions\" but no \"upload\" action");
      entry.upload = parse_action(actions["upload"], session, "actions.upload", bad_reply);
      if (actions.contains("verify") && !actions["verify"].is_null()) {
        entry.verify = parse_action(actions["verify"], session, "actions.verify", bad_reply);
      }
    }
    out.emplace(oid, std::move(entry));
  }
  if (!refused.empty()) {
    std::string message;
    for (const std::string& line : refused) message += (message.empty() ? "" : "; ") + line;
    fail(target, files, step, "the Hub refused " + message);
  }
  for (const UploadItem* item : items) {
    if (!out.contains(item->sha256)) {
      fail(target, in_quotes(item->path_in_repo), step,
           "malformed reply: object " + item->sha256 + " is missing from it");
    }
  }
  return out;
}

}  // namespace

UploadItem make_upload_item(const fs::path& local, std::string path_in_repo) {
  UploadItem item;
  item.local = local;
  item.path_in_repo = std::move(path_in_repo);
  std::error_code ec;
  item.size = fs::file_size(local, ec);
  if (ec) throw IoError("cannot read the size of " + local.string() + ": " + ec.message());
  std::ifstream in(local, std::ios::binary);
  if (!in) throw IoError(errno_message("cannot read " + local.string()));
  item.sample.resize(kSampleBytes);
  in.read(item.sample.data(), static_cast<std::streamsize>(kSampleBytes));
  item.sample.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) throw IoError(errno_message("cannot read " + local.string()));
  return item;
}

void fetch_upload_modes(const Session& session, const UploadTarget& target, std::vector<UploadItem>& items,
                        const std::optional<std::string>& gitignore) {
  const std::string url =
      session.endpoint + "/api/models/" + target.repo_id + "/preupload/" + url_quote(target.revision, false);
  for (size_t start = 0; start < items.size(); start += kFilesPerPreupload) {
    const size_t end = std::min(items.size(), start + kFilesPerPreupload);
    std::vector<const UploadItem*> chunk;
    io::Json files = io::Json::array();
    for (size_t i = start; i < end; ++i) {
      chunk.push_back(&items[i]);
      files.push_back(
          {{"path", items[i].path_in_repo}, {"sample", base64_encode(items[i].sample)}, {"size", items[i].size}});
    }
    io::Json payload = {{"files", std::move(files)}};
    if (gitignore) payload["gitIgnore"] = *gitignore;
    const std::string names = file_list(chunk);
    const std::string step = "preupload (POST " + url + ")";
    const HttpResponse response =
        send_step(api_post(session, url, payload.dump(), {"Content-Type: application/json"}), target, names, step);
    if (response.status == 401 || response.status == 403 || response.status == 404) {
      std::rethrow_exception(http_error(response, Target{target.repo_id, target.revision, ""}, session));
    }
    if (response.status / 100 != 2) fail(target, names, step, status_text(response));
    io::Json reply;
    try {
      reply = io::parse_json(response.body, "the preupload reply of " + url);
    } catch (const std::exception& e) {
      fail(target, names, step, e.what());
    }
    auto bad = [&](const std::string& why) { fail(target, names, step, "malformed reply: " + why); };
    if (!reply.is_object() || !reply.contains("files") || !reply["files"].is_array()) bad("no \"files\" list");
    std::map<std::string, const io::Json*> by_path;
    for (const io::Json& file : reply["files"]) {
      if (!file.is_object() || !file.contains("path") || !file["path"].is_string()) {
        bad("an entry has no \"path\" string");
      }
      by_path[file["path"].get<std::string>()] = &file;
    }
    for (size_t i = start; i < end; ++i) {
      UploadItem& item = items[i];
      const auto found = by_path.find(item.path_in_repo);
      if (found == by_path.end()) bad("it does not classify " + in_quotes(item.path_in_repo));
      const io::Json& file = *found->second;
      const std::string mode =
          file.contains("uploadMode") && file["uploadMode"].is_string() ? file["uploadMode"].get<std::string>() : "";
      if (mode != "lfs" && mode != "regular") {
        bad("\"uploadMode\" of " + in_quotes(item.path_in_repo) + " is " +
            (file.contains("uploadMode") ? in_quotes(file["uploadMode"].dump()) : std::string("missing")) +
            ", not \"lfs\" or \"regular\"");
      }
      if (file.contains("shouldIgnore") && !file["shouldIgnore"].is_null() && !file["shouldIgnore"].is_boolean()) {
        bad("\"shouldIgnore\" of " + in_quotes(item.path_in_repo) + " is not a boolean");
      }
      item.lfs = mode == "lfs" && item.size > 0;
      item.ignore = file.contains("shouldIgnore") && file["shouldIgnore"].is_boolean() && file["shouldIgnore"].get<bool>();
      if (!item.lfs && !item.ignore && item.size > kMaxInlineBytes) {
        fail(target, in_quotes(item.path_in_repo), step,
             "the Hub answered uploadMode \"regular\" for a file of " + std::to_string(item.size) +
                 " bytes, more than the " + std::to_string(kMaxInlineBytes) + " bytes a commit carries inline");
      }
    }
  }
}

void upload_lfs_files(const Session& session, const UploadTarget& target, std::vector<UploadItem>& items) {
  std::vector<UploadItem*> lfs;
  for (UploadItem& item : items) {
    if (item.lfs && !item.ignore) lfs.push_back(&item);
  }
  for (UploadItem* item : lfs) item->sha256 = sha256_file(item->local);  // streamed
  for (size_t start = 0; start < lfs.size(); start += kFilesPerPreupload) {
    const std::vector<const UploadItem*> chunk(lfs.begin() + static_cast<std::ptrdiff_t>(start),
                                               lfs.begin() + static_cast<std::ptrdiff_t>(
                                                                 std::min(lfs.size(), start + kFilesPerPreupload)));
    const std::map<std::string, BatchObject> objects = lfs_batch(session, target, chunk);
    std::set<std::string> done;  // files with the same content are uploaded once
    for (const UploadItem* item : chunk) {
      const BatchObject& object = objects.at(item->sha256);
      if (!object.upload || !done.insert(item->sha256).second) continue;
      upload_one(session, target, *item, object);
    }
  }
}

}  // namespace optimum::hub::detail
