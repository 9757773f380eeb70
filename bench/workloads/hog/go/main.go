// hog — Go: does a goroutine that never calls the runtime stall the others on its processor?
//
// Defined at 1 processor (bench/compare runs it with argv[1] = 1 whatever --procs says). Main
// first calibrates the spin loop below: it runs it in chunks of 2^20 steps for 200 ms to learn its
// speed, and sets the spin length to the number of steps that takes 2 s. Then:
//  1. main starts the ticker goroutine and waits until it says (on an unbuffered channel) that its
//     time.Ticker of 1 ms is armed;
//  2. main spins: the spin length's worth of steps of a 64-bit linear congruential generator, a
//     pure loop with no call (Go 1.14+ preempts it asynchronously, with a signal);
//  3. main sets `stop` and waits on a sync.WaitGroup for the ticker goroutine.
//
// The ticker goroutine receives ticks until it sees `stop` after a tick; for every tick it records
// how much longer than the 1 ms period it waited since the previous tick (since arming the ticker,
// for the first): the tick's delay, in ms (0 when the tick came within the period).
// Reported: the largest delay (quantity "max_delay", ms) and the 99th percentile (nearest rank) of
// the delays (quantity "p99_delay", ms). The spin's actual length goes to stderr.
//
// Correctness: the generator's final values (of the spin and of the calibration) must equal the
// ones computed directly, by jumping the generator ahead the same number of steps in O(log n);
// and at least one tick must have been received; ok=0 otherwise.
//
// Protocol (bench/README.md): argv[1] is the processor count, applied with runtime.GOMAXPROCS
// (bench/compare also sets GOMAXPROCS in the environment to the same value).
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	mult          = 6364136223846793005 // Knuth's MMIX generator
	inc           = 1442695040888963407
	seed          = 42
	spinMs        = 2000.0
	calibrationMs = 200.0
	chunk         = 1 << 20
	period        = time.Millisecond
)

// spin runs `steps` steps of the generator from x: the hog. No calls, no memory traffic.
func spin(x, steps uint64) uint64 {
	for i := uint64(0); i < steps; i++ {
		x = x*mult + inc
	}
	return x
}

// jump returns the generator's state after `steps` steps from x, by repeated squaring of the step.
func jump(x, steps uint64) uint64 {
	var m, c uint64 = 1, 0             // the accumulated step x -> m*x + c
	var curM, curC uint64 = mult, inc // the step applied 2^k times
	for ; steps > 0; steps >>= 1 {
		if steps&1 != 0 {
			m *= curM
			c = c*curM + curC
		}
		curC = (curM + 1) * curC
		curM *= curM
	}
	return m*x + c
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Nanoseconds()) / 1e6 }

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	// Calibration: the steps spin takes spinMs to run.
	calState, calSteps := uint64(seed), uint64(0)
	calStart := time.Now()
	for msSince(calStart) < calibrationMs {
		calState = spin(calState, chunk)
		calSteps += chunk
	}
	steps := uint64(float64(calSteps) * spinMs / msSince(calStart))

	armed := make(chan int)
	var tickerDone sync.WaitGroup
	var stop atomic.Bool
	var delays []float64 // written by the ticker goroutine, read after tickerDone.Wait()

	tickerDone.Add(1)
	go func() {
		defer tickerDone.Done()
		ticker := time.NewTicker(period)
		defer ticker.Stop()
		periodMs := float64(period.Nanoseconds()) / 1e6
		previous := time.Now()
		armed <- 1
		for {
			<-ticker.C
			now := time.Now()
			delays = append(delays, math.Max(0, float64(now.Sub(previous).Nanoseconds())/1e6-periodMs))
			previous = now
			if stop.Load() {
				break
			}
		}
	}()

	<-armed
	spinStart := time.Now()
	result := spin(seed, steps)
	spun := msSince(spinStart)
	stop.Store(true)
	tickerDone.Wait()

	fmt.Fprintf(os.Stderr, "hog: spun %.0f ms, %d ticks\n", spun, len(delays))
	ok := result == jump(seed, steps) && calState == jump(seed, calSteps) && len(delays) > 0
	sorted := append([]float64(nil), delays...)
	sort.Float64s(sorted)
	maxDelay, p99Delay := 0.0, 0.0
	if len(sorted) > 0 {
		maxDelay = sorted[len(sorted)-1]
		rank := int(math.Ceil(0.99 * float64(len(sorted))))
		if rank < 1 {
			rank = 1
		}
		p99Delay = sorted[rank-1]
	}
	report("max_delay", maxDelay, "ms", ok, "")
	report("p99_delay", p99Delay, "ms", ok, "")
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
