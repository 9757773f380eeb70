// gort::blocking (Go's entersyscall / exitsyscall / retake / handoffp) and gort::preempt_point,
// at GOMAXPROCS 1, 2, 4 and 8. How a returning call found a processor is read from the
// scheduler's counters (src/sched/scheduler.hpp), which the public stats do not break down.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "gort/gort.hpp"
#include "procs.hpp"
#include "sched/scheduler.hpp"

namespace {

using gort_test::procs_test;
using gort_test::scaled;

class Blocking : public procs_test {};
GORT_INSTANTIATE_PROCS(Blocking);

// The calling thread sleeps (a real blocking system call, not a gort one).
void os_sleep_us(long us) {
  timespec ts{us / 1'000'000, (us % 1'000'000) * 1000};
  ::nanosleep(&ts, nullptr);
}

// Polls `cond` with OS sleeps: the wait of a blocking call for something other goroutines do.
template <class Cond>
void os_wait_until(Cond cond) {
  while (!cond()) os_sleep_us(50);
}

gort::sched::scheduler& sched() { return *gort::sched::g_sched.load(std::memory_order_acquire); }

TEST_P(Blocking, ReturnsTheResultAndPropagatesExceptions) {
  run([] {
    EXPECT_EQ(gort::blocking([] { return 7; }), 7);
    int x = 1;
    int& r = gort::blocking_long([&]() -> int& { return x; });
    EXPECT_EQ(&r, &x);
    gort::blocking([] {});
    const std::uint64_t id = gort::this_goroutine::id();
    try {
      gort::blocking([]() -> int { throw std::runtime_error("boom"); });
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "boom");
    }
    EXPECT_EQ(gort::this_goroutine::id(), id);
    // Nested: the inner call runs as is.
    EXPECT_EQ(gort::blocking([] { return gort::blocking([] { return 3; }) + 1; }), 4);
    // The goroutine holds a processor again: it can park. (The closure holds references only: a
    // goroutine still finishing when main returns is abandoned without destroying its closure.)
    gort::wait_group parked;
    parked.add(1);
    gort::go([&parked] { parked.done(); });
    parked.wait();
    EXPECT_EQ(gort::stats().blocking, 0);
    EXPECT_GE(gort::stats().blocking_calls, 5u);
  });
  // A plain thread: just runs it.
  EXPECT_EQ(gort::blocking([] { return 9; }), 9);
}

TEST_P(Blocking, StatsCountTheGoroutineInsideTheCall) {
  run([] {
    std::int64_t inside = -1;
    gort::blocking([&] { inside = gort::stats().blocking; });
    EXPECT_EQ(inside, 1);
    EXPECT_EQ(gort::stats().blocking, 0);
  });
}

// A call that lasts loses its processor to sysmon (after 10 ms at the latest when nothing waits).
TEST_P(Blocking, SysmonRetakesTheProcessorOfALastingCall) {
  run([] {
    const std::uint64_t before = gort::stats().retakes;
    gort::blocking([&] { os_wait_until([&] { return gort::stats().retakes > before; }); });
    EXPECT_GT(gort::stats().retakes, before);
  });
}

// The other goroutines keep running while one blocks: here the blocked call waits for a byte
// that only another goroutine, queued behind it, writes. Without the hand-off this hangs at
// GOMAXPROCS 1.
TEST_P(Blocking, OtherGoroutinesRunWhileACallBlocks) {
  run([this] {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::uint64_t retakes = gort::stats().retakes;
    std::atomic<bool> inside{false};
    gort::wait_group wg;
    wg.add(2);
    gort::go([&] {  // the writer, queued first: it runs after the reader
      while (!inside.load()) gort::yield();
      char b = 'x';
      EXPECT_EQ(::write(fds[1], &b, 1), 1);
      wg.done();
    });
    gort::go([&] {  // the reader, in runnext: it runs first and blocks
      inside.store(true);
      char b = 0;
      const ssize_t n = gort::blocking([&] { return ::read(fds[0], &b, 1); });
      EXPECT_EQ(n, 1);
      EXPECT_EQ(b, 'x');
      wg.done();
    });
    wg.wait();
    ::close(fds[0]);
    ::close(fds[1]);
    // With one processor the writer could only run on the processor taken from the reader.
    if (procs() == 1) EXPECT_GT(gort::stats().retakes, retakes);
  });
}

