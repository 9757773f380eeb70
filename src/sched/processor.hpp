// sched/processor.hpp — the P: what a machine must hold to run goroutines.
//
// A processor owns a local run queue (256-slot ring + runnext), a free-G cache, a stack cache, a
// goroutine-id cache and counters. Exactly one machine holds a running processor; only that
// machine ("the owner") touches the owner-only fields below. Idle processors sit on the
// scheduler's idle list, owned by the scheduler lock.
//
// Counters are written by the owner only, with relaxed load+store (no read-modify-write: there is
// one writer), and read by anyone (stats, schedtrace) as a relaxed snapshot.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sched/goroutine.hpp"
#include "sched/run_queue.hpp"
#include "time/timer_heap.hpp"
#include "trace/instrument.hpp"

namespace gort::sched {

struct machine;
struct stack_slot;

/// Go's P statuses (runtime2.go values).
enum class p_status : std::uint32_t { idle = 0, running = 1, syscall = 2, gcstop = 3, dead = 4 };

inline constexpr int k_stack_cache = 32;  // slots a P keeps; it exchanges halves with the pool
// Stack promises a P takes from the pool at once (scheduler::stack_credit_batch) are at most this
// many, and never more than k_stack_credit_bytes of stacks; a P keeps at most two batches.
// A burst of spawns followed by their starts costs one pool call per batch each way (callgrind on
// `spawn`: ~14 instructions per goroutine with batches of 16, ~3 with 64). The byte bound keeps
// the promises that sit idle on other processors few when stacks are large and scarce.
inline constexpr int k_stack_credit_batch_max = 64;
inline constexpr std::size_t k_stack_credit_bytes = std::size_t{64} << 20;
inline constexpr int k_gfree_max = 64;    // Go's gfput: above this, move to global until < 32
inline constexpr int k_gfree_keep = 32;
inline constexpr std::uint64_t k_goid_batch = 16;  // Go's _GoidCacheBatch

/// Owner-only increment of a counter others read (see the file comment).
template <class T>
inline void bump(std::atomic<T>& c, std::type_identity_t<T> n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct processor {
  int id = 0;
  std::atomic<p_status> status{p_status::idle};  // written under the scheduler lock or by owner
  // Owner machine (null when idle or in a blocking call). Written by whoever makes a machine the
  // owner or drops it; read by sysmon to find the machine it may take a runaway goroutine's
  // processor from. relaxed: sysmon's decision is ordered by the machine's runtime-section word
  // (scheduler.hpp, own_p), not by this field.
  std::atomic<machine*> m{nullptr};
  processor* idle_link = nullptr;                // idle list; scheduler lock

  run_queue<goroutine> runq;
  timer_heap timers;  // armed by goroutines on this P; run by whoever holds it, or by thieves

  // schedtick counts time slices (execute without inherited time); sysmon compares snapshots to
  // find a goroutine hogging the processor. Owner writes, sysmon reads: relaxed.
  std::atomic<std::uint32_t> schedtick{0};
  std::atomic<goroutine*> curg{nullptr};  // running goroutine, for sysmon's preemption request
  // Counts blocking calls that ended on this processor or lost it (Go's syscalltick): sysmon
  // retakes a processor in status syscall only once it has seen the same value on two of its
  // rounds. Written by whoever owns the processor (its machine after taking it back, sysmon after
  // its retaking CAS: the status CAS orders them); read by sysmon. relaxed.
  std::atomic<std::uint32_t> syscalltick{0};

  // Owner only.
  goroutine* gfree[k_gfree_max] = {};
  int gfree_count = 0;
  stack_slot* stacks[k_stack_cache] = {};
  std::atomic<int> stack_count{0};  // owner writes; stats read
  // stacks[0, stack_fresh) came from the pool and may never have been touched; the slots above
  // were left by goroutines that ended here, their pages in use (scheduler.hpp, next_stack_warm).
  int stack_fresh = 0;
  // Stack promises held for spawns to come (stack_pool.hpp, "Promises"): a spawn takes one, a
  // goroutine that starts on a cached slot gives its promise to this processor.
  int stack_credit = 0;
  std::uint64_t goid_next = 0;
  std::uint64_t goid_end = 0;

  // Counters (owner writes, anyone reads).
  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> exited{0};
  std::atomic<std::uint64_t> parks{0};
  std::atomic<std::uint64_t> switches{0};
  std::atomic<std::uint64_t> steals{0};
  std::atomic<std::uint64_t> stolen{0};
  std::atomic<std::uint64_t> blocking_calls{0};  // gort::blocking calls begun holding this P

  // Scheduling-latency histogram (trace/instrument.hpp; owner writes, metrics read). Per
  // processor so that recording shares no cache line between machines.
  std::atomic<std::uint64_t> latency_counts[k_latency_buckets] = {};
  std::atomic<std::uint64_t> latency_sum_ns{0};
  std::uint32_t latency_seq = 0;  // owner only: picks one runnable period in k_latency_period

  // sysmon's view (sysmon only).
  std::uint32_t sysmon_tick = 0;
  std::int64_t sysmon_when = 0;
  std::uint32_t sysmon_syscalltick = 0;
  std::int64_t sysmon_syscallwhen = 0;
};

}  // namespace gort::sched
