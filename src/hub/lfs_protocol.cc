#include "optimum/hub/lfs_protocol.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/io/json.h"

namespace optimum::hub::lfs {

namespace {

constexpr const char* kDefaultEndpoint = "https://huggingface.co";

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_header_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_header_value(std::string_view value) {
  return value.size() <= 8192 &&
         std::none_of(value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// FormatError unless `url` is an http or https URL without control bytes or spaces.
void check_http_url(const std::string& url, const std::string& what) {
  std::string scheme = url.substr(0, std::min(url.size(), url.find(':')));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool printable = std::all_of(
      url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; });
  if ((scheme != "http" && scheme != "https") || url.find("://") != scheme.size() || !printable ||
      url.size() > 16 * 1024) {
    throw FormatError(what + " " + quote_untrusted(url.substr(0, 200)) +
                      " is refused: only http and https URLs are fetched");
  }
}

io::Json parse(std::string_view body, const std::string& what) {
  io::JsonOptions options;
  options.max_depth = 32;
  return io::parse_json(body, what, options);
}

Action parse_action(const io::Json& value, const std::string& oid, const std::string& name,
                    const std::string& endpoint) {
  const std::string where = "\"actions." + name + "\" of object " + oid;
  if (!value.is_object()) throw FormatError(where + " is not an object");
  if (!value.contains("href") || !value["href"].is_string())
    throw FormatError(where + " has no \"href\" string");
  Action action;
  action.href = fix_endpoint(value["href"].get<std::string>(), endpoint);
  check_http_url(action.href, "the URL of " + where);
  if (value.contains("header") && !value["header"].is_null()) {
    const io::Json& header = value["header"];
    if (!header.is_object()) throw FormatError("\"header\" of " + where + " is not an object");
    if (header.size() > kMaxHeaderEntries) {
      throw FormatError("\"header\" of " + where + " has " + std::to_string(header.size()) +
                        " entries, more than the limit of " + std::to_string(kMaxHeaderEntries));
    }
    for (const auto& [key, entry] : header.items()) {
      if (entry.is_string()) {
        action.header[key] = entry.get<std::string>();
      } else if (entry.is_number_unsigned()) {
        action.header[key] = std::to_string(entry.get<uint64_t>());
      } else {
        throw FormatError("\"header\" entry " + quote_untrusted(key) + " of " + where +
                          " is neither a string nor a count");
      }
    }
  }
  return action;
}

}  // namespace

std::string fix_endpoint(const std::string& url, const std::string& endpoint) {
  const std::string_view prefix = kDefaultEndpoint;
  if (endpoint == prefix || !url.starts_with(prefix)) return url;
  if (url.size() > prefix.size() && url[prefix.size()] != '/' && url[prefix.size()] != '?') return url;
  return endpoint + url.substr(prefix.size());
}

std::map<std::string, UploadMode> parse_preupload_reply(std::string_view body,
                                                        const std::vector<std::string>& paths) {
  const io::Json reply = parse(body, "the preupload reply");
  if (!reply.is_object() || !reply.contains("files") || !reply["files"].is_array()) {
    throw FormatError("the preupload reply has no \"files\" list");
  }
  std::map<std::string, const io::Json*> by_path;
  for (const io::Json& file : reply["files"]) {
    if (!file.is_object() || !file.contains("path") || !file["path"].is_string()) {
      throw FormatError("an entry of the preupload reply has no \"path\" string");
    }
    by_path[file["path"].get<std::string>()] = &file;
  }
  std::map<std::string, UploadMode> out;
  for (const std::string& path : paths) {
    const auto found = by_path.find(path);
    if (found == by_path.end())
      throw FormatError("the preupload reply does not classify " + quote_untrusted(path));
    const io::Json& file = *found->second;
    const io::Json* mode = file.contains("uploadMode") ? &file["uploadMode"] : nullptr;
    if (mode == nullptr || !mode->is_string() || (*mode != "lfs" && *mode != "regular")) {
      throw FormatError("\"uploadMode\" of " + quote_untrusted(path) + " is " +
                        (mode ? quote_untrusted(mode->dump()) : std::string("missing")) +
                        ", not \"lfs\" or \"regular\"");
    }
    const io::Json* ignore = file.contains("shouldIgnore") ? &file["shouldIgnore"] : nullptr;
    if (ignore != nullptr && !ignore->is_null() && !ignore->is_boolean()) {
      throw FormatError("\"shouldIgnore\" of " + quote_untrusted(path) + " is not a boolean");
    }
    out[path] = UploadMode{*mode == "lfs", ignore != nullptr && ignore->is_boolean() && ignore->get<bool>()};
  }
  return out;
}

std::map<std::string, BatchObject> parse_batch_reply(std::string_view body,
                                                     const std::map<std::string, uint64_t>& wanted,
                                                     const std::string& endpoint) {
  const io::Json reply = parse(body, "the LFS batch reply");
  if (!reply.is_object() || !reply.contains("objects") || !reply["objects"].is_array()) {
    throw FormatError("the LFS batch reply has no \"objects\" list");
  }
  std::map<std::string, BatchObject> out;
  for (const io::Json& object : reply["objects"]) {
    if (!object.is_object() || !object.contains("oid") || !object["oid"].is_string()) {
      throw FormatError("an object of the LFS batch reply has no \"oid\" string");
    }
    const std::string oid = object["oid"];
    const auto asked = wanted.find(oid);
    if (asked == wanted.end()) throw FormatError("object " + quote_untrusted(oid) + " was not asked for");
    if (out.contains(oid)) throw FormatError("object " + oid + " is listed twice");
    if (!object.contains("size") || !object["size"].is_number_unsigned() ||
        object["size"].get<uint64_t>() != asked->second) {
      throw FormatError(
          "object " + oid + " has \"size\" " +
          (object.contains("size") ? quote_untrusted(object["size"].dump()) : std::string("(none)")) +
          ", not " + std::to_string(asked->second));
    }
    BatchObject entry;
    if (object.contains("error") && !object["error"].is_null()) {
      const io::Json& error = object["error"];
      std::string message = error.is_object() && error.contains("message") && error["message"].is_string()
                                ? error["message"].get<std::string>()
                                : error.dump();
      if (error.is_object() && error.contains("code") && error["code"].is_number_integer()) {
        message = std::to_string(error["code"].get<int64_t>()) + " " + message;
      }
      entry.error = message.substr(0, 1000);
    } else if (object.contains("actions") && !object["actions"].is_null()) {
      const io::Json& actions = object["actions"];
      if (!actions.is_object()) throw FormatError("\"actions\" of object " + oid + " is not an object");
      if (!actions.contains("upload"))
        throw FormatError("object " + oid + " has \"actions\" but no \"upload\"");
      entry.upload = parse_action(actions["upload"], oid, "upload", endpoint);
      if (actions.contains("verify") && !actions["verify"].is_null()) {
        entry.verify = parse_action(actions["verify"], oid, "verify", endpoint);
      }
    }
    out.emplace(oid, std::move(entry));
  }
  for (const auto& [oid, size] : wanted) {
    if (!out.contains(oid)) throw FormatError("object " + oid + " is missing from the LFS batch reply");
  }
  return out;
}

std::optional<MultipartPlan> multipart_plan(const Action& upload, uint64_t size,
                                            const std::string& endpoint) {
  const auto chunk = upload.header.find("chunk_size");
  if (chunk == upload.header.end()) return std::nullopt;
  const std::string& text = chunk->second;
  MultipartPlan plan;
  if (!all_digits(text) || text.size() > 18 || (plan.chunk_size = std::stoull(text)) == 0) {
    throw FormatError("the multipart chunk_size " + quote_untrusted(text.substr(0, 40)) +
                      " is not a positive integer");
  }
  const uint64_t n_parts = size / plan.chunk_size + (size % plan.chunk_size != 0 ? 1 : 0);
  if (n_parts > kMaxParts) {
    throw FormatError("chunk_size " + text + " splits " + std::to_string(size) + " bytes into " +
                      std::to_string(n_parts) + " parts, more than the limit of " +
                      std::to_string(kMaxParts));
  }
  plan.part_urls.resize(n_parts);
  size_t n_given = 0;
  for (const auto& [key, value] : upload.header) {
    if (key == "chunk_size" || !all_digits(key)) continue;
    ++n_given;
    const uint64_t number = key.size() > 6 ? 0 : std::stoull(key);
    if (number < 1 || number > n_parts || std::to_string(number) != key) {
      throw FormatError("the multipart header names part " + quote_untrusted(key.substr(0, 40)) +
                        " of a file of " + std::to_string(n_parts) + " parts of " + text + " bytes");
    }
    const std::string url = fix_endpoint(value, endpoint);
    check_http_url(url, "the URL of part " + key);
    plan.part_urls[number - 1] = url;
  }
  if (n_given != n_parts) {
    throw FormatError("the multipart header gives " + std::to_string(n_given) + " part URLs for " +
                      std::to_string(n_parts) + " parts of " + text + " bytes");
  }
  return plan;
}

std::vector<std::string> action_headers(const Action& action) {
  std::vector<std::string> out;
  for (const auto& [name, value] : action.header) {
    if (name == "chunk_size" || all_digits(name)) continue;
    if (!is_header_name(name) || !is_header_value(value)) {
      throw FormatError("the action header " + quote_untrusted(name.substr(0, 80)) +
                        " is not a valid HTTP header line");
    }
    out.push_back(name + ": " + value);
  }
  return out;
}

}  // namespace optimum::hub::lfs
