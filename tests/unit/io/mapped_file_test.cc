// Read-only file mappings.
#include "optimum/io/mapped_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "test_util.h"

namespace optimum::io {
namespace {

using test_util::TempDir;
using test_util::throws_with;
using test_util::write_bytes;

TEST(MappedFile, MapsTheWholeFile) {
  TempDir dir;
  std::string content(10000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
  write_bytes(dir / "f.bin", content);
  auto f = MappedFile::open(dir / "f.bin");
  ASSERT_EQ(f->size(), content.size());
  EXPECT_EQ(f->path(), dir / "f.bin");
  EXPECT_EQ(std::memcmp(f->data(), content.data(), content.size()), 0);
}

TEST(MappedFile, MappingOutlivesTheFileOnDisk) {
  TempDir dir;
  write_bytes(dir / "f.bin", "hello");
  auto f = MappedFile::open(dir / "f.bin");
  std::filesystem::remove(dir / "f.bin");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()), "hello");
}

TEST(MappedFile, AdviseUnneededKeepsTheBytesReadable) {
  TempDir dir;
  std::string content(5 * 4096 + 123, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 13 + 1);
  write_bytes(dir / "f.bin", content);
  auto f = MappedFile::open(dir / "f.bin");
  ASSERT_EQ(std::memcmp(f->data(), content.data(), content.size()), 0);
  advise_unneeded(f->data() + 100, content.size() - 200);  // interior pages leave memory
  EXPECT_EQ(std::memcmp(f->data(), content.data(), content.size()), 0);  // and come back from the file
  advise_unneeded(f->data() + 4000, content.size());  // past the mapping's end: ignored
  EXPECT_EQ(std::memcmp(f->data(), content.data(), content.size()), 0);
}

TEST(MappedFile, AdviseUnneededLeavesOtherMemoryAlone) {
  std::vector<char> heap(8 * 4096, 'x');
  advise_unneeded(heap.data(), heap.size());  // not a mapping: must not be zeroed
  EXPECT_EQ(std::count(heap.begin(), heap.end(), 'x'), static_cast<long>(heap.size()));
  advise_unneeded(nullptr, 100);
}

TEST(MappedFile, EmptyFileHasNoData) {
  TempDir dir;
  write_bytes(dir / "empty", "");
  auto f = MappedFile::open(dir / "empty");
  EXPECT_EQ(f->size(), 0u);
  EXPECT_EQ(f->data(), nullptr);
}

TEST(MappedFile, MissingFileOrFolderThrowsNotFound) {
  TempDir dir;
  const auto p = dir / "absent.bin";
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)MappedFile::open(p); }, {p.string()}));
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)MappedFile::open(dir.path()); },
                                    {dir.path().string()}));
}

}  // namespace
}  // namespace optimum::io
