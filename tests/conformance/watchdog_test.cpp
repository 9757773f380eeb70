// The test watchdog (tests/support/watchdog.hpp): a test that hangs past its limit prints the
// scheduler's state — every P, M and G with what the G waits for — and fails, instead of hanging.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "gort/gort.hpp"
#include "watchdog.hpp"

namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

TEST(WatchdogDeathTest, AHungTestPrintsTheSchedulerAndFails) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        gort_test::arm_watchdog(std::chrono::milliseconds(300), "hung.test");
        gort::run(
            [] {
              gort::chan<int> never(0);
              gort::go([never] { (void)never.recv(); });  // a second goroutine, blocked too
              (void)never.recv();                          // main blocks for good
            },
            {.maxprocs = 2});
      },
      ::testing::ExitedWithCode(1),
      AllOf(HasSubstr("watchdog: hung.test still running after 0.3 s"),
            ContainsRegex("SCHED -1ms: gomaxprocs=2"), ContainsRegex("P0: status="),
            ContainsRegex("P1: status="), ContainsRegex("M[0-9]+: p="),
            ContainsRegex("G1: status=4\\(chan receive\\)"),
            ContainsRegex("G[0-9]+: status=4\\(chan receive\\)")));
}

TEST(Watchdog, AFinishedTestDisarmsIt) {
  // Armed short, then disarmed when the test ends: the binary goes on to the next test (the
  // listener re-arms with the default limit; this test passing is the check).
  gort_test::arm_watchdog(std::chrono::milliseconds(200), "short.test");
  gort::run([] { gort::sleep_for(std::chrono::milliseconds(1)); });
  gort_test::disarm_watchdog();
  gort::run([] { gort::sleep_for(std::chrono::milliseconds(300)); });  // past the old limit
  SUCCEED();
}

}  // namespace
