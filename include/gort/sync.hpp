// gort/sync.hpp — goroutine-aware synchronization built on the park/ready waist.
//
// Every blocking call here parks a goroutine (its machine runs other goroutines meanwhile) and
// blocks a plain OS thread, so goroutines and service threads can share one object.
//
// This header is Go's sync package: wait_group, once and cond here, mutex and rw_mutex from
// gort/mutex.hpp, plus x/sync's weighted semaphore from gort/semaphore.hpp. x/sync's errgroup and
// singleflight are gort/errgroup.hpp and gort/singleflight.hpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include "gort/source_location.hpp"
#include <system_error>
#include <utility>

#include "gort/context.hpp"
#include "gort/detail/sema.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/error.hpp"
#include "gort/go.hpp"
#include "gort/mutex.hpp"
#include "gort/semaphore.hpp"

namespace gort {

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
    std::uint64_t s = old + step;
    if (static_cast<std::uint32_t>(s) != 0 && epoch_stale()) {
      reconcile();  // some of the waiters counted may be gone with a runtime
      s = state_.load(std::memory_order_acquire);
    }
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
    if (epoch_stale()) reconcile();
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

  /// wait() that gives up when ctx is done: {} once the counter is zero; ctx.err() if ctx is done
  /// first, or already done at the call. A waiter that gives up is no longer counted, so the
  /// group's later releases and reuse are unaffected. Misuse throws as wait() does.
  [[nodiscard]] std::error_code wait(const context& ctx) {
    if (std::error_code e = ctx.err()) return e;
    detail::cancel_node* c = detail::context_access::canceller(ctx);
    if (c == nullptr) {
      wait();
      return {};
    }
    if (epoch_stale()) reconcile();
    // acquire: as in wait().
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (counter_of(s) == 0) return {};
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        continue;
      }
      const bool released = sema_.acquire(detail::wait_reason::wait_group, false, c, [this](bool) {
        // Forget this waiter unless the counter already reached zero: add() is then releasing
        // a token for it, which it must take.
        // relaxed load: the CAS below re-checks; acq_rel CAS: ordered with add() like wait()'s.
        std::uint64_t cur = state_.load(std::memory_order_relaxed);
        while (counter_of(cur) > 0 && static_cast<std::uint32_t>(cur) > 0) {
          if (state_.compare_exchange_weak(cur, cur - 1, std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
            return true;
          }
        }
        return false;
      });
      if (!released) return c->error_code();
      if (state_.load(std::memory_order_acquire) != 0) {
        throw panic_error("sync: WaitGroup is reused before previous Wait has returned");
      }
      return {};
    }
  }

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

  bool epoch_stale() const noexcept {
    // relaxed stamp: a hint re-checked under the semaphore's lock; acquire: as validate()'s.
    return stamp_.load(std::memory_order_relaxed) !=
           detail::g_wait_epoch.load(std::memory_order_acquire);
  }

  // A runtime ended since the group was last used: the waiter count becomes the plain threads
  // still queued (detail/sema.hpp); were the counter already zero, they are released now.
  [[gnu::cold]] [[gnu::noinline]] void reconcile() {
    sema_.reconcile(stamp_, [this](detail::wakeup_sema::survivors& s) {
      std::uint64_t old = state_.load(std::memory_order_relaxed);
      for (;;) {
        std::uint64_t next = (old & ~std::uint64_t{0xffffffff}) | s.queued;
        std::uint32_t wake = 0;
        if (counter_of(old) == 0 && s.queued > 0) {
          next = 0;
          wake = s.queued;
        }
        // acq_rel: as add()'s.
        if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
          s.wake = wake;
          return;
        }
      }
    });
  }

  // high 32 bits: counter (signed); low 32 bits: number of waiters.
  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::uint32_t> stamp_{0};  // the waiter epoch state_ was last reconciled in
  detail::wakeup_sema sema_;
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
    std::lock_guard<mutex> lock(m_);
    if (done_.load(std::memory_order_relaxed)) return;  // relaxed: m_ orders it with the store
    struct mark_done {
      std::atomic<bool>& flag;
      ~mark_done() { flag.store(true, std::memory_order_release); }  // also when f throws
    } mark{done_};
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
    // current(), not enter_op(): no preemption point between the ticket and the queue (a
    // runtime's end abandons goroutines only there; see validate_locked).
    detail::goroutine* const me = detail::current();
    lock_.lock();
    waiter* woken = validate_locked();
    if (notified(ticket)) {
      lock_.unlock();
      ready_chain(woken);
    } else {
      GORT_DCHECK(woken == nullptr);  // a rebuilt list notifies every ticket, ours included
      waiter self(me, ticket);
      q_.push_back(&self);
      ++queued_;
      (void)detail::wait_for(self, detail::wait_reason::sync_cond_wait, lock_);
    }
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
    lock_.lock();
    if (waiter* woken = validate_locked()) {  // a runtime ended: every waiter left is woken
      lock_.unlock();
      ready_chain(woken);
      return;
    }
    // notify_ is written only under lock_ (relaxed: the lock orders it); wait_'s acquire pairs
    // with wait()'s fetch_add.
    const std::uint32_t t = notify_.load(std::memory_order_relaxed);
    if (wait_.load(std::memory_order_acquire) == t) {
      lock_.unlock();
      return;
    }
    notify_.store(t + 1, std::memory_order_relaxed);
    // Usually the head; a waiter that took its ticket but has not queued yet finds itself
    // notified instead.
    for (waiter* w = q_.front(); w != nullptr; w = detail::wait_queues<waiter>::next_of(w)) {
      if (w->ticket != t) continue;
      q_.remove(w);
      --queued_;
      (void)w->claim.claim(detail::k_claim_granted);  // uncontested: only a signal wakes it
      detail::goroutine* g = w->g;
      lock_.unlock();
      detail::ready(g);
      return;
    }
    lock_.unlock();
  }

  /// Wakes every current waiter.
  void broadcast() {
    if (wait_.load(std::memory_order_acquire) == notify_.load(std::memory_order_relaxed)) return;
    lock_.lock();
    (void)validate_locked();  // an epoch change wakes everyone left, as this call does anyway
    notify_.store(wait_.load(std::memory_order_acquire), std::memory_order_relaxed);
    waiter* w = claim_all_locked();
    lock_.unlock();
    ready_chain(w);
  }

  /// std::condition_variable_any's names, for generic code.
  void notify_one() { signal(); }
  void notify_all() { broadcast(); }

 private:
  struct waiter : detail::waiter {
    waiter(detail::goroutine* who, std::uint32_t t) noexcept : detail::waiter(who), ticket(t) {}
    std::uint32_t ticket;
  };

  // Requires lock_. Validates the list (wait_list.hpp). After a runtime's end every ticket taken
  // so far counts as notified — their goroutines are gone, or they are plain threads, which are
  // woken (a spurious wake-up, which cond allows: they re-check their condition). Returns those
  // to ready once the lock is released, or null.
  waiter* validate_locked() noexcept {
    if (!q_.validate()) return nullptr;
    std::uint32_t kept = 0;
    for (waiter* w = q_.front(); w != nullptr; w = detail::wait_queues<waiter>::next_of(w)) ++kept;
    const bool dropped = kept != queued_;  // goroutines' waiters were forgotten
    queued_ = kept;
    if (!dropped) return nullptr;  // e.g. a cond first used after a runtime ended: nothing to do
    notify_.store(wait_.load(std::memory_order_acquire), std::memory_order_relaxed);
    return claim_all_locked();
  }

  // Requires lock_. Unlinks every waiter and claims it; the list to ready (through next_of).
  waiter* claim_all_locked() noexcept {
    waiter* w = q_.take_all();
    queued_ = 0;
    for (waiter* x = w; x != nullptr; x = detail::wait_queues<waiter>::next_of(x)) {
      (void)x->claim.claim(detail::k_claim_granted);  // uncontested: only the cond wakes them
    }
    return w;
  }

  static void ready_chain(waiter* w) {
    while (w != nullptr) {
      waiter* next = detail::wait_queues<waiter>::next_of(w);  // before ready(): w is on its stack
      detail::ready(w->g);
      w = next;
    }
  }

  // Requires lock_. Tickets wrap: compare by distance, as Go's less().
  bool notified(std::uint32_t ticket) const noexcept {
    return static_cast<std::int32_t>(ticket - notify_.load(std::memory_order_relaxed)) < 0;
  }

  std::atomic<std::uint32_t> wait_{0};    // next ticket
  std::atomic<std::uint32_t> notify_{0};  // next ticket to notify; written under lock_
  detail::spinlock lock_;
  detail::wait_queues<waiter> q_;  // guarded by lock_; roughly in ticket order (signal searches)
  std::uint32_t queued_ = 0;       // q_'s length; guarded by lock_
};

}  // namespace gort
