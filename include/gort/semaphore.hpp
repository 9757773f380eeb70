// gort/semaphore.hpp — golang.org/x/sync/semaphore.Weighted: a weighted semaphore.
//
//   gort::semaphore sem(10);                    // 10 tokens
//   if (auto e = sem.acquire(ctx, 3)) return e; // waits for 3 tokens, or until ctx is done
//   ... sem.release(3);
//
// Semantics are x/sync's (golang.org/x/sync/semaphore/semaphore.go):
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
//
// Compiled in the library (src/sync/semaphore.cpp); acquire(ctx, n) is declared here and needs
// gort/context.hpp only where it is called.
#pragma once

#include <cstdint>
#include <system_error>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/thread_annotations.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"

namespace gort {

class context;  // gort/context.hpp

/// x/sync's semaphore.Weighted. Not copyable or movable.
class semaphore {
 public:
  /// A semaphore of `size` tokens, all free.
  explicit semaphore(std::int64_t size);
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Blocks until n tokens are acquired (forever if n exceeds the size).
  void acquire(std::int64_t n = 1);

  /// acquire() that gives up when ctx is done: {} once the tokens are held, else ctx.err() (see the
  /// file comment for the exact rules).
  [[nodiscard]] std::error_code acquire(const context& ctx, std::int64_t n = 1);

  /// Takes n tokens if they are free and nobody waits.
  [[nodiscard]] bool try_acquire(std::int64_t n = 1);

  /// Returns n tokens and grants the waiters that now fit, in order.
  void release(std::int64_t n = 1);

 private:
  struct waiter : detail::waiter {
    waiter(detail::goroutine* who, std::int64_t weight) noexcept
        : detail::waiter(who), n(weight) {}
    std::int64_t n;
    bool granted = false;  // lock_
  };

  std::error_code acquire_impl(detail::cancel_node* c, std::int64_t n);
  detail::waiter* validate_locked() noexcept GORT_REQUIRES(lock_);
  detail::waiter* grant_locked() noexcept GORT_REQUIRES(lock_);
  static detail::waiter* append(detail::waiter* a, detail::waiter* b) noexcept;
  static void ready_all(detail::waiter* w);

  detail::spinlock lock_;
  const std::int64_t size_;
  std::int64_t cur_ GORT_GUARDED_BY(lock_) = 0;           // tokens held
  detail::wait_queues<waiter> q_ GORT_GUARDED_BY(lock_);  // FIFO of waiters
};

}  // namespace gort
