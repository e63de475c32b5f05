// Hashing and encoding used by transfers: sha256 (LFS files are named by it)
// and base64 (file content in commit payloads).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace optimum::hub {

// Incremental SHA-256 (FIPS 180-4).
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // Lowercase hexadecimal digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  uint64_t length_ = 0;  // bytes hashed so far
  size_t buffered_ = 0;
};

// Lowercase hexadecimal sha256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// Lowercase hexadecimal sha256 of a file's content; IoError when unreadable.
std::string sha256_file(const std::filesystem::path& path);

// True for 64 hexadecimal characters (an LFS ETag is the file's sha256).
bool is_sha256_hex(std::string_view text);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);

}  // namespace optimum::hub
