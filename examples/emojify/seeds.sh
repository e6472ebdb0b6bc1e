#!/usr/bin/env bash
# Trains Emojifier V2 (v2.pbtxt) with 5 seeds in turn and prints each seed's test
# accuracy and the mean (scripts/seeds.sh, which sets the model's `seed` and
# `train { seed }` both to each seed).
#
#   examples/emojify/seeds.sh [SEED ...]      # default seeds: 1 2 3 4 5
#
# Environment: GRAPHRUN (default build/graphrun), RUNS (default runs/); each
# seed's run directory is $RUNS/emojify-v2-seed<N>.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../scripts/seeds.sh" "$here/v2.pbtxt" "$@"
