#!/bin/sh
# examples/jobqueue_sigterm.sh JOBQUEUE — starts a long jobqueue run, waits until it reports that
# it handles SIGTERM, sends SIGTERM and prints its output (CTest matches the shutdown line).
set -u
. "$(dirname "$0")/start_and_wait.sh"
out=$(mktemp)
start_and_wait "$out" "SIGINT or SIGTERM shuts it down" "$1" --jobs 1000000
kill -TERM "$pid"
wait "$pid"
status=$?
cat "$out"
rm -f "$out"
exit "$status"
