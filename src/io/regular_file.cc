#include "regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "optimum/core/errors.h"

namespace optimum::io::detail {

RegularFile::RegularFile(const std::filesystem::path& path, std::string_view verb) {
  const std::string what = "cannot " + std::string(verb) + " " + path.string();
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw NotFound("file not found: " + path.string());
    throw IoError(errno_message(what));
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    errno = err;
    throw IoError(errno_message("cannot stat " + path.string()));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd_);
    throw NotFound("file not found: " + path.string() + " is a folder");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw IoError(what + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

RegularFile::~RegularFile() { ::close(fd_); }

}  // namespace optimum::io::detail
