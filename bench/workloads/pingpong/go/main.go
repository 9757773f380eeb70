// pingpong — Go: the round trip of a value between two goroutines over unbuffered channels.
//
// Two unbuffered channels, `ping` and `pong`. The partner goroutine ranges over `ping` and sends
// every value it receives, plus one, on `pong`. Main (the other goroutine) sends v on `ping` and
// receives v+1 from `pong`, 1,000,000 times, starting from 0. Reported: wall time of the
// 1,000,000 round trips divided by 1,000,000 (quantity "pingpong", ns per round trip). Then main
// closes `ping` and the partner closes `pong` as it leaves (outside the clock).
// Correctness: the value main ends with must be 1,000,000 (every round trip added exactly one,
// in order), and `pong` must then be closed with nothing left in it; ok=0 otherwise.
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

const roundTrips = 1000000

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()

	v := 0
	start := time.Now()
	for i := 0; i < roundTrips; i++ {
		ping <- v
		v = <-pong
	}
	elapsed := time.Since(start)

	close(ping)
	_, more := <-pong
	ok := v == roundTrips && !more
	report("pingpong", float64(elapsed.Nanoseconds())/roundTrips, "ns", ok, "")
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
