#!/usr/bin/env bash
# Installs what the aarch64 cross build (`make test-aarch64`, toolchain file
# cmake/aarch64-linux-gnu.cmake) needs on a Debian 12 x86-64 machine; does
# nothing when all is present (dpkg checks first: repeated runs need no network).
#   scripts/install_aarch64_deps.sh [DEPS_DIR]     (default: build-aarch64/deps)
# - the cross toolchain and qemu-user (runs the aarch64 binaries and ctest);
# - the arm64 libraries, as multiarch packages (dpkg --add-architecture arm64),
#   for those that install beside their x86-64 twins (Multi-Arch: same);
# - libdnnl-dev, libyaml-cpp-dev and libonnx-dev for arm64 are unpacked into DEPS_DIR instead
#   (with their runtime packages, so the links resolve): libdnnl-dev's
#   dnnl_config.h differs per architecture and libyaml-cpp-dev is not multiarch,
#   so installing either for arm64 would remove the x86-64 one the native build needs;
#   libonnx-dev (with libonnx1 and libonnxifi) likewise: libonnxifi ships
#   /usr/lib/libonnxifi.so outside the multiarch folder, so dpkg refuses the arm64 twin.
# Left out of the cross build (see the Makefile's test-aarch64): gRPC (its code
# generators and libraries would need the arm64 protobuf/grpc stack) and Python.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deps="${1:-build-aarch64/deps}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "adding the arm64 architecture to dpkg"
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
fi

"$here/install_debs.sh" \
  g++-aarch64-linux-gnu qemu-user ninja-build cmake pkg-config \
  nlohmann-json3-dev libcli11-dev \
  libc6:arm64 libstdc++6:arm64 libgomp1:arm64 libdnnl2:arm64 libyaml-cpp0.7:arm64 \
  libgtest-dev:arm64 libutf8proc-dev:arm64 libpcre2-dev:arm64 libcurl4-openssl-dev:arm64 \
  libboost-dev:arm64 libzip-dev:arm64 libarchive-dev:arm64 \
  libprotobuf-dev:arm64 protobuf-compiler \
  libjpeg-dev:arm64 libpng-dev:arm64 libwebp-dev:arm64 \
  libsndfile1-dev:arm64 libsoxr-dev:arm64 libfftw3-dev:arm64

# Unpacked (not installed): <package>=<a file it must leave under DEPS_DIR>.
unpack() {
  local pkg="$1" marker="$2"
  if [ -e "$deps/$marker" ]; then return 0; fi
  local tmp
  tmp="$(mktemp -d)"
  echo "unpacking $pkg:arm64 into $deps"
  # apt-get download writes into the current folder; _apt cannot write to mktemp's (mode 700).
  chmod 777 "$tmp"
  (cd "$tmp" && apt-get download -q "$pkg:arm64" >/dev/null)
  mkdir -p "$deps"
  dpkg-deb -x "$tmp"/*.deb "$deps"
  rm -rf "$tmp"
  test -e "$deps/$marker" || { echo "$pkg:arm64 did not provide $marker" >&2; exit 1; }
}
unpack libdnnl2 usr/lib/aarch64-linux-gnu/libdnnl.so.2
unpack libdnnl-dev usr/include/oneapi/dnnl/dnnl_config.h
unpack libyaml-cpp0.7 usr/lib/aarch64-linux-gnu/libyaml-cpp.so.0.7
unpack libyaml-cpp-dev usr/lib/aarch64-linux-gnu/cmake/yaml-cpp/yaml-cpp-config.cmake
unpack libonnx1 usr/lib/aarch64-linux-gnu/libonnx.so.1
unpack libonnxifi usr/lib/libonnxifi.so
unpack libonnx-dev usr/lib/aarch64-linux-gnu/cmake/ONNX/ONNXConfig.cmake
