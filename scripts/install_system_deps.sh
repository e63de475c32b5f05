#!/usr/bin/env bash
# Installs the Debian packages the build needs; does nothing when all are
# present (dpkg check first, so repeated runs are fast and need no network).
set -euo pipefail
exec "$(dirname "$0")/install_debs.sh" \
  build-essential cmake ninja-build ccache pkg-config \
  libdnnl-dev nlohmann-json3-dev libgtest-dev libcli11-dev \
  libutf8proc-dev libpcre2-dev libcurl4-openssl-dev \
  libboost-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
  libzip-dev libarchive-dev libyaml-cpp-dev wrk \
  libonnx-dev libsndfile1-dev libsoxr-dev libfftw3-dev libjpeg-dev libpng-dev libwebp-dev
