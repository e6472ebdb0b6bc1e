#!/usr/bin/env bash
# Prints a finished run's headline figure as a fraction, with its split:
#   "test 0.8750"  the test accuracy after training, when the data has a test split
#   "val 0.7741"   else the best validation accuracy over the epochs (what the notebooks report)
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
[ -n "$figure" ] || { echo "figure.sh: $run has neither a test accuracy nor a validation accuracy" >&2; exit 1; }
echo "$figure"
