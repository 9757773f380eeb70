// sync/spinlock.cpp — the contended path of detail::spinlock (see gort/detail/spinlock.hpp).
//
// The tuning constants come from the library's build settings (CMakeLists.txt: GORT_SPINLOCK_*),
// so every user of the lock runs the same code whatever its own translation unit defines.
#include <sched.h>

#include <cstdint>

#include "gort/detail/spinlock.hpp"
#include "sys/clock.hpp"

#ifndef GORT_SPINLOCK_MAX_BACKOFF
#error "GORT_SPINLOCK_MAX_BACKOFF is a library build setting (CMakeLists.txt)"
#endif

namespace gort::detail {

namespace {
constexpr unsigned k_first_backoff = GORT_SPINLOCK_FIRST_BACKOFF;  // pauses before the first look
constexpr unsigned k_max_backoff = GORT_SPINLOCK_MAX_BACKOFF;      // pauses between looks
constexpr std::int64_t k_starve_ns = GORT_SPINLOCK_STARVE_NS;  // lost looks before starving
constexpr unsigned k_clock_round = 6;  // first look that reads the clock (~250 pauses waited)
constexpr unsigned k_starving_backoff = 4;  // pauses between a starving waiter's looks
constexpr unsigned k_spin_rounds = 24;      // looks before falling back to sched_yield
}  // namespace

void spinlock::lock_slow() noexcept {
  unsigned backoff = k_first_backoff;
  bool starver = false;      // this waiter owns the starving flag
  std::int64_t clock0 = 0;  // the clock at look k_clock_round
  for (unsigned round = 0;; ++round) {
    // The bound is time, not a count of pauses: a pause lasts ~10 ns on one x86 core and several
    // times that on another, and what the bound trades (a holder's streak against this waiter's
    // wait) is measured in time. The clock is read only from the look where the wait stops being
    // short, so a lock that comes free within a few back-offs costs no clock read.
    if (!starver && round >= k_clock_round) {
      const std::int64_t now = sys::nanotime();
      if (clock0 == 0) clock0 = now;
      if (now - clock0 >= k_starve_ns && !starving_.exchange(true, std::memory_order_relaxed)) {
        starver = true;  // from now on newcomers and the holder's next lock() stand back
        backoff = k_starving_backoff;
      }
    }
    if (round < k_spin_rounds || starver) {
      for (unsigned i = 0; i < backoff; ++i) pause();
      if (!starver) backoff = backoff < k_max_backoff ? backoff * 2 : k_max_backoff;
      if (starver && round >= k_spin_rounds) ::sched_yield();  // the holder may be off-CPU
    } else {
      ::sched_yield();  // the holder may have lost its CPU (more machines than cores)
    }
    // relaxed looks first: only a free lock is worth the exchange (and the line's ownership),
    // and while another waiter starves only it may take the lock. acquire: pairs with unlock().
    if ((starver || !starving_.load(std::memory_order_relaxed)) &&
        !locked_.load(std::memory_order_relaxed) &&
        !locked_.exchange(true, std::memory_order_acquire)) {
      if (starver) starving_.store(false, std::memory_order_relaxed);
      return;
    }
  }
}

}  // namespace gort::detail
