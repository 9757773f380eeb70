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
// just granted the lock, passes it on) and returns ctx.err(). It is declared here and needs
// gort/context.hpp only where it is called.
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
//
// The uncontended paths are inline; everything that can wait or wake is compiled in the library
// (src/sync/mutex.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <system_error>

#include "gort/detail/sema.hpp"
#include "gort/detail/wait_list.hpp"

namespace gort {

class context;  // gort/context.hpp

namespace detail {
struct cancel_node;

/// Go's throw/fatal for sync misuse: prints "fatal error: <msg>" and the calling goroutine, then
/// aborts. Any thread.
[[noreturn]] void sync_fatal(const char* msg) noexcept;
}  // namespace detail

/// Go's sync.Mutex. See the file comment. Not copyable or movable.
class mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  /// Blocks until the mutex is acquired.
  void lock() {
    if (try_lock_fast()) return;
    (void)lock_slow(nullptr);
  }

  /// lock() that gives up when ctx is done: {} once acquired; ctx.err() if ctx is done before
  /// (the mutex is then not held), including when it is already done at the call.
  [[nodiscard]] std::error_code lock(const context& ctx);

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

  // The uncontended path: one CAS 0 -> locked.
  bool try_lock_fast() noexcept {
    std::int32_t expected = 0;
    // acquire: pairs with the release in unlock(); the previous owner's writes are visible.
    return state_.compare_exchange_strong(expected, k_locked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Compiled (src/sync/mutex.cpp):
  std::error_code lock_slow(detail::cancel_node* c);  // Go's lockSlow; c may be null
  void unlock_slow(std::int32_t now) noexcept;         // Go's unlockSlow
  void pass_wake() noexcept;
  bool uncount(bool at_head) noexcept;
  void reconcile() noexcept;

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
  void lock();

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
  void unlock();

  /// Acquires shared (read) ownership; blocks while a writer holds or waits for the mutex.
  void lock_shared() {
    // acquire: pairs with the writer's unlock().
    if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) lock_shared_slow();
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
    if (r < 0) unlock_shared_slow(r);
  }

 private:
  static constexpr std::int32_t k_max_readers = 1 << 30;  // Go's rwmutexMaxReaders

  void lock_shared_slow();               // compiled: a writer is pending
  void unlock_shared_slow(std::int32_t r);  // compiled: a writer is pending

  mutex w_;
  detail::wakeup_sema writer_sem_;  // the writer waits here for departing readers
  detail::wakeup_sema reader_sem_;  // readers wait here for the writer
  std::atomic<std::int32_t> reader_count_{0};  // readers inside; -k_max_readers while a writer is
  std::atomic<std::int32_t> reader_wait_{0};   // readers the pending writer still waits for
  std::atomic<std::uint32_t> stamp_{0};        // the waiter epoch reader_count_ was reconciled in
};

}  // namespace gort
