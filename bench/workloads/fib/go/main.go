// fib — Go: fork-join with one goroutine and one sync.WaitGroup per call.
//
// fib(n) for n >= 2 spawns fib(n-1) on a new goroutine, computes fib(n-2) inline and joins with a
// WaitGroup before adding the two; fib(30) creates about 1.3 million goroutines. Reported: wall
// time of fib(30) on the main goroutine (quantity "fib", ms).
// Correctness: the result must be 832040; ok=0 otherwise.
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

const (
	n        = 30
	expected = 832040
)

func fib(n int) int {
	if n < 2 {
		return n
	}
	var left int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		left = fib(n - 1)
		wg.Done()
	}()
	right := fib(n - 2)
	wg.Wait()
	return left + right
}

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	start := time.Now()
	result := fib(n)
	elapsed := time.Since(start)

	ok := result == expected
	report("fib", float64(elapsed.Nanoseconds())/1e6, "ms", ok, "")
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
