// The implicit runtime: gort::go from a plain thread with no gort::run starts a runtime with
// default options; it serves plain threads and goroutines alike and is shut down at process exit.
// Its own executable, because the runtime lives until the process ends.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gort/gort.hpp"

namespace {

TEST(ImplicitRuntime, GoFromPlainThreadStartsARuntime) {
  EXPECT_EQ(gort::num_goroutines(), 0);
  EXPECT_EQ(gort::stats().gomaxprocs, 0);
  const int predicted = gort::maxprocs();
  EXPECT_GE(predicted, 1);

  gort::wait_group wg;
  std::atomic<int> ran{0};
  std::atomic<std::uint64_t> max_id{0};
  constexpr int n = 1000;
  wg.add(n);
  for (int i = 0; i < n; ++i) {
    gort::go([&] {
      const std::uint64_t id = gort::this_goroutine::id();
      std::uint64_t cur = max_id.load();
      while (id > cur && !max_id.compare_exchange_weak(cur, id)) {
      }
      // Goroutines spawning goroutines in the implicit runtime.
      gort::wait_group inner;
      inner.add(1);
      gort::go([&] { inner.done(); });
      inner.wait();
      ran.fetch_add(1);
      wg.done();
    });
  }
  wg.wait();  // a plain thread blocks on the futex
  EXPECT_EQ(ran.load(), n);
  EXPECT_GE(max_id.load(), static_cast<std::uint64_t>(n));
  EXPECT_EQ(gort::stats().gomaxprocs, predicted);
  EXPECT_EQ(gort::maxprocs(), predicted);

  // Other threads use the same runtime.
  std::vector<std::thread> ts;
  std::atomic<int> more{0};
  gort::wait_group wg2;
  wg2.add(4 * 100);
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        gort::go([&] {
          more.fetch_add(1);
          wg2.done();
        });
      }
    });
  }
  for (auto& t : ts) t.join();
  wg2.wait();
  EXPECT_EQ(more.load(), 400);

  // run() refuses to start a second runtime.
  EXPECT_THROW(gort::run([] {}), gort::config_error);
}

}  // namespace
