#!/bin/sh
# examples/check_summary.sh KIND PHRASE COMMAND [ARGS...] — runs an example (COMMAND ARGS...),
# prints its output, and fails unless it exited 0, printed PHRASE, and its summary line accounts
# for every job:
#   jobqueue   done + past deadline + aborted + refused + not started = jobs, and
#              done + past deadline + aborted = the jobs the pool accepted;
#   pipeline   completed + fetches cancelled + results dropped + never started = jobs.
#   pipeline-cancelled   the same, and at least one fetch was cancelled.
#   echo_server  every byte echo_server_check.sh sent was echoed (991 bytes: one, then
#              "message 0" … "message 99").
# Used by examples/CMakeLists.txt.
set -u
kind=$1
phrase=$2
shift 2
out=$("$@" 2>&1)
status=$?
printf '%s\n' "$out"
fail() { echo "check_summary: $*" >&2; exit 1; }
[ "$status" -eq 0 ] || fail "exit status $status"
printf '%s\n' "$out" | grep -qF -- "$phrase" || fail "no \"$phrase\" in the output"
# Each pattern turns the summary line into "total a b c ..." (numbers only), or nothing.
case $kind in
  jobqueue)
    nums=$(printf '%s\n' "$out" | sed -n 's/^jobqueue: \([0-9]*\) jobs: \([0-9]*\) done, \([0-9]*\) past deadline, \([0-9]*\) aborted, \([0-9]*\) refused .*, \([0-9]*\) not started .*; pool: accepted \([0-9]*\)$/\1 \2 \3 \4 \5 \6 \7/p')
    [ -n "$nums" ] || fail "no summary line"
    # shellcheck disable=SC2086
    set -- $nums
    [ $(($2 + $3 + $4 + $5 + $6)) -eq "$1" ] || fail "the counts do not add up to $1 jobs"
    [ $(($2 + $3 + $4)) -eq "$7" ] || fail "done + past deadline + aborted is not the $7 accepted"
    ;;
  pipeline | pipeline-cancelled)
    nums=$(printf '%s\n' "$out" | sed -n 's/^done in [0-9]* ms: \([0-9]*\) of \([0-9]*\) jobs completed, \([0-9]*\) fetches cancelled, \([0-9]*\) results dropped, \([0-9]*\) never started .*/\2 \1 \3 \4 \5/p')
    [ -n "$nums" ] || fail "no summary line"
    # shellcheck disable=SC2086
    set -- $nums
    [ $(($2 + $3 + $4 + $5)) -eq "$1" ] || fail "the counts do not add up to $1 jobs"
    if [ "$kind" = pipeline-cancelled ]; then
      [ "$3" -ge 1 ] || fail "no fetch was cancelled"
    fi
    ;;
  echo_server)
    bytes=$(printf '%s\n' "$out" | sed -n 's/^echo_server: shut down: [0-9]* connections served, \([0-9]*\) bytes echoed$/\1/p')
    [ "$bytes" = 991 ] || fail "echoed ${bytes:-no} bytes, not the 991 sent"
    ;;
  *) fail "unknown kind $kind" ;;
esac
echo "check_summary: $kind summary accounts for everything"
