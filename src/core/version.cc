#include "optimum/core/version.h"

// OPTIMUM_CPP_VERSION is set on this file only (src/core/CMakeLists.txt), so a
// version bump recompiles one file.
namespace optimum {

const char* version() { return OPTIMUM_CPP_VERSION; }

}  // namespace optimum
