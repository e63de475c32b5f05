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
#include "optimum/hub/lfs_protocol.h"
#include "optimum/io/json.h"
#include "progress.h"
#include "text.h"

namespace optimum::hub::detail {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLfsMediaType = "application/vnd.git-lfs+json";
constexpr size_t kSampleBytes = 512;
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

bool same_origin(const std::string& url, const std::string& endpoint) {
  return url_origin(url) == url_origin(endpoint);
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
HttpRequest api_post(const Session& session, std::string url, std::string body,
                     std::vector<std::string> headers) {
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
    if (!same_origin(url, session.endpoint) || has_header(headers, "Authorization"))
      request.bearer_token.reset();
    request.source = [&reader](char* buffer, size_t size) { return reader.read(buffer, size); };
    request.source_size = length;
    request.deadline_s =
        session.etag_timeout_s + session.download_timeout_s + static_cast<long>(length / kMinDownloadSpeed);
    request.max_body_bytes = kMaxListingBytes;
    HttpResponse response = send_step(request, target, in_quotes(item.path_in_repo), step);
    if (response.status / 100 == 5 && attempt < kPutAttempts) {
      std::this_thread::sleep_for(std::chrono::seconds(attempt));
      continue;
    }
    return response;
  }
}

void upload_one(const Session& session, const UploadTarget& target, const UploadItem& item,
                const lfs::BatchObject& object) {
  const std::string file = in_quotes(item.path_in_repo);
  const lfs::Action& upload = *object.upload;
  ProgressBar progress("Uploading " + item.path_in_repo, item.size, 0, session.progress);
  std::optional<lfs::MultipartPlan> plan;
  std::vector<std::string> upload_headers, verify_headers;
  try {
    plan = lfs::multipart_plan(upload, item.size, session.endpoint);
    if (!plan) upload_headers = lfs::action_headers(upload);
    if (object.verify) verify_headers = lfs::action_headers(*object.verify);
  } catch (const FormatError& e) {
    fail(target, file, "the LFS batch reply", e.what());
  }

  if (!plan) {
    // Basic transfer: one PUT of the whole file.
    const std::string step = "upload (PUT " + shown(upload.href) + ")";
    const HttpResponse response =
        put_bytes(session, target, item, step, upload.href, 0, item.size, upload_headers, progress);
    if (response.status / 100 != 2) fail(target, file, step, status_text(response));
  } else {
    // Multipart transfer: chunk_size bytes to each numbered part URL, then a completion POST.
    const size_t n_parts = plan->part_urls.size();
    io::Json parts = io::Json::array();
    for (size_t i = 0; i < n_parts; ++i) {
      const uint64_t offset = i * plan->chunk_size;
      const uint64_t length = std::min(plan->chunk_size, item.size - offset);
      const std::string& url = plan->part_urls[i];
      const std::string step =
          "part " + std::to_string(i + 1) + " of " + std::to_string(n_parts) + " (PUT " + shown(url) + ")";
      const HttpResponse response = put_bytes(session, target, item, step, url, offset, length, {}, progress);
      if (response.status / 100 != 2) fail(target, file, step, status_text(response));
      const std::optional<std::string> etag = response.headers.get("ETag");
      if (!etag || etag->empty() || etag->size() > 1024) {
        fail(target, file, step, "the storage answered without an ETag header");
      }
      parts.push_back({{"partNumber", i + 1}, {"etag", *etag}});
    }
    const io::Json completion = {{"oid", item.sha256}, {"parts", std::move(parts)}};
    const HttpRequest request =
        api_post(session, upload.href, completion.dump(),
                 {std::string("Accept: ") + kLfsMediaType, std::string("Content-Type: ") + kLfsMediaType});
    const std::string step = "multipart completion (POST " + shown(upload.href) + ")";
    const HttpResponse response = send_step(request, target, file, step);
    if (response.status / 100 != 2) fail(target, file, step, status_text(response));
  }

  if (object.verify) {
    if (!has_header(verify_headers, "Content-Type"))
      verify_headers.push_back("Content-Type: application/json");
    const std::string& url = object.verify->href;
    HttpRequest request =
        api_post(session, url, io::Json{{"oid", item.sha256}, {"size", item.size}}.dump(), verify_headers);
    if (has_header(verify_headers, "Authorization")) request.bearer_token.reset();
    const std::string step = "verify (POST " + shown(url) + ")";
    const HttpResponse response = send_step(request, target, file, step);
    if (response.status / 100 != 2) fail(target, file, step, status_text(response));
  }
}

// The batch call for `items` (LFS, hashed): what to do with each distinct oid.
std::map<std::string, lfs::BatchObject> lfs_batch(const Session& session, const UploadTarget& target,
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
  std::map<std::string, lfs::BatchObject> out;
  try {
    out = lfs::parse_batch_reply(response.body, wanted, session.endpoint);
  } catch (const FormatError& e) {
    fail(target, files, step, std::string("malformed reply: ") + e.what());
  }
  std::string refused;
  for (const UploadItem* item : items) {
    const std::optional<std::string>& error = out.at(item->sha256).error;
    if (error)
      refused += (refused.empty() ? "" : "; ") + in_quotes(item->path_in_repo) + ": " + in_quotes(*error);
  }
  if (!refused.empty()) fail(target, files, step, "the Hub refused " + refused);
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
      files.push_back({{"path", items[i].path_in_repo},
                       {"sample", base64_encode(items[i].sample)},
                       {"size", items[i].size}});
    }
    io::Json payload = {{"files", std::move(files)}};
    if (gitignore) payload["gitIgnore"] = *gitignore;
    const std::string names = file_list(chunk);
    const std::string step = "preupload (POST " + url + ")";
    const HttpResponse response = send_step(
        api_post(session, url, payload.dump(), {"Content-Type: application/json"}), target, names, step);
    if (response.status == 401 || response.status == 403 || response.status == 404) {
      std::rethrow_exception(http_error(response, Target{target.repo_id, target.revision, ""}, session));
    }
    if (response.status / 100 != 2) fail(target, names, step, status_text(response));
    std::vector<std::string> paths;
    for (size_t i = start; i < end; ++i) paths.push_back(items[i].path_in_repo);
    std::map<std::string, lfs::UploadMode> modes;
    try {
      modes = lfs::parse_preupload_reply(response.body, paths);
    } catch (const FormatError& e) {
      fail(target, names, step, std::string("malformed reply: ") + e.what());
    }
    for (size_t i = start; i < end; ++i) {
      UploadItem& item = items[i];
      const lfs::UploadMode mode = modes.at(item.path_in_repo);
      item.lfs = mode.lfs && item.size > 0;  // empty files go inline (S3 refuses empty objects)
      item.ignore = mode.ignore;
      if (!item.lfs && !item.ignore && item.size > kMaxInlineBytes) {
        fail(target, in_quotes(item.path_in_repo), step,
             "the Hub answered uploadMode \"regular\" for a file of " + std::to_string(item.size) +
                 " bytes, more than the " + std::to_string(kMaxInlineBytes) +
                 " bytes a commit carries inline");
      }
    }
  }
}

void upload_lfs_files(const Session& session, const UploadTarget& target, std::vector<UploadItem>& items) {
  std::vector<UploadItem*> lfs_items;
  for (UploadItem& item : items) {
    if (item.lfs && !item.ignore) lfs_items.push_back(&item);
  }
  for (UploadItem* item : lfs_items) item->sha256 = sha256_file(item->local);  // streamed
  for (size_t start = 0; start < lfs_items.size(); start += kFilesPerPreupload) {
    const std::vector<const UploadItem*> chunk(
        lfs_items.begin() + static_cast<std::ptrdiff_t>(start),
        lfs_items.begin() +
            static_cast<std::ptrdiff_t>(std::min(lfs_items.size(), start + kFilesPerPreupload)));
    const std::map<std::string, lfs::BatchObject> objects = lfs_batch(session, target, chunk);
    std::set<std::string> done;  // files with the same content are uploaded once
    for (const UploadItem* item : chunk) {
      const lfs::BatchObject& object = objects.at(item->sha256);
      if (!object.upload || !done.insert(item->sha256).second) continue;
      upload_one(session, target, *item, object);
    }
  }
}

}  // namespace optimum::hub::detail
