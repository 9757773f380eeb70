// gort/mutex.hpp — Go's sync.Mutex and sync.RWMutex for goroutines and threads.
//
//   gort::mutex mu;
//   { std::lock_guard lock(mu); ... }            // Lockable: lock / try_lock / unlock
//   if (auto e = mu.lock(ctx)) return e;         // gives up when ctx is done
//   gort::rw_mutex rw;
//   { std::shared_lock r(rw); ... }              // SharedLockable: lock_shared / unlock_shared
//
// A waiter parks its goroutine (its machine runs other goroutines) or blocks its plain thread.
// A mutex may be unlocked by another goroutine or thread than the one that locked it (Go allows
// it), and may be held across a park (unlike std::mutex, which deadlocks once goroutines
// migrate).
//
// mutex — Go's algorithm (sync/mutex.go), one 32-bit state word: locked, woken (a waiter is awake
// and competing: unlock need not wake another), starving, and the number of waiters.
//  1. lock(): one CAS 0 -> locked when free (the uncontended path).
//  2. Contended, normal mode: spin a little (at most 4 × 30 pauses, only on a multicore machine
//     with more than one processor, never in starvation mode, and only while nobody is queued:
//     see lock_slow), then queue on the semaphore and park. unlock() wakes the first waiter,
//     which competes with newcomers; a loser is re-queued at the front.
//  3. A waiter that has waited more than 1 ms switches the mutex to starvation mode: unlock()
//     hands ownership directly to the first waiter; newcomers neither spin nor grab, they queue at
//     the tail. The mode ends when the waiter that receives ownership is the last one or waited
//     less than 1 ms.
// lock(ctx) is gort's addition: a waiter woken by its context leaves the queue (or, if it was
// just granted the lock, passes it on) and returns ctx.err().
//
// rw_mutex — Go's writer-preferring algorithm: once lock() is pending, new lock_shared() calls
// block until the writer is done, so readers cannot starve a writer (recursive read-locking can
// therefore deadlock, as in Go). try_lock / try_lock_shared fail while the other side holds it.
//
// Misuse is a fatal error, as in Go: it prints Go's message and aborts (the state word is not
// trustworthy any more, and unlock() is called from destructors, where an exception would
// terminate anyway):
//   mutex::unlock of an unlocked mutex          "fatal error: sync: unlock of unlocked mutex"
//   rw_mutex::unlock_shared without a reader    "fatal error: sync: RUnlock of unlocked RWMutex"
//   rw_mutex::unlock without a writer           "fatal error: sync: Unlock of unlocked RWMutex"
//
// Memory ordering: an unlock() (unlock_shared()) happens-before the lock() (lock()) that next
// acquires the mutex; lock() of a writer is ordered after every earlier unlock_shared(), and
// unlock() of a writer before every later lock_shared().
//
// Outliving a runtime (docs/api.md): goroutines waiting when their runtime ended are forgotten
// (detail/sema.hpp's reconcile, at the start of the slow paths); a goroutine holding the mutex, or
// a waiter the mutex had been handed to in starvation mode, or a writer of rw_mutex already
// waiting for readers to leave, holds it for good.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <thread>

#include "gort/context.hpp"
#include "gort/detail/sema.hpp"
#include "gort/detail/waist.hpp"
#include "gort/runtime.hpp"

