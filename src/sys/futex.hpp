// sys/futex.hpp — the one blocking primitive of the runtime (Linux futex on a 32-bit word).
//
// Used for parking machines (idle Ms), plain threads blocked in park(), and sysmon's deep sleep.
// Callers own the protocol: wait(addr, expected) sleeps only while *addr == expected, so a
// wake-up that happens between the caller's check and the sleep is never lost; spurious returns
// are possible and callers re-check their condition. Any thread.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <limits>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gort::sys {

/// Sleeps while `word` holds `expected`, at most `timeout_ns` (< 0: no limit). Returns false on
/// timeout, true otherwise (woken, spurious, or the word already differed).
inline bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       std::int64_t timeout_ns = -1) noexcept {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
    tsp = &ts;
  }
  long r = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE,
                     expected, tsp, nullptr, 0);
  return !(r == -1 && errno == ETIMEDOUT);
}

/// Wakes up to `n` sleepers on `word`. The caller stores the new value first.
inline void futex_wake(std::atomic<std::uint32_t>& word, int n = 1) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, n, nullptr,
            nullptr, 0);
}

/// A one-shot event (Go's note): sleep() returns once wakeup() was called; clear() re-arms it.
/// One sleeper at a time; any number of wakers.
class note {
 public:
  void clear() noexcept { word_.store(0, std::memory_order_relaxed); }

  /// release: everything before wakeup() is visible after sleep() returns (acquire below).
  void wakeup() noexcept {
    if (word_.exchange(1, std::memory_order_release) == 0) futex_wake(word_, 1);
  }

  void sleep() noexcept {
    while (word_.load(std::memory_order_acquire) == 0) futex_wait(word_, 0);
  }

  /// Sleeps at most `ns` nanoseconds (a huge `ns`, as for a timer at the end of time, saturates
  /// to "no limit in practice"); true if woken.
  bool sleep_for(std::int64_t ns, std::int64_t (*now)()) noexcept {
    const std::int64_t start = now();
    const std::int64_t deadline =
        ns > std::numeric_limits<std::int64_t>::max() - start
            ? std::numeric_limits<std::int64_t>::max()
            : start + ns;
    for (;;) {
      if (word_.load(std::memory_order_acquire) != 0) return true;
      const std::int64_t left = deadline - now();
      if (left <= 0) return word_.load(std::memory_order_acquire) != 0;
      futex_wait(word_, 0, left);
    }
  }

  bool is_set() const noexcept { return word_.load(std::memory_order_acquire) != 0; }

 private:
  std::atomic<std::uint32_t> word_{0};
};

}  // namespace gort::sys
