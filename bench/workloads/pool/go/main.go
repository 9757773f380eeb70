// pool — Go: a bounded worker pool, written the way Go programmers bound concurrency without a
// pool library: one goroutine per task, gated by a semaphore channel of the pool's capacity
// (`sem <- struct{}{}; go func() { task(); <-sem }()`), and a sync.WaitGroup to wait for all.
//
// Two configurations (config=):
//   tiny       2,000,000 tasks, capacity 1,000; each task adds its index to an atomic sum.
//              Reported: task_ns = wall time from the first submission until every task has
//              finished, divided by 2,000,000 (ns per task).
//   sleep10ms  1,000,000 tasks, capacity 100,000; each task sleeps 10 ms (time.Sleep), then marks
//              its own slot. Reported: total_ms = wall time from the first submission until every
//              task has finished (ms), and peak_rss_mb = the process's peak resident set size
//              (VmHWM from /proc/self/status, read after the run; MiB).
//
// Correctness (ok=): tiny — the sum of the indices is 2,000,000·1,999,999/2 and the WaitGroup
// saw every task; sleep10ms — every one of the 1,000,000 slots is marked exactly once (a task
// counts the slots it found already marked) and no more than the capacity ran at once.
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

const (
	tinyTasks     = 2000000
	tinyCapacity  = 1000
	sleepTasks    = 1000000
	sleepCapacity = 100000
	sleepFor      = 10 * time.Millisecond
)

func tiny() bool {
	var sum int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, tinyCapacity)

	start := time.Now()
	wg.Add(tinyTasks)
	for i := 0; i < tinyTasks; i++ {
		sem <- struct{}{}
		go func(i int64) {
			atomic.AddInt64(&sum, i)
			<-sem
			wg.Done()
		}(int64(i))
	}
	wg.Wait()
	elapsed := time.Since(start)

	ok := atomic.LoadInt64(&sum) == int64(tinyTasks)*(tinyTasks-1)/2
	report("task_ns", float64(elapsed.Nanoseconds())/tinyTasks, "ns", ok, "tiny")
	return ok
}

func sleep10ms() bool {
	marks := make([]uint32, sleepTasks)
	var twice, inFlight, peakInFlight int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, sleepCapacity)

	start := time.Now()
	wg.Add(sleepTasks)
	for i := 0; i < sleepTasks; i++ {
		sem <- struct{}{}
		go func(i int) {
			n := atomic.AddInt64(&inFlight, 1)
			for {
				p := atomic.LoadInt64(&peakInFlight)
				if n <= p || atomic.CompareAndSwapInt64(&peakInFlight, p, n) {
					break
				}
			}
			time.Sleep(sleepFor)
			if atomic.AddUint32(&marks[i], 1) != 1 {
				atomic.AddInt64(&twice, 1)
			}
			atomic.AddInt64(&inFlight, -1)
			<-sem
			wg.Done()
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak := vmHWMBytes()

	ok := twice == 0 && peakInFlight <= sleepCapacity && peak >= 0
	for i := range marks {
		if marks[i] != 1 {
			ok = false
			break
		}
	}
	report("total_ms", float64(elapsed.Nanoseconds())/1e6, "ms", ok, "sleep10ms")
	report("peak_rss_mb", float64(peak)/(1<<20), "MiB", ok, "sleep10ms")
	return ok
}

func main() {
	runtime.GOMAXPROCS(procsFromArgs())
	ok := tiny()
	ok = sleep10ms() && ok
	if !ok {
		os.Exit(1)
	}
}

// vmHWMBytes is the process's peak resident set size (VmHWM in /proc/self/status), or -1.
func vmHWMBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "VmHWM:") {
			fields := strings.Fields(line[len("VmHWM:"):])
			if len(fields) >= 1 {
				if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return kb * 1024
				}
			}
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
