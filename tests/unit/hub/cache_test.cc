// Cache paths and the small file operations, in huggingface_hub's layout.
#include <gtest/gtest.h>

#include "optimum/hub/cache.h"
#include "optimum/hub/digest.h"
#include "test_util.h"

namespace optimum::hub {
namespace {

namespace fs = std::filesystem;
using test_util::TempDir;

constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

TEST(RepoCache, FolderNames) {
  EXPECT_EQ(repo_folder_name("org/name"), "models--org--name");
  EXPECT_EQ(repo_folder_name("gpt2"), "models--gpt2");
}

TEST(RepoCache, Paths) {
  const RepoCache cache("/c", "org/name");
  EXPECT_EQ(cache.storage_folder(), "/c/models--org--name");
  EXPECT_EQ(cache.blob_path("abc"), "/c/models--org--name/blobs/abc");
  EXPECT_EQ(cache.incomplete_path("abc"), "/c/models--org--name/blobs/abc.incomplete");
  EXPECT_EQ(cache.lock_path("abc"), "/c/.locks/models--org--name/abc.lock");
  EXPECT_EQ(cache.snapshot_path(kCommit, "onnx/model.onnx"),
            fs::path("/c/models--org--name/snapshots") / kCommit / "onnx" / "model.onnx");
  EXPECT_EQ(cache.ref_path("main"), "/c/models--org--name/refs/main");
  EXPECT_EQ(cache.ref_path("refs/pr/1"), "/c/models--org--name/refs/refs/pr/1");
  EXPECT_EQ(cache.no_exist_path(kCommit, "a/b.json"),
            fs::path("/c/models--org--name/.no_exist") / kCommit / "a" / "b.json");
  EXPECT_EQ(cache.tree_listing_path(kCommit),
            fs::path("/c/models--org--name/trees") / (std::string(kCommit) + ".json"));
}

TEST(RepoCache, NormalizeEtag) {
  EXPECT_EQ(normalize_etag("\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("W/\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("abc"), "abc");
}

TEST(RepoCache, RefsRoundTrip) {
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  EXPECT_FALSE(cache.resolve_commit("main").has_value());
  EXPECT_EQ(cache.resolve_commit(kCommit), kCommit);
  cache.write_ref("main", kCommit);
  EXPECT_EQ(test_util::read_bytes(cache.ref_path("main")), kCommit) << "bare hash, no newline";
  EXPECT_EQ(cache.resolve_commit("main"), kCommit);
  cache.write_ref("refs/pr/1", kCommit);
  EXPECT_EQ(cache.resolve_commit("refs/pr/1"), kCommit);
  cache.write_ref(kCommit, kCommit);
  EXPECT_FALSE(fs::exists(cache.ref_path(kCommit)));
  test_util::write_bytes(cache.ref_path("bad"), "not a hash");
  EXPECT_FALSE(cache.resolve_commit("bad").has_value());
}

TEST(RepoCache, SnapshotLinksAreRelative) {
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  fs::create_directories(cache.blob_path("e1").parent_path());
  test_util::write_bytes(cache.blob_path("e1"), "hello");
  cache.link_snapshot(kCommit, "sub/dir/file.txt", "e1");
  cache.link_snapshot(kCommit, "top.txt", "e1");
  const fs::path pointer = cache.snapshot_path(kCommit, "sub/dir/file.txt");
  ASSERT_TRUE(fs::is_symlink(pointer));
  EXPECT_EQ(fs::read_symlink(pointer), "../../../../blobs/e1");
  EXPECT_EQ(fs::read_symlink(cache.snapshot_path(kCommit, "top.txt")), "../../blobs/e1");
  EXPECT_EQ(test_util::read_bytes(pointer), "hello");
  cache.link_snapshot(kCommit, "top.txt", "e1");  // replacing is fine
  EXPECT_EQ(cache.snapshot_files(kCommit), (std::vector<std::string>{"sub/dir/file.txt", "top.txt"}));
  EXPECT_EQ(cache.snapshot_files(kCommit, "sub"), (std::vector<std::string>{"dir/file.txt"}));
}

TEST(RepoCache, NoExistMarkers) {
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  EXPECT_FALSE(cache.is_known_missing(kCommit, "a/b.json"));
  cache.mark_missing(kCommit, "a/b.json");
  EXPECT_TRUE(cache.is_known_missing(kCommit, "a/b.json"));
  EXPECT_EQ(fs::file_size(cache.no_exist_path(kCommit, "a/b.json")), 0u);
}

TEST(RepoCache, TreeListing) {
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  EXPECT_FALSE(cache.cached_tree_listing(kCommit).has_value());
  fs::create_directories(cache.tree_listing_path(kCommit).parent_path());
  test_util::write_bytes(cache.tree_listing_path(kCommit),
                         R"({"format_version": 1, "files": {"b.json": {"size": 1, "blob_id": "x"},
                             "a.json": {"size": 2, "blob_id": "y"}}})");
  EXPECT_EQ(cache.cached_tree_listing(kCommit), (std::vector<std::string>{"a.json", "b.json"}));
  test_util::write_bytes(cache.tree_listing_path(kCommit), "{broken");
  EXPECT_FALSE(cache.cached_tree_listing(kCommit).has_value());
}

TEST(Digest, Sha256KnownAnswers) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Incremental updates across block boundaries give the same digest.
  const std::string million(1000000, 'a');
  Sha256 hasher;
  for (size_t i = 0; i < million.size(); i += 777) hasher.update(million.substr(i, 777));
  EXPECT_EQ(hasher.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_FALSE(is_sha256_hex("abc"));
}

TEST(Digest, Sha256File) {
  TempDir dir;
  test_util::write_bytes(dir / "f", "abc");
  EXPECT_EQ(sha256_file(dir / "f"), sha256_hex("abc"));
}

TEST(Digest, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");
}

}  // namespace
}  // namespace optimum::hub
