// gort/detail/wait.hpp — a blocked waiter, its wake-up claim, and the one cancellable wait.
//
// Every blocking primitive parks the same way. The caller links a `waiter` (on its own stack)
// into its primitive's queue while holding the primitive's lock, then calls wait_for(), which
// owns the rest of the sequence:
//
//  1. park: the caller leaves its stack; on the scheduler context (park's unlock callback) the
//     context `ctx` is armed (the waiter joins its waiter list; a context already cancelled vetoes
//     the park with k_claim_canceled), then the deadline timer is started, then the primitive's
//     lock is released. Only now can anyone find the waiter, so no wake-up is lost.
//  2. wake: whoever wakes the waiter first claims it (wake_claim: pending -> outcome, one CAS) and
//     readies it; a party that loses the claim leaves the waiter alone. The primitive claims
//     k_claim_granted (or a select's case), the context's cancellation k_claim_canceled, the
//     deadline k_claim_timeout. Exactly one party readies the waiter, exactly once.
//  3. disarm: after resuming, wait_for() stops the timer (waiting for a callback that is firing)
//     and unlinks the waiter from the context; neither touches the waiter afterwards.
//  4. who won: wait_for() returns the winning outcome. A waiter that was not granted is usually
//     still in its primitive's queue: the primitive re-locks and removes it (remove_if_linked),
//     and decides what a grant that raced with the cancellation means (a semaphore gives its
//     tokens back; a channel never moves a value to a waiter it could not claim).
//
// A wait that nothing but its primitive can end (no context, no deadline) skips the arming and
// its claim is uncontested: the waker's claim is a plain store instead of a CAS.
//
// Memory ordering: a successful claim is an acq_rel CAS (or, uncontested, a relaxed store ordered
// by the primitive's lock); ready() then publishes the waker's writes to the resumed waiter (its
// status CAS is acq_rel), and wait_for()'s acquire load of the outcome pairs with the claim.
//
// Who may call: any thread, goroutine or plain thread (a plain thread blocks on a futex). The
// netpoller's descriptors use the same sequence with their own lock and no queue.
#pragma once

#include <atomic>
#include <cstdint>

#include "gort/detail/dcheck.hpp"
#include "gort/detail/thread_annotations.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/detail/waist.hpp"

namespace gort::detail {

struct cancel_node;  // gort/detail/context_node.hpp

inline constexpr std::int64_t k_no_deadline = INT64_MAX;

inline constexpr std::uint32_t k_claim_pending = 0;
inline constexpr std::uint32_t k_claim_granted = 1;
inline constexpr std::uint32_t k_claim_canceled = 2;
inline constexpr std::uint32_t k_claim_timeout = 3;
// A select's claim is k_claim_first_case + the index of the case that fired.
inline constexpr std::uint32_t k_claim_first_case = 4;

/// Decides who wakes a waiter that more than one party may wake (see the file comment, step 2).
class wake_claim {
 public:
  /// Moves the claim from pending to `outcome`; true if this call did (the caller must then ready
  /// the waiter). Any thread; the waiter cannot resume before the winner readies it.
  bool claim(std::uint32_t outcome) noexcept {
    if (!contested_) {
      // Only the primitive can wake this waiter, under its lock: no race to settle. relaxed: the
      // primitive's lock and ready() order it.
      GORT_DCHECK(v_.load(std::memory_order_relaxed) == k_claim_pending);  // claimed once
      v_.store(outcome, std::memory_order_relaxed);
      return true;
    }
    std::uint32_t pending = k_claim_pending;
    // acq_rel: the winner's writes (a value handed over) are published by ready() anyway; the
    // loser's acquire makes it see the winner's claim, so it leaves the waiter alone.
    return v_.compare_exchange_strong(pending, outcome, std::memory_order_acq_rel,
                                      std::memory_order_acquire);
  }

  /// The winning outcome (k_claim_pending while nobody claimed). acquire: pairs with claim().
  std::uint32_t outcome() const noexcept { return v_.load(std::memory_order_acquire); }

  /// Marks the claim as contested: from now on claim() settles races with a CAS. By the waiter,
  /// before any second party can see it (wait_for() does it before arming).
  void contest() noexcept { contested_ = true; }

  /// Back to pending for another wait by the same waiter (nobody else may see it then).
  void reset() noexcept { v_.store(k_claim_pending, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> v_{k_claim_pending};
  bool contested_ = false;
};

/// One blocked goroutine or plain thread. Primitives derive their queue records from it.
struct waiter : wait_hook {
  /// A waiter for the caller whose record is `self` (from enter_op() or current()); null leaves
  /// it to init() (arrays of waiters, a select's).
  explicit waiter(goroutine* self) noexcept {
    if (self != nullptr) init(self);
  }
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;

  /// Sets the waiter up for `self`: its record, and whether it is a plain thread's (wait_list.hpp
  /// keeps those when a runtime ends). Before it is linked anywhere.
  void init(goroutine* self) noexcept {
    g = self;
    thread = is_plain_thread(self);
  }

  goroutine* g = nullptr;
  wake_claim claim;
  waiter* chain;  // a waker's private list of waiters to ready once its lock is released
};

/// A waiter's entry in its context's waiter list (wait_armed keeps it in the waiter's frame).
struct ctx_link : wait_hook {
  explicit ctx_link(waiter* who) noexcept : w(who) { thread = who->thread; }
  waiter* w;
};

/// Claims w for `outcome` and, if that won, readies it; returns whether it won (w may be gone
/// once it returns true). For wakers that hold no lock the waiter needs; wakers that claim under
/// their lock collect the winners (waiter::chain) and ready them after releasing it.
inline bool claim_and_ready(waiter* w, std::uint32_t outcome) {
  if (!w->claim.claim(outcome)) return false;
  ready(w->g);
  return true;
}

/// Steps 1, 3 and 4 with a context and/or a deadline (out of line: gort's compiled code).
std::uint32_t wait_armed(waiter& w, wait_reason why, bool (*unlock)(void*), void* lock,
                         cancel_node* ctx, std::int64_t deadline);

/// park()'s unlock callback for a lock type: releases it and lets the park proceed. (A lock
/// reached through void*: the analysis cannot see it; wait_for states the contract.)
template <class Lock>
bool unlock_trampoline(void* lock) GORT_NO_THREAD_SAFETY_ANALYSIS {
  static_cast<Lock*>(lock)->unlock();
  return true;
}

/// The cancellable wait (file comment): the caller holds `lock` and has linked `w`; returns the
/// winning claim with `lock` released. `ctx` (may be null) and `deadline` (nanotime, or
/// k_no_deadline) are the other parties that may end the wait; without them only the primitive
/// can, so the outcome is k_claim_granted (whatever the waker recorded in the claim). Any thread.
///
/// The lock is released on the scheduler context by park's unlock callback, which the analysis
/// cannot follow: the body is not analysed, the RELEASE contract is what callers see.
template <class Lock>
std::uint32_t wait_for(waiter& w, wait_reason why, Lock& lock, cancel_node* ctx = nullptr,
                       std::int64_t deadline = k_no_deadline) GORT_RELEASE(lock)
    GORT_NO_THREAD_SAFETY_ANALYSIS {
  if (ctx == nullptr && deadline == k_no_deadline) {
    park(w.g, why, &unlock_trampoline<Lock>, static_cast<void*>(&lock));
    return k_claim_granted;
  }
  return wait_armed(w, why, &unlock_trampoline<Lock>, static_cast<void*>(&lock), ctx, deadline);
}

}  // namespace gort::detail
