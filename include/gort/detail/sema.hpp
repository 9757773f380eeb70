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
// Invariants: `has_token` is set once, under the lock, when the node leaves the list by a release.
// Nodes live on the waiting goroutine's stack (the wait list's rules).
// Lock order: the semaphore's lock, then a cancel_node's lock (arming in park's unlock callback).
#pragma once

#include <cstdint>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"

namespace gort::detail {

class wakeup_sema {
 public:
  /// FIFO acquire, shown as "sync.WaitGroup.Wait" (wait_group's use). Any thread.
  void acquire() { acquire(wait_reason::wait_group, false); }

  /// Blocks until a token is available and takes it. `lifo`: queue at the front (a waiter that
  /// has waited before, Go's re-queue). Any thread.
  void acquire(wait_reason why, bool lifo) {
    goroutine* const me = enter_op();
    lock_.lock();
    q_.validate();
    if (tokens_ > 0) {
      --tokens_;
      lock_.unlock();
      return;
    }
    node self(me);
    push(&self, lifo);
    (void)wait_for(self, why, lock_);  // only a release wakes it, with a token
  }

  /// acquire() that c's cancellation can end. Returns true when a token was taken, false when
  /// the context ended the wait and `uncount(at_head)` (called under this semaphore's lock with
  /// whether this waiter is first in the list; it must not block or take locks) agreed to forget
  /// this waiter. Any thread; c non-null.
  template <class Uncount>
  bool acquire(wait_reason why, bool lifo, cancel_node* c, Uncount&& uncount) {
    goroutine* const me = enter_op();
    lock_.lock();
    q_.validate();
    if (tokens_ > 0) {
      --tokens_;
      lock_.unlock();
      return true;
    }
    node self(me);
    push(&self, lifo);
    if (wait_for(self, why, lock_, c) == k_claim_granted) return true;
    lock_.lock();
    q_.validate();
    if (self.has_token) {  // a release raced with the context and handed us the token anyway
      lock_.unlock();
      return true;
    }
    if (uncount(q_.front() == &self)) {
      q_.remove(&self);
      lock_.unlock();
      return false;
    }
    // A token for us is on its way (our owner already counted us out): wait for it without the
    // context. Still queued; the release that brings it claims us again.
    self.claim.reset();
    (void)wait_for(self, why, lock_);
    return true;
  }

  /// Adds n tokens: each goes to the first queued waiter (readied unless its context already
  /// did), the rest are stored. Any thread.
  void release(std::uint32_t n) {
    lock_.lock();
    q_.validate();
    waiter* woken = nullptr;
    while (n > 0) {
      node* w = q_.pop_front();
      if (w == nullptr) break;
      --n;
      w->has_token = true;
      // Losing the claim means the context readied the waiter; it finds the token under the lock.
      if (w->claim.claim(k_claim_granted)) {
        w->chain = woken;
        woken = w;
      }
    }
    tokens_ += n;
    lock_.unlock();
    while (woken != nullptr) {
      waiter* w = woken;
      woken = w->chain;  // read before ready(): the node lives on the parked goroutine's stack
      ready(w->g);
    }
  }

 private:
  struct node : waiter {
    explicit node(goroutine* who) noexcept : waiter(who) {}
    bool has_token = false;  // lock_
  };

  // Requires lock_.
  void push(node* w, bool front) noexcept {
    if (front) {
      q_.push_front(w);
    } else {
      q_.push_back(w);
    }
  }

  spinlock lock_;
  std::uint32_t tokens_ = 0;  // guarded by lock_
  wait_queues<node> q_;       // guarded by lock_
};

}  // namespace gort::detail
