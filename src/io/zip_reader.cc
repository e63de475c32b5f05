#include "optimum/io/zip_reader.h"

#include <array>
#include <limits>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"

namespace optimum::io {

namespace {


constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kMaxCommentSize = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t le64(const uint8_t* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw FormatError("invalid zip archive " + path.string() + ": " + what);
}

std::string method_name(uint16_t method) {
  switch (method) {
    case 8:
      return "deflate";
    case 9:
      return "deflate64";
    case 12:
      return "bzip2";
    case 14:
      return "lzma";
    case 93:
      return "zstd";
    case 95:
      return "xz";
    default:
      return "method " + std::to_string(method);
  }
}

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

// Where the central directory lies, from the (zip64) end record.
struct Directory {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t count = 0;
  uint64_t end = 0;  // first byte after the directory's allowed range
};

Directory find_directory(const MappedFile& file) {
  const uint8_t* base = file.data();
  const size_t size = file.size();
  const auto& path = file.path();
  if (size < kEndSize) {
    fail(path,
         "file is " + std::to_string(size) + " bytes, too short for an end-of-central-directory record");
  }
  // The end record is the last thing in the file but for a comment of at most 64 KiB.
  size_t end_pos = std::numeric_limits<size_t>::max();
  const size_t lowest = size - kEndSize > kMaxCommentSize ? size - kEndSize - kMaxCommentSize : 0;
  for (size_t pos = size - kEndSize + 1; pos-- > lowest;) {
    if (le32(base + pos) == kEndSig && pos + kEndSize + le16(base + pos + 20) <= size) {
      end_pos = pos;
      break;
    }
  }
  if (end_pos == std::numeric_limits<size_t>::max()) {
    fail(path, "no end-of-central-directory record (not a zip file, or truncated)");
  }
  const uint8_t* e = base + end_pos;
  Directory dir;
  uint32_t disk = le16(e + 4);
  uint32_t cd_disk = le16(e + 6);
  uint64_t disk_count = le16(e + 8);
  dir.count = le16(e + 10);
  dir.size = le32(e + 12);
  dir.offset = le32(e + 16);
  dir.end = end_pos;
  if (end_pos >= kZip64LocatorSize && le32(e - kZip64LocatorSize) == kZip64LocatorSig) {
    const uint8_t* loc = e - kZip64LocatorSize;
    const uint64_t z64_pos = le64(loc + 8);
    if (le32(loc + 16) > 1)
      throw Unsupported("multi-disk zip archive " + path.string() + " is not supported");
    if (z64_pos > end_pos - kZip64LocatorSize || end_pos - kZip64LocatorSize - z64_pos < kZip64EndSize) {
      fail(path, "zip64 end-of-central-directory offset " + std::to_string(z64_pos) + " is out of range");
    }
    const uint8_t* z = base + z64_pos;
    if (le32(z) != kZip64EndSig)
      fail(path, "no zip64 end-of-central-directory record at offset " + std::to_string(z64_pos));
    disk = le32(z + 16);
    cd_disk = le32(z + 20);
    disk_count = le64(z + 24);
    dir.count = le64(z + 32);
    dir.size = le64(z + 40);
    dir.offset = le64(z + 48);
    dir.end = z64_pos;
  }
  if (disk != 0 || cd_disk != 0 || disk_count != dir.count) {
    throw Unsupported("multi-disk zip archive " + path.string() + " is not supported");
  }
  if (dir.offset > dir.end || dir.size > dir.end - dir.offset) {
    fail(path, "central directory [" + std::to_string(dir.offset) + ", +" + std::to_string(dir.size) +
                   ") runs past its end record at offset " + std::to_string(dir.end) + " (truncated file?)");
  }
  if (dir.count > dir.size / kCentralHeaderSize) {
    fail(path, "central directory of " + std::to_string(dir.size) + " bytes cannot hold " +
                   std::to_string(dir.count) + " entries");
  }
  return dir;
}

// Reads the zip64 extended-information extra field: the 64-bit values of the
// fields whose 32-bit header slot is saturated, in their fixed order.
void read_zip64_extra(const std::filesystem::path& path, const ZipEntry& entry, const uint8_t* extra,
                      size_t extra_len, bool need_size, bool need_csize, bool need_offset, uint64_t& size,
                      uint64_t& csize, uint64_t& offset) {
  size_t i = 0;
  while (i + 4 <= extra_len) {
    const uint16_t id = le16(extra + i);
    const uint16_t len = le16(extra + i + 2);
    if (i + 4 + len > extra_len) break;
    if (id == kZip64ExtraId) {
      const uint8_t* p = extra + i + 4;
      size_t left = len;
      auto take = [&](uint64_t& v) {
        if (left < 8) {
          fail(path, "entry " + quote_untrusted(entry.name) + " has a truncated zip64 extra field");
        }
        v = le64(p);
        p += 8;
        left -= 8;
      };
      if (need_size) take(size);
      if (need_csize) take(csize);
      if (need_offset) take(offset);
      return;
    }
    i += 4 + len;
  }
  fail(path, "entry " + quote_untrusted(entry.name) +
                 " has 32-bit fields set to 0xffffffff but no zip64 extra field");
}

}  // namespace

uint32_t crc32(std::string_view bytes, uint32_t crc) {
  crc = ~crc;
  for (char ch : bytes) crc = kCrcTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

ZipReader ZipReader::open(const std::filesystem::path& path) { return open(MappedFile::open(path)); }

ZipReader ZipReader::open(std::shared_ptr<const MappedFile> file) {
  ZipReader zip;
  zip.file_ = std::move(file);
  const MappedFile& f = *zip.file_;
  const auto& path = f.path();
  const uint8_t* base = f.data();
  const Directory dir = find_directory(f);
  zip.entries_.reserve(static_cast<size_t>(dir.count));
  uint64_t pos = dir.offset;
  const uint64_t dir_end = dir.offset + dir.size;
  for (uint64_t n = 0; n < dir.count; ++n) {
    const std::string where = "central directory entry " + std::to_string(n);
    if (dir_end - pos < kCentralHeaderSize) fail(path, where + " runs past the end of the directory");
    const uint8_t* h = base + pos;
    if (le32(h) != kCentralHeaderSig)
      fail(path, where + " at offset " + std::to_string(pos) + " has a bad signature");
    ZipEntry e;
    e.flags = le16(h + 8);
    e.method = le16(h + 10);
    e.crc32 = le32(h + 16);
    e.compressed_size = le32(h + 20);
    e.size = le32(h + 24);
    const size_t name_len = le16(h + 28);
    const size_t extra_len = le16(h + 30);
    const size_t comment_len = le16(h + 32);
    uint64_t local = le32(h + 42);
    if (dir_end - pos - kCentralHeaderSize < name_len + extra_len + comment_len) {
      fail(path, where + " name and fields run past the end of the directory");
    }
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
    const bool need_size = e.size == 0xffffffffu;
    const bool need_csize = e.compressed_size == 0xffffffffu;
    const bool need_offset = local == 0xffffffffu;
    if (need_size || need_csize || need_offset) {
      read_zip64_extra(path, e, h + kCentralHeaderSize + name_len, extra_len, need_size, need_csize,
                       need_offset, e.size, e.compressed_size, local);
    }
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;

    // The local header repeats the name; the data follow it and its extra field.
    if (local > dir.offset || dir.offset - local < kLocalHeaderSize) {
      fail(path, "entry " + quote_untrusted(e.name) + " local header offset " + std::to_string(local) +
                     " is outside the file's data");
    }
    const uint8_t* l = base + local;
    if (le32(l) != kLocalHeaderSig) {
      fail(path,
           "entry " + quote_untrusted(e.name) + " has no local header at offset " + std::to_string(local));
    }
    const size_t local_name_len = le16(l + 26);
    const size_t local_extra_len = le16(l + 28);
    if (dir.offset - local - kLocalHeaderSize < local_name_len + local_extra_len) {
      fail(path, "entry " + quote_untrusted(e.name) + " local header runs into the central directory");
    }
    if (std::string_view(reinterpret_cast<const char*>(l + kLocalHeaderSize), local_name_len) != e.name) {
      fail(path, "entry " + quote_untrusted(e.name) + " is named differently in its local header");
    }
    e.data_offset = local + kLocalHeaderSize + local_name_len + local_extra_len;
    if (e.compressed_size > dir.offset - e.data_offset) {
      fail(path, "entry " + quote_untrusted(e.name) + " data [" + std::to_string(e.data_offset) + ", +" +
                     std::to_string(e.compressed_size) +
                     ") run past the start of the central directory (truncated file?)");
    }
    if (e.method == 0 && e.size != e.compressed_size) {
      fail(path, "stored entry " + quote_untrusted(e.name) + " has size " + std::to_string(e.size) +
                     " but compressed size " + std::to_string(e.compressed_size));
    }
    if (!zip.by_name_.emplace(e.name, zip.entries_.size()).second) {
      fail(path, "entry " + quote_untrusted(e.name) + " appears twice");
    }
    zip.entries_.push_back(std::move(e));
  }
  return zip;
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::string_view ZipReader::data(const ZipEntry& entry) const {
  if (entry.flags & 1) {
    throw Unsupported("zip entry " + quote_untrusted(entry.name) + " in " + path().string() +
                      " is encrypted; encrypted entries are not supported");
  }
  if (entry.method != 0) {
    throw Unsupported("zip entry " + quote_untrusted(entry.name) + " in " + path().string() +
                      " is compressed (" + method_name(entry.method) +
                      "); only stored (uncompressed) entries are supported");
  }
  return std::string_view(reinterpret_cast<const char*>(file_->data() + entry.data_offset),
                          static_cast<size_t>(entry.size));
}

std::string_view ZipReader::checked_data(const ZipEntry& entry) const {
  const std::string_view bytes = data(entry);
  const uint32_t actual = crc32(bytes);
  if (actual != entry.crc32) {
    fail(path(), "entry " + quote_untrusted(entry.name) + " fails its CRC-32 check (stored " +
                     std::to_string(entry.crc32) + ", computed " + std::to_string(actual) + ")");
  }
  return bytes;
}

}  // namespace optimum::io
