// cancel — Go: cancelling one context tree that 1,000,000 goroutines wait on.
//
// A root context (WithCancel of Background) has 1,000 children (WithCancel of the root). For
// each child, 1,000 goroutines block in a two-case select on the child's Done() and on a work
// channel of that child that never receives (a worker's usual "work or cancellation" loop). Main
// spawns all 1,000,000, waits until every one has started (a WaitGroup) and gives the last ones
// 100 ms to reach their select — all untimed. Then the clock starts, main cancels the root, and
// waits on a WaitGroup that each goroutine signals after its select returns. Reported: from the
// cancel() call until that Wait returns (quantity "cancel", ms).
// Correctness: every goroutine must have left its select through the Done case (it marks its own
// slot), and every child must report context.Canceled; ok=0 otherwise.
//
// Protocol (bench/README.md): argv[1] is the processor count, applied with runtime.GOMAXPROCS
// (bench/compare also sets GOMAXPROCS in the environment to the same value).
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const (
	children   = 1000
	perChild   = 1000
	goroutines = children * perChild
)

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	root, cancel := context.WithCancel(context.Background())
	ctxs := make([]context.Context, children)
	work := make([]chan int, children)
	for c := range ctxs {
		ctxs[c], _ = context.WithCancel(root)
		work[c] = make(chan int)
	}
	byDone := make([]bool, goroutines)
	var started, finished sync.WaitGroup
	started.Add(goroutines)
	finished.Add(goroutines)
	for c := 0; c < children; c++ {
		ctx, w := ctxs[c], work[c]
		for j := 0; j < perChild; j++ {
			i := c*perChild + j
			go func() {
				started.Done()
				select {
				case <-ctx.Done():
					byDone[i] = true
				case <-w:
				}
				finished.Done()
			}()
		}
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // untimed: the last ones reach select

	start := time.Now()
	cancel()
	finished.Wait()
	elapsed := time.Since(start)

	ok := true
	for _, b := range byDone {
		ok = ok && b
	}
	for _, c := range ctxs {
		ok = ok && c.Err() == context.Canceled
	}
	report("cancel", float64(elapsed.Nanoseconds())/1e6, "ms", ok, "")
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
