// Timers: sleep, after, timer (Go 1.23 stop/reset semantics), ticker, AfterFunc, and the
// scheduler's handling of pending timers (ordering, idle CPU, a million pending timers), at
// GOMAXPROCS 1, 2, 4, 8. Durations are short; assertions are one-sided where timing is involved
// (a timer never fires early; "did not fire" is checked against a later timer, not a sleep).
#include <gtest/gtest.h>

#include <string>
#include <time.h>

#include <fstream>
#include <iterator>
#include <cstdio>
#include <unistd.h>
#include <cstdlib>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using namespace std::chrono_literals;
using gort_test::procs_test;

class Time : public procs_test {};
GORT_INSTANTIATE_PROCS(Time);

std::int64_t process_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TEST_P(Time, SleepNeverReturnsEarly) {
  run([] {
    for (auto d : {1ms, 5ms, 12ms}) {
      const auto t0 = gort::clock::now();
      gort::sleep_for(d);
      EXPECT_GE(gort::clock::now() - t0, d);
    }
    const auto until = gort::clock::now() + 3ms;
    gort::sleep_until(until);
    EXPECT_GE(gort::clock::now(), until);
    // Non-positive durations and past deadlines return at once.
    gort::sleep_for(0ms);
    gort::sleep_for(-5ms);
    gort::sleep_until(gort::clock::now() - 1s);
  });
}

TEST_P(Time, AfterDeliversOnceNoEarlierThanAsked) {
  run([] {
    const auto t0 = gort::clock::now();
    auto c = gort::after(4ms);
    EXPECT_EQ(c.capacity(), 1u);
    std::optional<gort::clock::time_point> v = c.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v - t0, 4ms);
    EXPECT_GE(gort::clock::now(), *v);
    // Exactly one value: a later timer fires before anything else arrives on c.
    auto later = gort::after(10ms);
    const std::size_t fired = gort::select(gort::recv(c), gort::recv(later));
    EXPECT_EQ(fired, 1u);
  });
}

TEST_P(Time, AfterWorksAsSelectTimeout) {
  run([] {
    gort::chan<int> never(0);
    bool timed_out = false;
    gort::select(gort::recv(never, [](std::optional<int>) { FAIL() << "nothing was sent"; }),
                 gort::recv(gort::after(3ms), [&](auto) { timed_out = true; }));
    EXPECT_TRUE(timed_out);
  });
}

// Go 1.23 Timer.Stop/Reset results.
TEST_P(Time, TimerStopAndResetReturnValues) {
  run([] {
    gort::timer t(1h);
    EXPECT_TRUE(t.stop());   // pending: stopped it
    EXPECT_FALSE(t.stop());  // already stopped
    EXPECT_FALSE(t.reset(2ms));  // was stopped
    auto v = t.c().recv();       // fires after the reset
    ASSERT_TRUE(v.has_value());
    EXPECT_FALSE(t.stop());  // fired and received
    EXPECT_FALSE(t.reset(1h));
    EXPECT_TRUE(t.reset(1h));  // was active
    EXPECT_TRUE(t.stop());
  });
}

// Go 1.23: a value that fired but was not received is discarded by stop/reset, and stop then
// reports the timer as stopped before delivery.
TEST_P(Time, TimerStopDiscardsAnUnreceivedValue) {
  run([] {
    gort::timer t(1ms);
    gort::sleep_for(5ms);  // the timer under test needs time to pass; nothing waits on it
    EXPECT_EQ(t.c().size(), 1u);
    EXPECT_TRUE(t.stop());
    EXPECT_EQ(t.c().size(), 0u);
    EXPECT_EQ(t.c().try_recv().status, gort::recv_status::empty);
    gort::timer r(1ms);
    gort::sleep_for(5ms);
    EXPECT_TRUE(r.reset(1h));  // the fired value counts as not delivered
    EXPECT_EQ(r.c().try_recv().status, gort::recv_status::empty);
  });
}

TEST_P(Time, DestroyingATimerStopsIt) {
  run([] {
    std::atomic<int> calls{0};
    gort::chan<int> ran(1);
    {
      // Destroyed right away, long before its deadline.
      gort::timer t(30ms, [&] { calls.fetch_add(1); });
    }
    gort::timer fired(1ms, [&] {
      calls.fetch_add(10);
      ran.send(1);
    });
    ASSERT_TRUE(ran.recv().has_value());
    gort::sleep_for(60ms);  // past the destroyed timer's deadline (the time under test)
    EXPECT_EQ(calls.load(), 10);
  });
}

TEST_P(Time, AfterFuncRunsOnItsOwnGoroutine) {
  run([] {
    gort::chan<std::uint64_t> id(1);
    gort::timer t(1ms, [id] { id.send(gort::this_goroutine::id()); });
    EXPECT_FALSE(t.c());  // an AfterFunc timer has the nil channel
    auto v = id.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_GT(*v, 1u);
    EXPECT_NE(*v, gort::this_goroutine::id());
    EXPECT_FALSE(t.stop());  // already ran
  });
}

