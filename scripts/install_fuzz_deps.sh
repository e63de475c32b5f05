#!/usr/bin/env bash
# Installs clang 14 with libFuzzer, the sanitizer runtimes and OpenMP (Debian 12) for
# `make fuzz`; does nothing when all are present (dpkg check first, so repeated
# runs are fast and need no network).
set -euo pipefail
packages=(clang-14 libclang-rt-14-dev libfuzzer-14-dev libomp-14-dev)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
