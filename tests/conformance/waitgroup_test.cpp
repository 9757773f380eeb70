// gort::wait_group: ports of Go's sync TestWaitGroup and TestWaitGroupMisuse, plus gort's
// additions (overflow, plain threads, wait_group::go), at GOMAXPROCS 1, 2, 4, 8.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using gort_test::procs_test;

class WaitGroup : public procs_test {};
GORT_INSTANTIATE_PROCS(WaitGroup);

// Go's TestWaitGroup: no goroutine passes wg2.wait() before all n wg2.done() calls; then all do.
TEST_P(WaitGroup, TestWaitGroup) {
  run([] {
    for (int round = 0; round < 8; ++round) {
      constexpr int n = 16;
      gort::wait_group wg1;
      gort::wait_group wg2;
      gort::wait_group exited;
      std::atomic<int> passed{0};
      wg1.add(n);
      wg2.add(n);
      exited.add(n);
      for (int i = 0; i < n; ++i) {
        gort::go([&] {
          wg1.done();
          wg2.wait();
          passed.fetch_add(1);
          exited.done();
        });
      }
      wg1.wait();
      for (int i = 0; i < n; ++i) {
        ASSERT_EQ(passed.load(), 0) << "WaitGroup released group too soon";
        wg2.done();
      }
      exited.wait();  // blocks forever if the barrier failed to release someone
      EXPECT_EQ(passed.load(), n);
    }
  });
}

// Go's TestWaitGroupMisuse: the counter going negative is a panic with Go's message.
TEST_P(WaitGroup, TestWaitGroupMisuse) {
  run([] {
    gort::wait_group wg;
    wg.add(1);
    wg.done();
    try {
      wg.done();
      FAIL() << "expected a panic";
    } catch (const gort::panic_error& e) {
      EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
    }
    // The failed call had no effect: the group still works.
    wg.add(1);
    gort::go([&] { wg.done(); });
    wg.wait();
  });
}

TEST(WaitGroupMisuse, OverflowAndRange) {
  gort::wait_group wg;
  wg.add(INT32_MAX);
  EXPECT_THROW(wg.add(1), gort::panic_error);
  EXPECT_THROW(wg.add(std::int64_t{1} << 40), gort::panic_error);
  wg.add(-static_cast<std::int64_t>(INT32_MAX));
  wg.wait();  // zero: returns at once
}

TEST(WaitGroupMisuse, WaitOnZeroReturnsImmediately) {
  gort::wait_group wg;
  wg.wait();
  wg.add(0);
  wg.wait();
}

// Plain threads wait and signal alongside goroutines.
TEST_P(WaitGroup, PlainThreadsWaitForGoroutines) {
  run([] {
    gort::wait_group work;
    constexpr int n = 64;
    work.add(n);
    std::atomic<int> observed{-1};
    std::atomic<int> done_count{0};
    gort::wait_group watched;
    watched.add(1);
    std::thread watcher([&] {
      work.wait();  // blocks the thread, not a machine
      observed = done_count.load();
      watched.done();
    });
    for (int i = 0; i < n; ++i) {
      gort::go([&] {
        done_count.fetch_add(1);
        work.done();
      });
    }
    // Park (not join: a goroutine blocked in an OS call would hold its processor).
    watched.wait();
    watcher.join();
    EXPECT_EQ(observed.load(), n);
  });
}

TEST_P(WaitGroup, GoroutinesWaitForPlainThreads) {
  run([] {
    gort::wait_group gate;
    gate.add(4);
    std::atomic<int> produced{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i) {
      ts.emplace_back([&] {
        produced.fetch_add(1);
        gate.done();  // readies the parked goroutine from a thread with no processor
      });
    }
    gort::wait_group waiters;
    waiters.add(8);
    for (int i = 0; i < 8; ++i) {
      gort::go([&] {
        gate.wait();
        EXPECT_EQ(produced.load(), 4);
        waiters.done();
      });
    }
    waiters.wait();
    for (auto& t : ts) t.join();
  });
}

