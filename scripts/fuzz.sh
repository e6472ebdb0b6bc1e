#!/usr/bin/env bash
# Runs the libFuzzer targets of a GRAPHRUN_FUZZ build, each for SECONDS, seeded
# from the repository's own files (examples, test fixtures) plus fuzz/corpus/ and
# fuzz/regressions/. New inputs collect in BUILD/fuzz-corpus/<target>/ (not in
# git); a crash, sanitizer report, hang (-timeout) or memory blow-up
# (-rss_limit_mb, -malloc_limit_mb) stops that target, leaves its input in
# BUILD/fuzz-findings/ and makes the script fail.
#
#   scripts/fuzz.sh BUILD SECONDS [TARGET...]     (targets: model npy png checkpoint text; default all)
set -euo pipefail
cd "$(dirname "$0")/.."
build="$1"
seconds="$2"
shift 2
targets=("$@")
((${#targets[@]})) || targets=(model npy png checkpoint text)

status=0
for target in "${targets[@]}"; do
  fuzzer="$build/fuzz/${target}_fuzzer"
  seeds="$build/fuzz-seeds/$target"
  corpus="$build/fuzz-corpus/$target"
  findings="$build/fuzz-findings"
  rm -rf "$seeds"
  mkdir -p "$seeds" "$corpus" "$findings"
  scripts/fuzz_seeds.sh "$target" "$seeds"
  saved=()
  for d in fuzz/corpus/"$target" fuzz/regressions/"$target"; do [[ -d "$d" ]] && saved+=("$d"); done
  options=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1
           -artifact_prefix="$findings/$target-")
  [[ -f "fuzz/$target.dict" ]] && options+=(-dict="fuzz/$target.dict")
  echo "== fuzzing $target for ${seconds}s"
  if ! "$fuzzer" "${options[@]}" "$corpus" "$seeds" "${saved[@]}"; then
    echo "== $target: FINDING (input in $findings/)"
    status=1
  fi
done
exit "$status"
