#!/usr/bin/env bash
# The emoji question-answer model in one command, from a fresh clone:
#
#   examples/emoji_qa/train.sh [RUN_DIR]        # default RUN_DIR: runs/emoji_qa (must not exist yet)
#
# 1. the emoji VAE run: VAE_RUN (default runs/emoji_vae) is reused when it holds a checkpoint,
#    else trained there first (examples/emoji_vae/vae.pbtxt, 100 epochs);
# 2. its encoder (examples/emoji_vae/encoder.pbtxt, the run's kept checkpoint) gives the latent
#    code of each of the 872 emoji;
# 3. prepare_answers.py writes data/codes/: the three sentiment emoji's codes standardised as
#    sklearn's scale, every emoji's code standardised alike, and per tweet its correct and
#    (drawn with seed SEED, default 1) incorrect answer;
# 4. graphrun train sqam.pbtxt, then its accuracy as a classifier on the held-out 20%.
#
# Environment: GRAPHRUN (default build/graphrun), VAE_RUN, SEED.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
graphrun="${GRAPHRUN:-build/graphrun}"
vae_run="${VAE_RUN:-runs/emoji_vae}"
run="${1:-runs/emoji_qa}"
images=examples/data/emoji_images/png36

[ -e "$run" ] && { echo "train.sh: $run exists; name a new run directory" >&2; exit 1; }
if [ -f "$vae_run/best.ckpt" ] || [ -f "$vae_run/last.ckpt" ]; then
  echo "VAE: reusing $vae_run ($(($(wc -l < "$vae_run/metrics.csv") - 1)) epochs trained)"
else
  "$graphrun" train examples/emoji_vae/vae.pbtxt --run-dir "$vae_run"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$graphrun" run examples/emoji_vae/encoder.pbtxt --checkpoint "$vae_run" -i original="$images" -o "$work"
python3 examples/emoji_qa/prepare_answers.py "$work/z_mean.npy" "$images" --seed "${SEED:-1}"

"$graphrun" train examples/emoji_qa/sqam.pbtxt --run-dir "$run"
"$graphrun" eval examples/emoji_qa/sqam.pbtxt --checkpoint "$run" --split validation
