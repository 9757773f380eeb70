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
//
// Compiled in the library (src/sync/sema.cpp): every member can wait or wake.
#pragma once

#include <cstddef>
#include <cstdint>

#include <atomic>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/thread_annotations.hpp"
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
  void acquire(wait_reason why, bool lifo);

  /// acquire() that c's cancellation can end. Returns true when a token was taken, false when
  /// the context ended the wait and `uncount(arg, at_head)` (called under this semaphore's lock
  /// with whether this waiter is first in the list; it must not block or take locks) agreed to
  /// forget this waiter. Any thread; c non-null.
  bool acquire(wait_reason why, bool lifo, cancel_node* c, bool (*uncount)(void*, bool),
               void* arg);

  /// Adds n tokens: each goes to the first queued waiter (readied unless its context already
  /// did), the rest are stored. Any thread.
  void release(std::uint32_t n);

  /// The owner's side of a runtime's end (file comment): under the lock, with the list validated,
  /// calls fix(arg, survivors&) if `stamp` (the owner's, written only here and read by the owner's
  /// lock-free check) is older than the current waiter epoch, then hands out `wake` tokens and
  /// brings the stamp up to date. Any thread.
  void reconcile(std::atomic<std::uint32_t>& stamp, void (*fix)(void*, survivors&), void* arg);

 private:
  struct node : waiter {
    explicit node(goroutine* who) noexcept : waiter(who) {}
    bool has_token = false;  // lock_
  };

  void validate() noexcept GORT_REQUIRES(lock_);
  /// Both acquires' first step: takes a stored token and returns true with the lock released, or
  /// returns false with the lock held and the list validated, for the caller to queue itself.
  bool take_token_or_lock() noexcept GORT_TRY_ACQUIRE(false, lock_);
  /// Hands n tokens out as release() promises, a batch of waiters per hold of the lock. Release
  /// and reconcile, holding lock_ (with the list validated); returns with it released.
  void hand_out_locked(std::uint32_t n) GORT_RELEASE(lock_);
  std::size_t grant_locked(std::uint32_t& n, goroutine** woken) noexcept GORT_REQUIRES(lock_);
  void resumed() noexcept GORT_EXCLUDES(lock_);
  void push(node* w, bool front) noexcept GORT_REQUIRES(lock_);
  void remove(node* w) noexcept GORT_REQUIRES(lock_);

  /// Waiters popped per hold of the lock by hand_out_locked (see there).
  static constexpr std::size_t k_grant_batch = 64;

  spinlock lock_;
  std::uint32_t tokens_ GORT_GUARDED_BY(lock_) = 0;
  std::uint32_t queued_ GORT_GUARDED_BY(lock_) = 0;
  std::uint32_t thread_grants_ GORT_GUARDED_BY(lock_) = 0;
  std::uint32_t dropped_ GORT_GUARDED_BY(lock_) = 0;
  wait_queues<node> q_ GORT_GUARDED_BY(lock_);
};

}  // namespace gort::detail
