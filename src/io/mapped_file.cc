#include "optimum/io/mapped_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>

#include "optimum/core/errors.h"
#include "regular_file.h"

namespace optimum::io {

namespace {

// Live mappings, so advise_unneeded only ever touches file-backed pages.
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<uintptr_t, size_t>& registry() {
  static std::map<uintptr_t, size_t> r;
  return r;
}

}  // namespace

void advise_unneeded(const void* p, size_t n) {
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) & ~(page - 1);
  const uintptr_t last = (begin + n) & ~(page - 1);
  if (p == nullptr || last <= first) return;
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = registry().upper_bound(begin);
  if (it == registry().begin()) return;
  --it;
  if (begin + n > it->first + it->second) return;  // not inside one mapping
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const detail::RegularFile regular(path, "open");
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(regular.size());
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, regular.fd(), 0);
    if (p == MAP_FAILED) throw IoError(errno_message("cannot mmap " + path.string()));
    file->data_ = static_cast<const uint8_t*>(p);
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry()[reinterpret_cast<uintptr_t>(p)] = file->size_;
  }
  return file;
}

MappedFile::~MappedFile() {
  if (data_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry().erase(reinterpret_cast<uintptr_t>(data_));
  }
  ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace optimum::io
