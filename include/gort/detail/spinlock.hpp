// gort/detail/spinlock.hpp — the lock that guards wait queues.
//
// Wait-queue critical sections are a handful of pointer writes, and the lock must be usable from a
// goroutine, a plain thread and a machine's scheduler context (park's unlock callback releases it
// there), so it cannot itself park. Test-and-test-and-set with a pause, falling back to
// sched_yield after a bounded spin so a preempted holder is not starved of its CPU.
//
// Memory ordering: lock() is an acquire exchange and unlock() a release store; they pair with each
// other, so everything written under the lock is visible to the next holder.
#pragma once

#include <atomic>
#include <sched.h>

namespace gort::detail {

class spinlock {
 public:
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      // acquire: pairs with the release in unlock().
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (spins++ < 64) {
          pause();
        } else {
          ::sched_yield();
        }
      }
    }
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
