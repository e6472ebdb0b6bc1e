#!/usr/bin/env bash
# graphrun against PyTorch (Debian's python3-torch, 2 threads, on OpenBLAS: see
# torch_env.sh) on the movie-review LSTM: one training step at batch 1024
# (forward, backward, Adam) and batch-1 inference. Both sides run here, one after
# the other, on the same machine. The torch side prints the BLAS it loaded.
#
# Usage: bench/compare_torch.sh [build dir] [batch] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"; batch="${2:-1024}"; steps="${3:-20}"
source bench/torch_env.sh
"$build/bench/train_step_bench" "$batch" "$steps"
torch_python bench/torch_movie_lstm.py "$batch" "$steps"
