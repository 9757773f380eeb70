#!/bin/sh
# bench/compile_times.sh — compile time of a translation unit that includes one gort header, for
# two gort trees side by side (before/after): each round compiles the TU once per tree, alternating
# which tree goes first, and the medians are printed per header.
#   bench/compile_times.sh BEFORE_TREE AFTER_TREE [ROUNDS] [HEADER...]
# Defaults: 7 rounds; headers gort/gort.hpp and gort/mutex.hpp. Compiler: $CXX (g++), flags
# -std=c++20 -O2 -g, as a Release-with-debug-info consumer compiles them.
set -eu
before=$1; after=$2; rounds=${3:-7}
shift 2; [ $# -gt 0 ] && shift
headers=${*:-gort/gort.hpp gort/mutex.hpp}
cxx=${CXX:-g++}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for h in $headers; do
  printf '#include <%s>\nint main() { return 0; }\n' "$h" >"$work/tu.cpp"
  : >"$work/before.txt"; : >"$work/after.txt"
  i=0
  while [ "$i" -lt "$rounds" ]; do
    if [ $((i % 2)) -eq 0 ]; then order="before after"; else order="after before"; fi
    for which in $order; do
      if [ "$which" = before ]; then tree=$before; else tree=$after; fi
      start=$(date +%s%N)
      "$cxx" -std=c++20 -O2 -g -I"$tree/include" -c "$work/tu.cpp" -o "$work/tu.o"
      end=$(date +%s%N)
      echo $(( (end - start) / 1000000 )) >>"$work/$which.txt"
    done
    i=$((i + 1))
  done
  med() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  b=$(med "$work/before.txt"); a=$(med "$work/after.txt")
  lines_b=$("$cxx" -std=c++20 -I"$before/include" -E "$work/tu.cpp" | wc -l)
  lines_a=$("$cxx" -std=c++20 -I"$after/include" -E "$work/tu.cpp" | wc -l)
  printf '%-16s before %5d ms (%6d preprocessed lines)  after %5d ms (%6d lines)  after/before %.2f\n' \
    "$h" "$b" "$lines_b" "$a" "$lines_a" "$(echo "$a $b" | awk '{print $1/$2}')"
done
