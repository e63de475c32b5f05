// Cache paths and the small file operations, in huggingface_hub's layout.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "optimum/hub/cache.h"
#include "optimum/core/errors.h"
#include "optimum/hub/digest.h"
#include "test_util.h"

namespace optimum::hub {
namespace {

namespace fs = std::filesystem;
using test_util::TempDir;

constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";
const CommitHash kHash = CommitHash::parse(kCommit, "the test");

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
  EXPECT_EQ(cache.snapshot_path(kHash, "onnx/model.onnx"),
            fs::path("/c/models--org--name/snapshots") / kCommit / "onnx" / "model.onnx");
  EXPECT_EQ(cache.ref_path("main"), "/c/models--org--name/refs/main");
  EXPECT_EQ(cache.ref_path("refs/pr/1"), "/c/models--org--name/refs/refs/pr/1");
  EXPECT_EQ(cache.no_exist_path(kHash, "a/b.json"),
            fs::path("/c/models--org--name/.no_exist") / kCommit / "a" / "b.json");
  EXPECT_EQ(cache.tree_listing_path(kHash),
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
  EXPECT_EQ(cache.resolve_commit(kCommit), kHash);
  cache.write_ref("main", kHash);
  EXPECT_EQ(test_util::read_bytes(cache.ref_path("main")), kCommit) << "bare hash, no newline";
  EXPECT_EQ(cache.resolve_commit("main"), kHash);
  cache.write_ref("refs/pr/1", kHash);
  EXPECT_EQ(cache.resolve_commit("refs/pr/1"), kHash);
  cache.write_ref(kCommit, kHash);
  EXPECT_FALSE(fs::exists(cache.ref_path(kCommit)));
}

TEST(RepoCache, RefsFileWithoutAHashIsAnErrorNamingIt) {
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  fs::create_directories(cache.ref_path("bad").parent_path());
  for (const char* content :
       {"not a hash", "../../../../etc", "/abs/path", "0123456789ABCDEF0123456789ABCDEF01234567"}) {
    test_util::write_bytes(cache.ref_path("bad"), content);
    EXPECT_TRUE(test_util::throws_with<FormatError>(
        [&] { cache.resolve_commit("bad"); }, {"refs file", cache.ref_path("bad").string(), "40 lowercase"}))
        << content;
  }
}

TEST(RepoCache, RefsFileThatIsNotARegularFileIsAnErrorNamingIt) {
  // A FIFO in refs/ (reading would wait for a writer) is refused at once,
  // naming the file, instead of read as "not cached". (A symlink out of the
  // cache, to /dev/zero say, is refused before it is read.)
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  fs::create_directories(cache.ref_path("main").parent_path());
  ASSERT_EQ(::mkfifo(cache.ref_path("main").c_str(), 0600), 0);
  EXPECT_TRUE(test_util::throws_with<IoError>([&] { cache.resolve_commit("main"); },
                                              {cache.ref_path("main").string(), "not a regular file"}));
  test_util::write_bytes(cache.ref_path("big"), std::string(5000, 'a'));
  EXPECT_TRUE(test_util::throws_with<FormatError>([&] { cache.resolve_commit("big"); },
                                                  {cache.ref_path("big").string(), "over the limit"}));
}

TEST(RepoCache, RevisionsThatLeaveTheCacheAreRefused) {
  TempDir dir;
  const RepoCache cache(dir.path() / "cache", "org/name");
  for (const char* revision : {"../../x", "/etc/passwd", "%2e%2e/x", "a%2fb", "a\nb", "a/../../b", ""}) {
    EXPECT_TRUE(test_util::throws_with<InvalidArgument>([&] { cache.write_ref(revision, kHash); },
                                                        {"invalid revision"}))
        << revision;
    EXPECT_TRUE(test_util::throws_with<InvalidArgument>([&] { cache.resolve_commit(revision); },
                                                        {"invalid revision"}))
        << revision;
  }
  EXPECT_TRUE(test_util::throws_with<InvalidArgument>(
      [&] { cache.write_ref(std::string_view("a\0b", 3), kHash); }, {"invalid revision 'a\\x00b'", "NUL"}));
  EXPECT_EQ(fs::directory_iterator(dir.path()), fs::directory_iterator()) << "nothing was written";
}

TEST(RepoCache, SymlinksOnDiskCannotRedirectWrites) {
  TempDir dir;
  const fs::path outside = dir.path() / "outside";
  fs::create_directories(outside);
  const RepoCache cache(dir.path() / "cache", "org/name");
  // A planted symlink inside the cache that points outside it: every write
  // through that folder is refused instead of following it.
  fs::create_directories(cache.storage_folder() / "snapshots");
  fs::create_symlink(outside, cache.storage_folder() / "snapshots" / kCommit);
  fs::create_directories(cache.storage_folder() / "refs");
  fs::create_symlink(outside / "authorized_keys", cache.storage_folder() / "refs" / "main");
  EXPECT_TRUE(test_util::throws_with<InvalidArgument>(
      [&] { cache.link_snapshot(kHash, "config.json", "e1"); }, {"symlink", outside.string()}));
  EXPECT_TRUE(test_util::throws_with<InvalidArgument>([&] { cache.write_ref("main", kHash); }, {"symlink"}));
  EXPECT_TRUE(test_util::throws_with<InvalidArgument>([&] { cache.snapshot_files(kHash); }, {"symlink"}));
  EXPECT_EQ(fs::directory_iterator(outside), fs::directory_iterator()) << "nothing written outside";
}

TEST(RepoCache, EtagsThatAreNotOneSegmentAreRefused) {
  const RepoCache cache("/c", "org/name");
  for (const char* etag : {"", "..", "a/b", "../../x"}) {
    EXPECT_TRUE(test_util::throws_with<FormatError>([&] { cache.blob_path(etag); }, {"ETag"})) << etag;
  }
  EXPECT_TRUE(test_util::throws_with<InvalidArgument>([&] { cache.blob_path(std::string_view("a\0", 2)); },
                                                      {"NUL"}));
}

TEST(RepoCache, SnapshotLinksAreRelative) {
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  fs::create_directories(cache.blob_path("e1").parent_path());
  test_util::write_bytes(cache.blob_path("e1"), "hello");
  cache.link_snapshot(kHash, "sub/dir/file.txt", "e1");
  cache.link_snapshot(kHash, "top.txt", "e1");
  const fs::path pointer = cache.snapshot_path(kHash, "sub/dir/file.txt");
  ASSERT_TRUE(fs::is_symlink(pointer));
  EXPECT_EQ(fs::read_symlink(pointer), "../../../../blobs/e1");
  EXPECT_EQ(fs::read_symlink(cache.snapshot_path(kHash, "top.txt")), "../../blobs/e1");
  EXPECT_EQ(test_util::read_bytes(pointer), "hello");
  cache.link_snapshot(kHash, "top.txt", "e1");  // replacing is fine
  EXPECT_EQ(cache.snapshot_files(kHash), (std::vector<std::string>{"sub/dir/file.txt", "top.txt"}));
  EXPECT_EQ(cache.snapshot_files(kHash, "sub"), (std::vector<std::string>{"dir/file.txt"}));
}

TEST(RepoCache, NoExistMarkers) {
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  EXPECT_FALSE(cache.is_known_missing(kHash, "a/b.json"));
  cache.mark_missing(kHash, "a/b.json");
  EXPECT_TRUE(cache.is_known_missing(kHash, "a/b.json"));
  EXPECT_EQ(fs::file_size(cache.no_exist_path(kHash, "a/b.json")), 0u);
}

TEST(RepoCache, TreeListing) {
  TempDir dir;
  const RepoCache cache(dir.path(), "org/name");
  EXPECT_FALSE(cache.cached_tree_listing(kHash).has_value());
  fs::create_directories(cache.tree_listing_path(kHash).parent_path());
  test_util::write_bytes(cache.tree_listing_path(kHash),
                         R"({"format_version": 1, "files": {"b.json": {"size": 1, "blob_id": "x"},
                             "a.json": {"size": 2, "blob_id": "y"}}})");
  EXPECT_EQ(cache.cached_tree_listing(kHash), (std::vector<std::string>{"a.json", "b.json"}));
  test_util::write_bytes(cache.tree_listing_path(kHash), "{broken");
  EXPECT_FALSE(cache.cached_tree_listing(kHash).has_value());
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
