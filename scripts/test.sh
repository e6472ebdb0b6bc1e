#!/usr/bin/env bash
# The whole test suite, twice: a Release build with warnings as errors, then an
# AddressSanitizer + UndefinedBehaviorSanitizer build (-O1); and the host-thread
# tests under ThreadSanitizer. CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${JOBS:-2}"

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure

# Sanitizer build: GCC 12 reports false -Wmaybe-uninitialized in <regex> under
# -fsanitize, so warnings are not errors here (the Release build enforces them).
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DGRAPHRUN_SANITIZE=ON -DGRAPHRUN_WERROR=OFF
cmake --build build-sanitize -j"$jobs"
UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-sanitize -j"$jobs" --output-on-failure

# ThreadSanitizer: only concurrency_test (graphrun.h's thread-safety promises), -O1.
# TBB and libgomp are not instrumented: the test's 8 x 1000 runs use both the serial
# executor (host threads and graphrun's own sharing alone) and the default one.
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DGRAPHRUN_TSAN=ON -DGRAPHRUN_WERROR=OFF
cmake --build build-tsan -j"$jobs" --target concurrency_test
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/tests/concurrency_test
