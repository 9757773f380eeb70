// parked — Go: what 1,000,000 blocked goroutines cost to create and to keep.
//
// Three sync.WaitGroups: `started` (1,000,000), `gate` (1), `finished` (1,000,000). Each
// goroutine calls started.Done(), blocks in gate.Wait(), then bumps `woken` and calls
// finished.Done().
//  1. rssBefore = VmRSS from /proc/self/status; the clock starts; main spawns the goroutines;
//  2. main waits on `started`; the clock stops: quantity "spawn" (ms);
//  3. rssAfter = VmRSS; quantity "rss_per_goroutine" = (rssAfter - rssBefore) / 1,000,000
//     (bytes);
//  4. the clock starts again; main calls gate.Done() and waits on `finished`; the clock stops:
//     quantity "wake" (ms).
//
// Correctness: all 1,000,000 goroutines woke and finished (`woken` == 1,000,000 after
// finished.Wait()); ok=0 otherwise, for every quantity.
//
// Protocol (bench/README.md): argv[1] is the processor count, applied with runtime.GOMAXPROCS
// (bench/compare also sets GOMAXPROCS in the environment to the same value).
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const goroutines = 1000000

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	var started, gate, finished sync.WaitGroup
	var woken int64
	started.Add(goroutines)
	gate.Add(1)
	finished.Add(goroutines)

	rssBefore := vmRSSBytes()
	start := time.Now()
	for i := 0; i < goroutines; i++ {
		go func() {
			started.Done()
			gate.Wait()
			atomic.AddInt64(&woken, 1)
			finished.Done()
		}()
	}
	started.Wait()
	elapsed := time.Since(start)
	rssAfter := vmRSSBytes()

	wakeStart := time.Now()
	gate.Done()
	finished.Wait()
	wakeElapsed := time.Since(wakeStart)

	ok := atomic.LoadInt64(&woken) == goroutines && rssBefore >= 0 && rssAfter >= 0
	report("spawn", float64(elapsed.Nanoseconds())/1e6, "ms", ok, "")
	report("rss_per_goroutine", float64(rssAfter-rssBefore)/goroutines, "bytes", ok, "")
	report("wake", float64(wakeElapsed.Nanoseconds())/1e6, "ms", ok, "")
	if !ok {
		os.Exit(1)
	}
}

// vmRSSBytes returns VmRSS from /proc/self/status in bytes, or -1 when it cannot be read.
func vmRSSBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line[len("VmRSS:"):])
			if len(fields) == 0 {
				return -1
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
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