namespace gort {

namespace detail {

/// Go's throw/fatal for sync misuse: prints "fatal error: <msg>" and the calling goroutine, then
/// aborts. Any thread.
[[noreturn]] inline void sync_fatal(const char* msg) noexcept {
  std::fprintf(stderr, "fatal error: %s\n\ngoroutine %llu [running]\n", msg,
               static_cast<unsigned long long>(goroutine_id(current())));
  std::fflush(stderr);
  std::abort();
}

/// Go's sync_runtime_canSpin, as far as the waist can tell: fewer than 4 rounds, more than one
/// CPU, and more than one processor (the holder may then be running right now). Go also requires
/// that a processor be running something else (GOMAXPROCS > idle + spinning + 1) and that the
/// caller's local run queue be empty; the waist exposes neither (lock_slow approximates the
/// second by not spinning while goroutines are queued on the mutex).
inline bool mutex_can_spin(int iter) noexcept {
  static const bool multicore = std::thread::hardware_concurrency() > 1;
  if (iter >= 4 || !multicore) return false;
  // On a goroutine the runtime is running and maxprocs() is a load; a plain thread spins freely
  // (its competitors are other threads or running goroutines).
  return !on_goroutine() || maxprocs() > 1;
}

inline void mutex_spin() noexcept {
  for (int i = 0; i < 30; ++i) spinlock::pause();  // Go's active_spin_cnt
}

}  // namespace detail

/// Go's sync.Mutex. See the file comment. Not copyable or movable.
class mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  /// Blocks until the mutex is acquired.
  void lock() {
    std::int32_t expected = 0;
    // acquire: pairs with the release in unlock(); the previous owner's writes are visible.
    if (state_.compare_exchange_strong(expected, k_locked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    (void)lock_slow(nullptr);
  }

  /// lock() that gives up when ctx is done: {} once acquired; ctx.err() if ctx is done before
  /// (the mutex is then not held), including when it is already done at the call.
  [[nodiscard]] std::error_code lock(const context& ctx) {
    if (std::error_code e = ctx.err()) return e;
    std::int32_t expected = 0;
    if (state_.compare_exchange_strong(expected, k_locked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return {};
    }
    return lock_slow(detail::context_access::canceller(ctx));
  }

  /// Acquires the mutex if it is free and not in starvation mode (Go's TryLock). Never blocks.
  [[nodiscard]] bool try_lock() noexcept {
    std::int32_t old = state_.load(std::memory_order_relaxed);
    if ((old & (k_locked | k_starving)) != 0) return false;
    // acquire: as in lock().
    return state_.compare_exchange_strong(old, old | k_locked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  /// Releases the mutex. Unlocking a mutex that is not locked is a fatal error.
  void unlock() noexcept {
    // release: publishes the critical section to the next owner (pairs with lock()'s acquire).
    const std::int32_t now = state_.fetch_sub(k_locked, std::memory_order_release) - k_locked;
    if (now != 0) unlock_slow(now);
  }

 private:
  static constexpr std::int32_t k_locked = 1;
  static constexpr std::int32_t k_woken = 2;
  static constexpr std::int32_t k_starving = 4;
  static constexpr int k_waiter_shift = 3;
  static constexpr std::int32_t k_waiter = 1 << k_waiter_shift;
  static constexpr std::int64_t k_starvation_ns = 1'000'000;  // Go's starvationThresholdNs

  // Go's lockSlow; c: the context that may end the wait (null: none).
  std::error_code lock_slow(detail::cancel_node* c) {
    check_epoch();
    std::int64_t wait_start = 0;
    bool starving = false;
    bool awoke = false;
    int iter = 0;
    std::int32_t old = state_.load(std::memory_order_relaxed);
    for (;;) {
      // Spin only in normal mode while someone holds it (in starvation mode ownership goes to
      // the queue, so spinning cannot win) and nobody is queued. Go's other condition, that this
      // processor has nothing else to run, is not visible through the waist; queued waiters are
      // the sign that the mutex is contended by more goroutines than processors, where parking
      // and running something else beats spinning (measured: 8 goroutines on 2 processors,
      // 32 -> 22 ns per lock). Go's "set the woken flag while spinning" step therefore never
      // applies: it only matters when waiters are queued.
      if ((old & (k_locked | k_starving)) == k_locked && (old >> k_waiter_shift) == 0 &&
          detail::mutex_can_spin(iter)) {
        detail::mutex_spin();
        ++iter;
        old = state_.load(std::memory_order_relaxed);
        continue;
      }
      const bool must_wait = (old & (k_locked | k_starving)) != 0;
      if (must_wait && c != nullptr && c->error_value() != 0) {
        if (awoke) pass_wake();
        return c->error_code();
      }
      std::int32_t next = old;
      if ((old & k_starving) == 0) next |= k_locked;  // newcomers do not grab a starving mutex
      if (must_wait) next += k_waiter;
      // Switch to starvation mode, but only while it is locked: unlock() expects waiters then.
      if (starving && (old & k_locked) != 0) next |= k_starving;
      if (awoke) {
        if ((next & k_woken) == 0) detail::sync_fatal("sync: inconsistent mutex state");
        next &= ~k_woken;  // we are no longer the awake waiter, whatever happens next
      }
      // acquire: when this takes the lock, pairs with the previous owner's release.
      if (!state_.compare_exchange_weak(old, next, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
        continue;  // old reloaded
      }
      if (!must_wait) return {};  // locked it
      const bool lifo = wait_start != 0;  // waited before: back to the front of the queue
      if (wait_start == 0) wait_start = detail::nanotime();
      if (c == nullptr) {
        sema_.acquire(detail::wait_reason::sync_mutex_lock, lifo);
      } else if (!sema_.acquire(detail::wait_reason::sync_mutex_lock, lifo, c,
                                [this](bool at_head) { return uncount(at_head); })) {
        return c->error_code();  // left the queue; we were no longer counted
      }
      starving = starving || detail::nanotime() - wait_start > k_starvation_ns;
      old = state_.load(std::memory_order_relaxed);
      if ((old & k_starving) != 0) {
        // Ownership was handed to us: the locked bit is clear and we are still counted as a
        // waiter. Take it, and leave starvation mode if we are the last waiter or did not wait
        // long.
        if ((old & (k_locked | k_woken)) != 0 || (old >> k_waiter_shift) == 0) {
          detail::sync_fatal("sync: inconsistent mutex state");
        }
        std::int32_t delta = k_locked - k_waiter;
        if (!starving || (old >> k_waiter_shift) == 1) delta -= k_starving;
        // acq_rel: acquire pairs with the hand-off's release (unlock's fetch_sub); release keeps
        // the mode change ordered for the next unlock.
        state_.fetch_add(delta, std::memory_order_acq_rel);
        return {};
      }
      awoke = true;
      iter = 0;
    }
  }

  // Go's unlockSlow. `now` is the state after clearing the locked bit.
  void unlock_slow(std::int32_t now) noexcept {
    if (((now + k_locked) & k_locked) == 0) detail::sync_fatal("sync: unlock of unlocked mutex");
    if (epoch_stale()) {
      reconcile();
      now = state_.load(std::memory_order_relaxed);
    }
    if ((now & k_starving) != 0) {
      // Starvation mode: hand ownership to the first waiter (the locked bit stays clear; the
      // starving bit keeps newcomers out until it takes over).
      sema_.release(1);
      return;
    }
    std::int32_t old = now;
    for (;;) {
      // Nobody to wake, or someone is awake, holds it, or will receive it: nothing to do.
      if ((old >> k_waiter_shift) == 0 || (old & (k_locked | k_woken | k_starving)) != 0) return;
      // relaxed: the token's hand-off through the semaphore's lock orders what the waiter needs.
      if (state_.compare_exchange_weak(old, (old - k_waiter) | k_woken, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
        sema_.release(1);
        return;
      }
    }
  }

  // A context-cancelled waiter that holds the woken flag leaves: clear it, and wake another
  // waiter if one needs waking (the same decision as unlock_slow's).
  void pass_wake() noexcept {
    std::int32_t old = state_.load(std::memory_order_relaxed);
    for (;;) {
      std::int32_t next = old & ~k_woken;
      const bool wake = (next >> k_waiter_shift) != 0 && (next & (k_locked | k_starving)) == 0;
      if (wake) next = (next - k_waiter) | k_woken;
      if (state_.compare_exchange_weak(old, next, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
        if (wake) sema_.release(1);
        return;
      }
    }
  }

  // Under the semaphore's lock (no token can be delivered meanwhile), for a queued waiter its
  // context woke: forget it, unless a token meant for it is on its way, which it must then take:
  //  * normal mode, waiter count zero: an unlock counted it out and is releasing its wake-up;
  //  * starvation mode, unlocked, and it is first in the queue: the hand-off is for it.
  // The last waiter leaving a starving, locked mutex ends starvation mode, so the owner's unlock
  // does not hand ownership to an empty queue.
  bool uncount(bool at_head) noexcept {
    std::int32_t old = state_.load(std::memory_order_relaxed);
    for (;;) {
      const std::int32_t waiters = old >> k_waiter_shift;
      if (waiters == 0) return false;
      const bool starving = (old & k_starving) != 0;
      if (starving && (old & k_locked) == 0 && at_head) return false;
      std::int32_t next = old - k_waiter;
      if (starving && waiters == 1) next &= ~k_starving;
      if (state_.compare_exchange_weak(old, next, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
  }

  // ---- outliving a runtime (detail/sema.hpp) ----

  bool epoch_stale() const noexcept {
    // relaxed stamp: a hint; reconcile() re-checks under the semaphore's lock. acquire: as the
    // wait list's validate().
    return stamp_.load(std::memory_order_relaxed) !=
           detail::g_wait_epoch.load(std::memory_order_acquire);
  }

  void check_epoch() noexcept {
    if (epoch_stale()) reconcile();
  }

  // A runtime ended since this mutex was last used: recompute the state word from the waiters
  // that are left (plain threads): the locked bit stays (a holder, even an abandoned one, holds);
  // a plain thread handed a wake-up keeps its role (woken, or in starvation mode the ownership
  // hand-off, for which it is still counted); otherwise nobody is awake, and if the mutex is free
  // while threads wait, the first of them is woken now (no unlock will come to do it).
  [[gnu::cold]] [[gnu::noinline]] void reconcile() noexcept {
    sema_.reconcile(stamp_, [this](detail::wakeup_sema::survivors& s) {
      std::int32_t old = state_.load(std::memory_order_relaxed);
      for (;;) {
        std::int32_t next = old & k_locked;
        std::int32_t waiters = static_cast<std::int32_t>(s.queued);
        std::uint32_t wake = 0;
        if (s.thread_grants > 0 && (old & k_starving) != 0) {
          next |= k_starving;
          waiters += static_cast<std::int32_t>(s.thread_grants);
        } else if (s.thread_grants > 0) {
          next |= k_woken;
        } else if ((old & k_locked) == 0 && waiters > 0) {
          next |= k_woken;
          --waiters;
          wake = 1;
        }
        next += waiters << k_waiter_shift;
        // relaxed: the semaphore's lock orders this with the waiters it wakes.
        if (state_.compare_exchange_weak(old, next, std::memory_order_relaxed,
                                         std::memory_order_relaxed)) {
          s.wake = wake;
          return;
        }
      }
    });
  }

  std::atomic<std::int32_t> state_{0};
  std::atomic<std::uint32_t> stamp_{0};  // the waiter epoch state_ was last reconciled in
  detail::wakeup_sema sema_;
};

/// Go's sync.RWMutex (writer-preferring). See the file comment. Not copyable or movable.
class rw_mutex {
 public:
  rw_mutex() noexcept = default;
  rw_mutex(const rw_mutex&) = delete;
  rw_mutex& operator=(const rw_mutex&) = delete;

  /// Acquires exclusive (write) ownership.
  void lock() {
    w_.lock();  // excludes other writers
    // acq_rel: announces the writer to readers (release) and orders us after the readers that
    // leave before it (acquire, pairing with unlock_shared's release).
    const std::int32_t readers = reader_count_.fetch_sub(k_max_readers, std::memory_order_acq_rel);
    // Wait for the readers that were inside; the last of them releases writer_sem_.
    if (readers != 0 &&
        reader_wait_.fetch_add(readers, std::memory_order_acq_rel) + readers != 0) {
      writer_sem_.acquire(detail::wait_reason::sync_rw_mutex_lock, false);
    }
  }

  /// Exclusive ownership if nobody holds the mutex in any mode. Never blocks.
  [[nodiscard]] bool try_lock() noexcept {
    if (!w_.try_lock()) return false;
    std::int32_t none = 0;
    // acquire: pairs with the last unlock_shared()'s release.
    if (!reader_count_.compare_exchange_strong(none, -k_max_readers, std::memory_order_acquire,
                                               std::memory_order_relaxed)) {
      w_.unlock();
      return false;
    }
    return true;
  }

  /// Releases exclusive ownership and lets the readers that queued meanwhile in.
  void unlock() {
    // Readers abandoned by a runtime's end while queued behind us are still counted: forget them
    // first, or their wake-ups would be stored for readers that come later (reader_sem_'s
    // reconcile, under its lock).
    // relaxed stamp: a hint re-checked under the lock; acquire: as the wait list's validate().
    if (stamp_.load(std::memory_order_relaxed) !=
        detail::g_wait_epoch.load(std::memory_order_acquire)) {
      reader_sem_.reconcile(stamp_, [this](detail::wakeup_sema::survivors& s) {
        // relaxed: an atomic adjustment; the writer's release below publishes it.
        reader_count_.fetch_sub(static_cast<std::int32_t>(s.dropped), std::memory_order_relaxed);
      });
    }
    // release: pairs with the acquire of readers that enter after us.
    const std::int32_t readers =
        reader_count_.fetch_add(k_max_readers, std::memory_order_release) + k_max_readers;
    if (readers >= k_max_readers) detail::sync_fatal("sync: Unlock of unlocked RWMutex");
    if (readers > 0) reader_sem_.release(static_cast<std::uint32_t>(readers));
    w_.unlock();
  }

  /// Acquires shared (read) ownership; blocks while a writer holds or waits for the mutex.
  void lock_shared() {
    // acquire: pairs with the writer's unlock().
    if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) {
      reader_sem_.acquire(detail::wait_reason::sync_rw_mutex_rlock, false);  // a writer is pending
    }
  }

  /// Shared ownership unless a writer holds or waits for the mutex. Never blocks.
  [[nodiscard]] bool try_lock_shared() noexcept {
    std::int32_t c = reader_count_.load(std::memory_order_relaxed);
    for (;;) {
      if (c < 0) return false;
      // acquire: as in lock_shared().
      if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
        return true;
      }
    }
  }

  /// Releases shared ownership.
  void unlock_shared() {
    // release: a writer waiting for us sees our reads done.
    const std::int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r >= 0) return;
    if (r + 1 == 0 || r + 1 == -k_max_readers) {
      detail::sync_fatal("sync: RUnlock of unlocked RWMutex");
    }
    // A writer is pending: the last reader it waits for wakes it.
    if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) writer_sem_.release(1);
  }

 private:
  static constexpr std::int32_t k_max_readers = 1 << 30;  // Go's rwmutexMaxReaders

  mutex w_;
  detail::wakeup_sema writer_sem_;  // the writer waits here for departing readers
  detail::wakeup_sema reader_sem_;  // readers wait here for the writer
  std::atomic<std::int32_t> reader_count_{0};  // readers inside; -k_max_readers while a writer is
  std::atomic<std::int32_t> reader_wait_{0};   // readers the pending writer still waits for
  std::atomic<std::uint32_t> stamp_{0};        // the waiter epoch reader_count_ was reconciled in
};

}  // namespace gort
