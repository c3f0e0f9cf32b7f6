#!/usr/bin/env bash
# Installs the Debian packages veil needs, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail
pkgs=(build-essential binutils cmake pkg-config
      libsndfile1-dev libsoxr-dev libfftw3-dev libdnnl-dev libcjson-dev
      libespeak-ng-dev espeak-ng-data libcairo2-dev fonts-dejavu-core
      libopenmpi-dev openmpi-bin
      python3)   # the tests compare JSON lines with it (tests/shell_train_rerun.sh)
if [ "${1:-}" = "--bench" ]; then
  # an optimised BLAS: Debian's torch (BLAS_INFO=generic) otherwise runs on the reference one
  pkgs+=(python3-numpy python3-torch python3-torchaudio libopenblas0-pthread)
fi
# make fuzz only: clang with libFuzzer and its sanitizer runtimes, and clang's OpenMP
if [ "${1:-}" = "--fuzz" ]; then
  pkgs+=(clang libclang-rt-dev libomp-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "veil needs these Debian packages: ${missing[*]}" >&2
  echo "run as root:  $line" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
