// The Hub's answers on the upload side, parsed and checked: the preupload
// reply (upload mode of each file) and the Git LFS batch reply with its
// basic and multipart actions (huggingface_hub's _commit_api.py and lfs.py
// read the same fields). Pure functions, no network: upload_folder uses them,
// and so do the fuzz target and the unit tests. Every malformed answer is a
// FormatError that says which field is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optimum::hub::lfs {

// Most parts a multipart upload may have (the S3 limit).
inline constexpr uint64_t kMaxParts = 10'000;
// Most entries an action's "header" map may have (multipart: one URL per part).
inline constexpr size_t kMaxHeaderEntries = kMaxParts + 16;

// How the Hub wants one file committed.
struct UploadMode {
  bool lfs = false;     // "lfs": content through the LFS batch API; else inline ("regular")
  bool ignore = false;  // "shouldIgnore": matched by .gitignore, left out of the commit
};

// Reads the preupload reply ({"files": [{"path", "uploadMode", "shouldIgnore"}]});
// every path of `paths` must be classified.
std::map<std::string, UploadMode> parse_preupload_reply(std::string_view body,
                                                        const std::vector<std::string>& paths);

// One action of a batch object: the URL, and the "header" map given with it
// (string or count values).
struct Action {
  std::string href;
  std::map<std::string, std::string> header;
};

// One object of the batch reply.
struct BatchObject {
  std::optional<Action> upload;  // nullopt (and no error): the Hub has the content already
  std::optional<Action> verify;
  std::optional<std::string> error;  // "code message" when the Hub refused the object
};

// Reads the batch reply for the objects asked for (`wanted`: sha256 -> size):
// each one answered once, with its size; hrefs on https://huggingface.co moved
// to `endpoint` (huggingface_hub's fix_hf_endpoint_in_url) and http(s) only.
std::map<std::string, BatchObject> parse_batch_reply(std::string_view body,
                                                     const std::map<std::string, uint64_t>& wanted,
                                                     const std::string& endpoint);

// The parts of a multipart upload of `size` bytes.
struct MultipartPlan {
  uint64_t chunk_size = 0;
  std::vector<std::string> part_urls;  // part i covers bytes [i * chunk_size, (i + 1) * chunk_size)
};

// The multipart plan of an upload action whose header carries chunk_size and
// the part URLs "1".."N" (N = ceil(size / chunk_size) <= kMaxParts); nullopt
// for a basic transfer (no chunk_size).
std::optional<MultipartPlan> multipart_plan(const Action& upload, uint64_t size, const std::string& endpoint);

// The "Name: value" header lines an action asks to be sent with its request
// (its header map minus the multipart entries), each a valid HTTP header.
std::vector<std::string> action_headers(const Action& action);

// `url` moved from https://huggingface.co to `endpoint` when that differs.
std::string fix_endpoint(const std::string& url, const std::string& endpoint);

}  // namespace optimum::hub::lfs
