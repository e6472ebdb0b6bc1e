#!/usr/bin/env bash
# Trains every shipped example (unless its run already exists) and prints the
# README's results table from the runs' train.log and metrics.csv.
#
#   scripts/results.sh [build dir]        # default: build
#   RETRAIN=1 scripts/results.sh          # train again from scratch
#
# Runs go to runs/results/<name>. Columns: the notebook's figure, graphrun's
# figure (test split where the example has one, else the best validation
# figure, as the notebook reports; for a model without accuracy, the validation
# loss at epoch 1 and at its best epoch, and the fall), epochs trained, training
# wall time (eval excluded) and mean training samples/s.
set -euo pipefail
cd "$(dirname "$0")/.."
graphrun="${1:-build}/graphrun"

# name | model file | notebook's figure | PyTorch reference on this data
examples=(
  "Emojifier V1|examples/emojify/v1.pbtxt|train 97.7% / test 85.7%|train 100% / test 85.7%"
  "Emojifier V2 (seed 1)|examples/emojify/v2.pbtxt|test 80-95%|test mean 86.8%"
  "emotion BiLSTM + attention|examples/emotion/bilstm_attention.pbtxt|~93% val|89.6% test"
  "movie SimpleRNN|examples/movie_reviews/simple_rnn.pbtxt|75.6% val|71.6% val"
  "movie LSTM|examples/movie_reviews/lstm.pbtxt|77.7% val|75.9% val"
  "movie GRU|examples/movie_reviews/gru.pbtxt|78.5% val|78.9% val"
  "movie LSTM + dropout/recurrent dropout/mask|examples/movie_reviews/modified_lstm.pbtxt|79.8% val|75.5% val"
  "movie BiLSTM|examples/movie_reviews/bilstm.pbtxt|80.1% val|76.2% val"
  "movie 2x stacked LSTM|examples/movie_reviews/stacked_lstm.pbtxt|79.8% val|75.2% val"
  "imdb LSTM, 1 epoch|examples/imdb/lstm.pbtxt|~73%|76.1% test"
  "emoji VAE|examples/emoji_vae/vae.pbtxt|not printed|none"
  "emoji QA (SQAM) as a sentiment classifier|examples/emoji_qa/sqam.pbtxt|none (loss only)|-"
)

echo "| model | notebook | PyTorch ref | graphrun | epochs | wall time | samples/s |"
echo "|---|---|---|---|---|---|---|"
for entry in "${examples[@]}"; do
  IFS='|' read -r name model notebook reference <<< "$entry"
  [ -f "$model" ] || continue
  run="runs/results/$(basename "$(dirname "$model")")-$(basename "$model" .pbtxt)"
  # A run counts only if it trained exactly the current model file (the run's
  # copy is that text followed by a data_dir line).
  if [ -n "${RETRAIN:-}" ] || [ ! -f "$run/last.ckpt" ] || ! cmp -s -n "$(wc -c < "$model")" "$model" "$run/model.pbtxt"; then
    rm -rf "$run"
    "$graphrun" train "$model" --run-dir "$run" --no-progress > /dev/null 2>&1 || { echo "| $name | $notebook | $reference | training failed (see $run/train.log) | | | |"; continue; }
  fi
  log="$run/train.log"
  read -r split value first best best_epoch < <(scripts/figure.sh "$run")
  if [ "$split" = val_loss_fall ]; then
    figure=$(awk -v v="$value" -v f="$first" -v b="$best" -v e="$best_epoch" \
               'BEGIN { printf "val loss %.1f -> %.1f (epoch %d): -%.1f%%", f, b, e, 100 * v }')
  else
    figure=$(awk -v s="$split" -v v="$value" 'BEGIN { printf "%s %.1f%%", s, 100 * v }')
  fi
  read -r epochs seconds rate < <(awk '/^epoch [0-9]+\/[0-9]+/ { n++; for (i = 1; i <= NF; ++i) { if ($i ~ /^[0-9.]+s$/) s += substr($i, 1, length($i) - 1); if ($(i + 1) == "samples/s") r += $i } }
                                   END { printf "%d %.1f %.0f\n", n, s, n ? r / n : 0 }' "$log")
  echo "| $name | $notebook | $reference | $figure | $epochs | ${seconds} s | $rate |"
done