TEST_P(Time, TickerTicksAndStops) {
  run([] {
    gort::ticker tk(2ms);
    gort::clock::time_point prev{};
    for (int i = 0; i < 5; ++i) {
      auto v = tk.c().recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_GT(*v, prev);
      prev = *v;
    }
    tk.stop();
    // No tick after stop: a later timer wins.
    EXPECT_EQ(gort::select(gort::recv(tk.c()), gort::recv(gort::after(10ms))), 1u);
  });
}

// A slow receiver misses ticks instead of accumulating them (channel of one).
TEST_P(Time, TickerDropsTicksForSlowReceivers) {
  run([] {
    gort::ticker tk(1ms);
    gort::sleep_for(20ms);  // ~20 periods pass while nobody receives
    EXPECT_EQ(tk.c().size(), 1u);
    const auto drained = tk.c().recv();
    ASSERT_TRUE(drained.has_value());
    // The next tick is a fresh one: fired after the drained one (the ticks that came due while the
    // channel was full were dropped, not queued behind it).
    auto next = tk.c().recv();
    ASSERT_TRUE(next.has_value());
    EXPECT_GT(*next, *drained);
  });
}

TEST_P(Time, TickerResetChangesThePeriod) {
  run([] {
    gort::ticker tk(1h);
    const auto t0 = gort::clock::now();  // before reset: the new period starts inside reset()
    tk.reset(2ms);
    auto v = tk.c().recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v - t0, 1ms);
    EXPECT_LT(*v - t0, 1h);
  });
}

TEST(TimeMisuse, NonPositiveTickerPeriodsPanic) {
  gort::run(
      [] {
        try {
          gort::ticker tk(0ms);
          FAIL();
        } catch (const gort::panic_error& e) {
          EXPECT_STREQ(e.what(), "non-positive interval for NewTicker");
        }
        gort::ticker tk(1h);
        try {
          tk.reset(-1ms);
          FAIL();
        } catch (const gort::panic_error& e) {
          EXPECT_STREQ(e.what(), "non-positive interval for Ticker.Reset");
        }
      },
      {.maxprocs = 1});
}

// Timers armed and received from plain threads.
TEST_P(Time, TimersFromPlainThreads) {
  run([] {
    gort::wait_group done;
    done.add(1);
    std::atomic<bool> ok{false};
    std::thread t([&] {
      auto c = gort::after(3ms);
      ok = c.recv().has_value();
      gort::sleep_for(1ms);  // a plain thread just sleeps
      done.done();
    });
    done.wait();
    t.join();
    EXPECT_TRUE(ok.load());
  });
}

// While a goroutine sleeps and nothing else runs, the process uses no CPU: the timer sleeper
// waits in the kernel until the deadline.
TEST_P(Time, PendingTimersCostNoCpu) {
  if (gort_test::k_sanitized) GTEST_SKIP() << "sanitizer runtimes have background threads";
  run([] {
    gort::sleep_for(20ms);  // let machines settle
    const std::int64_t before = process_cpu_ns();
    gort::sleep_for(300ms);
    const std::int64_t used = process_cpu_ns() - before;
    EXPECT_LT(used, 15'000'000) << "ns of CPU across a 300 ms sleep";
  });
}

// A timer due while every processor is busy in a long goroutine still fires (sysmon preempts the
// hog; a thief or the timer sleeper runs the timer).
TEST_P(Time, TimerFiresWhileProcessorsAreBusy) {
  run([this] {
    std::atomic<bool> stop{false};
    gort::wait_group hogs;
    hogs.add(procs());
    for (int i = 0; i < procs(); ++i) {
      gort::go([&] {
        while (!stop.load(std::memory_order_relaxed)) gort::detail::preempt_point();
        hogs.done();
      });
    }
    gort::sleep_for(5ms);
    stop.store(true);
    hogs.wait();
  });
}

