// gort/semaphore.hpp — golang.org/x/sync/semaphore.Weighted: a weighted semaphore.
//
//   gort::semaphore sem(10);                    // 10 tokens
//   if (auto e = sem.acquire(ctx, 3)) return e; // waits for 3 tokens, or until ctx is done
//   ... sem.release(3);
//
// Semantics are x/sync's (go-semantics.md §4.2):
//  * Waiters are served strictly in FIFO order and nobody barges: acquire(n) takes tokens at once
//    only if n are free *and nobody waits*; release() grants waiters from the front and stops at
//    the first one that does not fit, so a large request is never starved by small ones.
//  * acquire(ctx, n) on a context that is already done returns ctx.err() without acquiring, even
//    if tokens are free. When the context is done while it waits, it returns ctx.err() holding
//    nothing: if it was granted the tokens in the meantime, it gives them back (which may let the
//    next waiters in); if it was the first waiter, its departure may let the next ones in too.
//  * acquire(n) with n larger than the size never succeeds: it waits for its context (forever
//    without one), taking no place in the queue.
//  * try_acquire(n) succeeds only if n tokens are free and nobody waits.
//
// Misuse throws gort::panic_error and changes nothing:
//   release(n) of more than is held      "semaphore: released more than held" (Go's panic)
//   a negative size or weight            "semaphore: negative weight" (gort's check)
//
// A waiter parks its goroutine or blocks its plain thread. Memory ordering: a release()
// happens-before the acquire() it satisfies.
#pragma once

#include <atomic>
#include <cstdint>
#include <system_error>

#include "gort/context.hpp"
#include "gort/detail/context_node.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/error.hpp"

namespace gort {

/// x/sync's semaphore.Weighted. Not copyable or movable.
class semaphore {
 public:
  /// A semaphore of `size` tokens, all free.
  explicit semaphore(std::int64_t size) : size_(size) {
    if (size < 0) throw panic_error("semaphore: negative weight");
  }
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Blocks until n tokens are acquired (forever if n exceeds the size).
  void acquire(std::int64_t n = 1) { (void)acquire_impl(nullptr, n); }

  /// acquire() that gives up when ctx is done: {} once the tokens are held, else ctx.err() (see the
  /// file comment for the exact rules).
  [[nodiscard]] std::error_code acquire(const context& ctx, std::int64_t n = 1) {
    detail::cancel_node* c = detail::context_access::canceller(ctx);
    return acquire_impl(c, n);
  }

  /// Takes n tokens if they are free and nobody waits.
  [[nodiscard]] bool try_acquire(std::int64_t n = 1) {
    check(n);
    lock_.lock();
    detail::waiter* woken = validate_locked();
    const bool ok = size_ - cur_ >= n && q_.empty();
    if (ok) cur_ += n;
    lock_.unlock();
    ready_all(woken);
    return ok;
  }

  /// Returns n tokens and grants the waiters that now fit, in order.
  void release(std::int64_t n = 1) {
    check(n);
    lock_.lock();
    (void)q_.validate();  // the grant below serves whoever a rebuild left at the front
    if (cur_ - n < 0) {
      lock_.unlock();
      throw panic_error("semaphore: released more than held");
    }
    cur_ -= n;
    detail::waiter* woken = grant_locked();
    lock_.unlock();
    ready_all(woken);
  }

 private:
  struct waiter : detail::waiter {
    waiter(detail::goroutine* who, std::int64_t weight) noexcept
        : detail::waiter(who), n(weight) {}
    std::int64_t n;
    bool granted = false;  // lock_
  };

  static void check(std::int64_t n) {
    if (n < 0) throw panic_error("semaphore: negative weight");
  }

  std::error_code acquire_impl(detail::cancel_node* c, std::int64_t n) {
    check(n);
    detail::goroutine* const me = detail::enter_op();
    lock_.lock();
    if (detail::waiter* woken = validate_locked()) {
      lock_.unlock();
      ready_all(woken);
      lock_.lock();
      (void)q_.validate();
    }
    if (c != nullptr && c->error_value() != 0) {  // x/sync: a done context never acquires
      lock_.unlock();
      return c->error_code();
    }
    if (size_ - cur_ >= n && q_.empty()) {
      cur_ += n;
      lock_.unlock();
      return {};
    }
    if (n > size_) {
      // Can never be satisfied: wait for the context without taking a place in the queue.
      lock_.unlock();
      if (c == nullptr) detail::block_forever(detail::wait_reason::semacquire);
      (void)c->done().recv();
      return c->error_code();
    }
    waiter self(me, n);
    q_.push_back(&self);
    if (detail::wait_for(self, detail::wait_reason::semacquire, lock_, c) ==
            detail::k_claim_granted &&
        c == nullptr) {
      return {};  // only a grant wakes a wait without a context
    }
    lock_.lock();
    detail::waiter* woken = validate_locked();  // our node is a live one: it stays
    std::error_code result;
    if (self.granted) {
      if (c->error_value() != 0) {
        // Granted, but the context is done by now: give the tokens back (x/sync).
        cur_ -= n;
        woken = append(woken, grant_locked());
        result = c->error_code();
      }
    } else {
      // Still queued: leave; if we were first, the waiters behind us may fit now.
      const bool front = q_.front() == &self;
      q_.remove(&self);
      if (front && size_ > cur_) woken = append(woken, grant_locked());
      result = c->error_code();
    }
    lock_.unlock();
    ready_all(woken);
    return result;
  }

  // Requires lock_. Validates the list (wait_list.hpp); when a runtime's end made it forget
  // waiters at the front, the ones left may fit now: they are granted (returned for ready_all).
  // Tokens held by an abandoned goroutine stay held.
  detail::waiter* validate_locked() noexcept {
    return q_.validate() ? grant_locked() : nullptr;
  }

  static detail::waiter* append(detail::waiter* a, detail::waiter* b) noexcept {
    if (a == nullptr) return b;
    detail::waiter* t = a;
    while (t->chain != nullptr) t = t->chain;
    t->chain = b;
    return a;
  }

  // Grants front waiters while they fit (no barging past one that does not). Requires lock_.
  // Returns the ones to ready (chained through `chain`) once the lock is released.
  detail::waiter* grant_locked() noexcept {
    detail::waiter* woken = nullptr;
    while (!q_.empty() && size_ - cur_ >= q_.front()->n) {
      waiter* w = q_.pop_front();
      cur_ += w->n;
      w->granted = true;
      // Losing the claim means the context readied the waiter; it finds the grant under the lock.
      if (w->claim.claim(detail::k_claim_granted)) {
        w->chain = woken;
        woken = w;
      }
    }
    return woken;
  }

  static void ready_all(detail::waiter* w) {
    while (w != nullptr) {
      detail::waiter* next = w->chain;  // read before ready(): the waiter lives on its stack
      detail::ready(w->g);
      w = next;
    }
  }

  detail::spinlock lock_;
  const std::int64_t size_;
  std::int64_t cur_ = 0;              // tokens held; guarded by lock_
  detail::wait_queues<waiter> q_;     // FIFO of waiters; guarded by lock_
};

}  // namespace gort
