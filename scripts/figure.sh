#!/usr/bin/env bash
# Prints a finished run's headline figure as a fraction, with its split:
#   "test 0.8750"  the test accuracy after training, when the data has a test split
#   "val 0.7741"   else the best validation accuracy over the epochs (what the notebooks report)
#   "val_loss_fall 0.373177 869.2769 544.8830 16"   else (no accuracy): see below
#
#   scripts/figure.sh RUN_DIR
set -euo pipefail
run="${1:?usage: scripts/figure.sh RUN_DIR}"
figure=$(awk '/^test \(/ { for (i = 1; i <= NF; ++i) if ($i ~ /^test_(binary_)?accuracy$/) v = $(i + 1) }
              END { if (v != "") printf "test %.6f", v }' "$run/train.log")
if [ -z "$figure" ]; then
  figure=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i ~ /^val_(binary_)?accuracy$/) c = i; next }
                    c && $c > best { best = $c } END { if (c) printf "val %.6f", best }' "$run/metrics.csv")
fi
if [ -z "$figure" ]; then
  # A model scored by its loss alone (an autoencoder): "val_loss_fall FALL FIRST BEST EPOCH", the
  # validation loss's fall from epoch 1 to its best (lowest, first of ties) epoch, as a fraction.
  figure=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "val_loss") c = i; next }
                    c && NR == 2 { first = $c }
                    c && (at == "" || $c + 0 < best) { best = $c + 0; at = $1 }
                    END { if (c) printf "val_loss_fall %.6f %.4f %.4f %d", (first - best) / first, first, best, at }' \
             "$run/metrics.csv")
fi
[ -n "$figure" ] || { echo "figure.sh: $run has no test accuracy, validation accuracy or validation loss" >&2; exit 1; }
echo "$figure"
