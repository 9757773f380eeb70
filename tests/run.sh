#!/bin/sh
# tests/run.sh — builds gort and runs the whole test suite three times: a normal optimized build,
# ASan+UBSan, and TSan; then a clang pass that compiles with -Wthread-safety -Werror (the lock
# annotations of gort/detail/thread_annotations.hpp must hold). Installs what it needs first. Used
# by the README and .ci/run.
#   sh tests/run.sh            # all passes
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

# clang, thread-safety analysis as errors: the library and the test binaries that clang 14
# compiles (the conformance binary joins once its lambdas stop capturing structured bindings,
# which clang 14 rejects), then their tests.
echo "=== clang -Wthread-safety ===" >&2
cmake -S . -B build-clang -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug \
  -DGORT_BUILD_TESTS=ON -DGORT_BUILD_BENCH=OFF -DGORT_BUILD_EXAMPLES=OFF \
  -DCMAKE_CXX_FLAGS="-Wthread-safety -Werror" >/dev/null
cmake --build build-clang -j "$jobs" --target gort unit_tests pool_tests implicit_runtime_tests
ctest --test-dir build-clang -j "$jobs" --output-on-failure --timeout 600 \
  -L '^(unit_tests|pool_tests|implicit_runtime_tests)$'
echo "all test passes succeeded" >&2
