#!/usr/bin/env bash
# Trains one example with several seeds in turn and prints each seed's figure
# (test accuracy where the example has a test split, else the best validation
# accuracy) and their mean, min and max. The seed is set in both places a model
# uses one: the model's `seed` (parameter initialisation) and `train { seed }`
# (shuffling and dropout masks).
#
#   scripts/seeds.sh MODEL.pbtxt [SEED ...]      # default seeds: 1 2 3 4 5
#
# Environment: GRAPHRUN (default build/graphrun of this tree), RUNS (default
# runs/). Each seed's run directory is $RUNS/<example>-<model>-seed<N> (replaced
# if it exists) and keeps the model variant it trained as model.pbtxt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="${1:?usage: scripts/seeds.sh MODEL.pbtxt [SEED ...]}"
shift
[ -f "$model" ] || { echo "seeds.sh: $model: no such file" >&2; exit 1; }
model_dir="$(cd "$(dirname "$model")" && pwd)"
name="$(basename "$model_dir")-$(basename "$model" .pbtxt)"
graphrun="${GRAPHRUN:-$root/build/graphrun}"
runs="${RUNS:-runs}"
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3 4 5)

mkdir -p "$runs"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

figures=()
for s in "${seeds[@]}"; do
  # A copy of the model with both seeds replaced and the data paths made absolute
  # (they are relative to the model file, and the copy lives elsewhere).
  copy="$tmp/${name}_seed$s.pbtxt"
  sed -e "s/^seed: [0-9]*/seed: $s/" -e "s/^  seed: [0-9]*/  seed: $s/" \
      -e "s#\"\\.\\./data/#\"$model_dir/../data/#g" -e "s#\"data/#\"$model_dir/data/#g" "$model" > "$copy"
  [ "$(grep -c "seed: $s\$" "$copy")" -eq 2 ] || { echo "seeds.sh: could not set both seeds of $model to $s" >&2; exit 1; }
  dir="$runs/$name-seed$s"
  rm -rf "$dir"
  "$graphrun" train "$copy" --run-dir "$dir" --no-progress > "$tmp/out$s.txt" 2>&1 || { cat "$tmp/out$s.txt" >&2; exit 1; }
  read -r split value < <("$root/scripts/figure.sh" "$dir")
  figures+=("$value")
  epochs=$(($(wc -l < "$dir/metrics.csv") - 1))
  awk -v s="$s" -v which="$split" -v v="$value" -v e="$epochs" -v d="$dir" \
    'BEGIN { printf "seed %s  %s %.2f%%  (%d epochs)  %s\n", s, which, 100 * v, e, d }'
done

printf '%s\n' "${figures[@]}" | awk -v which="$split" '{ sum += $1; if (NR == 1 || $1 < min) min = $1; if ($1 > max) max = $1 }
  END { printf "mean %s %.2f%% over %d seeds (min %.2f%%, max %.2f%%)\n", which, 100 * sum / NR, NR, 100 * min, 100 * max }'