// The call gives its processor up as it begins. (If sysmon had already taken the processor from
// the goroutine — its start ran 10 ms, as under TSan on a slow machine — the call has none left
// to give: that hand-off is sysmon's, counted as a runaway's.)
TEST_P(Blocking, LongCallHandsTheProcessorOffAtOnce) {
  run([] {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::uint64_t handoffs = gort::stats().handoffs + gort::stats().runaway_handoffs;
    gort::wait_group wg;
    wg.add(1);
    gort::go([&] {
      char b = 0;
      EXPECT_EQ(gort::blocking_long([&] { return ::read(fds[0], &b, 1); }), 1);
      wg.done();
    });
    gort::yield();  // let the reader block (it does not matter whether it did: nothing hangs)
    char b = 'y';
    EXPECT_EQ(::write(fds[1], &b, 1), 1);
    wg.wait();
    EXPECT_GT(gort::stats().handoffs + gort::stats().runaway_handoffs, handoffs);
    ::close(fds[0]);
    ::close(fds[1]);
  });
}

// Way 1: a short call finds its processor where it left it.
TEST_P(Blocking, ReturnTakesItsOwnProcessorBack) {
  run([] {
    const std::uint64_t own = sched().exits_own.load();
    for (int i = 0; i < 100; ++i) gort::blocking([] {});
    EXPECT_GT(sched().exits_own.load(), own);
  });
}

// Way 2: the processor was retaken and is idle again (nothing wanted it); another idle one (or
// the same) is taken on return.
TEST_P(Blocking, ReturnTakesAnIdleProcessor) {
  run([] {
    const std::uint64_t idle = sched().exits_idle.load();
    const std::uint64_t retakes = gort::stats().retakes;
    gort::blocking([&] {
      os_wait_until([&] {
        const gort::runtime_stats st = gort::stats();
        return st.retakes > retakes && st.idleprocs == st.gomaxprocs;
      });
    });
    EXPECT_EQ(sched().exits_idle.load(), idle + 1);
  });
}

// Way 3: every processor is busy when the call returns: the goroutine waits in the global queue
// (its thread parks) and runs once a processor is free. The busy goroutines spin without a
// scheduling point, so sysmon's runaway hand-off is turned off (it would free their processors).
TEST_P(Blocking, ReturnWithNoProcessorFreeQueuesTheGoroutine) {
  gort::options o;
  o.debug = "asyncpreemptoff=1";
  run([this] {
    const std::uint64_t queued = sched().exits_queued.load();
    std::atomic<bool> inside{false};
    std::atomic<int> spinning{0};
    gort::wait_group wg;
    wg.add(procs() + 1);
    gort::go([&] {  // enters its call first, returns once every processor is held
      const std::uint64_t id = gort::this_goroutine::id();
      gort::blocking([&] {
        inside.store(true);
        os_wait_until([&] { return spinning.load() == procs(); });
      });
      EXPECT_EQ(gort::this_goroutine::id(), id);
      wg.done();
    });
    while (!inside.load()) gort::yield();
    // The spinners are spawned from a plain thread, into the global queue: one spawned into a
    // local queue behind another spinner would wait for it forever (nothing preempts them here).
    std::thread spawner([&] {
      for (int i = 0; i < procs(); ++i) {
        gort::go([&] {  // holds a processor, without a scheduling point, until the caller queued
          spinning.fetch_add(1);
          while (sched().exits_queued.load() == queued) {
          }
          wg.done();
        });
      }
    });
    spawner.join();
    wg.wait();
    EXPECT_EQ(sched().exits_queued.load(), queued + 1);
  }, o);
}

