#!/bin/sh
# tests/bench_plot_check.sh REPO OUT.png — bench/compare draws a committed results file
# (docs/bench-p2.json) without running anything, and the result is a PNG. Exit 77 (skipped) when
# no interpreter has matplotlib (Debian: python3-matplotlib).
set -u
repo=$1
out=$2
rm -f "$out"
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
if ! "$python" -c "import matplotlib" 2>/dev/null && ! python3 -c "import matplotlib" 2>/dev/null; then
  echo "bench_plot_check: matplotlib is not installed (Debian: python3-matplotlib): skipped"
  exit 77
fi
"$python" "$repo/bench/compare" --plot-from "$repo/docs/bench-p2.json" --plot "$out" || exit 1
# The PNG signature: \211PNG\r\n\032\n.
sig=$(od -An -tx1 -N8 "$out" | tr -d ' \n')
if [ "$sig" != "89504e470d0a1a0a" ]; then
  echo "bench_plot_check: $out is not a PNG (signature $sig)"
  exit 1
fi
echo "bench_plot_check: $out drawn"
