// chan — Go: the cost of one message through a channel shared by producers and consumers.
//
// For each configuration (P producers, C consumers, capacity) = (1,1,0), (1,1,1024), (4,4,1024),
// in that order, on a fresh channel: main spawns C consumers that range over the channel until it
// is closed, each keeping its own count, sum and sum of squares, then P producers that each send
// their own share of the values 0…3,999,999 (4,000,000 / P consecutive values) and call
// producers.Done(); main waits on `producers`, closes the channel and waits on `consumers`.
// Reported per configuration: wall time from the first spawn until every consumer has finished,
// divided by 4,000,000 (quantity "chan", ns per message, config "P,C,capacity").
// Correctness: the consumers' counts must add up to 4,000,000, their sums to 0 + 1 + … + 3,999,999
// and their sums of squares (mod 2^64) to 0² + 1² + … + 3,999,999² — every message received
// exactly once; ok=0 otherwise, for that configuration.
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

const messages = 4000000

type config struct {
	producers, consumers, capacity int
	name                           string
}

var configs = []config{{1, 1, 0, "1,1,0"}, {1, 1, 1024, "1,1,1024"}, {4, 4, 1024, "4,4,1024"}}

type tally struct {
	count, sum int
	sumSq      uint64 // wraps mod 2^64
}

func runConfig(cfg config) bool {
	c := make(chan int, cfg.capacity)
	tallies := make([]tally, cfg.consumers)
	var producers, consumers sync.WaitGroup
	perProducer := messages / cfg.producers

	start := time.Now()
	consumers.Add(cfg.consumers)
	for i := 0; i < cfg.consumers; i++ {
		go func(out *tally) {
			var t tally
			for v := range c {
				t.count++
				t.sum += v
				t.sumSq += uint64(v) * uint64(v)
			}
			*out = t
			consumers.Done()
		}(&tallies[i])
	}
	producers.Add(cfg.producers)
	for p := 0; p < cfg.producers; p++ {
		go func(first int) {
			for v := first; v < first+perProducer; v++ {
				c <- v
			}
			producers.Done()
		}(p * perProducer)
	}
	producers.Wait()
	close(c)
	consumers.Wait()
	elapsed := time.Since(start)

	var total, expected tally
	for _, t := range tallies {
		total.count += t.count
		total.sum += t.sum
		total.sumSq += t.sumSq
	}
	for v := 0; v < messages; v++ {
		expected.count++
		expected.sum += v
		expected.sumSq += uint64(v) * uint64(v)
	}
	ok := total == expected
	report("chan", float64(elapsed.Nanoseconds())/messages, "ns", ok, cfg.name)
	return ok
}

func main() {
	runtime.GOMAXPROCS(procsFromArgs())

	ok := true
	for _, cfg := range configs {
		ok = runConfig(cfg) && ok
	}
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
