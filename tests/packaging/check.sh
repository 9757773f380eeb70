#!/bin/sh
# tests/packaging/check.sh <build-dir> <work-dir> — gort as a service meets it: installed, or
# built from source inside the service's own project, with every supported compiler.
#
#  1. The tested build (a static libgort) is installed into <work>/static. A shared libgort is
#     built with the README's install command (the library alone: it must not look for
#     GoogleTest) and installed into <work>/shared; it must export the public API and none of the
#     runtime's internals (gort::sched, gort::sys).
#  2. With each compiler and -Wall -Wextra -Wpedantic -Werror, a consumer through
#     find_package(gort) and one through pkg-config, against each install, build and run; the
#     headers' GORT_VERSION_STRING must be the package's version (consumer/main.cpp).
#  3. With each compiler, a parent project adds gort with add_subdirectory, configured without a
#     build type and with one: gort leaves it alone and adds no tests (parent/CMakeLists.txt
#     checks), and installing the parent installs nothing of gort unless GORT_INSTALL=ON.
#  4. The README's example, built with -fsanitize=thread and with -fsanitize=address,undefined
#     against each uninstrumented install, with each compiler, runs without a sanitizer report:
#     gort's fiber and hand-off annotations find the application's sanitizer runtime. So do the
#     pipeline and jobqueue examples (timers, after(), select, a pool, context sleeps) and
#     sync_example.cpp (plain data handed over by every blocking primitive under contention, so
#     through their compiled slow paths) with -fsanitize=thread against the static install, with
#     g++ and clang++.
#
# The compilers: g++, clang++ (Debian's default, the oldest supported clang) and g++-11 (the
# oldest supported g++) when it is installed; GORT_PACKAGING_COMPILERS overrides the list.
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${GORT_PACKAGING_COMPILERS:-}" ]; then
  compilers="g++ clang++"
  if command -v g++-11 >/dev/null 2>&1; then
    compilers="$compilers g++-11"
  else
    echo "packaging: g++-11 is not installed; checking with $compilers only"
  fi
else
  compilers=$GORT_PACKAGING_COMPILERS
fi
warn="-Wall -Wextra -Wpedantic -Werror"
rm -rf "$2"
mkdir -p "$2"
work=$(cd "$2" && pwd)
log="$work/step.log"

step() { echo "packaging: $*"; }
fail() {
  echo "packaging: FAILED: $*" >&2
  exit 1
}
# quiet CMD...: runs CMD, showing its output only when it fails.
quiet() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "$*"
  fi
}
libdir_of() { dirname "$(ls -d "$1"/lib*/pkgconfig | head -n 1)"; }

# ---- 1. installs ------------------------------------------------------------------------------
step "install the tested build (static) into $work/static"
quiet cmake --install "$build" --prefix "$work/static"

step "build and install a shared libgort, library alone"
quiet cmake -S "$root" -B "$work/shared-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGORT_BUILD_TESTS=OFF -DGORT_BUILD_BENCH=OFF -DGORT_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=ON
if grep -q "^GTEST_\|^GTest_DIR" "$work/shared-build/CMakeCache.txt"; then
  fail "the library-alone configuration looked for GoogleTest"
fi
quiet cmake --build "$work/shared-build" -j 2
quiet cmake --install "$work/shared-build" --prefix "$work/shared"
so=$(ls "$(libdir_of "$work/shared")"/libgort.so.*.*.* | head -n 1)
exported=$(nm -DC --defined-only "$so")
leaked=$(printf '%s\n' "$exported" | grep -E "gort::(sched|sys)::" || true)
[ -z "$leaked" ] || fail "$so exports internal symbols:
$(printf '%s\n' "$leaked" | head -n 20)"
for api in "gort::detail::run_main" "gort::detail::spawn_prepare" "gort::maxprocs()"; do
  printf '%s\n' "$exported" | grep -qF "$api" || fail "$so does not export $api"
done
[ -f "$work/shared/share/doc/gort/LICENSE" ] || fail "the license is not installed"

