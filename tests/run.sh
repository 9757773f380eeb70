#!/bin/sh
# tests/run.sh — builds gort and runs the whole test suite three times: a normal optimized build,
# ASan+UBSan, and TSan. Installs what it needs first. Used by the README and .ci/run.
#   sh tests/run.sh            # all three passes
#   sh tests/run.sh quick      # the normal pass only
set -eu
cd "$(dirname "$0")/.."
sh cmake/install-deps.sh test
jobs=$(nproc)

pass() {  # pass <build-dir> <label> [cmake args...]
  dir=$1; label=$2; shift 2
  echo "=== $label ===" >&2
  cmake -S . -B "$dir" -G Ninja -DGORT_BUILD_TESTS=ON -DGORT_BUILD_BENCH=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 600
}

pass build "release (RelWithDebInfo)" -DCMAKE_BUILD_TYPE=RelWithDebInfo
[ "${1:-}" = quick ] && exit 0
pass build-asan "ASan + UBSan" -DCMAKE_BUILD_TYPE=Debug -DGORT_SANITIZE=address,undefined \
  -DGORT_BUILD_EXAMPLES=OFF
pass build-tsan "TSan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORT_SANITIZE=thread \
  -DGORT_BUILD_EXAMPLES=OFF
echo "all test passes succeeded" >&2
