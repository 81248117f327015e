#!/usr/bin/env bash
# Installs what gradwire needs to build, test and benchmark, from Debian's
# packages. The CUDA toolkit, when present in /usr/local/cuda, is used as is.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential cmake ninja-build pkg-config git
      openmpi-bin libopenmpi-dev libzstd-dev libboost-dev libboost-program-options-dev
      libblas-dev libopenblas0-serial
      nlohmann-json3-dev
      libgtest-dev libbenchmark-dev
      clang libclang-rt-14-dev
      python3-matplotlib python3-numpy iproute2
      python3-torch dataset-fashion-mnist)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}"
fi
echo "dependencies installed"
