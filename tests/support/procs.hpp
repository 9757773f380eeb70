// tests/support/procs.hpp — running a test body at several processor counts.
//
// Every scheduler test is a value-parameterized test over GOMAXPROCS 1, 2, 4 and 8 (4 and 8 are
// oversubscribed on a 2-core machine, which is the point: correctness must not depend on having a
// core per processor).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>

#include "gort/gort.hpp"

namespace gort_test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool k_sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool k_sanitized = true;
#else
inline constexpr bool k_sanitized = false;
#endif
#else
inline constexpr bool k_sanitized = false;
#endif

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool k_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool k_asan = true;
#else
inline constexpr bool k_asan = false;
#endif
#else
inline constexpr bool k_asan = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool k_tsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool k_tsan = true;
#else
inline constexpr bool k_tsan = false;
#endif
#else
inline constexpr bool k_tsan = false;
#endif

/// Iteration counts shrink under sanitizers, which slow fibers and atomics by 5-50x (and TSan
/// keeps per-fiber state, so a million goroutines do not fit).
constexpr std::int64_t scaled(std::int64_t n, std::int64_t divisor = 20) {
  return k_sanitized ? (n / divisor > 0 ? n / divisor : 1) : n;
}

/// Goroutine counts of tests that spawn many: scaled(), and a quarter of that under TSan, which
/// creates a fiber per goroutine and zeroes ~800 KiB of fresh memory for it (milliseconds a
/// goroutine on a VM whose page faults cost ~10 µs).
constexpr std::int64_t scaled_spawns(std::int64_t n, std::int64_t divisor = 20) {
  const std::int64_t m = scaled(n, divisor);
  return k_tsan ? (m / 4 > 0 ? m / 4 : 1) : m;
}

class procs_test : public ::testing::TestWithParam<int> {
 protected:
  int procs() const { return GetParam(); }

  /// gort::run at this test's processor count.
  template <class F>
  auto run(F&& f, gort::options o = {}) {
    o.maxprocs = GetParam();
    return gort::run(std::forward<F>(f), o);
  }
};

inline std::string procs_name(const ::testing::TestParamInfo<int>& info) {
  return "procs" + std::to_string(info.param);
}

/// Number of threads of this process (/proc/self/task entries).
int thread_count();

/// This process's resident set size in KiB (VmRSS), or -1.
long rss_kib();

/// Number of this process's memory mappings (lines of /proc/self/maps).
int map_count();

/// True when reading a never-touched anonymous page maps the shared zero page (commits nothing),
/// false when the kernel commits a real page on the read. Measured once.
bool reads_map_zero_page();

/// Spawns n goroutines that each run `body()`, then park on one gate; calls `while_parked()` once
/// all n are parked, releases the gate and waits for all n to finish. Call from a goroutine.
template <class Body, class WhileParked>
void with_parked_goroutines(std::int64_t n, Body body, WhileParked while_parked) {
  gort::wait_group started;
  gort::wait_group gate;
  gort::wait_group finished;
  started.add(n);
  gate.add(1);
  finished.add(n);
  for (std::int64_t i = 0; i < n; ++i) {
    gort::go([&] {
      body();
      started.done();
      gate.wait();
      finished.done();
    });
  }
  started.wait();
  while_parked();
  gate.done();
  finished.wait();
}

/// Ping-pongs `rounds` round trips between the calling goroutine and a partner over two unbuffered
/// channels (every round parks and readies a goroutine). `started()` runs once the partner is
/// spawned, before the first round. Returns once the partner has exited (a goroutine alive at
/// shutdown would be abandoned holding its channels). Call from a goroutine.
template <class Started>
void pingpong(int rounds, Started started) {
  gort::chan<int> ping(0), pong(0);
  gort::wait_group wg;
  wg.add(1);
  gort::go([=, &wg]() mutable {
    for (int i = 0; i < rounds; ++i) (void)pong.send(*ping.recv());
    wg.done();
  });
  started();
  for (int i = 0; i < rounds; ++i) {
    (void)ping.send(i);
    (void)pong.recv();
  }
  wg.wait();
}

inline void pingpong(int rounds) {
  pingpong(rounds, [] {});
}

}  // namespace gort_test

#define GORT_INSTANTIATE_PROCS(suite) \
  INSTANTIATE_TEST_SUITE_P(P, suite, ::testing::Values(1, 2, 4, 8), ::gort_test::procs_name)
