# Cross build for aarch64 (ARMv8-A) Linux with Debian 12's cross toolchain
# (g++-aarch64-linux-gnu) and multiarch arm64 libraries; the binaries and
# `ctest` run under qemu-user. scripts/install_aarch64_deps.sh installs what
# this needs; `make test-aarch64` uses it:
#   cmake -S . -B build-aarch64 -G Ninja --toolchain cmake/aarch64-linux-gnu.cmake \
#     -DOPTIMUM_AARCH64_DEPS=build-aarch64/deps ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Debian's cross gcc searches the multiarch folders (/usr/include/aarch64-linux-gnu,
# /usr/lib/aarch64-linux-gnu) itself; CMake looks there for packages and libraries
# too (CMAKE_LIBRARY_ARCHITECTURE comes from the compiler), and never at the
# x86-64 ones. Programs (python, protoc) are the build machine's.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake /lib/x86_64-linux-gnu)

# pkg-config: the arm64 .pc files only (and the architecture-independent ones).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# qemu-user runs what the build runs (gtest_discover_tests) and what ctest runs.
# -L /: the multiarch libc6:arm64 (/lib/ld-linux-aarch64.so.1 and
# /lib/aarch64-linux-gnu), whose loader and libc are one version. Not -L
# /usr/aarch64-linux-gnu: that loader (libc6-arm64-cross, 2.36-8) would load the
# multiarch libc.so.6 (a newer 2.36-9 update) for the arm64 libraries there, and
# the mismatched pair hangs every program that starts a second thread.
find_program(OPTIMUM_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${OPTIMUM_QEMU_AARCH64};-L;/)

# Packages whose arm64 development files cannot be installed beside the x86-64
# ones (libdnnl-dev: its dnnl_config.h differs per architecture; libyaml-cpp-dev:
# not multiarch; libonnx-dev: libonnxifi's /usr/lib/libonnxifi.so is outside the
# multiarch folder) are unpacked by install_aarch64_deps.sh under OPTIMUM_AARCH64_DEPS;
# the binaries find libonnx.so.1 there through their build RPATH.
if(OPTIMUM_AARCH64_DEPS)
  get_filename_component(_deps "${OPTIMUM_AARCH64_DEPS}" ABSOLUTE)
  set(DNNL_INCLUDE_DIR "${_deps}/usr/include" CACHE PATH "oneDNN headers (arm64)")
  set(DNNL_LIBRARY "${_deps}/usr/lib/aarch64-linux-gnu/libdnnl.so" CACHE FILEPATH "oneDNN (arm64)")
  set(yaml-cpp_DIR "${_deps}/usr/lib/aarch64-linux-gnu/cmake/yaml-cpp" CACHE PATH "yaml-cpp (arm64)")
  set(ONNX_DIR "${_deps}/usr/lib/aarch64-linux-gnu/cmake/ONNX" CACHE PATH "ONNX (arm64)")
endif()
