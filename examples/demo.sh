#!/bin/sh
# examples/demo.sh — builds gort and runs the flagship demo (examples/tour.cpp): goroutines,
# work stealing and GORTDEBUG=schedtrace output. Installs what it needs first.
set -eu
cd "$(dirname "$0")/.."
sh cmake/install-deps.sh build
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORT_BUILD_TESTS=OFF \
  -DGORT_BUILD_BENCH=OFF >/dev/null
cmake --build build-demo --target tour -j "$(nproc)"
GORTDEBUG="${GORTDEBUG:-schedtrace=200}" ./build-demo/examples/tour
