#!/bin/sh
# tests/run.sh — builds gort and runs the whole test suite four times, then the channel fuzzer
# for 60 s (docs/fuzzing.md): an optimized build with
# g++, the same with Debian's default clang++ (the oldest supported clang) with every warning an
# error and clang's thread-safety analysis on (the lock annotations of
# gort/detail/thread_annotations.hpp must hold), ASan+UBSan and TSan. The g++ pass also runs the packaging test (tests/packaging/check.sh:
# installs, consumers built with every supported compiler, a sanitized application). Installs what
# it needs first. Used by the README and .ci/run.
#   sh tests/run.sh            # all four passes and the fuzzer
#   sh tests/run.sh quick      # the g++ pass only
set -eu
cd "$(dirname "$0")/.."
sh cmake/install-deps.sh test
jobs=$(nproc)

# The clang pass: its compiler and its flags (add clang-only warnings here).
clang_cxx=clang++
clang_flags="-Wall -Wextra -Wpedantic -Wthread-safety -Werror"

# pass <build-dir> <label> <ctest-args> [cmake args...]
pass() {
  dir=$1; label=$2; ctest_args=$3; shift 3
  echo "=== $label ===" >&2
  # CMake ignores every -D of a configure that changes a cached build directory's compiler (it
  # starts over with defaults): start over here instead, so the pass gets the settings it names.
  for a in "$@"; do
    case $a in -DCMAKE_CXX_COMPILER=*)
      cached=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt" 2>/dev/null || true)
      if [ -n "$cached" ] && [ "$cached" != "${a#*=}" ]; then
        echo "$dir was configured with $cached: configuring it afresh" >&2
        rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
      fi ;;
    esac
  done
  cmake -S . -B "$dir" -G Ninja -DGORT_BUILD_TESTS=ON -DGORT_BUILD_BENCH=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  # shellcheck disable=SC2086
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 600 $ctest_args
}

# The first pass also runs the conformance suite under GORTDEBUG=shuffle with three seeds (label
# `shuffle`, tests/CMakeLists.txt); the others leave those runs out for time.
pass build "g++, RelWithDebInfo (packaging, shuffle seeds)" "" -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
[ "${1:-}" = quick ] && exit 0
# The packaging test already builds its consumers with clang: not again here.
pass build-clang "$clang_cxx, RelWithDebInfo, $clang_flags" "-LE packaging|shuffle" \
  -DCMAKE_CXX_COMPILER="$clang_cxx" -DCMAKE_CXX_FLAGS="$clang_flags" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
pass build-asan "ASan + UBSan (g++)" "-LE shuffle" -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=Debug \
  -DGORT_SANITIZE=address,undefined -DGORT_BUILD_EXAMPLES=OFF
pass build-tsan "TSan (g++)" "-LE shuffle" -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGORT_SANITIZE=thread -DGORT_BUILD_EXAMPLES=OFF
# The channel fuzzer (docs/fuzzing.md): clang, libFuzzer + ASan + UBSan, 60 s from the seed
# corpus; a crash fails the run and leaves its input in build-fuzz/crashes/.
echo "=== channel fuzzer (clang, libFuzzer, 60 s) ===" >&2
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER="$clang_cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGORT_FUZZ=ON -DGORT_BUILD_TESTS=OFF -DGORT_BUILD_BENCH=OFF -DGORT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target chan_fuzz
mkdir -p build-fuzz/corpus build-fuzz/crashes
build-fuzz/tests/fuzz/chan_fuzz -max_total_time=60 -timeout=120 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/crashes/ build-fuzz/corpus tests/fuzz/corpus
echo "all test passes succeeded" >&2
