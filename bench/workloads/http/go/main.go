// http — Go: an HTTP/1.1 keep-alive "hello" server on net/http. The server of the `http`
// workload; wrk is the load (bench/README.md).
//
// Usage: http PROCS ADDRESS (e.g. `http 2 127.0.0.1:8080`). Every request, whatever its method
// and path, gets the workload's response:
//
//	HTTP/1.1 200 OK
//	Content-Length: 5
//	Content-Type: text/plain
//	Date: <the current time, RFC 9110 format>
//
//	hello
//
// (net/http writes the Date header itself, as RFC 9110 asks of a server with a clock.)
// Connections stay open between requests (HTTP/1.1 keep-alive, net/http's default). Exits with
// status 0 on SIGTERM or SIGINT.
//
// Server protocol (bench/README.md): argv[1] is the processor count, applied with
// runtime.GOMAXPROCS; argv[2] the address to listen on. bench/compare knows the server is ready
// when a TCP connect to ADDRESS succeeds, then checks one response before the load starts. The
// soft RLIMIT_NOFILE is raised to the hard limit (Go 1.19 also does this itself at start-up).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

var body = []byte("hello")

func hello(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", "5")
	w.Write(body)
}

func main() {
	runtime.GOMAXPROCS(procsFromArgs())
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s PROCS ADDRESS\n", os.Args[0])
		os.Exit(2)
	}
	raiseFDLimit()

	ln, err := net.Listen("tcp", os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "http:", err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Exit(0)
	}()

	server := &http.Server{Handler: http.HandlerFunc(hello)}
	err = server.Serve(ln)
	fmt.Fprintln(os.Stderr, "http:", err)
	os.Exit(1)
}

func raiseFDLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

func procsFromArgs() int {
	if len(os.Args) >= 2 {
		if n, err := strconv.Atoi(os.Args[1]); err == nil && n >= 1 && n <= 1024 {
			return n
		}
	}
	fmt.Fprintf(os.Stderr, "usage: %s PROCS ADDRESS   (PROCS: processor count, 1..1024)\n", os.Args[0])
	os.Exit(2)
	return 0
}
