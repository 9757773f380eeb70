// mutex — Go: a sync.Mutex contended by 8 goroutines.
//
// 8 goroutines each lock one shared sync.Mutex, increment a shared (non-atomic) counter and
// unlock it, 500,000 times. Reported: wall time from the first spawn until the WaitGroup that
// every goroutine signals when done is released, divided by the 4,000,000 locks (quantity
// "mutex", ns per lock).
// Correctness: the counter must be exactly 4,000,000; ok=0 otherwise.
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
	goroutines = 8
	locksEach  = 500000
)

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	var mu sync.Mutex
	var counter int64 // guarded by mu
	var wg sync.WaitGroup

	start := time.Now()
	wg.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			for i := 0; i < locksEach; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	const total = goroutines * locksEach
	ok := counter == total
	report("mutex", float64(elapsed.Nanoseconds())/total, "ns", ok, "")
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