// Timers armed in shuffled order fire in deadline order, never early. Armed through the runtime's
// timer API with exact absolute deadlines (base + 100 us * k), by one goroutine without a park in
// between, so all sit in one processor's heap, which fires due timers in deadline order. Each
// callback records the time the heap ran it. Only timers still pending when arming finished take
// part in the order check (under a sanitizer arming can outlast the first deadlines; a timer armed
// after an earlier-armed one already fired cannot be ordered before it).
TEST_P(Time, TimersFireInDeadlineOrder) {
  run([] {
    constexpr int n = 200;
    struct probe : gort::detail::timer_node {
      std::int64_t fired_at = 0;
      gort::wait_group* wg = nullptr;
    };
    std::vector<probe> probes(n);
    gort::wait_group wg;
    wg.add(n);
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    std::uint32_t x = 12345;
    for (int i = n - 1; i > 0; --i) {  // a fixed shuffle
      x = x * 1103515245u + 12345u;
      std::swap(order[static_cast<std::size_t>(i)], order[(x >> 8) % static_cast<std::uint32_t>(i + 1)]);
    }
    const std::int64_t base = gort::detail::nanotime() + 5'000'000;  // 5 ms from now
    auto when = [base](int k) { return base + 100'000 * static_cast<std::int64_t>(k); };
    for (int k : order) {
      probe& p = probes[static_cast<std::size_t>(k)];
      p.wg = &wg;
      p.fire = [](gort::detail::timer_node* t, std::int64_t now) noexcept {
        auto* self = static_cast<probe*>(t);
        self->fired_at = now;
        self->wg->done();
      };
      gort::detail::timer_start(&p, when(k));
    }
    const std::int64_t armed = gort::detail::nanotime();
    wg.wait();
    int checked = 0;
    for (int k = 0; k < n; ++k) {
      const probe& p = probes[static_cast<std::size_t>(k)];
      EXPECT_GE(p.fired_at, when(k)) << "timer " << k << " fired early";
      if (k == 0 || when(k - 1) <= armed) continue;
      ++checked;
      EXPECT_LE(probes[static_cast<std::size_t>(k - 1)].fired_at, p.fired_at)
          << "timer " << k << " fired before timer " << k - 1 << ", whose deadline is earlier";
    }
    if (!gort_test::k_sanitized) EXPECT_GT(checked, n / 2) << "arming took too long to check order";
  });
}

// A million pending timers at once (stopped before they fire), then a smaller batch that fires.
TEST_P(Time, MillionPendingTimers) {
  if (procs() != 2) GTEST_SKIP() << "memory and time: run at 2 processors";
  const int n = static_cast<int>(gort_test::scaled(1'000'000, gort_test::k_tsan ? 200 : 20));
  run([n] {
    std::vector<std::unique_ptr<gort::timer>> timers;
    timers.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      timers.push_back(std::make_unique<gort::timer>(std::chrono::seconds(60) + std::chrono::microseconds(i)));
    }
    int stopped = 0;
    for (auto& t : timers) stopped += t->stop() ? 1 : 0;
    EXPECT_EQ(stopped, n);
    // Re-arm a tenth to fire soon, in reverse order of arming; every one delivers.
    const int m = n / 10;
    for (int i = 0; i < m; ++i) timers[static_cast<std::size_t>(i)]->reset(std::chrono::microseconds(m - i));
    for (int i = 0; i < m; ++i) ASSERT_TRUE(timers[static_cast<std::size_t>(i)]->c().recv().has_value());
  });
}

// Goroutines sleeping concurrently all wake; durations spread over several heap levels.
TEST_P(Time, ManySleepers) {
  run([] {
    const int n = static_cast<int>(gort_test::scaled(20000));
    gort::wait_group wg;
    wg.add(n);
    std::atomic<int> woke{0};
    const auto t0 = gort::clock::now();
    for (int i = 0; i < n; ++i) {
      gort::go([&, i] {
        const auto d = std::chrono::milliseconds(i % 20);
        const auto start = gort::clock::now();
        gort::sleep_for(d);
        if (gort::clock::now() - start >= d) woke.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(woke.load(), n);
    EXPECT_GE(gort::clock::now() - t0, 19ms);
  });
}

// An exception escaping a timer's function (Go's AfterFunc) reports the timer's constructor call
// as the goroutine's creation site.
TEST_P(Time, AfterFuncTimerExceptionReportsItsCaller) {
  std::string file;
  unsigned line = 0;
  gort::chan<int> reported(1);
  gort::options o;
  o.on_exception = [&](const gort::goroutine_exception& e) {
    file = e.created_at.file_name();
    line = e.created_at.line();
    (void)reported.try_send(1);
  };
  unsigned expected_line = 0;
  run(
      [&] {
        expected_line = __LINE__ + 1;
        gort::timer t(1ms, [] { throw std::runtime_error("x"); });
        EXPECT_EQ(reported.recv(), 1);
      },
      o);
  EXPECT_NE(file.find("time_test.cpp"), std::string::npos) << file;
  EXPECT_EQ(line, expected_line);
}

// schedtrace's detail mode counts each processor's pending timers (Go's timerslen). The trace goes
// to a file standing in for stderr, read while the runtime runs until the line shows up (bounded).
TEST(TimeTrace, ScheddetailShowsPendingTimers) {
  if (gort_test::k_tsan) GTEST_SKIP() << "detail mode reads running machines' fields racily";
  char path[] = "/tmp/gort-timerslen-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ASSERT_GE(saved, 0);
  ::dup2(fd, 2);
  bool seen = false;
  gort::run(
      [&] {
        gort::timer a(std::chrono::hours(1)), b(std::chrono::hours(1)), c(std::chrono::hours(1));
        const auto give_up = gort::clock::now() + std::chrono::seconds(20);
        while (!seen && gort::clock::now() < give_up) {
          gort::sleep_for(5ms);  // the trace prints every 10 ms; look again
          std::ifstream in(path);
          const std::string text((std::istreambuf_iterator<char>(in)), {});
          seen = text.find("P0: status=") != std::string::npos &&
                 text.find("timerslen=3") != std::string::npos;
        }
      },
      {.maxprocs = 1, .debug = "schedtrace=10,scheddetail=1"});
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  ::unlink(path);
  EXPECT_TRUE(seen) << "no schedtrace line reported the three pending timers";
}

}  // namespace
