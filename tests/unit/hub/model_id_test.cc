// Model id parsing: local folders, Hub ids, the deprecated "id@revision".
#include <gtest/gtest.h>

#include "optimum/core/errors.h"
#include "optimum/hub/filters.h"
#include "optimum/hub/model_id.h"
#include "test_util.h"

namespace optimum::hub {
namespace {

using test_util::TempDir;
using test_util::throws_with;

TEST(ModelId, HubIds) {
  ModelId id = parse_model_id("google-bert/bert-base-uncased");
  EXPECT_FALSE(id.is_local);
  EXPECT_EQ(id.repo_id, "google-bert/bert-base-uncased");
  EXPECT_EQ(id.revision, "");
  EXPECT_FALSE(id.deprecated_revision_form);
  id = parse_model_id("gpt2");
  EXPECT_EQ(id.repo_id, "gpt2");
  id = parse_model_id("org/My_Model.v2");
  EXPECT_EQ(id.repo_id, "org/My_Model.v2");
}

TEST(ModelId, DeprecatedRevisionForm) {
  const ModelId id = parse_model_id("org/name@v1.0");
  EXPECT_EQ(id.repo_id, "org/name");
  EXPECT_EQ(id.revision, "v1.0");
  EXPECT_TRUE(id.deprecated_revision_form);
  const ModelId commit = parse_model_id("name@0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(commit.repo_id, "name");
  EXPECT_TRUE(is_commit_hash(commit.revision));
  EXPECT_TRUE(
      throws_with<InvalidArgument>([] { parse_model_id("org/name@"); }, {"org/name@", "empty revision"}));
}

TEST(ModelId, ExistingFolderIsLocal) {
  TempDir dir;
  std::filesystem::create_directories(dir / "org" / "name");
  ModelId id = parse_model_id(dir.path().string());
  EXPECT_TRUE(id.is_local);
  EXPECT_EQ(id.local_path, dir.path());
  // A folder wins over a Hub id spelled the same way (relative to the cwd).
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  id = parse_model_id("org/name");
  std::filesystem::current_path(cwd);
  EXPECT_TRUE(id.is_local);
  EXPECT_EQ(id.local_path, "org/name");
}

TEST(ModelId, MissingPathsAreNotFound) {
  EXPECT_TRUE(throws_with<NotFound>([] { parse_model_id("/no/such/folder"); },
                                    {"'/no/such/folder'", "does not exist"}));
  EXPECT_TRUE(throws_with<NotFound>([] { parse_model_id("./missing"); }, {"'./missing'"}));
  EXPECT_TRUE(throws_with<NotFound>([] { parse_model_id("a/b/c"); }, {"'a/b/c'"}));
}

TEST(ModelId, InvalidIds) {
  for (const char* bad : {"org/na me", "org--x/name", "org/..name", "-org/name", "org/name-", "org/", "/",
                          "org//name", "na!me"}) {
    EXPECT_THROW(validate_repo_id(bad), InvalidArgument) << bad;
  }
  EXPECT_TRUE(throws_with<InvalidArgument>([] { parse_model_id("bad id"); }, {"'bad id'", "character ' '"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { validate_repo_id(std::string(97, 'a')); }, {"96"}));
  EXPECT_NO_THROW(validate_repo_id(std::string(96, 'a')));
}

TEST(ModelId, CommitHash) {
  EXPECT_TRUE(is_commit_hash("0123456789abcdef0123456789abcdef01234567"));
  // huggingface_hub's REGEX_COMMIT_HASH is lowercase only: snapshot folders are named so.
  EXPECT_FALSE(is_commit_hash("0123456789abcdef0123456789ABCDEF01234567"));
  EXPECT_FALSE(is_commit_hash("main"));
  EXPECT_FALSE(is_commit_hash("0123456789abcdef0123456789abcdef0123456"));
  EXPECT_FALSE(is_commit_hash("0123456789abcdef0123456789abcdef0123456g"));
  EXPECT_EQ(CommitHash::parse("0123456789abcdef0123456789abcdef01234567", "x").str(),
            "0123456789abcdef0123456789abcdef01234567");
  EXPECT_FALSE(CommitHash::from("../../../../etc").has_value());
  const std::vector<std::string> bads = {"../../../../home/u/.ssh", "/tmp/x",
                                        "0123456789ABCDEF0123456789ABCDEF01234567",
                                        std::string("0123456789abcdef0123456789abcdef0123456\0", 40), ""};
  for (const std::string& bad : bads) {
    EXPECT_TRUE(throws_with<FormatError>([&] { CommitHash::parse(bad, "the X-Repo-Commit header from URL"); },
                                         {"invalid commit hash", "the X-Repo-Commit header from URL",
                                          "40 lowercase hexadecimal"}))
        << bad;
  }
  EXPECT_TRUE(throws_with<FormatError>([] { CommitHash::parse("/etc/x\n", "h"); }, {"'/etc/x\\x0a'"}));
}

TEST(ModelId, Revisions) {
  for (const char* good : {"main", "v1.0", "refs/pr/1", "release-2024_01", "feature/x.y",
                           "0123456789abcdef0123456789abcdef01234567"}) {
    EXPECT_NO_THROW(validate_revision(good)) << good;
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"../../x", "'..'"},          {"/etc/passwd", "absolute"},       {"%2e%2e/x", "'%'"},
      {"a%2fb", "'%'"},             {"a\nb", "control character"},   {std::string("a\0b", 3), "NUL"},
      {"a/../b", "'..'"},           {"a//b", "empty"},               {"a/", "ends with"},
      {".hidden", "starts with '.'"}, {"x.lock", ".lock"},            {"a b", "' '"},
      {"a\\b", "'\\x5c'"},         {"a:b", "':'"},                  {"@{-1}", "'@{'"},
      {"", "empty"},                {std::string(256, 'a'), "255"}};
  for (const auto& [revision, why] : bad) {
    EXPECT_TRUE(throws_with<InvalidArgument>([&] { validate_revision(revision); }, {"invalid revision", why}))
        << revision;
  }
}

TEST(ModelId, RepoPaths) {
  EXPECT_NO_THROW(validate_repo_path("onnx/model.onnx"));
  EXPECT_NO_THROW(validate_repo_path("a..b"));
  EXPECT_THROW(validate_repo_path(""), InvalidArgument);
  EXPECT_THROW(validate_repo_path("/etc/passwd"), InvalidArgument);
  EXPECT_TRUE(throws_with<InvalidArgument>([] { validate_repo_path("a/../../x"); }, {"'a/../../x'", ".."}));
  EXPECT_EQ(join_repo_path("", "config.json"), "config.json");
  EXPECT_EQ(join_repo_path("sub/", "config.json"), "sub/config.json");
  EXPECT_EQ(join_repo_path("/sub", ""), "sub");
}

TEST(Filters, FnmatchLikePython) {
  EXPECT_TRUE(fnmatch("*.json", "config.json"));
  EXPECT_TRUE(fnmatch("*.json", "sub/config.json")) << "'*' crosses '/' as in Python's fnmatch";
  EXPECT_FALSE(fnmatch("*.json", "model.safetensors"));
  EXPECT_TRUE(fnmatch("model-?\?\?\?\?-of-*.safetensors", "model-00001-of-00002.safetensors"));
  EXPECT_TRUE(fnmatch("[!.]*", "config.json"));
  EXPECT_FALSE(fnmatch("[!.]*", ".gitattributes"));
  EXPECT_TRUE(fnmatch("[a-c]x", "bx"));
  EXPECT_TRUE(fnmatch("[x", "[x")) << "an unclosed set is literal";
  EXPECT_TRUE(fnmatch("", ""));
  EXPECT_FALSE(fnmatch("", "a"));
  EXPECT_TRUE(fnmatch("**", ""));
}

TEST(Filters, MatchesAny) {
  EXPECT_TRUE(matches_any("x", {}));
  EXPECT_TRUE(matches_any("onnx/model.onnx", {"onnx/"}));
  EXPECT_FALSE(matches_any("model.onnx", {"onnx/"}));
  EXPECT_TRUE(matches_any("tokenizer.json", {"*.safetensors", "*.json"}));
}

}  // namespace
}  // namespace optimum::hub