TEST_P(WaitGroup, GoMethodRunsAndCountsDownEvenOnException) {
  std::atomic<int> handled{0};
  gort::options o;
  o.on_exception = [&](const gort::goroutine_exception&) { handled.fetch_add(1); };
  run(
      [] {
        gort::wait_group wg;
        std::atomic<int> ran{0};
        for (int i = 0; i < 10; ++i) wg.go([&] { ran.fetch_add(1); });
        wg.go([] { throw std::runtime_error("task failed"); });
        wg.wait();
        EXPECT_EQ(ran.load(), 10);
      },
      o);
  EXPECT_EQ(handled.load(), 1);
}

// Many rounds of reuse between goroutines: each wait returns only after its round's done()s.
// A release of more waiters than the semaphore hands out per hold of its lock (64): goroutines
// and plain threads queued among them all pass, round after round, and the group is reusable.
TEST_P(WaitGroup, ReleasesThousandsOfGoroutinesAndThreadsQueuedTogether) {
  run([] {
    constexpr int goroutines = 2'000;
    constexpr int threads = 3;
    for (int round = 0; round < 3; ++round) {
      gort::wait_group gate;
      gort::wait_group started;
      gort::wait_group exited;
      std::atomic<int> passed{0};
      gate.add(1);
      started.add(goroutines + threads);
      exited.add(goroutines + threads);
      auto waiter = [&] {
        started.done();
        gate.wait();
        passed.fetch_add(1);
        exited.done();
      };
      std::vector<std::thread> plain;
      for (int i = 0; i < goroutines; ++i) {
        gort::go(waiter);
        if (i % 700 == 350) plain.emplace_back(waiter);
      }
      started.wait();
      ASSERT_EQ(passed.load(), 0);
      gate.done();
      exited.wait();  // blocks forever (the watchdog fails the test) if a waiter was left behind
      for (auto& t : plain) t.join();
      EXPECT_EQ(passed.load(), goroutines + threads);
    }
  });
}

// Waiters whose context is cancelled while a release of thousands is under way: each wait ends,
// as granted or as cancelled, none is left behind, and no token is left over: the next use of
// the group blocks until its done().
TEST_P(WaitGroup, ContextsCancelledDuringAThousandWaiterReleaseLeaveNoTokenBehind) {
  run([] {
    constexpr int n = 1'000;
    for (int round = 0; round < 4; ++round) {
      gort::wait_group wg;
      gort::wait_group started;
      gort::wait_group exited;
      std::atomic<int> granted{0};
      std::atomic<int> cancelled{0};
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      wg.add(1);
      started.add(n);
      exited.add(n + 1);
      for (int i = 0; i < n; ++i) {
        gort::go([&, ctx = ctx, i] {
          started.done();
          const std::error_code e = i % 2 == 0 ? wg.wait(ctx) : (wg.wait(), std::error_code{});
          (e ? cancelled : granted).fetch_add(1);
          exited.done();
        });
      }
      started.wait();
      gort::go([&, cancel = cancel] {
        cancel();
        exited.done();
      });
      wg.done();
      exited.wait();
      EXPECT_EQ(granted.load() + cancelled.load(), n);
      EXPECT_GE(granted.load(), n / 2);  // the ones without a context cannot be cancelled

      std::atomic<bool> passed{false};
      wg.add(1);
      gort::wait_group back;
      back.add(1);
      gort::go([&] {
        wg.wait();
        passed.store(true);
        back.done();
      });
      for (int i = 0; i < 20; ++i) gort::yield();
      EXPECT_FALSE(passed.load()) << "a wait passed before done(): a token was left over";
      wg.done();
      back.wait();
      EXPECT_TRUE(passed.load());
    }
  });
}

TEST_P(WaitGroup, ReuseAcrossRounds) {
  run([] {
    gort::wait_group wg;
    std::atomic<int> count{0};
    for (int round = 1; round <= 200; ++round) {
      wg.add(5);
      for (int i = 0; i < 5; ++i) {
        gort::go([&] {
          count.fetch_add(1);
          wg.done();
        });
      }
      wg.wait();
      ASSERT_EQ(count.load(), round * 5);
    }
  });
}

}  // namespace
