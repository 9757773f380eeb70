// sync/wait.cpp — the armed part of the cancellable wait (gort/detail/wait.hpp), the waiter epoch
// (gort/detail/wait_list.hpp) and GORT_DCHECK's report.
//
// Built only on the waist, the timers and the context engine, like every primitive.
#include <cstdio>
#include <cstdlib>

#include "gort/detail/context_node.hpp"
#include "gort/detail/dcheck.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/time.hpp"

namespace gort::detail {

std::atomic<std::uint32_t> g_wait_epoch{0};

void end_wait_epoch() noexcept {
  // release: pairs with validate()'s acquire load; everything the ended runtime did (its last
  // goroutine switch included) happens-before a list that sees the new epoch forgets its nodes.
  g_wait_epoch.fetch_add(1, std::memory_order_release);
}

void dcheck_failed(const char* cond, const char* file, int line) noexcept {
  std::fprintf(stderr, "fatal error: check failed: %s\n\tat %s:%d\n", cond, file, line);
  std::fflush(stderr);
  std::abort();
}

namespace {

// The deadline of an armed wait: a timer in the waiter's frame whose firing claims the waiter.
struct deadline_timer : timer_node {
  waiter* w = nullptr;
};

void wait_deadline_fire(timer_node* t, std::int64_t) noexcept {
  // On a scheduler context with the heap's lock held: claim_and_ready only readies.
  (void)claim_and_ready(static_cast<deadline_timer*>(t)->w, k_claim_timeout);
}

}  // namespace

// Not analysed: `gate` is released by the unlock callback on the scheduler context.
std::uint32_t wait_armed(waiter& w, wait_reason why, bool (*unlock)(void*), void* lock,
                         cancel_node* ctx, std::int64_t deadline) GORT_NO_THREAD_SAFETY_ANALYSIS {
  deadline_timer t;
  t.w = &w;
  t.stoppable = true;
  t.fire = &wait_deadline_fire;
  w.claim.contest();
  ctx_link link(&w);
  // Step 1. `gate` is held until the unlock callback has armed both parties: once the context is
  // armed it may ready us while the callback still starts the timer, whose node is in this frame,
  // so the resumed waiter first waits for the gate. The callback is a named object: park() may
  // return (on another machine) before the callback has finished running.
  spinlock gate;
  gate.lock();
  auto arm_and_unlock = [&]() GORT_NO_THREAD_SAFETY_ANALYSIS {
    bool parked = true;
    if (ctx != nullptr && !arm(ctx, &link)) {
      // Already cancelled. Nobody else can see the waiter yet: this claim cannot lose.
      (void)w.claim.claim(k_claim_canceled);
      parked = false;  // veto the park; the waiter resumes at once
    } else if (deadline != k_no_deadline) {
      timer_start(&t, deadline);
    }
    (void)unlock(lock);
    gate.unlock();
    return parked;
  };
  park(w.g, why, arm_and_unlock);
  // Step 3.
  gate.lock();
  gate.unlock();
  if (deadline != k_no_deadline) (void)timer_stop(&t);  // waits for a callback that is firing
  if (ctx != nullptr) disarm(ctx, &link);
  // Step 4. Someone claimed the waiter before readying it (or the park was vetoed).
  const std::uint32_t won = w.claim.outcome();
  GORT_DCHECK(won != k_claim_pending);
  return won;
}

}  // namespace gort::detail
