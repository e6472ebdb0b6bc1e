#!/usr/bin/env bash
# The pictures of a trained emoji VAE run, each one PNG, and the latent codes of all
# 872 emoji, from the run's kept (best, else last) checkpoint:
#
#   examples/emoji_vae/pictures.sh RUN_DIR [OUT_DIR]      # default OUT_DIR: RUN_DIR/pictures
#
#   OUT_DIR/montage.png          the validation images (rows 1, 3, ...) above their reconstructions
#   OUT_DIR/generated_{A,B,C}.png  a 20x20 grid of decoded codes over [-2, 2]^2 per layout
#   OUT_DIR/codes.npy            z_mean of every emoji in examples/data/emoji_images/png36,
#                                float32 [872, 16], in file-name order
#
# Environment: GRAPHRUN (default build/graphrun).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="${1:?usage: examples/emoji_vae/pictures.sh RUN_DIR [OUT_DIR]}"
out="${2:-$run/pictures}"
graphrun="${GRAPHRUN:-build/graphrun}"
work="$out/work"
mkdir -p "$work"

"$graphrun" run "$here/vae.pbtxt" --checkpoint "$run" --split validation \
  --fetch original --fetch reconstruction -o "$work/validation"
"$graphrun" montage "$work/validation/original.npy" "$work/validation/reconstruction.npy" --cols 20 \
  -o "$out/montage.png"
for layout in A B C; do
  "$graphrun" latent-grid --layout "$layout" --dims 16 --steps 20 --range=-2,2 -o "$work/z_$layout.npy"
  "$graphrun" run "$here/decoder.pbtxt" --checkpoint "$run" -i z="$work/z_$layout.npy" -o "$work/generated_$layout"
  "$graphrun" montage "$work/generated_$layout/reconstruction.npy" --cols 20 -o "$out/generated_$layout.png"
done
"$graphrun" run "$here/encoder.pbtxt" --checkpoint "$run" -i original="$here/../data/emoji_images/png36" -o "$work"
cp "$work/z_mean.npy" "$out/codes.npy"
rm -rf "$work"
