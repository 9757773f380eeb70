// threadring — Go: a token passed around a ring of 503 goroutines (the Benchmarks Game's
// thread-ring).
//
// 503 goroutines, ids 1…503, each receiving from its own unbuffered channel and sending to the
// next one's (503 sends to 1's). A goroutine that receives n > 0 sends n-1 on; the one that
// receives 0 sends its id on `result` and ends. Main spawns the ring (outside the clock), then
// sends 10,000,000 to goroutine 1 and receives the id: 10,000,000 hops. Reported: wall time from
// that send until the id is received, divided by 10,000,000 (quantity "threadring", ns per hop).
// The other 502 goroutines stay blocked and are abandoned when main returns.
// Correctness: the id must be (10,000,000 mod 503) + 1 = 361; ok=0 otherwise.
//
// Protocol (bench/README.md): argv[1] is the processor count, applied with runtime.GOMAXPROCS
// (bench/compare also sets GOMAXPROCS in the environment to the same value).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

const (
	ring       = 503
	hops       = 10000000
	expectedID = hops%ring + 1
)

func relay(id int, in <-chan int, out chan<- int, result chan<- int) {
	for n := range in {
		if n == 0 {
			result <- id
			return
		}
		out <- n - 1
	}
}

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	result := make(chan int)
	first := make(chan int)
	in := first
	for id := 1; id < ring; id++ {
		out := make(chan int)
		go relay(id, in, out, result)
		in = out
	}
	go relay(ring, in, first, result)

	start := time.Now()
	first <- hops
	id := <-result
	elapsed := time.Since(start)

	ok := id == expectedID
	report("threadring", float64(elapsed.Nanoseconds())/hops, "ns", ok, "")
	if !ok {
		os.Exit(1)
	}
}

func procsFromArgs() int {
	if len(os.Args) >= 2 {
		if n, err := strconv.Atoi(os.Args[1]); err == nil && n >= 1 && n <= 1024 {
			return n
		}
	}
	fmt.Fprintf(os.Stderr, "usage: %s PROCS   (PROCS: processor count, 1..1024)\n", os.Args[0])
	os.Exit(2)
	return 0
}

func report(quantity string, value float64, unit string, ok bool, config string) {
	okDigit := 0
	if ok {
		okDigit = 1
	}
	fmt.Printf("RESULT quantity=%s value=%g unit=%s ok=%d config=%s\n", quantity, value, unit, okDigit, config)
}
