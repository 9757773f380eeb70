#!/bin/sh
# examples/echo_server_check.sh ECHO_SERVER — starts the echo server on a free port, echoes over
# two connections (one left open and idle, its goroutine blocked in read), sends SIGTERM and
# checks the graceful shutdown: exit status 0 and the summary line counting both connections.
set -u
. "$(dirname "$0")/start_and_wait.sh"
out=$(mktemp)
start_and_wait "$out" "SIGTERM shuts it down" "$1" 127.0.0.1:0
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out")
python3 - "$port" "$pid" <<'PY' || { cat "$out"; rm -f "$out"; kill "$pid"; exit 1; }
import os, signal, socket, sys
port, pid = int(sys.argv[1]), int(sys.argv[2])
idle = socket.create_connection(("127.0.0.1", port))
idle.sendall(b"x")
assert idle.recv(1) == b"x"
c = socket.create_connection(("127.0.0.1", port))
for i in range(100):
    msg = b"message %d" % i
    c.sendall(msg)
    got = b""
    while len(got) < len(msg):
        got += c.recv(len(msg) - len(got))
    assert got == msg, got
c.close()
os.kill(pid, signal.SIGTERM)
# The server closes the idle connection as it shuts down: EOF here.
idle.settimeout(10)
assert idle.recv(1) == b""
PY
wait "$pid"
status=$?
cat "$out"
rm -f "$out"
exit "$status"
