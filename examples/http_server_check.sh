#!/bin/sh
# examples/http_server_check.sh HTTP_SERVER — starts the http server on a free port and checks its
# answers byte for byte: two requests on one kept-alive connection, a request with a body and one
# pipelined behind it, "Connection: close" (answered, then closed), a malformed request (400,
# closed), and GET /metrics (Prometheus's text format: checked by promtool when it is installed);
# then stops it with SIGTERM.
set -u
. "$(dirname "$0")/start_and_wait.sh"
out=$(mktemp)
start_and_wait "$out" "listening on" "$1" 127.0.0.1:0
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out")
python3 - "$port" "$out.metrics" <<'PY'
import re, socket, sys
port = int(sys.argv[1])
ok = re.compile(rb"HTTP/1\.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n"
                rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n"
                rb"(Connection: close\r\n)?\r\nhello")
def responses(sock, n):
    data, got = b"", []
    while len(got) < n:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        while True:
            m = ok.match(data)
            if not m:
                break
            got.append(m.group(0))
            data = data[m.end():]
    assert len(got) == n and data == b"", (got, data)
    return got
s = socket.create_connection(("127.0.0.1", port))
for path in (b"/", b"/other?x=1"):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    responses(s, 1)
s.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
          b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
responses(s, 2)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
r = responses(s, 1)
assert b"Connection: close" in r[0]
assert s.recv(1) == b"", "the server closes after Connection: close"
b = socket.create_connection(("127.0.0.1", port))
b.sendall(b"NOT HTTP AT ALL\r\n\r\n")
answer = b.recv(4096)
assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
m = socket.create_connection(("127.0.0.1", port))
m.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = m.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
assert len(body) == length, (len(body), length)
assert b"# TYPE gort_goroutines gauge\n" in body, body
assert b"# TYPE gort_sched_latencies_seconds histogram\n" in body, body
open(sys.argv[2], "wb").write(body)
print("http_server_check: every answer as specified")
PY
status=$?
if [ "$status" -eq 0 ] && command -v promtool >/dev/null 2>&1; then
  promtool check metrics < "$out.metrics" || status=1
fi
rm -f "$out.metrics"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
rm -f "$out"
exit "$status"
