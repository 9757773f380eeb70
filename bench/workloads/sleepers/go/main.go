// sleepers — Go: 100,000 goroutines sleeping on the runtime's timers at once.
//
// Main spawns 100,000 goroutines; goroutine i sleeps (i mod 100) ms with time.Sleep (0 ms:
// returns at once), then marks its own slot in `woke` and calls wg.Done(); main waits on the
// WaitGroup. Reported: wall time from the first spawn until Wait() returns (quantity "sleepers",
// ms; the ideal is just over 99 ms, the longest sleep).
// Correctness: after Wait() every one of the 100,000 slots must be marked (every goroutine woke
// and finished); ok=0 otherwise.
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
	goroutines     = 100000
	distinctSleeps = 100 // goroutine i sleeps (i mod 100) ms
)

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	woke := make([]bool, goroutines)
	var wg sync.WaitGroup

	start := time.Now()
	wg.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func(i int) {
			time.Sleep(time.Duration(i%distinctSleeps) * time.Millisecond)
			woke[i] = true
			wg.Done()
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)

	marked := 0
	for _, w := range woke {
		if w {
			marked++
		}
	}
	ok := marked == goroutines
	report("sleepers", float64(elapsed.Nanoseconds())/1e6, "ms", ok, "")
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
