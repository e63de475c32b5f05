// Read-only zip archive over a memory-mapped file: the central directory
// (zip64 included, for archives past 4 GB) is parsed and checked once, and
// stored (uncompressed) entries are handed out as views of the mapping.
// Compressed or encrypted entries are listed but refused when read: torch.save
// and numpy never compress, and a decompressor is not worth its attack surface.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "optimum/io/mapped_file.h"

namespace optimum::io {

// One member of a zip archive, from its central directory record.
struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflate, ...
  uint16_t flags = 0;   // general purpose bits; bit 0 means encrypted
  uint32_t crc32 = 0;
  uint64_t size = 0;  // uncompressed bytes
  uint64_t compressed_size = 0;
  uint64_t data_offset = 0;  // first byte of the (possibly compressed) data in the file
};

class ZipReader {
 public:
  // Parses the archive in `file`; FormatError naming the file on a truncated
  // file, a missing or inconsistent end-of-central-directory record, or an
  // entry whose header or data lies outside the file; Unsupported for
  // multi-disk archives.
  static ZipReader open(std::shared_ptr<const MappedFile> file);
  // Maps `path` and parses it; NotFound if it does not exist.
  static ZipReader open(const std::filesystem::path& path);

  // Entries in central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry called `name`, or nullptr.
  const ZipEntry* find(const std::string& name) const;
  // The bytes of a stored entry, a view into the mapping. Unsupported naming
  // the entry, the method and the file when it is compressed or encrypted.
  std::string_view data(const ZipEntry& entry) const;
  // data(), and also checks the entry's CRC-32 (FormatError on mismatch);
  // meant for small records, as it reads every byte.
  std::string_view checked_data(const ZipEntry& entry) const;

  const std::shared_ptr<const MappedFile>& file() const { return file_; }
  const std::filesystem::path& path() const { return file_->path(); }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> by_name_;
};

// CRC-32 (ISO-HDLC, as zip and zlib use) of `bytes`, continuing from `crc`.
uint32_t crc32(std::string_view bytes, uint32_t crc = 0);

}  // namespace optimum::io
