// tests/support/watchdog.hpp — a hung test fails fast and explains itself.
//
// Every test of a gort test binary runs under a watchdog (installed by the support library): a
// test still running after the limit prints "watchdog: <test> still running after <N> s", then
// the scheduler's detail view — the SCHED line and one line per P, M and G, as
// GORTDEBUG=schedtrace=…,scheddetail=1 prints them — and ends the process with status 1, so
// CTest (or whoever runs the binary by hand) sees a failure and the state it hung in, instead of
// waiting for a timeout. The limit is GORT_TEST_WATCHDOG_SECONDS (default 240: under CTest's 300
// s per test, above the slowest sanitizer test).
#pragma once

#include <chrono>
#include <string>

namespace gort_test {

/// Arms the watchdog for the calling test (re-arming it) with `limit`; `what` names it in the
/// report. The listener does this at each test's start; tests may shorten it (the watchdog's own
/// test does).
void arm_watchdog(std::chrono::milliseconds limit, std::string what);

/// Disarms it (the listener does at each test's end).
void disarm_watchdog();

}  // namespace gort_test
