// gort/sync.hpp — goroutine-aware synchronization built on the park/ready waist.
//
// Every blocking call here parks a goroutine (its machine runs other goroutines meanwhile) and
// blocks a plain OS thread, so goroutines and service threads can share one object.
#pragma once

#include <atomic>
#include <cstdint>
#include <source_location>
#include <utility>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/error.hpp"
#include "gort/go.hpp"

namespace gort {

namespace detail {

/// A counting semaphore of wake-up tokens with a FIFO wait list (Go's runtime sema for one
/// address). release(n) before acquire() is not lost. Any thread.
class wakeup_sema {
 public:
  void acquire() {
    lock_.lock();
    if (tokens_ > 0) {
      --tokens_;
      lock_.unlock();
      return;
    }
    node self{current(), nullptr};
    if (tail_ != nullptr) {
      tail_->next = &self;
    } else {
      head_ = &self;
    }
    tail_ = &self;
    park(wait_reason::wait_group, [this] { lock_.unlock(); });
  }

  void release(std::uint32_t n) {
    lock_.lock();
    tokens_ += n;
    node* woken = nullptr;
    while (tokens_ > 0 && head_ != nullptr) {
      node* w = head_;
      head_ = w->next;
      if (head_ == nullptr) tail_ = nullptr;
      w->next = woken;
      woken = w;
      --tokens_;
    }
    lock_.unlock();
    while (woken != nullptr) {
      node* w = woken;
      woken = w->next;  // read before ready(): the node lives on the parked goroutine's stack
      ready(w->g);
    }
  }

 private:
  struct node {
    goroutine* g;
    node* next;
  };
  spinlock lock_;
  std::uint32_t tokens_ = 0;  // guarded by lock_
  node* head_ = nullptr;      // guarded by lock_
  node* tail_ = nullptr;      // guarded by lock_
};

}  // namespace detail

/// Go's sync.WaitGroup: wait() blocks until the counter, moved by add()/done(), returns to zero.
///
/// Misuse throws gort::panic_error with Go's message and leaves the counter unchanged:
///  * the counter would go negative: "sync: negative WaitGroup counter";
///  * the counter would exceed 2^31-1: "sync: WaitGroup counter overflow" (gort's addition);
///  * add() raising the counter from zero while waiters are still being released:
///    "sync: WaitGroup misuse: Add called concurrently with Wait";
///  * wait() finding the group reused before it returned:
///    "sync: WaitGroup is reused before previous Wait has returned".
///
/// Memory ordering: everything a goroutine did before its done() happens-before the return of
/// every wait() that done() releases.
class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  /// Adds `delta` (may be negative) to the counter; releases all waiters when it reaches zero.
  void add(std::int64_t delta) {
    if (delta > INT32_MAX || delta < -static_cast<std::int64_t>(INT32_MAX)) {
      throw panic_error("sync: WaitGroup delta out of range");
    }
    const std::uint64_t step = static_cast<std::uint64_t>(delta) << 32;
    // acq_rel: release publishes this goroutine's work to the waiter that observes zero; acquire
    // makes the last done() see the others' work before it releases the waiters.
    const std::uint64_t old = state_.fetch_add(step, std::memory_order_acq_rel);
    const std::uint64_t s = old + step;
    const std::int64_t sum = static_cast<std::int64_t>(counter_of(old)) + delta;
    const std::uint32_t waiters = static_cast<std::uint32_t>(s);
    if (sum < 0 || sum > INT32_MAX) {
      state_.fetch_sub(step, std::memory_order_relaxed);  // undo; the group was misused anyway
      throw panic_error(sum < 0 ? "sync: negative WaitGroup counter"
                                : "sync: WaitGroup counter overflow");
    }
    if (waiters != 0 && delta > 0 && sum == delta) {
      state_.fetch_sub(step, std::memory_order_relaxed);
      throw panic_error("sync: WaitGroup misuse: Add called concurrently with Wait");
    }
    if (sum > 0 || waiters == 0) return;
    // The counter reached zero with waiters. From here nobody may add or start waiting (wait()
    // does not register itself once it sees zero), so the state can be reset and the waiters
    // released.
    if (state_.load(std::memory_order_relaxed) != s) {
      throw panic_error("sync: WaitGroup misuse: Add called concurrently with Wait");
    }
    state_.store(0, std::memory_order_relaxed);  // ordered before the waiters by sema_'s lock
    sema_.release(waiters);
  }

  /// add(-1).
  void done() { add(-1); }

  /// Blocks until the counter is zero. Returns at once when it already is.
  void wait() {
    // acquire: pairs with the acq_rel fetch_add of the done() that reached zero.
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (counter_of(s) == 0) return;
      // acq_rel: registering as a waiter must be ordered with the add() that will see it.
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        sema_.acquire();
        if (state_.load(std::memory_order_acquire) != 0) {
          throw panic_error("sync: WaitGroup is reused before previous Wait has returned");
        }
        return;
      }
    }
  }

  /// Go 1.25's WaitGroup.Go: add(1), run f on a new goroutine, done() when it returns or throws.
  template <class F>
  void go(F&& f, std::source_location where = std::source_location::current()) {
    add(1);
    struct finish {
      wait_group* wg;
      ~finish() { wg->done(); }
    };
    try {
      detail::spawn(where, [this, fn = std::forward<F>(f)]() mutable {
        finish guard{this};
        fn();
      });
    } catch (...) {
      done();
      throw;
    }
  }

 private:
  static std::int32_t counter_of(std::uint64_t s) noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(s >> 32));
  }

  // high 32 bits: counter (signed); low 32 bits: number of waiters.
  std::atomic<std::uint64_t> state_{0};
  detail::wakeup_sema sema_;
};

}  // namespace gort
