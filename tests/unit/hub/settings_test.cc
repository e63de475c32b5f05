// Environment variables of the hub layer: names and defaults as huggingface_hub.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "optimum/core/errors.h"
#include "optimum/hub/settings.h"
#include "test_util.h"

namespace optimum::hub {
namespace {

using test_util::TempDir;

// An environment made of exactly `vars`.
EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(HubEnv, DefaultsFollowHuggingfaceHub) {
  const HubEnv env = read_hub_env(env_of({{"HOME", "/home/u"}}));
  EXPECT_EQ(env.hf_home, "/home/u/.cache/huggingface");
  EXPECT_EQ(env.hub_cache, "/home/u/.cache/huggingface/hub");
  EXPECT_EQ(env.token_path, "/home/u/.cache/huggingface/token");
  EXPECT_EQ(env.endpoint, "https://huggingface.co");
  EXPECT_FALSE(env.offline);
  EXPECT_FALSE(env.token.has_value());
}

TEST(HubEnv, TimeoutsFollowHuggingfaceHubNames) {
  HubEnv env = read_hub_env(env_of({{"HOME", "/home/u"}}));
  EXPECT_EQ(env.etag_timeout_s, 10);  // huggingface_hub's DEFAULT_ETAG_TIMEOUT
  EXPECT_EQ(env.download_timeout_s, 10);
  env = read_hub_env(env_of({{"HF_HUB_ETAG_TIMEOUT", "3"}, {"HF_HUB_DOWNLOAD_TIMEOUT", "45"}}));
  EXPECT_EQ(env.etag_timeout_s, 3);
  EXPECT_EQ(env.download_timeout_s, 45);
  for (const char* bad : {"0", "-1", "1.5", "ten", "99999999"}) {
    EXPECT_TRUE(test_util::throws_with<InvalidArgument>(
        [&] { read_hub_env(env_of({{"HF_HUB_DOWNLOAD_TIMEOUT", bad}})); },
        {"HF_HUB_DOWNLOAD_TIMEOUT='" + std::string(bad) + "'", "seconds"}))
        << bad;
  }
}

TEST(HubEnv, XdgCacheHomeMovesHfHome) {
  const HubEnv env = read_hub_env(env_of({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}}));
  EXPECT_EQ(env.hf_home, "/xdg/huggingface");
  EXPECT_EQ(env.hub_cache, "/xdg/huggingface/hub");
}

TEST(HubEnv, HfHomeAndHubCache) {
  HubEnv env = read_hub_env(env_of({{"HOME", "/home/u"}, {"HF_HOME", "~/hf"}}));
  EXPECT_EQ(env.hf_home, "/home/u/hf");
  EXPECT_EQ(env.hub_cache, "/home/u/hf/hub");
  EXPECT_EQ(env.token_path, "/home/u/hf/token");
  env = read_hub_env(env_of({{"HF_HOME", "/a"}, {"HF_HUB_CACHE", "/b/cache"}}));
  EXPECT_EQ(env.hub_cache, "/b/cache");
  EXPECT_EQ(env.token_path, "/a/token");
  env = read_hub_env(env_of({{"HF_HOME", "/a"}, {"HUGGINGFACE_HUB_CACHE", "/legacy"}}));
  EXPECT_EQ(env.hub_cache, "/legacy");
  env = read_hub_env(
      env_of({{"HF_HOME", "/a"}, {"HF_HUB_CACHE", "/new"}, {"HUGGINGFACE_HUB_CACHE", "/legacy"}}));
  EXPECT_EQ(env.hub_cache, "/new");
  env = read_hub_env(env_of({{"HF_HOME", "/a"}, {"HF_TOKEN_PATH", "/t/tok"}}));
  EXPECT_EQ(env.token_path, "/t/tok");
}

TEST(HubEnv, EndpointLosesTrailingSlash) {
  EXPECT_EQ(read_hub_env(env_of({{"HF_ENDPOINT", "http://127.0.0.1:8080/"}})).endpoint,
            "http://127.0.0.1:8080");
  EXPECT_EQ(read_hub_env(env_of({{"HF_ENDPOINT", ""}})).endpoint, "https://huggingface.co");
}

TEST(HubEnv, OfflineFlagValues) {
  for (const char* value : {"1", "true", "TRUE", "yes", "Yes", "on", "ON"}) {
    EXPECT_TRUE(read_hub_env(env_of({{"HF_HUB_OFFLINE", value}})).offline) << value;
  }
  for (const char* value : {"0", "false", "no", "off", "", "2", "offline"}) {
    EXPECT_FALSE(read_hub_env(env_of({{"HF_HUB_OFFLINE", value}})).offline) << value;
  }
  EXPECT_TRUE(read_hub_env(env_of({{"TRANSFORMERS_OFFLINE", "1"}})).offline);
  EXPECT_FALSE(read_hub_env(env_of({{"HF_HUB_OFFLINE", "0"}, {"TRANSFORMERS_OFFLINE", "1"}})).offline);
}

TEST(HubEnv, TokenFromEnvironment) {
  EXPECT_EQ(read_hub_env(env_of({{"HF_TOKEN", " hf_abc\n"}})).token, "hf_abc");
  EXPECT_EQ(read_hub_env(env_of({{"HUGGING_FACE_HUB_TOKEN", "hf_old"}})).token, "hf_old");
  EXPECT_EQ(read_hub_env(env_of({{"HF_TOKEN", "hf_new"}, {"HUGGING_FACE_HUB_TOKEN", "hf_old"}})).token,
            "hf_new");
  EXPECT_FALSE(read_hub_env(env_of({{"HF_TOKEN", " \r\n"}})).token.has_value());
}

TEST(HubEnv, ResolveTokenOrder) {
  TempDir dir;
  test_util::write_bytes(dir / "token", "hf_from_file\n");
  HubEnv env = read_hub_env(env_of({{"HF_HOME", dir.path().string()}}));
  EXPECT_EQ(resolve_token(std::nullopt, env), "hf_from_file");
  EXPECT_EQ(resolve_token(std::string("hf_explicit"), env), "hf_explicit");
  EXPECT_FALSE(resolve_token(std::string(""), env).has_value()) << "an empty explicit token disables auth";
  env = read_hub_env(env_of({{"HF_HOME", dir.path().string()}, {"HF_TOKEN", "hf_env"}}));
  EXPECT_EQ(resolve_token(std::nullopt, env), "hf_env");
  env = read_hub_env(env_of({{"HF_HOME", (dir / "missing").string()}}));
  EXPECT_FALSE(resolve_token(std::nullopt, env).has_value());
}

TEST(HubEnv, TokenFileThatIsNotARegularFileIsAnErrorNamingIt) {
  // A FIFO (no writer: reading would block) or /dev/zero (endless) at the
  // token path is refused at once; huggingface_hub raises on any read error
  // but a missing file.
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  std::filesystem::create_symlink("/dev/zero", dir / "zero");
  for (const char* name : {"fifo", "zero"}) {
    HubEnv env = read_hub_env(env_of({{"HF_TOKEN_PATH", (dir / name).string()}}));
    EXPECT_TRUE(test_util::throws_with<IoError>([&] { resolve_token(std::nullopt, env); },
                                                {(dir / name).string(), "not a regular file"}))
        << name;
  }
  test_util::write_bytes(dir / "big", std::string(100000, 'a'));
  HubEnv env = read_hub_env(env_of({{"HF_TOKEN_PATH", (dir / "big").string()}}));
  EXPECT_TRUE(test_util::throws_with<FormatError>([&] { resolve_token(std::nullopt, env); },
                                                  {(dir / "big").string(), "over the limit"}));
}

TEST(HubEnv, ExpandUser) {
  const EnvLookup env = env_of({{"HOME", "/home/u"}});
  EXPECT_EQ(expand_user("~", env), "/home/u");
  EXPECT_EQ(expand_user("~/x", env), "/home/u/x");
  EXPECT_EQ(expand_user("~other/x", env), "~other/x");
  EXPECT_EQ(expand_user("/abs", env), "/abs");
}

TEST(HubEnv, CleanToken) {
  EXPECT_EQ(clean_token("\thf_x\r\n"), "hf_x");
  EXPECT_EQ(clean_token("hf_\na"), "hf_a");
  EXPECT_FALSE(clean_token("").has_value());
}

}  // namespace
}  // namespace optimum::hub