// A burst of blocking calls needs a thread per call in progress; once idle, those threads end.
TEST_P(Blocking, BurstLeavesNoThreadBehind) {
  run([this] {
    const int baseline = gort_test::thread_count();
    const std::int64_t n = scaled(1000, 5);
    // The first k calls wait, on their threads, until k calls are in progress at once: more than
    // there are processors, so they get there only if sysmon hands the processors of calls in
    // progress to other machines (bounded, so a failure is reported rather than hung).
    const int k = procs() + 3;
    std::atomic<int> in_progress{0};
    std::atomic<int> peak{0};  // most calls in progress at once
    std::atomic<int> arrived{0};
    gort::wait_group wg;
    wg.add(n);
    for (std::int64_t i = 0; i < n; ++i) {
      gort::go([&] {
        gort::blocking([&] {
          const int now = in_progress.fetch_add(1) + 1;
          for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
          }
          if (arrived.fetch_add(1) < k) {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            os_wait_until(
                [&] { return peak.load() >= k || std::chrono::steady_clock::now() > deadline; });
          } else {
            os_sleep_us(2000);
          }
          in_progress.fetch_sub(1);
        });
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(gort::stats().blocking, 0);
    EXPECT_GE(peak.load(), k) << "calls in progress at once";
    // Idle machines leave after about a second. The ones still busy: this goroutine's, one
    // poller for its sleep, and a spinner or two per processor.
    while (gort_test::thread_count() > baseline + procs() + 2) {
      gort::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_LE(gort::stats().threads, procs() + 4);
  });
}

TEST(BlockingLimit, ExceedingMaxThreadsEndsTheProgramNamingTheLimit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        gort::run(
            [] {
              int fds[2];
              if (::pipe(fds) != 0) return;
              gort::wait_group wg;
              wg.add(8);
              for (int i = 0; i < 8; ++i) {
                gort::go([&] {
                  char b;
                  (void)gort::blocking_long([&] { return ::read(fds[0], &b, 1); });
                  wg.done();
                });
              }
              wg.wait();
            },
            {.maxprocs = 1, .max_threads = 4});
      },
      "program exceeds 4-thread limit \\(gort::options::max_threads\\)(.|\n)*fatal error: thread "
      "exhaustion");
}

TEST(BlockingLimit, MaxThreadsBelowTwoIsAConfigError) {
  EXPECT_THROW(gort::run([] {}, {.max_threads = 1}), gort::config_error);
}

// A goroutine spinning in pure C++ (no gort call at all) at one processor loses its processor after
// 10 ms; the ticker goroutine keeps ticking on another thread. Without the hand-off the spin, which
// waits for ticks, would never end.
TEST(Runaway, SpinningGoroutineDoesNotStopATickerAtOneProcessor) {
  if (!gort::sched::runaway_handoff_supported()) {
    GTEST_SKIP() << "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) is not available here";
  }
  for (int round = 0; round < 2; ++round) {  // twice: the spinner's thread gets a processor back
    gort::run(
        [] {
          std::atomic<int> ticks{0};
          std::atomic<bool> stop{false};
          gort::chan<int> armed(0);
          gort::wait_group wg;
          wg.add(1);
          gort::go([&] {
            gort::ticker t(std::chrono::milliseconds(1));
            armed.send(1);
            while (!stop.load()) {
              (void)t.c().recv();
              ticks.fetch_add(1);
            }
            wg.done();
          });
          (void)armed.recv();
          const std::uint64_t before = gort::stats().runaway_handoffs;
          while (ticks.load(std::memory_order_relaxed) < 20) {
          }
          stop.store(true);
          wg.wait();  // a gort call: the spinner takes a processor back
          EXPECT_GT(gort::stats().runaway_handoffs, before);
          // And it parks and runs goroutines as usual again.
          gort::wait_group again;
          again.add(1);
          gort::go([&again] { again.done(); });
          again.wait();
        },
        {.maxprocs = 1});
  }
}

// A goroutine that parks after sysmon took its processor parks from a machine without one (its
// switch finds no idle processor: the one processor runs the helper). gort::stats().parks counts
// that park too — a test waiting for N goroutines to park (parks) must not wait forever because
// one of them lost its processor on the way.
TEST(Runaway, AParkWithoutAProcessorIsCounted) {
  if (!gort::sched::runaway_handoff_supported()) {
    GTEST_SKIP() << "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) is not available here";
  }
  gort::run(
      [] {
        gort::detail::goroutine* const self = gort::detail::current();
        std::atomic<bool> helper_ran{false}, parked{false};
        std::atomic<std::uint64_t> base{0}, seen{0};
        gort::wait_group wg;
        wg.add(1);
        gort::go([&] {  // runs only once main lost the one processor
          helper_ran.store(true, std::memory_order_release);
          while (!parked.load(std::memory_order_acquire)) gort::yield();  // keeps the processor
          seen.store(gort::stats().parks);
          gort::detail::ready(self);
          wg.done();
        });
        while (!helper_ran.load(std::memory_order_acquire)) {  // pure C++: sysmon takes the P
        }
        base.store(gort::stats().parks);
        gort::detail::park(gort::detail::wait_reason::sleep, [&parked] {
          parked.store(true, std::memory_order_release);  // after the park was counted
          return true;
        });
        wg.wait();
        EXPECT_GT(seen.load(), base.load());
      },
      {.maxprocs = 1});
}

// gort::preempt_point: a loop that calls nothing else of gort still lets the others run.
TEST_P(Blocking, PreemptPointYieldsToWaitingGoroutines) {
  run([] {
    std::atomic<bool> done{false};
    gort::wait_group wg;
    wg.add(2);
    gort::go([&] {  // queued first, runs second at one processor
      done.store(true);
      wg.done();
    });
    gort::go([&] {
      while (!done.load()) gort::preempt_point();
      wg.done();
    });
    wg.wait();
  });
}

}  // namespace
