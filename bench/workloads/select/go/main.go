// select — Go: the cost of a two-case select over two busy buffered channels.
//
// Two channels `a` and `b` with capacity 128, each fed by its own producer goroutine: a's sends
// 0…999,999, b's sends 1,000,000…1,999,999, then each calls producers.Done() (neither closes its
// channel). Main does 2,000,000 selects, each with one receive case on `a` and one on `b`,
// counting what each case received and summing the values. Reported: wall time from spawning the
// producers until the last select returns, divided by 2,000,000 (quantity "select", ns per
// select). Main then waits on `producers` (outside the clock).
// Correctness: exactly 1,000,000 values from each channel, no case fired empty-handed, and the
// sum is 0 + 1 + … + 1,999,999; ok=0 otherwise.
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
	perProducer = 1000000
	selects     = 2 * perProducer
	capacity    = 128
	expectedSum = selects * (selects - 1) / 2
)

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	a := make(chan int, capacity)
	b := make(chan int, capacity)
	var producers sync.WaitGroup
	fromA, fromB, empty, sum := 0, 0, 0, 0

	start := time.Now()
	producers.Add(2)
	go func() {
		for v := 0; v < perProducer; v++ {
			a <- v
		}
		producers.Done()
	}()
	go func() {
		for v := perProducer; v < 2*perProducer; v++ {
			b <- v
		}
		producers.Done()
	}()
	for i := 0; i < selects; i++ {
		select {
		case v, ok := <-a:
			if !ok {
				empty++
				continue
			}
			fromA++
			sum += v
		case v, ok := <-b:
			if !ok {
				empty++
				continue
			}
			fromB++
			sum += v
		}
	}
	elapsed := time.Since(start)
	producers.Wait()

	ok := fromA == perProducer && fromB == perProducer && empty == 0 && sum == expectedSum
	report("select", float64(elapsed.Nanoseconds())/selects, "ns", ok, "")
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
