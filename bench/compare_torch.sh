#!/usr/bin/env bash
# graphrun against PyTorch (Debian's python3-torch, 2 threads) on the movie-review
# LSTM: one training step at batch 1024 (forward, backward, Adam) and batch-1
# inference. Both sides run here, one after the other, on the same machine.
#
# Debian's python3-torch calls whatever libblas.so.3 the system has, by default
# the slow reference BLAS. For a fair comparison PyTorch runs on OpenBLAS (Debian's
# libopenblas0-openmp, as the PyTorch reference implementation did): the
# package is downloaded once with apt-get and unpacked into bench/.deps (not
# installed; nothing system-wide changes) and put first on LD_LIBRARY_PATH.
# REFERENCE_BLAS=1 skips that. The torch side prints the BLAS it loaded.
#
# Usage: bench/compare_torch.sh [build dir] [batch] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"; batch="${2:-1024}"; steps="${3:-20}"
deps="bench/.deps"
openblas="$deps/root/usr/lib/x86_64-linux-gnu/openblas-openmp"
if [ -z "${REFERENCE_BLAS:-}" ] && [ ! -f "$openblas/libblas.so.3" ]; then
  mkdir -p "$deps"
  (cd "$deps" && apt-get download libopenblas0-openmp >/dev/null 2>&1) || { echo "compare_torch.sh: apt-get download libopenblas0-openmp failed (set REFERENCE_BLAS=1 to compare against the reference BLAS)" >&2; exit 1; }
  dpkg -x "$deps"/libopenblas0-openmp_*.deb "$deps/root"
fi
"$build/bench/train_step_bench" "$batch" "$steps"
if [ -z "${REFERENCE_BLAS:-}" ]; then
  LD_LIBRARY_PATH="$PWD/$openblas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" /usr/bin/python3 bench/torch_movie_lstm.py "$batch" "$steps"
else
  /usr/bin/python3 bench/torch_movie_lstm.py "$batch" "$steps"
fi
