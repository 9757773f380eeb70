// spawn — Go: the cost of creating, running and finishing a goroutine.
//
// Main spawns 1,000,000 goroutines that each mark their own slot in `ran` and call wg.Done();
// main waits on the WaitGroup. Reported: wall time from the first spawn until Wait() returns,
// divided by 1,000,000 (quantity "spawn", ns per goroutine).
// Correctness: after Wait() every one of the 1,000,000 slots must be marked; ok=0 otherwise.
//
// Protocol (bench/README.md): argv[1] is the processor count, applied with runtime.GOMAXPROCS
// (bench/compare also sets GOMAXPROCS in the environment to the same value).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const goroutines = 1000000

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	ran := make([]bool, goroutines)
	var wg sync.WaitGroup

	start := time.Now()
	wg.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func(i int) {
			ran[i] = true
			wg.Done()
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)

	marked := 0
	for _, r := range ran {
		if r {
			marked++
		}
	}
	ok := marked == goroutines
	report("spawn", float64(elapsed.Nanoseconds())/goroutines, "ns", ok, "")
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
