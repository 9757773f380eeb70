// gort/sync.hpp — goroutine-aware synchronization built on the park/ready waist.
//
// Every blocking call here parks a goroutine (its machine runs other goroutines meanwhile) and
// blocks a plain OS thread, so goroutines and service threads can share one object.
//
// This header is Go's sync package: wait_group, once and cond here, mutex and rw_mutex from
// gort/mutex.hpp, plus x/sync's weighted semaphore from gort/semaphore.hpp. x/sync's errgroup and
// singleflight are gort/errgroup.hpp and gort/singleflight.hpp. The context-aware forms
// (wait_group::wait(ctx)) are declared here and need gort/context.hpp only where they are called.
//
// The uncontended paths (wait_group::add/done, cond's "nobody waits" checks, once) are inline;
// everything that can wait or wake is compiled in the library (src/sync/sync.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <system_error>
#include <utility>

#include "gort/detail/sema.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/thread_annotations.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/go.hpp"
#include "gort/mutex.hpp"
#include "gort/semaphore.hpp"
#include "gort/source_location.hpp"

namespace gort {

class context;  // gort/context.hpp

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
///
/// The counter is the object's last member: a wait_group usually lives in the frame of the
/// goroutine that spawns the ones calling done(), and the frames that goroutine's calls push lie
/// below it. With the counter at the top, a done() on another processor does not take the line
/// those pushes write (measured on `spawn`: 1.5x slower when the counter shared that line).
class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  /// Adds `delta` (may be negative) to the counter; releases all waiters when it reaches zero.
  void add(std::int64_t delta) {
    if (delta > INT32_MAX || delta < -static_cast<std::int64_t>(INT32_MAX)) throw_delta_range();
    const std::uint64_t step = static_cast<std::uint64_t>(delta) << 32;
    // acq_rel: release publishes this goroutine's work to the waiter that observes zero; acquire
    // makes the last done() see the others' work before it releases the waiters.
    const std::uint64_t old = state_.fetch_add(step, std::memory_order_acq_rel);
    const std::int64_t sum = static_cast<std::int64_t>(counter_of(old)) + delta;
    // Nobody waits and the counter is in range: nothing else to do (the common case).
    if (static_cast<std::uint32_t>(old + step) == 0 && sum >= 0 && sum <= INT32_MAX) return;
    add_slow(old, delta);
  }

  /// add(-1).
  void done() { add(-1); }

  /// Blocks until the counter is zero. Returns at once when it already is.
  void wait();

  /// wait() that gives up when ctx is done: {} once the counter is zero; ctx.err() if ctx is done
  /// first, or already done at the call. A waiter that gives up is no longer counted, so the
  /// group's later releases and reuse are unaffected. Misuse throws as wait() does.
  [[nodiscard]] std::error_code wait(const context& ctx);

  /// Go 1.25's WaitGroup.Go: add(1), run f on a new goroutine, done() when it returns or throws.
  template <class F>
  void go(F&& f, gort::source_location where = gort::source_location::current()) {
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

  // Compiled (src/sync/sync.cpp).
  [[noreturn]] static void throw_delta_range();
  void add_slow(std::uint64_t old, std::int64_t delta);  // misuse, waiters, release
  bool epoch_stale() const noexcept;
  void reconcile();

  std::atomic<std::uint32_t> stamp_{0};  // the waiter epoch state_ was last reconciled in
  detail::wakeup_sema sema_;
  // high 32 bits: counter (signed); low 32 bits: number of waiters. Last: see the class comment.
  std::atomic<std::uint64_t> state_{0};
};

/// Go's sync.Once: call(f) runs f exactly once among all callers; concurrent callers block until
/// that first call returns, so when any call() returns, f has finished.
///
/// If f throws, the exception propagates to the caller whose f it was and the once is still done
/// (Go: "if f panics, Do considers it to have returned"): later calls do not retry. This differs
/// from std::call_once, which retries after an exception. Calling call() from inside f deadlocks,
/// as in Go.
///
/// Memory ordering: f's effects happen-before the return of every call().
class once {
 public:
  once() noexcept = default;
  once(const once&) = delete;
  once& operator=(const once&) = delete;

