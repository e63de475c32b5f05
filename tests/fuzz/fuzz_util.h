// Shared helpers of the fuzz targets: the input as a file (the readers under
// test take paths, as they do in production) and the one rule every target
// applies: an optimum::Error is a clean refusal, anything else is a finding.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "optimum/core/errors.h"

namespace optimum::fuzz {

// An anonymous in-memory file (memfd) reached through /proc/self/fd: each
// input is written to it, so no file is ever left on disk, even after a crash.
class InputFile {
 public:
  explicit InputFile(const char* name) {
    fd_ = ::memfd_create(name, MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  // Replaces the file's content with `data`.
  const std::filesystem::path& write(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    return path_;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

// Sums `size` bytes at `p`: reading every byte of what a reader hands out
// lets AddressSanitizer see a view that reaches outside its file.
inline uint64_t touch(const void* p, size_t size) {
  const auto* b = static_cast<const volatile uint8_t*>(p);
  uint64_t sum = 0;
  for (size_t i = 0; i < size; ++i) sum += b[i];
  return sum;
}

// Whether OPTIMUM_FUZZ_VERBOSE is set: refusals are then printed (to check
// that the seeds load rather than being refused).
inline bool verbose() {
  static const bool v = std::getenv("OPTIMUM_FUZZ_VERBOSE") != nullptr;
  return v;
}

// Runs `body`; an optimum::Error (the input was refused cleanly) is swallowed,
// every other exception propagates and aborts the run as a finding.
template <typename Body>
void accept_or_refuse(Body&& body) {
  try {
    body();
  } catch (const optimum::Error& e) {
    if (verbose()) std::fprintf(stderr, "refused: %s\n", e.what());
  }
}

}  // namespace optimum::fuzz
