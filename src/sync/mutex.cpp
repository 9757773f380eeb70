// sync/mutex.cpp — the compiled parts of gort::mutex and gort::rw_mutex (gort/mutex.hpp keeps
// the uncontended fast paths): Go's lockSlow/unlockSlow, the context-aware lock, rw_mutex's
// blocking paths, and the reconciliation with a runtime's end.
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <thread>

#include "gort/context.hpp"
#include "gort/detail/sema.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/tsan_hooks.hpp"
#include "gort/mutex.hpp"
#include "gort/runtime.hpp"
#include "gort/time.hpp"

namespace gort {

namespace detail {

void sync_fatal(const char* msg) noexcept {
  std::fprintf(stderr, "fatal error: %s\n\ngoroutine %llu [running]\n", msg,
               static_cast<unsigned long long>(goroutine_id(current())));
  std::fflush(stderr);
  std::abort();
}

namespace {

/// Go's sync_runtime_canSpin, as far as the waist can tell: fewer than 4 rounds, more than one
/// CPU, and more than one processor (the holder may then be running right now). Go also requires
/// that a processor be running something else (GOMAXPROCS > idle + spinning + 1) and that the
/// caller's local run queue be empty; the waist exposes neither (lock_slow approximates the
/// second by not spinning while goroutines are queued on the mutex).
bool mutex_can_spin(int iter) noexcept {
  static const bool multicore = std::thread::hardware_concurrency() > 1;
  if (iter >= 4 || !multicore) return false;
  // On a goroutine the runtime is running and maxprocs() is a load; a plain thread spins freely
  // (its competitors are other threads or running goroutines).
  return !on_goroutine() || maxprocs() > 1;
}

void mutex_spin() noexcept {
  for (int i = 0; i < 30; ++i) spinlock::pause();  // Go's active_spin_cnt
}

}  // namespace

}  // namespace detail

std::error_code mutex::lock(const context& ctx) {
  if (std::error_code e = ctx.err()) return e;
  if (try_lock_fast()) return {};
  return lock_slow(detail::context_access::canceller(ctx));
}

// Go's lockSlow; c: the context that may end the wait (null: none).
std::error_code mutex::lock_slow(detail::cancel_node* c) {
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
    if (!must_wait) {
      // For an application built with TSan against this uninstrumented code: the previous
      // owner's unlock() released on state_ (instrumented, or see rw_mutex below).
      detail::tsan_acquire(&state_);
      return {};  // locked it
    }
    const bool lifo = wait_start != 0;  // waited before: back to the front of the queue
    if (wait_start == 0) wait_start = detail::nanotime();
    if (c == nullptr) {
      sema_.acquire(detail::wait_reason::sync_mutex_lock, lifo);
    } else if (!sema_.acquire(
                   detail::wait_reason::sync_mutex_lock, lifo, c,
                   [](void* self, bool at_head) {
                     return static_cast<mutex*>(self)->uncount(at_head);
                   },
                   this)) {
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
      detail::tsan_acquire(&state_);  // as above
      return {};
    }
    awoke = true;
    iter = 0;
  }
}

// Go's unlockSlow. `now` is the state after clearing the locked bit.
void mutex::unlock_slow(std::int32_t now) noexcept {
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
void mutex::pass_wake() noexcept {
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
bool mutex::uncount(bool at_head) noexcept {
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

// A runtime ended since this mutex was last used: recompute the state word from the waiters
// that are left (plain threads): the locked bit stays (a holder, even an abandoned one, holds);
// a plain thread handed a wake-up keeps its role (woken, or in starvation mode the ownership
// hand-off, for which it is still counted); otherwise nobody is awake, and if the mutex is free
// while threads wait, the first of them is woken now (no unlock will come to do it).
void mutex::reconcile() noexcept {
  sema_.reconcile(stamp_, [](void* self, detail::wakeup_sema::survivors& s) {
    std::atomic<std::int32_t>& state_ = static_cast<mutex*>(self)->state_;
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
  }, this);
}

// ---- rw_mutex ----

void rw_mutex::lock() {
  w_.lock();  // excludes other writers
  // acq_rel: announces the writer to readers (release) and orders us after the readers that
  // leave before it (acquire, pairing with unlock_shared's release).
  const std::int32_t readers = reader_count_.fetch_sub(k_max_readers, std::memory_order_acq_rel);
  // Wait for the readers that were inside; the last of them releases writer_sem_.
  if (readers != 0 &&
      reader_wait_.fetch_add(readers, std::memory_order_acq_rel) + readers != 0) {
    writer_sem_.acquire(detail::wait_reason::sync_rw_mutex_lock, false);
  }
  // For TSan (this code may be uninstrumented, the readers' inline unlock_shared() is not):
  // pairs with their release on reader_count_ and with unlock()'s tsan_release.
  detail::tsan_acquire(&reader_count_);
}

void rw_mutex::unlock() {
  // Readers abandoned by a runtime's end while queued behind us are still counted: forget them
  // first, or their wake-ups would be stored for readers that come later (reader_sem_'s
  // reconcile, under its lock).
  // relaxed stamp: a hint re-checked under the lock; acquire: as the wait list's validate().
  if (stamp_.load(std::memory_order_relaxed) !=
      detail::g_wait_epoch.load(std::memory_order_acquire)) {
    reader_sem_.reconcile(stamp_, [](void* self, detail::wakeup_sema::survivors& s) {
      // relaxed: an atomic adjustment; the writer's release below publishes it.
      static_cast<rw_mutex*>(self)->reader_count_.fetch_sub(static_cast<std::int32_t>(s.dropped),
                                                            std::memory_order_relaxed);
    }, this);
  }
  // For TSan: the readers' inline lock_shared() acquires on reader_count_ (and lock_shared_slow
  // and the next lock() with tsan_acquire).
  detail::tsan_release(&reader_count_);
  // release: pairs with the acquire of readers that enter after us.
  const std::int32_t readers =
      reader_count_.fetch_add(k_max_readers, std::memory_order_release) + k_max_readers;
  if (readers >= k_max_readers) detail::sync_fatal("sync: Unlock of unlocked RWMutex");
  if (readers > 0) reader_sem_.release(static_cast<std::uint32_t>(readers));
  w_.unlock();
}

void rw_mutex::lock_shared_slow() {
  reader_sem_.acquire(detail::wait_reason::sync_rw_mutex_rlock, false);  // a writer is pending
  detail::tsan_acquire(&reader_count_);  // for TSan: pairs with unlock()'s tsan_release
}

// unlock_shared found a writer pending (r: reader_count_ after its decrement, negative).
void rw_mutex::unlock_shared_slow(std::int32_t r) {
  if (r + 1 == 0 || r + 1 == -k_max_readers) {
    detail::sync_fatal("sync: RUnlock of unlocked RWMutex");
  }
  // A writer is pending: the last reader it waits for wakes it.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) writer_sem_.release(1);
}

}  // namespace gort