  template <class F>
  void call(F&& f) {
    // acquire: pairs with the release store after f; f's effects are then visible.
    if (done_.load(std::memory_order_acquire)) return;
    m_.lock();
    struct finish {
      once& o;
      bool ran = false;
      ~finish() {
        if (ran) o.done_.store(true, std::memory_order_release);  // also when f throws
        o.m_.unlock();
      }
    } guard{*this};
    if (done_.load(std::memory_order_relaxed)) return;  // relaxed: m_ orders it with the store
    guard.ran = true;
    std::forward<F>(f)();
  }

  /// True once a call() has run f (returned or thrown).
  [[nodiscard]] bool done() const noexcept { return done_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> done_{false};
  mutex m_;
};

/// Go's sync.Cond: goroutines (or threads) wait for a condition while releasing a lock.
///
///   std::unique_lock lock(mu);                       // or lock mu directly
///   while (!ready) c.wait(lock);                     // or c.wait(lock, [&] { return ready; })
///   ... elsewhere: { std::lock_guard l(mu); ready = true; } c.broadcast();
///
/// wait(l) atomically unlocks `l` (any BasicLockable: gort::mutex, std::unique_lock<gort::mutex>,
/// rw_mutex…) and parks; it re-locks `l` before returning. signal() wakes the longest-waiting
/// waiter (FIFO, Go's notifyList tickets); broadcast() wakes all current waiters; neither needs
/// the lock held, and a signal with no waiter is lost (not saved for a later wait). As in Go,
/// waiters must re-check their condition in a loop.
///
/// Memory ordering: a signal()/broadcast() happens-before the return of the wait() it wakes (and
/// the lock's own ordering covers the protected state).
class cond {
 public:
  cond() noexcept = default;
  cond(const cond&) = delete;
  cond& operator=(const cond&) = delete;

  template <class Lock>
  void wait(Lock& l) {
    // A ticket taken before unlocking: a signal after the unlock but before we park is not lost,
    // because it counts tickets, not parked waiters. acq_rel: ordered before l.unlock()'s
    // release, so a signaller that then takes the lock sees the ticket.
    const std::uint32_t ticket = wait_.fetch_add(1, std::memory_order_acq_rel);
    l.unlock();
    wait_ticket(ticket);
    l.lock();
  }

  /// wait() until pred() holds (checked under the lock before each wait).
  template <class Lock, class Pred>
  void wait(Lock& l, Pred pred) {
    while (!pred()) wait(l);
  }

  /// Wakes the longest-waiting waiter, if any.
  void signal() {
    // Fast path (Go's): no ticket outstanding. acquire: pairs with wait()'s fetch_add.
    if (wait_.load(std::memory_order_acquire) == notify_.load(std::memory_order_relaxed)) return;
    signal_slow();
  }

  /// Wakes every current waiter.
  void broadcast() {
    if (wait_.load(std::memory_order_acquire) == notify_.load(std::memory_order_relaxed)) return;
    broadcast_slow();
  }

  /// std::condition_variable_any's names, for generic code.
  void notify_one() { signal(); }
  void notify_all() { broadcast(); }

 private:
  struct waiter : detail::waiter {
    waiter(detail::goroutine* who, std::uint32_t t) noexcept : detail::waiter(who), ticket(t) {}
    std::uint32_t ticket;
  };

  // Compiled (src/sync/sync.cpp).
  void wait_ticket(std::uint32_t ticket);  // queue unless notified, park
  void signal_slow();
  void broadcast_slow();
  waiter* validate_locked() noexcept GORT_REQUIRES(lock_);
  waiter* claim_all_locked() noexcept GORT_REQUIRES(lock_);
  static void ready_chain(waiter* w);
  bool notified(std::uint32_t ticket) const noexcept GORT_REQUIRES(lock_);

  std::atomic<std::uint32_t> wait_{0};    // next ticket
  std::atomic<std::uint32_t> notify_{0};  // next ticket to notify; written under lock_
  detail::spinlock lock_;
  // Roughly in ticket order (signal searches).
  detail::wait_queues<waiter> q_ GORT_GUARDED_BY(lock_);
  std::uint32_t queued_ GORT_GUARDED_BY(lock_) = 0;  // q_'s length
};

}  // namespace gort
