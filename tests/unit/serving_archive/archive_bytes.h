// Hand-made zip and tar.gz bytes for the archive tests: stored (uncompressed)
// entries whose every header field the test controls, so that hostile
// archives (names, modes, lying sizes) are built without a library that
// would refuse to write them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace optimum::test_util {

inline uint32_t crc32(std::string_view data) {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

inline void put16(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
}
inline void put32(std::string& out, uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}

struct ZipEntry {
  std::string name;
  std::string data = "";
  uint32_t unix_mode = 0100644;       // external attributes (high 16 bits)
  int64_t declared_size = -1;         // uncompressed size in the headers; -1: the data's
};

// A zip of stored entries, in order, made on "unix".
inline std::string make_zip(const std::vector<ZipEntry>& entries) {
  std::string out, central;
  for (const auto& e : entries) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint32_t crc = crc32(e.data);
    const uint32_t size = static_cast<uint32_t>(e.data.size());
    const uint32_t declared = e.declared_size < 0 ? size : static_cast<uint32_t>(e.declared_size);
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, 0);
    put16(out, 0);  // stored
    put16(out, 0);
    put16(out, 0x21);
    put32(out, crc);
    put32(out, size);
    put32(out, declared);
    put16(out, static_cast<uint32_t>(e.name.size()));
    put16(out, 0);
    out += e.name;
    out += e.data;
    put32(central, 0x02014b50);
    put16(central, (3u << 8) | 20);
    put16(central, 20);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0x21);
    put32(central, crc);
    put32(central, size);
    put32(central, declared);
    put16(central, static_cast<uint32_t>(e.name.size()));
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put32(central, e.unix_mode << 16);
    put32(central, offset);
    central += e.name;
  }
  const uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(entries.size()));
  put16(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(central.size()));
  put32(out, cd_offset);
  put16(out, 0);
  return out;
}

struct TarEntry {
  std::string name;
  std::string data = "";
  char type = '0';         // '0' file, '5' folder, '2' symlink, '1' hard link, '3' char device
  std::string linkname = "";
};

// A ustar archive of `entries`, gzip-wrapped with stored deflate blocks.
inline std::string make_tgz(const std::vector<TarEntry>& entries) {
  std::string tar;
  auto field = [](std::string& h, size_t at, size_t width, const std::string& value) {
    h.replace(at, std::min(width, value.size()), value.substr(0, width));
  };
  auto octal = [](uint64_t v, size_t width) {
    std::string s(width - 1, '0');
    for (size_t i = width - 1; i-- > 0 && v;) {
      s[i] = static_cast<char>('0' + (v & 7));
      v >>= 3;
    }
    return s;
  };
  for (const auto& e : entries) {
    std::string h(512, '\0');
    field(h, 0, 100, e.name);
    field(h, 100, 8, octal(e.type == '5' ? 0755 : 0644, 8));
    field(h, 108, 8, octal(0, 8));
    field(h, 116, 8, octal(0, 8));
    field(h, 124, 12, octal(e.type == '0' ? e.data.size() : 0, 12));
    field(h, 136, 12, octal(0, 12));
    field(h, 148, 8, std::string(8, ' '));
    h[156] = e.type;
    field(h, 157, 100, e.linkname);
    field(h, 257, 6, std::string("ustar\0", 6));
    field(h, 263, 2, "00");
    uint32_t sum = 0;
    for (unsigned char c : h) sum += c;
    field(h, 148, 8, octal(sum, 7) + std::string("\0 ", 2));
    tar += h;
    if (e.type == '0') {
      tar += e.data;
      tar.append((512 - e.data.size() % 512) % 512, '\0');
    }
  }
  tar.append(1024, '\0');
  std::string gz = {'\x1f', '\x8b', '\x08', '\0', '\0', '\0', '\0', '\0', '\0', '\x03'};
  for (size_t at = 0; at < tar.size() || at == 0;) {
    const size_t n = std::min<size_t>(65535, tar.size() - at);
    const bool last = at + n >= tar.size();
    gz.push_back(last ? '\x01' : '\0');
    put16(gz, static_cast<uint32_t>(n));
    put16(gz, static_cast<uint32_t>(~n & 0xFFFF));
    gz.append(tar, at, n);
    at += n;
    if (last) break;
  }
  put32(gz, crc32(tar));
  put32(gz, static_cast<uint32_t>(tar.size()));
  return gz;
}

}  // namespace optimum::test_util