# ---- 2. find_package and pkg-config consumers ---------------------------------------------------
for cxx in $compilers; do
  for kind in static shared; do
    prefix="$work/$kind"
    libdir=$(libdir_of "$prefix")
    step "$cxx: find_package(gort) against the $kind install"
    quiet cmake -S "$here/consumer" -B "$work/cmake-$kind-$cxx" -G Ninja \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$warn" -DCMAKE_PREFIX_PATH="$prefix"
    quiet cmake --build "$work/cmake-$kind-$cxx"
    "$work/cmake-$kind-$cxx/consumer" || fail "$cxx $kind find_package consumer"

    step "$cxx: pkg-config against the $kind install"
    version=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --modversion gort)
    flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs gort)
    # shellcheck disable=SC2086
    quiet "$cxx" $warn "-DGORT_EXPECTED_VERSION=\"$version\"" "$here/consumer/main.cpp" \
      -o "$work/pkgconfig-$kind-$cxx" $flags "-Wl,-rpath,$libdir"
    "$work/pkgconfig-$kind-$cxx" || fail "$cxx $kind pkg-config consumer"
  done
done

# ---- 3. add_subdirectory ------------------------------------------------------------------------
for cxx in $compilers; do
  for build_type in "" MinSizeRel; do
    dir="$work/parent-$cxx${build_type:+-$build_type}"
    step "$cxx: add_subdirectory into a parent (build type \"$build_type\")"
    quiet cmake -S "$here/parent" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_CXX_FLAGS="$warn" -DGORT_SOURCE_DIR="$root" -DCMAKE_BUILD_TYPE="$build_type"
    cached=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")
    [ "$cached" = "$build_type" ] || fail "the parent's cached build type became \"$cached\""
    [ -n "$build_type" ] && continue  # the configure checks are done; one build is enough
    quiet cmake --build "$dir" -j 2
    "$dir/service" || fail "$cxx add_subdirectory consumer"
    quiet cmake --install "$dir" --prefix "$dir/installed"
    [ -x "$dir/installed/bin/service" ] || fail "the parent's own install rules did not run"
    found=$(cd "$dir/installed" && find . -path "*gort*" | head -n 5)
    [ -z "$found" ] || fail "installing the parent installed gort: $found"
    quiet cmake "$dir" -DGORT_INSTALL=ON
    quiet cmake --install "$dir" --prefix "$dir/installed-gort"
    [ -f "$dir/installed-gort/include/gort/gort.hpp" ] || fail "GORT_INSTALL=ON installed no headers"
  done
done

# ---- 4. a sanitized application, an uninstrumented gort ----------------------------------------
awk '/^```cpp/ { inside = 1; next } /^```/ { if (inside) exit } inside' "$root/README.md" \
  >"$work/readme_example.cpp"
grep -q "gort::run" "$work/readme_example.cpp" || fail "no C++ example found in README.md"
for cxx in $compilers; do
  for kind in static shared; do
    libdir=$(libdir_of "$work/$kind")
    flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs gort)
    for san in thread address,undefined; do
      step "$cxx: the README example with -fsanitize=$san against the $kind install"
      exe="$work/readme-$kind-$san-$cxx"
      # shellcheck disable=SC2086
      quiet "$cxx" $warn -O1 -g -fsanitize="$san" -fno-omit-frame-pointer \
        -fno-sanitize-recover=all "$work/readme_example.cpp" -o "$exe" $flags "-Wl,-rpath,$libdir"
      if ! "$exe" >"$log" 2>&1 || grep -q "Sanitizer\|runtime error" "$log"; then
        cat "$log" >&2
        fail "$cxx -fsanitize=$san, $kind gort: the README example did not run cleanly"
      fi
    done
  done
done
for cxx in g++ clang++; do
  libdir=$(libdir_of "$work/static")
  flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs gort)
  for example in "examples/pipeline.cpp" "examples/jobqueue.cpp --jobs 300 --workers 4" \
    "tests/packaging/sync_example.cpp"; do
    # shellcheck disable=SC2086
    set -- $example
    src=$1
    name=$(basename "$src" .cpp)
    shift
    step "$cxx: $src with -fsanitize=thread against the static install"
    exe="$work/$name-thread-$cxx"
    # shellcheck disable=SC2086
    quiet "$cxx" $warn -O1 -g -fsanitize=thread "$root/$src" -o "$exe" $flags
    if ! "$exe" "$@" >"$log" 2>&1 || grep -q "Sanitizer" "$log"; then
      cat "$log" >&2
      fail "$cxx -fsanitize=thread, static gort: $src did not run cleanly"
    fi
  done
done
step "all checks passed"
