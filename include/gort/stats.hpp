// gort/stats.hpp — introspection: the figures of Go's schedtrace plus counters.
//
// GORTDEBUG=schedtrace=N prints, every N ms on stderr, Go 1.19's line:
//   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=4 spinningthreads=1 idlethreads=1 runqueue=0 [3 0]
// and with scheddetail=1 one line per P, M and G after it. gort::stats() returns the same figures.
#pragma once

#include <cstdint>
#include <vector>

namespace gort {

/// Buckets of the scheduling-latency histogram: bucket i counts waits of at most 2^(8+i) ns
/// (256 ns, 512 ns, ... about 4.3 s) not counted by a lower bucket; the last one counts the rest.
inline constexpr int k_sched_latency_buckets = 26;

struct runtime_stats {
  // The schedtrace figures (a snapshot taken without stopping the world).
  int gomaxprocs = 0;
  int idleprocs = 0;
  int threads = 0;          // machines (OS threads) created and not exited, sysmon included
  int spinningthreads = 0;  // machines looking for work
  int idlethreads = 0;      // machines parked for want of work
  int locked_threads = 0;   // machines locked to a goroutine now (gort::lock_os_thread)
  std::int64_t runqueue = 0;            // global run queue length
  std::vector<std::int64_t> local_runq;  // per-P local queue length (runnext not counted)

  // Goroutines.
  std::int64_t goroutines = 0;  // currently existing (gort::num_goroutines)
  std::uint64_t spawned = 0;    // created since start
  std::uint64_t parks = 0;      // calls to park that parked
  std::uint64_t context_switches = 0;  // goroutines started or resumed on a machine
  std::uint64_t steals = 0;            // successful steal operations
  std::uint64_t stolen = 0;            // goroutines taken by those steals
  std::uint64_t preemptions = 0;       // preemption requests from sysmon

  // Blocking calls (gort::blocking, gort::blocking_long).
  std::int64_t blocking = 0;        // goroutines inside a blocking call now
  std::uint64_t blocking_calls = 0;  // blocking calls begun since start
  std::uint64_t retakes = 0;   // processors sysmon took from a blocking call and handed off
  std::uint64_t handoffs = 0;  // processors handed off at once by gort::blocking_long
  // Processors sysmon took from goroutines that ran 10 ms without a scheduling point (they ran
  // on without one until their next gort call).
  std::uint64_t runaway_handoffs = 0;

  // Stacks.
  std::uint64_t stack_size = 0;          // bytes reserved per stack
  std::uint64_t stacks_reserved = 0;     // stack slots carved so far
  std::uint64_t stacks_in_use = 0;       // held by live goroutines
  std::uint64_t stacks_guarded = 0;      // slots whose guard page faults (guard marker or PROT_NONE)
  std::uint64_t stack_bytes_released = 0;  // returned to the OS by the scavenger, cumulative

  // Timers and the poller.
  std::int64_t timers = 0;      // pending timers (sleeps, timers, tickers, deadlines), all Ps
  std::int64_t io_waiters = 0;  // goroutines and threads waiting for a descriptor to be ready
  std::uint64_t polls = 0;      // calls of the poller (epoll_wait), blocking or not
  std::uint64_t blocking_polls = 0;  // of which blocked until a timer or readiness

  // Scheduling latency (Go's /sched/latencies:seconds): time from becoming runnable to running,
  // for one runnable period in eight (Go's sampling). Recorded from the first read_metrics()
  // (metrics.hpp) or, with GORTDEBUG=schedlatency=1, from the start; empty until then.
  std::vector<std::uint64_t> sched_latency_counts;  // k_sched_latency_buckets entries
  std::uint64_t sched_latency_sum_ns = 0;

  // Worker pools: sums over every live gort::pool and pool_with_func of the process (a
  // multi_pool counts as its pools).
  std::int64_t pools = 0;           // live pools
  std::int64_t pool_workers = 0;    // live workers (running())
  std::int64_t pool_busy = 0;       // workers running a task
  std::int64_t pool_waiting = 0;    // submitters blocked for room
  std::uint64_t pool_submitted = 0;  // tasks accepted, summed over live pools
  std::uint64_t pool_completed = 0;  // of which finished
  std::uint64_t pool_failed = 0;     // of which threw
  std::uint64_t pool_rejected = 0;   // submissions refused (overload, closed, context done)
};

/// A snapshot of the running runtime (all zero when none runs). Any thread.
runtime_stats stats();

/// Returns the memory of every idle cached goroutine stack to the OS now (Go's
/// debug.FreeOSMemory, for stacks). The runtime also does this on its own for stacks idle ≥ 1 s.
/// Any thread; no-op when no runtime runs.
void free_os_memory() noexcept;

}  // namespace gort
