#!/usr/bin/env bash
# Installs graphrun's build and test dependencies from Debian 12 packages.
# Idempotent: does nothing (and needs no network) when everything is present.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libdnnl-dev          # oneDNN: op kernels
  ocl-icd-opencl-dev   # Debian's oneDNN CMake config (dnnl-config.cmake) requires OpenCL headers; only a Recommends of libdnnl-dev
  libtbb-dev           # oneTBB: the graph executor
  libboost-graph-dev   # Boost.Graph: topological order, reachability, Graphviz
  libprotobuf-dev protobuf-compiler  # the .pbtxt model format
  libgtest-dev         # GoogleTest: the test suite
  libcli11-dev         # CLI11: the command line
  libfmt-dev           # fmt: formatting messages and tables
  zlib1g-dev           # zlib: gzip-compressed datasets
  libpng-dev           # libpng: PNG image inputs and outputs of `graphrun run`
  python3              # examples/emoji_qa/prepare_answers.py (standard library only)
  clang-14 libclang-rt-14-dev libomp-14-dev  # sanitizer + fuzz build: clang, its ASan/libFuzzer runtimes, OpenMP
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
