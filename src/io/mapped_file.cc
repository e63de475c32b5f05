#include "optimum/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>

#include "optimum/core/errors.h"

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
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw NotFound("file not found: " + path.string());
    throw IoError(errno_message("cannot open " + path.string()));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw IoError(errno_message("cannot stat " + path.string()));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw NotFound("file not found: " + path.string() + " is a folder");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("cannot open " + path.string() + ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw IoError(errno_message("cannot mmap " + path.string()));
    }
    file->data_ = static_cast<const uint8_t*>(p);
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry()[reinterpret_cast<uintptr_t>(p)] = file->size_;
  }
  ::close(fd);
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
