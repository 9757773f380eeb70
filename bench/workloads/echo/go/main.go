// echo — Go: a TCP echo server, one goroutine per connection (package net). The server of the
// `echo` and `idle_conns` workloads; bench_echo_client (../client.cpp) is the load and the check.
//
// Usage: echo PROCS ADDRESS (e.g. `echo 2 127.0.0.1:7000`). Listens on ADDRESS; for every
// accepted connection a goroutine reads into its own 512-byte buffer and writes back what it read,
// until the peer closes or resets the connection. The buffer is small (a multiple of the 64-byte
// message) so that idle_conns measures what the runtime spends per connection more than what the
// application does. Exits with status 0 on SIGTERM or SIGINT.
//
// Server protocol (bench/README.md): argv[1] is the processor count, applied with
// runtime.GOMAXPROCS; argv[2] the address to listen on. bench/compare knows the server is ready
// when a TCP connect to ADDRESS succeeds. The soft RLIMIT_NOFILE is raised to the hard limit (Go
// 1.19 does this itself at start-up; done here too so the requirement is visible).
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

const bufferSize = 512

func main() {
	runtime.GOMAXPROCS(procsFromArgs())
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s PROCS ADDRESS\n", os.Args[0])
		os.Exit(2)
	}
	raiseFDLimit()

	ln, err := net.Listen("tcp", os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Exit(0)
	}()

	for {
		conn, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Temporary() {
				continue // e.g. EMFILE: the listener keeps serving once descriptors are free
			}
			fmt.Fprintln(os.Stderr, "echo: accept:", err)
			os.Exit(1)
		}
		go serve(conn)
	}
}

func serve(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, bufferSize)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
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
