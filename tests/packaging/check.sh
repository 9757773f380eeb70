#!/bin/sh
# tests/packaging/check.sh <build-dir> <work-dir> — installs the built gort into a scratch prefix,
# then builds and runs a consumer with find_package(gort) and another with pkg-config.
set -eu
build=$1
work=$2
src=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/consumer" -B "$work/cmake-consumer" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-consumer" >/dev/null
"$work/cmake-consumer/consumer"
libdir=$(ls -d "$work"/prefix/lib*/pkgconfig | head -n 1)
flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs gort)
# shellcheck disable=SC2086
c++ "$src/consumer/main.cpp" -o "$work/pkgconfig-consumer" $flags
"$work/pkgconfig-consumer"
