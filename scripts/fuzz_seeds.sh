#!/usr/bin/env bash
# Copies the repository's own files that fuzz target TARGET reads (examples, test
# fixtures) into DIR, as libFuzzer seeds. The checkpoint target has none here:
# the repository holds no run directory (its seeds are in fuzz/corpus/checkpoint/).
#
#   scripts/fuzz_seeds.sh TARGET DIR
set -euo pipefail
cd "$(dirname "$0")/.."
target="$1"
dir="$2"
mkdir -p "$dir"

# Files named like $1, small ones only: libFuzzer's input length limit follows the largest seed.
small_files() { find examples tests -name "$1" -size -16k -type f | LC_ALL=C sort; }
# Copies each file named on stdin to DIR/<prefix><n>.
copy_numbered() {
  local n=0 f
  while read -r f; do cp "$f" "$dir/$1$((n++))"; done
}
# The first 4 KiB of a (possibly gzip-compressed) text file.
text_head() { head -c 4096 < <(gzip -dcf "$1"); }

case "$target" in
  model) small_files '*.pbtxt' | copy_numbered model- ;;
  npy) small_files '*.npy' | copy_numbered npy- ;;
  # Every 8th emoji (the set varies little) and the test fixtures.
  png) { small_files '*.png' | grep -v '^examples' || true; small_files '*.png' | awk 'NR % 8 == 1'; } |
         copy_numbered png- ;;
  checkpoint) ;;
  text)
    # The first byte chooses the reader (fuzz/text_fuzzer.cpp): 0 CSV, 1 CSV without header, 2 TSV,
    # 3 text;label, 4 vocab.txt (in fuzz/corpus/text/), 5 GloVe vectors.
    n=0
    while read -r f; do
      { printf '\0'; text_head "$f"; } >"$dir/csv-$n"
      { printf '\1'; text_head "$f"; } >"$dir/csv-no-header-$n"
      { printf '\2'; text_head "$f" | tr ',' '\t'; } >"$dir/tsv-$n"
      n=$((n + 1))
    done < <(find examples tests -name '*.csv' -type f | LC_ALL=C sort)
    { printf '\0'; text_head examples/imdb/data/test.part01.csv.gz | gzip -c; } >"$dir/csv-gzip"
    for f in examples/emotion/data/{train,val,test}.txt; do
      { printf '\3'; text_head "$f"; } >"$dir/text-label-${f##*/}"
    done
    { printf '\5'; cat tests/data/fixtures/glove_3d.txt; } >"$dir/glove"
    { printf '\5'; text_head examples/data/glove/glove.6B.100d.top30k.part01.txt.gz | gzip -c; } >"$dir/glove-gzip"
    ;;
  *)
    echo "unknown fuzz target '$target'" >&2
    exit 1
    ;;
esac
