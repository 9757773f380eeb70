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
// Why the streak is bounded: a holder that loops on operations re-takes its own cached line a few
// nanoseconds after each unlock, before a waiter on another core can even see the lock free
// (a line trip is ~100 ns on the Xeon, ~200 ns on the EPYC VM). Back-off alone then starves the
// waiter, and with it every goroutine queued behind it on its processor: waits of 150 µs and
// more were measured, and `chan` 4,4,1024 ran at ~60-90 ns per message on the EPYC VM (1.6x
// Go). After ~50 µs of lost looks a waiter raises `starving_`; while it is up, newcomers and the
// holder's next lock() stand back and the starving waiter, looking every few pauses, takes the
// lock at the next unlock. Each hand-over in that mode costs a line trip per operation, so the
// bound must not come too early either: counted in pauses (~1,000, ~11 µs on the Xeon, where a
// pause takes 11 ns) it split `chan` 4,4,1024 into a fast and a slow phase there (36-53 ns per
// message from run to run); bounded by time at 50 µs it runs at 28-34 ns (docs/benchmarks.md).
// Go's sync.Mutex has the same two modes; its runtime lock gets the bound by sleeping on a futex.
//
// Memory ordering: lock() is an acquire exchange and unlock() a release store; they pair with each
// other, so everything written under the lock is visible to the next holder. The same pairing is
// announced to ThreadSanitizer (gort/detail/tsan_hooks.hpp): the lock is taken both in the
// application's inline code and in the compiled library, which an application built with
// -fsanitize=thread links uninstrumented, and TSan must see every critical section of a channel,
// a wait list or a timer heap ordered with the next whichever side took it. `starving_` is a
// relaxed hint: exclusion rests on `locked_` alone, and a locker that misses a fresh flag merely
// barges once more.
//
// Tuning: the back-off constants are library build settings (CMake cache variables
// GORT_SPINLOCK_FIRST_BACKOFF, GORT_SPINLOCK_MAX_BACKOFF, GORT_SPINLOCK_STARVE_NS; the defaults
// are the measured ones). They are used only by lock_slow(), compiled once in the library
// (src/sync/spinlock.cpp), so no translation unit's macros can change inline code.
#pragma once

#include <atomic>

#include "gort/detail/thread_annotations.hpp"
#include "gort/detail/tsan_hooks.hpp"

namespace gort::detail {

class GORT_CAPABILITY("spinlock") spinlock {
 public:
  void lock() noexcept GORT_ACQUIRE() {
    // relaxed: the starving flag is a hint (see lock_slow); the exchange is what excludes.
    // acquire: pairs with the release in unlock().
    if (starving_.load(std::memory_order_relaxed) ||
        locked_.exchange(true, std::memory_order_acquire)) {
      lock_slow();
    }
    tsan_acquire(&locked_);  // for TSan: pairs with unlock()'s tsan_release (file comment)
  }

  bool try_lock() noexcept GORT_TRY_ACQUIRE(true) {
    // relaxed pre-checks avoid bouncing the line; acquire pairs with unlock().
    if (starving_.load(std::memory_order_relaxed) || locked_.load(std::memory_order_relaxed) ||
        locked_.exchange(true, std::memory_order_acquire)) {
      return false;
    }
    tsan_acquire(&locked_);  // as in lock()
    return true;
  }

  void unlock() noexcept GORT_RELEASE() {
    tsan_release(&locked_);  // for TSan: pairs with the next lock()'s tsan_acquire
    // release: publishes the critical section to the next lock().
    locked_.store(false, std::memory_order_release);
  }

  /// One pause of a spin-wait loop (x86 `pause`, ARM `yield`): lets a sibling hyperthread run and
  /// saves power. Any thread.
  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

 private:
  /// The contended path: back-off, the starvation bound, sched_yield (see the file comment).
  void lock_slow() noexcept GORT_NO_THREAD_SAFETY_ANALYSIS;

  std::atomic<bool> locked_{false};
  // Set by a waiter that has lost looks for GORT_SPINLOCK_STARVE_NS: a holder streaming operations
  // re-takes its own cached line before a waiter on another core can see it free, so without this
  // a waiter (and the goroutines queued behind it on its processor) could wait hundreds of µs.
  std::atomic<bool> starving_{false};
};

}  // namespace gort::detail
