#!/usr/bin/env bash
# Installs clang 14 with libFuzzer, the sanitizer runtimes and OpenMP (Debian 12) for
# `make fuzz`; does nothing when all are present (dpkg check first, so repeated
# runs are fast and need no network).
set -euo pipefail
exec "$(dirname "$0")/install_debs.sh" clang-14 libclang-rt-14-dev libfuzzer-14-dev libomp-14-dev
