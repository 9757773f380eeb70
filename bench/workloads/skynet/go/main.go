// skynet — Go: a tree of 1,111,111 goroutines that report up through unbuffered channels.
//
// skynet(c, num, size, div): a leaf (size 1) sends its ordinal `num` on its parent's channel c; an
// inner node makes one unbuffered channel, spawns div = 10 children on it (ordinals
// num + i*size/10, size/10 each), receives their 10 sums, and sends the total on c. The root
// covers 1,000,000 leaves (ordinals 0…999,999): 1,111,111 goroutines in all, no WaitGroups or
// mutexes. Main times one tree from spawning the root until it receives the root's sum, 5 times in
// a row, and reports the best (quantity "skynet", ms).
// Correctness: every run's sum must be 499,999,500,000 (= 0 + 1 + … + 999,999); ok=0 otherwise.
//
// Protocol (bench/README.md): argv[1] is the processor count, applied with runtime.GOMAXPROCS
// (bench/compare also sets GOMAXPROCS in the environment to the same value).
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"time"
)

const (
	leaves   = 1000000
	div      = 10
	expected = leaves * (leaves - 1) / 2
	runs     = 5
)

func skynet(c chan int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	for i := 0; i < div; i++ {
		go skynet(rc, num+i*(size/div), size/div, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	ok := true
	bestMs := math.Inf(1)
	for run := 0; run < runs; run++ {
		c := make(chan int)
		start := time.Now()
		go skynet(c, 0, leaves, div)
		sum := <-c
		elapsed := time.Since(start)

		ok = ok && sum == expected
		bestMs = math.Min(bestMs, float64(elapsed.Nanoseconds())/1e6)
	}
	report("skynet", bestMs, "ms", ok, "")
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
