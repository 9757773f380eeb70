// sys::note, the one-shot event idle machines and timer sleepers park on: wake-up before and
// during sleep, timeouts, and timeouts so large that "now + timeout" would overflow (a timer at
// the end of time, such as a context with timeout hours::max()).
#include "sys/futex.hpp"
#include "sys/clock.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <thread>

namespace {

constexpr std::int64_t k_max = std::numeric_limits<std::int64_t>::max();

std::int64_t late_clock() { return k_max - 5; }  // a clock near the end of int64

TEST(Note, WakeupBeforeSleepReturnsAtOnce) {
  gort::sys::note n;
  n.wakeup();
  EXPECT_TRUE(n.is_set());
  n.sleep();
  EXPECT_TRUE(n.sleep_for(1'000'000, &gort::sys::nanotime));
  n.clear();
  EXPECT_FALSE(n.is_set());
}

TEST(Note, HugeTimeoutSaturatesInsteadOfOverflowing) {
  gort::sys::note n;
  n.wakeup();
  // now + ns exceeds int64 with either clock; the deadline saturates (UBSan checks the sum).
  EXPECT_TRUE(n.sleep_for(k_max, &late_clock));
  EXPECT_TRUE(n.sleep_for(k_max, &gort::sys::nanotime));
}

TEST(Note, HugeTimeoutSleepsUntilWoken) {
  gort::sys::note n;
  std::thread waker([&] { n.wakeup(); });
  EXPECT_TRUE(n.sleep_for(k_max - 1, &gort::sys::nanotime));
  waker.join();
}

TEST(Note, ShortTimeoutExpiresWithoutWakeup) {
  gort::sys::note n;
  EXPECT_FALSE(n.sleep_for(1'000, &gort::sys::nanotime));
  EXPECT_FALSE(n.sleep_for(0, &gort::sys::nanotime));
  EXPECT_FALSE(n.sleep_for(-1, &gort::sys::nanotime));
}

}  // namespace
