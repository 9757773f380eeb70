# examples/start_and_wait.sh — sourced by the example checks (jobqueue_sigterm.sh,
# echo_server_check.sh, http_server_check.sh).
#
# start_and_wait OUT PHRASE COMMAND [ARGS...]: starts COMMAND in the background with its output
# in the file OUT, sets $pid, and returns once OUT contains PHRASE (the program's "I am ready"
# line). A program that exits first, or is not ready within 30 s, ends the calling script with
# status 1 after printing its output.
start_and_wait() {
  out=$1
  phrase=$2
  shift 2
  "$@" >"$out" 2>&1 &
  pid=$!
  tries=0
  until grep -qF -- "$phrase" "$out"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "$1 did not start"; cat "$out"; rm -f "$out"; kill "$pid" 2>/dev/null; exit 1
    fi
    sleep 0.05
  done
}
