// The library's version: one source, `project(optimum_cpp VERSION ...)` in the
// top CMakeLists.txt (pyproject.toml reads it from there too).
#pragma once

namespace optimum {

// "MAJOR.MINOR.PATCH", e.g. "0.1.0".
const char* version();

}  // namespace optimum
