// gort/detail/sema.hpp — the wake-up semaphore every sync primitive parks on.
//
// Go's runtime sema for one address: a count of wake-up tokens and a wait list. release(n) hands
// each token directly to the first waiter in the list (FIFO; a waiter may ask to be queued at
// the front, Go's queueLifo), or stores it when nobody waits, so a release before the acquire is
// never lost.
//
// Context-aware acquire (who may cancel a wait): the cancellable wait of detail/wait.hpp. Both the
// semaphore and the context may wake the waiter; its claim decides who readies it. Tokens still
// go to the head of the list whoever readied the waiter, so the list and the token count never
// disagree; a waiter woken by its context looks, under the lock, at what it has:
//   * a token: the acquire succeeded (the caller decides what a success after cancellation means);
//   * none: it may leave only if its owner can forget it (`uncount`, run under the lock: e.g. the
//     mutex decrements its waiter count). If not — a token reserved for it is being released right
//     now — it stays queued and waits for that token without the context.
//
// Owners that outlive a runtime (wait_list.hpp's epoch). The owners (mutex, rw_mutex,
// wait_group) count their waiters in lock-free state words; goroutines abandoned by a runtime's end
// are still counted there. Each owner keeps an epoch stamp and, at the start of its slow paths,
// calls reconcile() when the stamp is stale: under this semaphore's lock, with the list already
// rebuilt (goroutines' nodes forgotten, plain threads' kept), the owner recomputes its state from
// what is left — the plain threads still queued (`queued`) and those handed a token that have not
// run yet (`thread_grants`) — and may hand out tokens (`wake`) to waiters nobody else would wake.
// The owners take care that no goroutine is abandoned between counting itself and queuing here:
// acquire() contains no preemption point (a runtime ending abandons goroutines only there).
//
// Invariants (under the lock): `queued_` is the list's length; `thread_grants_` counts plain
// threads that a release handed a token and that have not yet resumed (they take the lock again to
// say so); `has_token` is set once, when the node leaves the list by a release; tokens_ > 0 only
// while the list is empty. Nodes live on the waiting goroutine's stack (the wait list's rules).
// Lock order: the semaphore's lock, then a cancel_node's lock (arming in park's unlock callback).
#pragma once

#include <cstdint>

#include "gort/detail/dcheck.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"

namespace gort::detail {

class wakeup_sema {
 public:
  /// What an owner's reconcile() callback sees and decides (see the file comment).
  struct survivors {
    std::uint32_t queued;         // plain threads still queued
    std::uint32_t thread_grants;  // plain threads handed a token that have not run yet
    std::uint32_t dropped;        // nodes forgotten since the previous reconcile (goroutines')
    std::uint32_t wake = 0;       // set by the owner: tokens to hand to queued waiters now
  };

  /// FIFO acquire, shown as "sync.WaitGroup.Wait" (wait_group's use). Any thread.
  void acquire() { acquire(wait_reason::wait_group, false); }

  /// Blocks until a token is available and takes it. `lifo`: queue at the front (a waiter that
  /// has waited before, Go's re-queue). Any thread; not a preemption point (see the file comment).
  void acquire(wait_reason why, bool lifo) {
    goroutine* const me = current();
    lock_.lock();
    validate();
    if (tokens_ > 0) {
      --tokens_;
      lock_.unlock();
      return;
    }
    node self(me);
    push(&self, lifo);
    (void)wait_for(self, why, lock_);  // only a release wakes it, with a token
    if (self.thread) resumed();
  }

  /// acquire() that c's cancellation can end. Returns true when a token was taken, false when
  /// the context ended the wait and `uncount(at_head)` (called under this semaphore's lock with
  /// whether this waiter is first in the list; it must not block or take locks) agreed to forget
  /// this waiter. Any thread; c non-null.
  template <class Uncount>
  bool acquire(wait_reason why, bool lifo, cancel_node* c, Uncount&& uncount) {
    goroutine* const me = current();
    lock_.lock();
    validate();
    if (tokens_ > 0) {
      --tokens_;
      lock_.unlock();
      return true;
    }
    node self(me);
    push(&self, lifo);
    if (wait_for(self, why, lock_, c) == k_claim_granted) {
      if (self.thread) resumed();
      return true;
    }
    lock_.lock();
    validate();
    if (self.has_token) {  // a release raced with the context and handed us the token anyway
      if (self.thread) --thread_grants_;
      lock_.unlock();
      return true;
    }
    if (uncount(q_.front() == &self)) {
      remove(&self);
      lock_.unlock();
      return false;
    }
    // A token for us is on its way (our owner already counted us out): wait for it without the
    // context. Still queued; the release that brings it claims us again.
    self.claim.reset();
    (void)wait_for(self, why, lock_);
    if (self.thread) resumed();
    return true;
  }

