// Read-only memory mapping of a whole file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace optimum::io {

class MappedFile {
 public:
  // Maps `path`; throws NotFound if absent, IoError if it cannot be mapped.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::filesystem::path path_;
};

// Tells the kernel that the bytes [p, p + n) are not needed any more when
// they lie inside a live MappedFile (whole pages only): the pages leave the
// process's resident set and come back from the file if read again. Used once
// a weight has been copied into its packed compute layout. Anything else
// (heap memory, a range outside every mapping) is left alone.
void advise_unneeded(const void* p, size_t n);

}  // namespace optimum::io
