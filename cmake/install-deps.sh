#!/bin/sh
# cmake/install-deps.sh — installs the Debian packages a build needs, only those missing.
#   sh cmake/install-deps.sh build   # compiler, CMake, Ninja, Boost.Context
#   sh cmake/install-deps.sh test    # + GoogleTest/GoogleMock
#   sh cmake/install-deps.sh bench   # + Google Benchmark, Go, Boost.Fiber, oneTBB, python3,
#                                    #   wrk (http workload), matplotlib (bench/compare --plot)
# Runs as root (or through sudo when it is available) on Debian 12 or later.
set -eu
want="g++ cmake ninja-build libboost-context-dev"
case "${1:-build}" in
  build) ;;
  test) want="$want libgtest-dev libgmock-dev pkgconf" ;;
  bench) want="$want libgtest-dev libgmock-dev pkgconf libbenchmark-dev golang-go libboost-fiber-dev libtbb-dev python3 wrk python3-matplotlib" ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
echo "installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
