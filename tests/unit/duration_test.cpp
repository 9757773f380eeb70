// detail::saturating_cast (gort/time.hpp), the one conversion every duration a user hands gort goes
// through: exact inside the target's range, the target's max/min beyond it at both ends, and at
// the public entry points a huge duration means "forever" rather than an overflow.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include "gort/gort.hpp"

namespace {

using namespace std::chrono;
using gort::detail::saturating_cast;

TEST(SaturatingCast, ExactInsideTheRange) {
  EXPECT_EQ(saturating_cast<nanoseconds>(seconds(3)), nanoseconds(3'000'000'000));
  EXPECT_EQ(saturating_cast<nanoseconds>(milliseconds(-7)), nanoseconds(-7'000'000));
  EXPECT_EQ(saturating_cast<milliseconds>(nanoseconds(1'999'999)), milliseconds(1));  // toward 0
  EXPECT_EQ(saturating_cast<milliseconds>(nanoseconds(-1'999'999)), milliseconds(-1));
  EXPECT_EQ(saturating_cast<nanoseconds>(duration<double>(0.25)), nanoseconds(250'000'000));
  // The largest hour count that fits in nanoseconds converts exactly.
  constexpr auto fits = duration_cast<hours>(nanoseconds::max());
  EXPECT_EQ(saturating_cast<nanoseconds>(fits), duration_cast<nanoseconds>(fits));
  EXPECT_EQ(saturating_cast<hours>(nanoseconds::max()), fits);  // widening never saturates
}

TEST(SaturatingCast, SaturatesAtTheTopAndTheBottom) {
  EXPECT_EQ(saturating_cast<nanoseconds>(hours::max()), nanoseconds::max());
  EXPECT_EQ(saturating_cast<nanoseconds>(hours::min()), nanoseconds::min());
  constexpr auto past = duration_cast<hours>(nanoseconds::max()) + hours(1);
  EXPECT_EQ(saturating_cast<nanoseconds>(past), nanoseconds::max());
  EXPECT_EQ(saturating_cast<nanoseconds>(-past), nanoseconds::min());
  EXPECT_EQ(saturating_cast<nanoseconds>(seconds::max()), nanoseconds::max());
  EXPECT_EQ(saturating_cast<microseconds>(duration<double, std::ratio<86400>>(1e300)),
            microseconds::max());
  constexpr double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(saturating_cast<nanoseconds>(duration<double>(inf)), nanoseconds::max());
  EXPECT_EQ(saturating_cast<nanoseconds>(duration<double>(-inf)), nanoseconds::min());
  EXPECT_EQ(saturating_cast<nanoseconds>(duration<double>(std::nan(""))), nanoseconds::zero());
  EXPECT_EQ(gort::detail::to_ns(hours::max()), INT64_MAX);
  EXPECT_EQ(gort::detail::to_ns(hours::min()), INT64_MIN);
}

// The public entry points: a duration far past the end of time waits "forever" (and returns on
// cancellation), one far before now returns at once — none overflows (UBSan checks the builds).
TEST(SaturatingCast, EntryPointsTakeHugeDurations) {
  gort::run([] {
    std::pair<gort::context, gort::cancel_func> a = gort::with_timeout(gort::background(), hours::max());
    EXPECT_TRUE(a.first.deadline().has_value());
    EXPECT_FALSE(a.first.err());
    std::pair<gort::context, gort::cancel_func> b = gort::with_timeout(gort::background(), hours::min());
    EXPECT_EQ(b.first.err(), gort::errc::deadline_exceeded);
    EXPECT_FALSE(gort::sleep_for(b.first, hours::max()) == std::error_code{});
    gort::sleep_for(hours::min());  // returns at once
    gort::timer t(hours::max());
    EXPECT_TRUE(t.stop());
    gort::pool p({.capacity = 1});
    EXPECT_FALSE(p.release_timeout(hours::max()));
    gort::multi_pool mp(2, gort::load_balancing::round_robin, {.capacity = 1});
    EXPECT_FALSE(mp.release_timeout(hours::max()));
    a.second();
  }, {.maxprocs = 1});
}

}  // namespace
