// golang.org/x/sync ports: semaphore (semaphore_test.go), errgroup (errgroup_test.go) and
// singleflight (singleflight_test.go) (golang.org/x/sync), plus gort's own checks
// (misuse, exceptions as errors, plain threads), at GOMAXPROCS 1, 2, 4 and 8.
//
// Where Go's tests sleep to simulate work or "give other goroutines a chance", these yield; no
// test sleeps to wait for something to happen.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using namespace std::chrono_literals;
using gort_test::procs_test;
using gort_test::scaled;

class XSync : public procs_test {};
GORT_INSTANTIATE_PROCS(XSync);

enum class test_errc { doom = 1, one, two };

class test_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "xsync_test"; }
  std::string message(int ev) const override { return "errgroup_test: " + std::to_string(ev); }
};
const std::error_category& test_category() {
  static const test_category_impl c;
  return c;
}
std::error_code make_error_code(test_errc e) { return {static_cast<int>(e), test_category()}; }

}  // namespace

template <>
struct std::is_error_code_enum<test_errc> : std::true_type {};

namespace {

// ---- semaphore ----

TEST_P(XSync, TestWeighted) {
  const int n = procs() * 4;
  run([n] {
    const int loops = static_cast<int>(scaled(1000, 10));
    gort::semaphore sem(n);
    std::atomic<std::int64_t> held{0};
    std::atomic<bool> over{false};
    gort::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&, i] {
        const std::int64_t size = i + 1;
        for (int k = 0; k < loops; ++k) {
          sem.acquire(size);
          if (held.fetch_add(size) + size > n) over = true;
          gort::yield();
          held.fetch_sub(size);
          sem.release(size);
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_FALSE(over.load()) << "more tokens held than the size";
    EXPECT_TRUE(sem.try_acquire(n));
  });
}

TEST(XSyncSemaphore, TestWeightedPanic) {
  gort::semaphore w(1);
  try {
    w.release(1);
    FAIL() << "release of an unacquired weighted semaphore did not panic";
  } catch (const gort::panic_error& e) {
    EXPECT_STREQ(e.what(), "semaphore: released more than held");
  }
  EXPECT_TRUE(w.try_acquire(1)) << "the failed release changed nothing";
  EXPECT_THROW(w.release(2), gort::panic_error);
  w.release(1);
  EXPECT_THROW(w.acquire(-1), gort::panic_error);
  EXPECT_THROW((void)w.try_acquire(-1), gort::panic_error);
  EXPECT_THROW(gort::semaphore(-1), gort::panic_error);
}

TEST_P(XSync, TestWeightedTryAcquire) {
  run([] {
    gort::semaphore sem(2);
    std::vector<bool> tries;
    sem.acquire(1);
    tries.push_back(sem.try_acquire(1));
    tries.push_back(sem.try_acquire(1));
    sem.release(2);
    tries.push_back(sem.try_acquire(1));
    sem.acquire(1);
    tries.push_back(sem.try_acquire(1));
    EXPECT_EQ(tries, (std::vector<bool>{true, false, true, false}));
  });
}

// Go's test gives every acquire a 10 ms timeout. A context that is already done makes acquire fail
// even when tokens are free (x/sync checks ctx.Done() first, as gort does), so on a loaded machine
// a 10 ms deadline can pass before an acquire that should succeed is even called. Here an acquire
// that finds tokens free gets a context that never ends (wrongly blocking would hang, and the
// watchdog reports it), and one that must wait gets the timeout, which ends it whenever it fires.
TEST_P(XSync, TestWeightedAcquire) {
  run([] {
    gort::semaphore sem(2);
    auto acquire_free = [&](std::int64_t n) {
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      const bool ok = !sem.acquire(ctx, n);
      cancel();
      return ok;
    };
    auto acquire_full = [&](std::int64_t n) {
      auto [ctx, cancel] = gort::with_timeout(gort::background(), 10ms);
      const bool ok = !sem.acquire(ctx, n);
      cancel();
      return ok;
    };
    std::vector<bool> tries;
    sem.acquire(1);
    tries.push_back(acquire_free(1));
    tries.push_back(acquire_full(1));
    sem.release(2);
    tries.push_back(acquire_free(1));
    sem.acquire(1);
    tries.push_back(acquire_full(1));
    EXPECT_EQ(tries, (std::vector<bool>{true, false, true, false}));
  });
}

TEST_P(XSync, TestWeightedDoesntBlockIfTooBig) {
  run([] {
    constexpr std::int64_t n = 2;
    gort::semaphore sem(n);
    auto [big_ctx, big_cancel] = gort::with_cancel(gort::background());
    gort::wait_group big_done;
    big_done.add(1);
    std::error_code big_err;
    gort::go([&, big_ctx = big_ctx] {
      big_err = sem.acquire(big_ctx, n + 1);
      big_done.done();
    });
    auto [g, ctx] = gort::errgroup::with_context(gort::background());
    for (int i = static_cast<int>(n) * 3; i > 0; --i) {
      g.go([&sem, ctx = ctx]() -> std::error_code {
        std::error_code e = sem.acquire(ctx, 1);
        if (!e) {
          gort::yield();
          sem.release(1);
        }
        return e;
      });
    }
    EXPECT_FALSE(g.wait()) << "acquire(1) failed with acquire(" << n + 1 << ") pending";
    big_cancel();
    big_done.wait();
    EXPECT_EQ(big_err, gort::errc::canceled);
  });
}

// Go's TestLargeAcquireDoesntStarve: acquire(n) succeeds while n goroutines churn 1 token each.
TEST_P(XSync, TestLargeAcquireDoesntStarve) {
  const std::int64_t n = procs();
  run([n] {
    gort::semaphore sem(n);
    std::atomic<bool> running{true};
    gort::wait_group wg;
    wg.add(static_cast<std::int64_t>(n));
    for (std::int64_t i = n; i > 0; --i) {
      sem.acquire(1);
      gort::go([&] {
        while (running.load()) {
          gort::yield();
          sem.release(1);
          sem.acquire(1);
        }
        sem.release(1);
        wg.done();
      });
    }
    sem.acquire(n);
    running = false;
    sem.release(n);
    wg.wait();
  });
}

// Go's TestAllocCancelDoesntStarve: cancelling a blocked acquire(10) lets a queued acquire(1) in.
TEST_P(XSync, TestAllocCancelDoesntStarve) {
  run([] {
    gort::semaphore sem(10);
    sem.acquire(1);  // so that acquire(10) blocks but could eventually succeed
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::wait_group wg;
    wg.add(2);
    gort::go([&, ctx = ctx] {
      (void)sem.acquire(ctx, 10);
      wg.done();
    });
    // Wait until the acquire(10) is queued (try_acquire fails while anyone waits).
    while (sem.try_acquire(1)) {
      sem.release(1);
      gort::yield();
    }
    gort::go([&wg, c = cancel] {
      c();
      wg.done();
    });
    EXPECT_FALSE(sem.acquire(gort::background(), 1)) << "acquire(1) failed unexpectedly";
    sem.release(1);
    wg.wait();
  });
}

// Go's TestWeightedAcquireCanceled (issue 63615).
TEST_P(XSync, TestWeightedAcquireCanceled) {
  run([] {
    gort::semaphore sem(2);
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    sem.acquire(1);
    gort::chan<int> ch(0);
    gort::go([&, c = cancel] {
      // Synchronize with the acquire(2) below.
      while (sem.try_acquire(1)) {
        sem.release(1);
        gort::yield();
      }
      // Cancel ctx, then release the token.
      c();
      sem.release(1);
      ch.close();
    });
    // The context ends before enough tokens are available: acquire must fail.
    EXPECT_EQ(sem.acquire(ctx, 2), gort::errc::canceled);
    (void)ch.recv();
    // Both tokens are in the semaphore again.
    EXPECT_TRUE(sem.try_acquire(2)) << "try_acquire after a cancelled acquire failed";
    // No acquire with a done context, even when it would not need to block.
    sem.release(2);
    EXPECT_EQ(sem.acquire(ctx, 1), gort::errc::canceled);
    EXPECT_TRUE(sem.try_acquire(2));
  });
}

// gort: FIFO without barging — a queued large request is served before later small ones.
TEST_P(XSync, WeightedIsFifoWithoutBarging) {
  run([] {
    gort::semaphore sem(4);
    sem.acquire(3);
    gort::wait_group wg;
    wg.add(2);
    std::atomic<int> order{0};
    int big = -1;
    int small = -1;
    gort::go([&] {
      sem.acquire(4);
      big = order.fetch_add(1);
      sem.release(4);
      wg.done();
    });
    while (sem.try_acquire(1)) {  // until the acquire(4) is queued
      sem.release(1);
      gort::yield();
    }
    gort::go([&] {
      sem.acquire(1);  // one token is free, but it must not barge past the queued acquire(4)
      small = order.fetch_add(1);
      sem.release(1);
      wg.done();
    });
    EXPECT_FALSE(sem.try_acquire(1)) << "try_acquire barged past a waiter";
    sem.release(3);
    wg.wait();
    EXPECT_EQ(big, 0);
    EXPECT_EQ(small, 1);
  });
}

// gort: goroutines and plain threads share a semaphore; a thread's acquire(ctx) is cancelled.
TEST_P(XSync, WeightedWithPlainThreads) {
  run([] {
    gort::semaphore sem(1);
    sem.acquire(1);
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::wait_group done;
    done.add(2);
    std::error_code thread_err;
    std::thread cancelled([&, ctx = ctx] {
      thread_err = sem.acquire(ctx, 1);
      done.done();
    });
    std::thread waiter([&] {
      sem.acquire(1);
      sem.release(1);
      done.done();
    });
    cancel();
    sem.release(1);
    done.wait();
    cancelled.join();
    waiter.join();
    // The cancelled thread either gave up, or got the token first and gave it back.
    EXPECT_EQ(thread_err, gort::errc::canceled);
    EXPECT_TRUE(sem.try_acquire(1));
  });
}

// ---- errgroup ----

TEST_P(XSync, TestZeroGroup) {
  run([] {
    const gort::error err1 = test_errc::one;
    const gort::error err2 = test_errc::two;
    const std::vector<std::vector<gort::error>> cases = {
        {}, {gort::error{}}, {err1}, {err1, gort::error{}}, {err1, gort::error{}, err2}};
    for (const auto& errs : cases) {
      gort::errgroup g;
      gort::error first;
      for (const gort::error& e : errs) {
        g.go([e] { return e; });
        if (!first && e) first = e;
        EXPECT_EQ(g.wait(), first);
      }
    }
  });
}

TEST_P(XSync, TestWithContext) {
  run([] {
    const gort::error doom = test_errc::doom;
    struct tc {
      std::vector<gort::error> errs;
      gort::error want;
    };
    const std::vector<tc> cases = {
        {{}, {}}, {{gort::error{}}, {}}, {{doom}, doom}, {{doom, gort::error{}}, doom}};
    for (const tc& c : cases) {
      auto [g, ctx] = gort::errgroup::with_context(gort::background());
      for (const gort::error& e : c.errs) g.go([e] { return e; });
      EXPECT_EQ(g.wait(), c.want);
      EXPECT_EQ(ctx.done().try_recv().status, gort::recv_status::closed)
          << "after wait(), the group's context is done";
    }
  });
}

TEST_P(XSync, TestTryGo) {
  run([] {
    gort::errgroup g;
    constexpr int n = 42;
    g.set_limit(42);
    gort::chan<int> ch(0);
    auto fn = [&ch] { ch.send(1); };
    for (int i = 0; i < n; ++i) ASSERT_TRUE(g.try_go(fn)) << "try_go failed at call " << i;
    EXPECT_FALSE(g.try_go(fn)) << "try_go is expected to fail";
    gort::wait_group drained;
    drained.add(1);
    gort::go([&] {
      for (int i = 0; i < n; ++i) (void)ch.recv();
      drained.done();
    });
    EXPECT_FALSE(g.wait());
    drained.wait();
    EXPECT_TRUE(g.try_go(fn)) << "try_go should succeed after all goroutines";
    (void)ch.recv();
    EXPECT_FALSE(g.wait());
    // Switch the limit.
    g.set_limit(1);
    EXPECT_TRUE(g.try_go(fn));
    EXPECT_FALSE(g.try_go(fn));
    (void)ch.recv();
    EXPECT_FALSE(g.wait());
    // Block all calls.
    g.set_limit(0);
    for (int i = 0; i < (1 << 10); ++i) ASSERT_FALSE(g.try_go(fn));
    EXPECT_FALSE(g.wait());
  });
}

TEST_P(XSync, TestGoLimit) {
  run([] {
    constexpr int limit = 10;
    gort::errgroup g;
    g.set_limit(limit);
    std::atomic<int> active{0};
    for (int i = 0; i <= (1 << 10); ++i) {
      g.go([&]() -> gort::error {
        const int n = active.fetch_add(1) + 1;
        if (n > limit) return test_errc::doom;  // saw more active goroutines than the limit
        gort::yield();  // give the others a chance to increment active
        active.fetch_sub(1);
        return {};
      });
    }
    EXPECT_FALSE(g.wait());
  });
}

TEST_P(XSync, TestCancelCause) {
  run([] {
    const gort::error doom = test_errc::doom;
    struct tc {
      std::vector<gort::error> errs;
      gort::error want;
    };
    const std::vector<tc> cases = {
        {{}, {}}, {{gort::error{}}, {}}, {{doom}, doom}, {{doom, gort::error{}}, doom}};
    for (const tc& c : cases) {
      auto [g, ctx] = gort::errgroup::with_context(gort::background());
      for (const gort::error& e : c.errs) (void)g.try_go([e] { return e; });
      EXPECT_EQ(g.wait(), c.want);
      const gort::error want = c.want ? c.want : gort::error(gort::errc::canceled);
      EXPECT_EQ(gort::cause(ctx), want);
    }
  });
}

// gort: an exception is the task's error; the first failure cancels the others' context.
TEST_P(XSync, ErrgroupExceptionIsTheTasksErrorAndCancelsTheOthers) {
  run([] {
    auto [g, ctx] = gort::errgroup::with_context(gort::background());
    std::atomic<int> cancelled_seen{0};
    for (int i = 0; i < 4; ++i) {
      g.go([&, c = ctx]() -> std::error_code {
        if (gort::sleep_for(c, 1h)) cancelled_seen.fetch_add(1);  // until the failure
        return {};
      });
    }
    g.go([] { throw std::runtime_error("task failed"); });
    gort::error e = g.wait();
    ASSERT_TRUE(e);
    EXPECT_EQ(e.code(), gort::errc::exception);
    EXPECT_EQ(e.message(), "task failed");
    EXPECT_THROW(e.rethrow(), std::runtime_error);
    EXPECT_EQ(cancelled_seen.load(), 4);
    EXPECT_EQ(gort::cause(ctx), e);
  });
}

TEST_P(XSync, ErrgroupSetLimitWhileActivePanics) {
  run([] {
    gort::errgroup g;
    g.set_limit(2);
    gort::chan<int> release(0);
    g.go([&] { (void)release.recv(); });
    try {
      g.set_limit(3);
      ADD_FAILURE() << "set_limit while active did not panic";
    } catch (const gort::panic_error& e) {
      EXPECT_STREQ(e.what(), "errgroup: modify limit while 1 goroutines in the group are still active");
    }
    release.close();
    EXPECT_FALSE(g.wait());
    g.set_limit(-1);  // allowed again
    for (int i = 0; i < 100; ++i) g.go([] {});
    EXPECT_FALSE(g.wait());
  });
}

// ---- singleflight ----

TEST_P(XSync, TestDo) {
  run([] {
    gort::singleflight<std::string> g;
    auto [v, err, shared] = g.call("key", [] { return std::string("bar"); });
    EXPECT_EQ(v, "bar");
    EXPECT_FALSE(err);
    EXPECT_FALSE(shared);
  });
}

TEST_P(XSync, TestDoErr) {
  run([] {
    gort::singleflight<std::shared_ptr<int>> g;
    auto r = g.call("key", []() -> std::shared_ptr<int> { throw std::runtime_error("Some error"); });
    EXPECT_TRUE(r.err);
    EXPECT_EQ(r.err.message(), "Some error");
    EXPECT_EQ(r.value, nullptr);
  });
}

// One round: n callers overlap with a call in flight; returns how many calls ran fn.
int dup_suppress_round(int n) {
  gort::singleflight<std::string> g;
  gort::wait_group wg1;
  gort::wait_group wg2;
  gort::chan<std::string> c(1);
  std::atomic<int> calls{0};
  auto fn = [&] {
    if (calls.fetch_add(1) + 1 == 1) wg1.done();  // the first invocation
    std::string v = *c.recv();
    c.send(v);  // pump: make it available for any later calls
    return v;
  };
  wg1.add(1);
  for (int i = 0; i < n; ++i) {
    wg1.add(1);
    wg2.add(1);
    gort::go([&] {
      wg1.done();
      auto [v, err, shared] = g.call("key", fn);
      EXPECT_FALSE(err);
      EXPECT_EQ(v, "bar");
      wg2.done();
    });
  }
  // One goroutine is in fn now, and all of them have at least reached the line before call().
  // Usually the last one to get there readied this goroutine into its processor's next slot, so
  // it enters call() (and becomes a duplicate) before this goroutine runs again; but with more
  // processors than CPUs a caller's thread may be descheduled until after the call finished.
  wg1.wait();
  c.send("bar");
  wg2.wait();
  return calls.load();
}

TEST_P(XSync, TestDoDupSuppress) {
  run([] {
    constexpr int n = 10;
    // Whether callers overlap depends on the OS scheduling their threads: a few rounds, and at
    // least one must show duplicates suppressed. Every round runs fn at least once.
    int got = n;
    for (int round = 0; round < 5 && got >= n; ++round) {
      got = dup_suppress_round(n);
      EXPECT_GT(got, 0);
    }
    EXPECT_LT(got, n) << "number of calls";
  });
}

TEST_P(XSync, TestForget) {
  run([] {
    gort::singleflight<int> g;
    gort::chan<int> first_started(0);
    gort::chan<int> unblock_first(0);
    gort::chan<int> first_finished(0);
    gort::wait_group first_done;
    first_done.add(1);
    gort::go([&] {
      (void)g.call("key", [&] {
        first_started.close();
        (void)unblock_first.recv();
        first_finished.close();
        return 0;
      });
      first_done.done();
    });
    (void)first_started.recv();
    g.forget("key");
    gort::chan<int> unblock_second(0);
    gort::chan<gort::singleflight<int>::result> second = g.call_chan("key", [&] {
      (void)unblock_second.recv();
      return 2;
    });
    unblock_first.close();
    (void)first_finished.recv();
    gort::chan<gort::singleflight<int>::result> third = g.call_chan("key", [] { return 3; });
    unblock_second.close();
    (void)second.recv();
    auto r = third.recv();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->value, 2) << "we should receive the result produced by the second call";
    EXPECT_TRUE(r->shared);
    first_done.wait();
  });
}

TEST_P(XSync, TestDoChan) {
  run([] {
    gort::singleflight<std::string> g;
    auto ch = g.call_chan("key", [] { return std::string("bar"); });
    auto r = ch.recv();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->value, "bar");
    EXPECT_FALSE(r->err);
    EXPECT_FALSE(r->shared);
  });
}

