#!/usr/bin/env bash
# The benchmark suite: every shipped example trained for a fixed number of steps in
# graphrun (bench/train_steps) and in PyTorch (bench/torch_models.py), interleaved,
# medians of several runs after warm-up, printed as a Markdown table (bench/run.py).
#
#   bench/run.sh BUILD_DIR [--quick] [--runs N] [--only NAME[,NAME...]] [--work DIR]
#
# --quick: graphrun only, a few examples of each split, one step: checks that every
# workload still runs (the test suite runs it); no timing is meaningful then.
# --work: where the graphrun side leaves the batch the PyTorch side trains on (bench/.work).
# PyTorch is Debian's python3-torch (apt-get install python3-torch) on OpenBLAS
# (torch_env.sh). Run it on a quiet machine: both sides use 2 threads.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/run.sh BUILD_DIR [--quick] [--runs N] [--only NAME,...]" >&2; exit 2; }
build="$1"; shift
source bench/torch_env.sh
blas=""
case " $* " in
  *" --quick "*) ;;
  *) blas="$(torch_blas_dir)" ;;
esac
exec /usr/bin/python3 bench/run.py --build "$build" --torch-blas "$blas" "$@"
