// gort/detail/spinlock.hpp — the lock that guards wait queues.
//
// Wait-queue critical sections are a handful of pointer writes, and the lock must be usable from a
// goroutine, a plain thread and a machine's scheduler context (park's unlock callback releases it
// there), so it cannot itself park. Test-and-test-and-set with exponential back-off, falling back
// to sched_yield after a bounded spin so a preempted holder is not starved of its CPU.
//
// Why back off so far (up to ~10 µs between looks): a channel's lock and the state it guards move
// between cores at ~70 ns a trip on the 2-core machine. A waiter that re-reads the lock after
// every pause steals the line back on each of the holder's writes, and two goroutines streaming
// through a buffered channel from two cores then pay several trips per message (~300 ns each in
// `chan` 4,4,1024). A waiter that stays away lets the holder run a streak of operations on a
// line it owns — the batching Go's runtime lock gets from its procyield(30) spins. Measured in
// docs/benchmarks.md (chan, select).
//
// Memory ordering: lock() is an acquire exchange and unlock() a release store; they pair with each
// other, so everything written under the lock is visible to the next holder.
#pragma once

#include <atomic>
#include <sched.h>

// Tuning knob for experiments; the default is the measured one (see above).
#ifndef GORT_SPINLOCK_MAX_BACKOFF
#define GORT_SPINLOCK_MAX_BACKOFF 1024
#endif

namespace gort::detail {

class spinlock {
 public:
  void lock() noexcept {
    // acquire: pairs with the release in unlock().
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }

  bool try_lock() noexcept {
    // relaxed pre-check avoids bouncing the line; acquire pairs with unlock().
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }

  void unlock() noexcept {
    // release: publishes the critical section to the next lock().
    locked_.store(false, std::memory_order_release);
  }

 private:
  static constexpr unsigned k_first_backoff = 4;    // pauses before the first look (~40 ns)
  static constexpr unsigned k_max_backoff = GORT_SPINLOCK_MAX_BACKOFF;  // pauses between looks
  static constexpr unsigned k_spin_rounds = 24;     // looks before falling back to sched_yield

  [[gnu::noinline]] void lock_slow() noexcept {
    unsigned backoff = k_first_backoff;
    for (unsigned round = 0;; ++round) {
      if (round < k_spin_rounds) {
        for (unsigned i = 0; i < backoff; ++i) pause();
        backoff = backoff < k_max_backoff ? backoff * 2 : k_max_backoff;
      } else {
        ::sched_yield();  // the holder may have lost its CPU (more machines than cores)
      }
      // relaxed look first: only a free lock is worth the exchange (and the line's ownership).
      // acquire: pairs with the release in unlock().
      if (!locked_.load(std::memory_order_relaxed) &&
          !locked_.exchange(true, std::memory_order_acquire)) {
        return;
      }
    }
  }

  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  std::atomic<bool> locked_{false};
};

}  // namespace gort::detail