// A caller that has its result may destroy the group at once (here on the heap, so ASan sees a
// late touch): neither the flight's goroutine (call_chan) nor the caller that ran fn (call, with
// a call_chan caller joining its flight) touches the group once a result is out.
TEST_P(XSync, AGroupMayBeDestroyedAsSoonAsACallerHasTheResult) {
  run([] {
    for (int i = 0; i < 200; ++i) {
      auto g = std::make_unique<gort::singleflight<std::string>>();
      auto ch = g->call_chan("key", [] { return std::string("bar"); });
      auto r = ch.recv();
      g.reset();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->value, "bar");
    }
    for (int i = 0; i < 200; ++i) {
      auto g = std::make_unique<gort::singleflight<std::string>>();
      gort::chan<int> entered(0);
      gort::chan<int> release(0);
      gort::wait_group ran;
      ran.add(1);
      gort::go([&] {
        (void)g->call("key", [&] {
          entered.send(1);
          (void)release.recv();
          return std::string("bar");
        });
        ran.done();
      });
      (void)entered.recv();  // the flight is registered: the call below joins it
      auto ch = g->call_chan("key", [] { return std::string("other"); });
      release.send(1);
      const auto r = ch.recv();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->value, "bar");
      EXPECT_TRUE(r->shared);
      g.reset();  // the runner may still be returning from its call()
      ran.wait();
    }
  });
}

}  // namespace
