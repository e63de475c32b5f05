#include "optimum/core/errors.h"

#include <cerrno>
#include <cstring>

namespace optimum {

std::string errno_message(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

}  // namespace optimum
