#!/usr/bin/env bash
# The whole test suite, twice: a Release build with warnings as errors, then an
# AddressSanitizer + UndefinedBehaviorSanitizer build (-O1, clang) followed by a
# short run of every fuzz target; and the host-thread tests under ThreadSanitizer.
# CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${JOBS:-2}"

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure

# Sanitizer build, with clang: everything also gets libFuzzer's coverage, so the
# fuzz targets (fuzz/) build in the same tree; then each target fuzzes briefly,
# seeded from the repository's files (a finding fails the script).
cmake -S . -B build-sanitize -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DGRAPHRUN_SANITIZE=ON -DGRAPHRUN_FUZZ=ON
cmake --build build-sanitize -j"$jobs"
UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-sanitize -j"$jobs" --output-on-failure
scripts/fuzz.sh build-sanitize "${FUZZ_SECONDS:-15}"

# ThreadSanitizer: only concurrency_test (graphrun.h's thread-safety promises), -O1.
# TBB and libgomp are not instrumented: the test's 8 x 1000 runs use both the serial
# executor (host threads and graphrun's own sharing alone) and the default one.
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DGRAPHRUN_TSAN=ON -DGRAPHRUN_WERROR=OFF
cmake --build build-tsan -j"$jobs" --target concurrency_test
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/tests/concurrency_test
