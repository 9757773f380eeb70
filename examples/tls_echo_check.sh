#!/bin/sh
# examples/tls_echo_check.sh TLS_ECHO — makes a throw-away key and self-signed certificate,
# starts the TLS echo server on a free port, runs the client (8 connections x 50 messages of
# up to 20 KB, every echo compared) and stops the server.
set -u
. "$(dirname "$0")/start_and_wait.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null || { echo "openssl req failed"; exit 1; }
start_and_wait "$dir/out" "listening on" "$1" server 127.0.0.1:0 "$dir/cert.pem" "$dir/key.pem"
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/out")
"$1" client "127.0.0.1:$port" 8 50
status=$?
kill -TERM "$pid"
wait "$pid" 2>/dev/null
exit "$status"
