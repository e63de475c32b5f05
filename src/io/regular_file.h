// Opening a file that must be a regular one (JSON files, mapped weights):
// shared by read_text_file and MappedFile::open.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace optimum::io::detail {

// An open read-only descriptor of a regular file and its size; closes it.
class RegularFile {
 public:
  // Opens `path` (symlinks followed) without blocking: NotFound if missing or
  // a folder, IoError "cannot <verb> path: ..." if unreadable or not a
  // regular file (a FIFO, a device such as /dev/zero).
  RegularFile(const std::filesystem::path& path, std::string_view verb);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace optimum::io::detail
