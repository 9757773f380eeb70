#!/bin/sh
# cmake/install-deps.sh — installs the Debian packages a build needs, only those missing.
#   sh cmake/install-deps.sh build   # compiler, CMake, Ninja, Boost.Context, libunwind and libdw
#                                    # (goroutine stacks in dumps; optional for a build)
#   sh cmake/install-deps.sh test    # + GoogleTest/GoogleMock, pkg-config, clang and its sanitizer
#                                    # runtimes, g++-11 where the distribution has it, and what the
#                                    # example checks use: python3, OpenSSL (tls_echo), and the
#                                    # metrics checks: promtool (prometheus), prometheus_client
#   sh cmake/install-deps.sh bench   # + Google Benchmark, Go, Boost.Fiber, oneTBB, python3,
#                                    #   wrk (http workload), matplotlib (bench/compare --plot)
# Runs as root (or through sudo when it is available) on Debian 12 or later.
set -eu
want="g++ cmake ninja-build libboost-context-dev libunwind-dev libdw-dev"
optional=""
case "${1:-build}" in
  build) ;;
  test) want="$want libgtest-dev libgmock-dev pkgconf clang libclang-rt-dev python3 libssl-dev openssl prometheus python3-prometheus-client"; optional="g++-11" ;;
  bench) want="$want libgtest-dev libgmock-dev pkgconf libbenchmark-dev golang-go libboost-fiber-dev libtbb-dev python3 wrk python3-matplotlib" ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# Optional packages are installed when the distribution has them: g++-11, the oldest supported
# g++ (Debian 12 has it), which the packaging test then uses too.
available() { apt-cache show "$1" >/dev/null 2>&1; }
missing=""
for p in $want; do
  installed "$p" || missing="$missing $p"
done
for p in $optional; do
  installed "$p" || ! available "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
$sudo apt-get update -qq
for p in $optional; do  # the package lists are fresh now
  case " $missing " in *" $p "*) ;; *) installed "$p" || ! available "$p" || missing="$missing $p" ;; esac
done
echo "installing:$missing" >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
