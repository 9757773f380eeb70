// blocking — Go: pingpong while other goroutines sit in blocking system calls.
//
// 100 sleeper goroutines each loop on syscall.Nanosleep(1 ms) — a real blocking system call, in
// which the runtime's sysmon retakes the goroutine's P and hands it to another thread (Go's
// entersyscall / retake / handoffp) — counting their sleeps, until `stop` is set. Once all 100
// have started, the pingpong workload runs beside them: two unbuffered channels, `ping` and
// `pong`; the partner goroutine ranges over `ping` and sends every value it receives, plus one,
// on `pong`; main sends v on `ping` and receives v+1 from `pong`, 1,000,000 times, starting from
// 0. Reported: wall time of the 1,000,000 round trips divided by 1,000,000 (quantity "blocking",
// ns per round trip). Then (outside the clock) main closes `ping`, sets `stop` and waits on a
// sync.WaitGroup for the sleepers.
//
// Correctness: the value main ends with must be 1,000,000 and `pong` must then be closed with
// nothing left in it (as in pingpong); by the end of the measurement every sleeper must have
// completed at least one sleep (the load was there: they start less than a sleep before the
// clock), and all 100 must have returned; ok=0 otherwise.
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
	"sync/atomic"
	"syscall"
	"time"
)

const (
	roundTrips = 1000000
	sleepers   = 100
)

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	var stop atomic.Bool
	var started, finished sync.WaitGroup
	sleeps := make([]int64, sleepers) // sleeps[i]: completed by sleeper i, read after finished.Wait()
	started.Add(sleepers)
	finished.Add(sleepers)
	for i := 0; i < sleepers; i++ {
		go func(i int) {
			defer finished.Done()
			started.Done()
			ts := syscall.NsecToTimespec(int64(time.Millisecond))
			for !stop.Load() {
				syscall.Nanosleep(&ts, nil)
				atomic.AddInt64(&sleeps[i], 1)
			}
		}(i)
	}
	started.Wait()

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
	slept := true
	for i := range sleeps {
		slept = slept && atomic.LoadInt64(&sleeps[i]) > 0
	}

	close(ping)
	_, more := <-pong
	stop.Store(true)
	finished.Wait()

	ok := v == roundTrips && !more && slept
	report("blocking", float64(elapsed.Nanoseconds())/roundTrips, "ns", ok, "")
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
