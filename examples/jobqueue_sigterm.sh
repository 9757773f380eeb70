#!/bin/sh
# examples/jobqueue_sigterm.sh JOBQUEUE — starts a long jobqueue run, waits until it reports that
# it handles SIGTERM, sends SIGTERM and prints its output (CTest matches the shutdown line).
set -u
out=$(mktemp)
"$1" --jobs 1000000 >"$out" 2>&1 &
pid=$!
tries=0
until grep -q "SIGINT or SIGTERM shuts it down" "$out"; do
  tries=$((tries + 1))
  if [ "$tries" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "jobqueue did not start"; cat "$out"; rm -f "$out"; kill "$pid" 2>/dev/null; exit 1
  fi
  sleep 0.05
done
kill -TERM "$pid"
wait "$pid"
status=$?
cat "$out"
rm -f "$out"
exit "$status"
