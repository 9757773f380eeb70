// gort/detail/sema.hpp — the wake-up semaphore every sync primitive parks on.
//
// Go's runtime sema for one address: a count of wake-up tokens and a wait list. release(n) hands
// each token directly to the first waiter in the list (FIFO; a waiter may ask to be queued at
// the front, Go's queueLifo), or stores it when nobody waits, so a release before the acquire is
// never lost.
//
// Context-aware acquire (who may cancel a wait): the waiter is also linked to a context's
// cancel_node. Both the semaphore and the context may then wake it; a claim word decides who
// readies it (detail/context_node.hpp). Tokens still go to the head of the list whoever readied
// the waiter, so the list and the token count never disagree; a waiter woken by its context
// looks, under the lock, at what it has:
//   * a token: the acquire succeeded (the caller decides what a success after cancellation means);
//   * none: it may leave only if its owner can forget it (`uncount`, run under the lock: e.g. the
//     mutex decrements its waiter count). If not — a token reserved for it is being released right
//     now — it stays queued and waits for that token without the context.
//
// Invariants: a node is in the list iff `queued`; `has_token` is set once, under the lock, when
// the node leaves the list by a release. Nodes live on the waiting goroutine's stack.
// Lock order: the semaphore's lock, then a cancel_node's lock (arming in park's unlock callback).
#pragma once

#include <atomic>
#include <cstdint>

#include "gort/detail/context_node.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"

namespace gort::detail {

class wakeup_sema {
 public:
  /// FIFO acquire, shown as "sync.WaitGroup.Wait" (wait_group's use). Any thread.
  void acquire() { acquire(wait_reason::wait_group, false); }

  /// Blocks until a token is available and takes it. `lifo`: queue at the front (a waiter that
  /// has waited before, Go's re-queue). Any thread.
  void acquire(wait_reason why, bool lifo) {
    lock_.lock();
    if (tokens_ > 0) {
      --tokens_;
      lock_.unlock();
      return;
    }
    node self(current());
    push(&self, lifo);
    park(why, [this] { lock_.unlock(); });
  }

  /// acquire() that c's cancellation can end. Returns true when a token was taken, false when
  /// the context ended the wait and `uncount(at_head)` (called under this semaphore's lock with
  /// whether this waiter is first in the list; it must not block or take locks) agreed to forget
  /// this waiter. Any thread; c non-null.
  template <class Uncount>
  bool acquire(wait_reason why, bool lifo, cancel_node* c, Uncount&& uncount) {
    lock_.lock();
    if (tokens_ > 0) {
      --tokens_;
      lock_.unlock();
      return true;
    }
    node self(current());
    push(&self, lifo);
    cancel_waiter link(self.g, &self.state);
    // Still holding lock_: no release can see the node until it is unlocked, and a context waker
    // that readies us early makes us wait for lock_ below before touching anything. The callback
    // is a named object so that it outlives park(), which may return before it has finished.
    auto arm_and_unlock = [&] {
      const bool armed = arm(c, &link);
      if (!armed) self.state.store(k_wake_canceled, std::memory_order_relaxed);
      lock_.unlock();
      return armed;
    };
    park(why, arm_and_unlock);
    disarm(c, &link);
    lock_.lock();
    if (self.has_token) {
      lock_.unlock();
      return true;
    }
    if (uncount(head_ == &self)) {
      remove(&self);
      lock_.unlock();
      return false;
    }
    // A token for us is on its way (our owner already counted us out): wait for it.
    self.state.store(k_wake_pending, std::memory_order_relaxed);  // ordered by lock_
    park(why, [this] { lock_.unlock(); });
    return true;
  }

  /// Adds n tokens: each goes to the first queued waiter (readied unless its context already
  /// did), the rest are stored. Any thread.
  void release(std::uint32_t n) {
    lock_.lock();
    node* woken = nullptr;
    while (n > 0 && head_ != nullptr) {
      node* w = head_;
      remove(w);
      --n;
      w->has_token = true;
      std::uint8_t pending = k_wake_pending;
      // acq_rel: pairs with the context's claim (cancel_one); the loser leaves the waking to the
      // winner.
      if (w->state.compare_exchange_strong(pending, k_wake_granted, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
        w->next = woken;
        woken = w;
      }
    }
    tokens_ += n;
    lock_.unlock();
    while (woken != nullptr) {
      node* w = woken;
      woken = w->next;  // read before ready(): the node lives on the parked goroutine's stack
      ready(w->g);
    }
  }

 private:
  struct node {
    explicit node(goroutine* who) noexcept : g(who) {}
    goroutine* g;
    node* prev = nullptr;
    node* next = nullptr;
    std::atomic<std::uint8_t> state{k_wake_pending};
    bool queued = false;     // lock_
    bool has_token = false;  // lock_
  };

  // Require lock_.
  void push(node* w, bool front) noexcept {
    if (front) {
      w->prev = nullptr;
      w->next = head_;
      if (head_ != nullptr) {
        head_->prev = w;
      } else {
        tail_ = w;
      }
      head_ = w;
    } else {
      w->next = nullptr;
      w->prev = tail_;
      if (tail_ != nullptr) {
        tail_->next = w;
      } else {
        head_ = w;
      }
      tail_ = w;
    }
    w->queued = true;
  }
  void remove(node* w) noexcept {
    if (!w->queued) return;
    if (w->prev != nullptr) {
      w->prev->next = w->next;
    } else {
      head_ = w->next;
    }
    if (w->next != nullptr) {
      w->next->prev = w->prev;
    } else {
      tail_ = w->prev;
    }
    w->prev = w->next = nullptr;
    w->queued = false;
  }

  spinlock lock_;
  std::uint32_t tokens_ = 0;  // guarded by lock_
  node* head_ = nullptr;      // guarded by lock_
  node* tail_ = nullptr;      // guarded by lock_
};

}  // namespace gort::detail
