// sync/sync.cpp — the compiled parts of gort/sync.hpp: wait_group's waits and releases, cond,
// and their reconciliation with a runtime's end (detail/sema.hpp).
#include <cstdint>
#include <system_error>

#include "gort/context.hpp"
#include "gort/detail/sema.hpp"
#include "gort/detail/tsan_hooks.hpp"
#include "gort/error.hpp"
#include "gort/sync.hpp"

namespace gort {

// ---- wait_group ----

void wait_group::throw_delta_range() { throw panic_error("sync: WaitGroup delta out of range"); }

// add() after its fetch_add, when waiters are counted or the counter left its range.
void wait_group::add_slow(std::uint64_t old, std::int64_t delta) {
  // The class comment's layout: nothing of the group lies above its counter.
  GORT_DCHECK(reinterpret_cast<const char*>(&state_ + 1) ==
              reinterpret_cast<const char*>(this + 1));
  const std::uint64_t step = static_cast<std::uint64_t>(delta) << 32;
  // A done() that leaves the counter above zero touches nothing of *this after its fetch_add:
  // once another done() releases the waiters, one of them may return and destroy the group
  // (Go's Add reads only its own atomic result there too). The last done() and add(n > 0) may:
  // the waiters cannot return before the former releases them, nor while the latter's count
  // stands.
  if (delta < 0 && static_cast<std::int64_t>(counter_of(old)) + delta > 0) return;
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

void wait_group::wait() {
  if (epoch_stale()) reconcile();
  // acquire: pairs with the acq_rel fetch_add of the done() that reached zero.
  std::uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (counter_of(s) == 0) {
      // For an application built with TSan against this uninstrumented code: pairs with the
      // done() calls' instrumented fetch_add on state_ (a woken waiter is ordered by sema_).
      detail::tsan_acquire(&state_);
      return;
    }
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

std::error_code wait_group::wait(const context& ctx) {
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
    if (counter_of(s) == 0) {
      detail::tsan_acquire(&state_);  // as in wait()
      return {};
    }
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;
    }
    const bool released = sema_.acquire(
        detail::wait_reason::wait_group, false, c,
        [](void* self, bool) {
          // Forget this waiter unless the counter already reached zero: add() is then
          // releasing a token for it, which it must take. relaxed load: the CAS below
          // re-checks; acq_rel CAS: ordered with add() like wait()'s.
          std::atomic<std::uint64_t>& st = static_cast<wait_group*>(self)->state_;
          std::uint64_t cur = st.load(std::memory_order_relaxed);
          while (counter_of(cur) > 0 && static_cast<std::uint32_t>(cur) > 0) {
            if (st.compare_exchange_weak(cur, cur - 1, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
              return true;
            }
          }
          return false;
        },
        this);
    if (!released) return c->error_code();
    if (state_.load(std::memory_order_acquire) != 0) {
      throw panic_error("sync: WaitGroup is reused before previous Wait has returned");
    }
    return {};
  }
}

bool wait_group::epoch_stale() const noexcept {
  // relaxed stamp: a hint re-checked under the semaphore's lock; acquire: as validate()'s.
  return stamp_.load(std::memory_order_relaxed) !=
         detail::g_wait_epoch.load(std::memory_order_acquire);
}

// A runtime ended since the group was last used: the waiter count becomes the plain threads
// still queued (detail/sema.hpp); were the counter already zero, they are released now.
void wait_group::reconcile() {
  sema_.reconcile(stamp_, [](void* self, detail::wakeup_sema::survivors& s) {
    std::atomic<std::uint64_t>& state_ = static_cast<wait_group*>(self)->state_;
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
  }, this);
}

// ---- cond ----

void cond::wait_ticket(std::uint32_t ticket) {
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
}

void cond::signal_slow() {
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

void cond::broadcast_slow() {
  lock_.lock();
  (void)validate_locked();  // an epoch change wakes everyone left, as this call does anyway
  notify_.store(wait_.load(std::memory_order_acquire), std::memory_order_relaxed);
  waiter* w = claim_all_locked();
  lock_.unlock();
  ready_chain(w);
}

// Requires lock_. Validates the list (wait_list.hpp). After a runtime's end every ticket taken
// so far counts as notified — their goroutines are gone, or they are plain threads, which are
// woken (a spurious wake-up, which cond allows: they re-check their condition). Returns those
// to ready once the lock is released, or null.
cond::waiter* cond::validate_locked() noexcept {
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
cond::waiter* cond::claim_all_locked() noexcept {
  waiter* w = q_.take_all();
  queued_ = 0;
  for (waiter* x = w; x != nullptr; x = detail::wait_queues<waiter>::next_of(x)) {
    (void)x->claim.claim(detail::k_claim_granted);  // uncontested: only the cond wakes them
  }
  return w;
}

void cond::ready_chain(waiter* w) {
  while (w != nullptr) {
    waiter* next = detail::wait_queues<waiter>::next_of(w);  // before ready(): w is on its stack
    detail::ready(w->g);
    w = next;
  }
}

// Requires lock_. Tickets wrap: compare by distance, as Go's less().
bool cond::notified(std::uint32_t ticket) const noexcept {
  return static_cast<std::int32_t>(ticket - notify_.load(std::memory_order_relaxed)) < 0;
}

}  // namespace gort
