#include "optimum/hub/settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/io/json.h"

namespace optimum::hub {

namespace {

// The variable's value when set and non-empty.
std::optional<std::string> non_empty(const EnvLookup& env, const std::string& name) {
  std::optional<std::string> value = env(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

// A positive whole number of seconds from `name`, else `fallback` when unset.
long timeout_seconds(const EnvLookup& env, const std::string& name, long fallback) {
  const std::optional<std::string> value = non_empty(env, name);
  if (!value) return fallback;
  bool ok = !value->empty() && value->size() <= 7;
  for (char c : *value) ok = ok && c >= '0' && c <= '9';
  const long out = ok ? std::stol(*value) : 0;
  if (out <= 0 || out > 1'000'000) {
    throw InvalidArgument(name + "=" + quote_untrusted(*value) +
                          " is not a whole number of seconds between 1 and 1000000");
  }
  return out;
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

bool env_flag_is_true(std::string_view value) {
  std::string upper(value);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return upper == "1" || upper == "TRUE" || upper == "YES" || upper == "ON";
}

std::filesystem::path expand_user(std::string_view path, const EnvLookup& env) {
  if (path == "~" || path.starts_with("~/")) {
    std::optional<std::string> home = non_empty(env, "HOME");
    if (home) return std::filesystem::path(*home + std::string(path.substr(1)));
  }
  return std::filesystem::path(path);
}

std::optional<std::string> clean_token(std::string_view raw) {
  std::string token;
  for (char c : raw) {
    if (c != '\r' && c != '\n') token.push_back(c);
  }
  const auto is_blank = [](unsigned char c) { return std::isspace(c) != 0; };
  token.erase(token.begin(), std::find_if_not(token.begin(), token.end(), is_blank));
  token.erase(std::find_if_not(token.rbegin(), token.rend(), is_blank).base(), token.end());
  if (token.empty()) return std::nullopt;
  return token;
}

HubEnv read_hub_env(const EnvLookup& env) {
  HubEnv out;
  if (std::optional<std::string> home = non_empty(env, "HF_HOME")) {
    out.hf_home = expand_user(*home, env);
  } else if (std::optional<std::string> xdg = non_empty(env, "XDG_CACHE_HOME")) {
    out.hf_home = expand_user(*xdg, env) / "huggingface";
  } else {
    out.hf_home = expand_user("~/.cache/huggingface", env);
  }

  if (std::optional<std::string> cache = non_empty(env, "HF_HUB_CACHE")) {
    out.hub_cache = expand_user(*cache, env);
  } else if (std::optional<std::string> legacy = non_empty(env, "HUGGINGFACE_HUB_CACHE")) {
    out.hub_cache = expand_user(*legacy, env);
  } else {
    out.hub_cache = out.hf_home / "hub";
  }

  out.endpoint = non_empty(env, "HF_ENDPOINT").value_or(std::string(kDefaultEndpoint));
  while (out.endpoint.size() > 1 && out.endpoint.back() == '/') out.endpoint.pop_back();

  std::optional<std::string> offline = non_empty(env, "HF_HUB_OFFLINE");
  if (!offline) offline = non_empty(env, "TRANSFORMERS_OFFLINE");
  out.offline = offline && env_flag_is_true(*offline);

  std::optional<std::string> token = non_empty(env, "HF_TOKEN");
  if (!token) token = non_empty(env, "HUGGING_FACE_HUB_TOKEN");
  if (token) out.token = clean_token(*token);

  if (std::optional<std::string> token_path = non_empty(env, "HF_TOKEN_PATH")) {
    out.token_path = expand_user(*token_path, env);
  } else {
    out.token_path = out.hf_home / "token";
  }
  out.etag_timeout_s = timeout_seconds(env, "HF_HUB_ETAG_TIMEOUT", kDefaultTimeoutSeconds);
  out.download_timeout_s = timeout_seconds(env, "HF_HUB_DOWNLOAD_TIMEOUT", kDefaultTimeoutSeconds);
  return out;
}

std::optional<std::string> resolve_token(const std::optional<std::string>& explicit_token,
                                         const HubEnv& env) {
  if (explicit_token) return clean_token(*explicit_token);
  if (env.token) return env.token;
  // huggingface_hub: a missing token file means no token; any other read
  // error is raised. Bounded: a FIFO or /dev/zero there must not hang.
  static constexpr uint64_t kMaxTokenFile = 64 * 1024;
  try {
    return clean_token(io::read_text_file(env.token_path, kMaxTokenFile));
  } catch (const NotFound&) {
    return std::nullopt;
  }
}

}  // namespace optimum::hub
