// Hub settings from environment variables, with huggingface_hub's names and
// defaults, so both libraries agree on the cache, the endpoint and the token.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace optimum::hub {

// Looks up one environment variable; nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
EnvLookup process_env();

// Default Hub endpoint.
inline constexpr std::string_view kDefaultEndpoint = "https://huggingface.co";

// huggingface_hub's DEFAULT_ETAG_TIMEOUT and DEFAULT_DOWNLOAD_TIMEOUT.
inline constexpr long kDefaultTimeoutSeconds = 10;

// Slowest transfer accepted, in bytes/s, averaged over HF_HUB_DOWNLOAD_TIMEOUT.
inline constexpr long kMinDownloadSpeed = 1024;

// Settings read from the environment once per call of read_hub_env.
struct HubEnv {
  // HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
  std::filesystem::path hf_home;
  // HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else <hf_home>/hub.
  std::filesystem::path hub_cache;
  // HF_ENDPOINT without trailing '/', else https://huggingface.co.
  std::string endpoint;
  // HF_HUB_OFFLINE (else TRANSFORMERS_OFFLINE) is one of 1/true/yes/on, any case.
  bool offline = false;
  // HF_TOKEN, else HUGGING_FACE_HUB_TOKEN; blanks stripped, empty means unset.
  std::optional<std::string> token;
  // HF_TOKEN_PATH, else <hf_home>/token (the file `hf auth login` writes).
  std::filesystem::path token_path;
  // HF_HUB_ETAG_TIMEOUT seconds (default 10): connecting to the Hub, and the
  // whole of a metadata request (HEAD of a file; 6x for a JSON listing).
  long etag_timeout_s = kDefaultTimeoutSeconds;
  // HF_HUB_DOWNLOAD_TIMEOUT seconds (default 10): a transfer fails when it
  // averages under kMinDownloadSpeed bytes/s for this long.
  long download_timeout_s = kDefaultTimeoutSeconds;
};

// Reads every setting above through `env`; InvalidArgument naming the
// variable for a time-out that is not a positive whole number of seconds.
HubEnv read_hub_env(const EnvLookup& env = process_env());

// huggingface_hub's truth test for flags: 1, true, yes, on (case-insensitive).
bool env_flag_is_true(std::string_view value);

// Replaces a leading "~" or "~/" by $HOME (as os.path.expanduser).
std::filesystem::path expand_user(std::string_view path, const EnvLookup& env = process_env());

// Removes CR/LF and surrounding blanks; nullopt when nothing is left.
std::optional<std::string> clean_token(std::string_view raw);

// The token to send: `explicit_token` when given (empty string: none), else
// env.token, else the content of env.token_path when that file exists.
std::optional<std::string> resolve_token(const std::optional<std::string>& explicit_token, const HubEnv& env);

}  // namespace optimum::hub
