#!/usr/bin/env bash
# The movie-review GRU trained by graphrun from initial weights drawn by PyTorch's
# generator (Keras' initialisers, bench/compare_movie_torch.py --dump-init) instead
# of graphrun's, with graphrun's shuffle (train seed N): does where the initial
# weights come from change how often early stopping ends a run early? (README,
# "The GRU and the spread of single runs".) Prints one line per seed and a summary.
#
#   bench/gru_init_study.sh [build/graphrun] [SEED ...]     # default seeds 0..24
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
graphrun="${1:-$root/build/graphrun}"
shift || true
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=($(seq 0 24))
out="${RUNS:-$root/runs}/gru_init_study"
mkdir -p "$out"
model="$root/examples/movie_reviews/gru.pbtxt"
for s in "${seeds[@]}"; do
  d="$out/seed$s"
  rm -rf "$d"
  /usr/bin/python3 "$root/bench/compare_movie_torch.py" --cell gru --seed "$s" --dump-init "$d"
  # The example with W, R and dense_W read from those files (B and dense_b are zeros
  # in both), its train seed set to N and its data paths made absolute.
  sed -e "s#^parameter { name: \"\(W\|R\|dense_W\)\" shape: \(\[[0-9, ]*\]\) init { [a-z_]* {} } }#parameter { name: \"\1\" shape: \2 init { npy { file: \"$d/\1.npy\" } } }#" \
      -e "s/^  seed: [0-9]*/  seed: $s/" \
      -e "s#\"\\.\\./data/#\"$root/examples/data/#g" -e "s#\"data/#\"$root/examples/movie_reviews/data/#g" "$model" > "$d/model.pbtxt"
  [ "$(grep -c 'npy { file' "$d/model.pbtxt")" -eq 3 ] || { echo "gru_init_study.sh: could not rewrite the initialisers of $model" >&2; exit 1; }
  "$graphrun" train "$d/model.pbtxt" --run-dir "$d/run" --no-progress > "$d/train.txt" 2>&1 || { cat "$d/train.txt" >&2; exit 1; }
  read -r split value < <("$root/scripts/figure.sh" "$d/run")  # best val accuracy, as seeds.sh reports it
  awk -v s="$s" -v which="$split" -v v="$value" -v e="$(($(wc -l < "$d/run/metrics.csv") - 1))" \
    'BEGIN { printf "seed %s  %s %.2f%%  (%d epochs)\n", s, which, 100 * v, e }'
done | tee "$out/seeds.txt"
awk '{ v = $4 + 0; e = substr($5, 2) + 0; n++; sum += v; if (v >= 78.0) hit++; if (e >= 28) long++ }
     END { printf "mean val %.2f%% over %d seeds; %d at or above 78.0%%; %d ran 28 epochs or more\n", sum / n, n, hit, long }' "$out/seeds.txt"