  /// Adds n tokens: each goes to the first queued waiter (readied unless its context already
  /// did), the rest are stored. Any thread.
  void release(std::uint32_t n) {
    lock_.lock();
    validate();
    waiter* woken = grant_locked(n);
    tokens_ += n;
    lock_.unlock();
    ready_all(woken);
  }

  /// The owner's side of a runtime's end (file comment): under the lock, with the list validated,
  /// calls fix(survivors&) if `stamp` (the owner's, read and written only here and by the owner's
  /// lock-free check) is older than the current waiter epoch, then hands out `wake` tokens and
  /// brings the stamp up to date. Any thread.
  template <class Fix>
  void reconcile(std::atomic<std::uint32_t>& stamp, Fix&& fix) {
    lock_.lock();
    validate();
    // acquire: as validate()'s. relaxed stamp: written under this lock.
    const std::uint32_t e = g_wait_epoch.load(std::memory_order_acquire);
    waiter* woken = nullptr;
    if (stamp.load(std::memory_order_relaxed) != e) {
      survivors s{queued_, thread_grants_, dropped_};
      dropped_ = 0;
      fix(s);
      std::uint32_t n = s.wake;
      woken = grant_locked(n);
      tokens_ += n;
      stamp.store(e, std::memory_order_relaxed);
    }
    lock_.unlock();
    ready_all(woken);
  }

 private:
  struct node : waiter {
    explicit node(goroutine* who) noexcept : waiter(who) {}
    bool has_token = false;  // lock_
  };

  // Requires lock_. The first thing under it: a list found stale is rebuilt from the plain
  // threads' nodes; the tokens stored for goroutines that were on their way here are gone with
  // them (none of the owners lets a goroutine be abandoned between counting itself and queuing).
  void validate() noexcept {
    if (!q_.validate()) return;
    std::uint32_t left = 0;
    for (node* n = q_.front(); n != nullptr; n = wait_queues<node>::next_of(n)) ++left;
    dropped_ += queued_ - left;
    queued_ = left;
    tokens_ = 0;
  }

  // Requires lock_. Pops up to n waiters, giving each a token (n is decremented per token), and
  // returns the ones whose claim this call won, chained through `chain`, for ready_all().
  waiter* grant_locked(std::uint32_t& n) noexcept {
    waiter* woken = nullptr;
    while (n > 0) {
      node* w = q_.pop_front();
      if (w == nullptr) break;
      --queued_;
      --n;
      w->has_token = true;
      if (w->thread) ++thread_grants_;
      // Losing the claim means the context readied the waiter; it finds the token under the lock.
      if (w->claim.claim(k_claim_granted)) {
        w->chain = woken;
        woken = w;
      }
    }
    return woken;
  }

  static void ready_all(waiter* w) {
    while (w != nullptr) {
      waiter* next = w->chain;  // read before ready(): the node lives on the parked goroutine's stack
      ready(w->g);
      w = next;
    }
  }

  // A plain thread handed a token has run again. Threads only (goroutines need not say so).
  void resumed() noexcept {
    lock_.lock();
    GORT_DCHECK(thread_grants_ > 0);
    --thread_grants_;
    lock_.unlock();
  }

  // Require lock_.
  void push(node* w, bool front) noexcept {
    if (front) {
      q_.push_front(w);
    } else {
      q_.push_back(w);
    }
    ++queued_;
  }
  void remove(node* w) noexcept {
    q_.remove(w);
    --queued_;
  }

  spinlock lock_;
  std::uint32_t tokens_ = 0;         // guarded by lock_
  std::uint32_t queued_ = 0;         // guarded by lock_
  std::uint32_t thread_grants_ = 0;  // guarded by lock_
  std::uint32_t dropped_ = 0;        // guarded by lock_
  wait_queues<node> q_;              // guarded by lock_
};

}  // namespace gort::detail
