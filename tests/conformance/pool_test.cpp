// gort::pool, pool_with_func, multi_pool: ports of panjf2000/ants v2's tests (ants_test.go,
// multipool tests, worker_stack_test.go, worker_loop_queue_test.go (github.com/panjf2000/ants v2), ants'
// names kept in the test names), a test per fixed ants issue (#17/#73, #146, #197, #205, #237,
// #374), option validation, futures, plain-thread submitters, destruction, and a bounded stress
// test where submitters, tune, release and reboot race — at GOMAXPROCS 1, 2, 4 and 8.
//
// Synchronization in these tests is by wait_groups, channels and the pool's own counters (polled
// with yields); nothing sleeps to wait for something to happen. Sleeps appear only where time is
// what is tested (expiry, release timeouts, the idle-CPU check), with one-sided assertions and
// small durations. ants' 100 ms / 1 s tasks are scaled down.
//
// Every goroutine a test starts is joined before main returns (a goroutine left parked is
// abandoned without unwinding, which ASan reports as a leak).
#include <gtest/gtest.h>

#include <future>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sched/goroutine.hpp"
#include "sync/pool_workers.hpp"
#include "procs.hpp"

namespace {

using namespace std::chrono_literals;
using gort_test::procs_test;
using gort_test::scaled;

class Pool : public procs_test {};
GORT_INSTANTIATE_PROCS(Pool);

// ---- helpers ----

/// Yields until pred() holds; fails after 10 s (a hang, not a timing assumption).
template <class Pred>
::testing::AssertionResult eventually(Pred pred, const char* what) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return ::testing::AssertionFailure() << what << ": not within 10 s";
    }
    gort::yield();
  }
  return ::testing::AssertionSuccess();
}

/// A gate tasks wait on; open() releases all of them. Reusable only once.
class gate {
 public:
  gate() { wg_.add(1); }
  void wait() { wg_.wait(); }
  void open() { wg_.done(); }

 private:
  gort::wait_group wg_;
};

/// f() throws gort::config_error whose what() is exactly `message`.
template <class F>
::testing::AssertionResult config_error_with(F&& f, const std::string& message) {
  try {
    f();
  } catch (const gort::config_error& e) {
    if (e.what() == message) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "threw \"" << e.what() << "\", want \"" << message
                                         << "\"";
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-config_error: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw (want \"" << message << "\")";
}

/// A task's stand-in for work that takes time (or a poll interval where time is under test).
/// These tests also exercise gort::sleep_for's node-in-the-sleeper's-frame path under TSan: it
/// caught timer_start touching a node that had already fired (fixed in src/time/timers.cpp).
void nap(gort::clock::duration d) { gort::sleep_for(d); }

std::int64_t process_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

/// Tracks how many tasks run at once and the most ever seen.
struct concurrency {
  std::atomic<std::int64_t> now{0};
  std::atomic<std::int64_t> peak{0};
  void enter() {
    const std::int64_t n = now.fetch_add(1) + 1;
    std::int64_t p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void leave() { now.fetch_sub(1); }
};

// ---- error category ----

TEST(PoolErrors, MessagesAreAntsStrings) {
  EXPECT_STREQ(gort::pool_category().name(), "gort.pool");
  const std::error_code overload = gort::pool_errc::overload;
  EXPECT_EQ(overload.message(), "too many goroutines blocked on submit or Nonblocking is set");
  EXPECT_EQ(std::error_code(gort::pool_errc::closed).message(), "this pool has been closed");
  EXPECT_EQ(std::error_code(gort::pool_errc::timeout).message(), "operation timed out");
  EXPECT_EQ(std::error_code(gort::pool_errc::invalid_pool_index).message(), "invalid pool index");
  EXPECT_EQ(std::error_code(gort::pool_errc::lack_pool_func).message(),
            "must provide function for pool");
  EXPECT_EQ(std::error_code(gort::pool_errc::invalid_pool_expiry).message(),
            "invalid expiry for pool");
  EXPECT_EQ(std::error_code(gort::pool_errc::invalid_pre_alloc_size).message(),
            "can not set up a negative capacity under PreAlloc mode");
  EXPECT_EQ(std::error_code(gort::pool_errc::invalid_load_balancing_strategy).message(),
            "invalid load-balancing strategy");
  EXPECT_EQ(std::error_code(gort::pool_errc::invalid_multi_pool_size).message(),
            "invalid size for multiple pool");
  EXPECT_TRUE(std::error_code(gort::pool_errc::timeout) == std::errc::timed_out);
  EXPECT_TRUE(overload == std::errc::resource_unavailable_try_again);
}

// ---- options ----

TEST_P(Pool, BadOptions) {
  run([] {
    EXPECT_TRUE(config_error_with([] { gort::pool p({.expiry = -1ms}); }, "invalid expiry for pool"));
    EXPECT_TRUE(config_error_with([] { gort::pool p({.capacity = 0, .pre_alloc = true}); },
                                  "can not set up a negative capacity under PreAlloc mode"));
    EXPECT_TRUE(config_error_with([] { gort::pool p({.capacity = -5, .pre_alloc = true}); },
                                  "can not set up a negative capacity under PreAlloc mode"));
    EXPECT_TRUE(config_error_with([] { gort::pool p({.capacity = 2, .min_workers = 3}); },
                                  "invalid min_workers for pool: want 0 <= min_workers <= capacity"));
    EXPECT_TRUE(config_error_with([] { gort::pool p({.min_workers = -1}); },
                                  "invalid min_workers for pool: want 0 <= min_workers <= capacity"));
    EXPECT_TRUE(config_error_with([] { gort::pool p({.max_blocking_tasks = -1}); },
                                  "invalid max_blocking_tasks for pool: want >= 0 (0: unlimited)"));
    EXPECT_TRUE(config_error_with([] { gort::pool_with_func<int> p(nullptr); },
                                  "must provide function for pool"));
    EXPECT_TRUE(config_error_with(
        [] { gort::multi_pool m(0, gort::load_balancing::round_robin); },
        "invalid size for multiple pool"));
    EXPECT_TRUE(config_error_with(
        [] { gort::multi_pool m(2, static_cast<gort::load_balancing>(3)); },
        "invalid load-balancing strategy"));
    EXPECT_TRUE(config_error_with(
        [] { gort::multi_pool m(2, gort::load_balancing::least_tasks, {.expiry = -1s}); },
        "invalid expiry for pool"));
    // A negative expiry is accepted when purging is off (ants), and 0 means the default.
    gort::pool ok1({.expiry = -1s, .disable_purge = true});
    gort::pool ok2({.capacity = 3, .expiry = 0s});
    EXPECT_EQ(ok2.cap(), 3);
    EXPECT_EQ(ok2.capacity(), 3) << "capacity(), as chan::capacity(); cap() is ants' name";
    gort::pool unlimited({.capacity = -7});
    EXPECT_EQ(unlimited.cap(), -1);
    EXPECT_EQ(unlimited.capacity(), -1);
    gort::multi_pool mp(2, gort::load_balancing::round_robin, {.capacity = 3});
    EXPECT_EQ(mp.capacity(), 6);
    EXPECT_EQ(mp.cap(), 6);
  });
}

// ---- ants_test.go ----

// ants: a pool of 1000 runs 100,000 submissions of a 100 ms task; submitters block until workers
// free up and every task completes. Scaled: 50 workers, 2,000 tasks of 1 ms.
template <class MakePool, class Submit>
void wait_to_get_worker(MakePool make, Submit submit) {
  constexpr std::int64_t k_cap = 50;
  const std::int64_t tasks = scaled(2000, 4);
  concurrency c;
  gort::wait_group wg;
  std::atomic<std::int64_t> ran{0};
  auto p = make(k_cap, [&] {
    c.enter();
    nap(1ms);
    ran.fetch_add(1);
    c.leave();
    wg.done();
  });
  wg.add(tasks);
  for (std::int64_t i = 0; i < tasks; ++i) ASSERT_FALSE(submit(*p));
  wg.wait();
  EXPECT_EQ(ran.load(), tasks);
  EXPECT_LE(c.peak.load(), k_cap);
  EXPECT_LE(p->running(), k_cap);
  EXPECT_EQ(p->stats().submitted, static_cast<std::uint64_t>(tasks));
  EXPECT_FALSE(p->release_timeout(10s));
}

TEST_P(Pool, TestAntsPoolWaitToGetWorker) {
  run([] {
    std::function<void()> body;
    wait_to_get_worker(
        [&](std::int64_t cap, auto f) {
          body = f;
          return std::make_unique<gort::pool>(gort::pool_options{.capacity = cap});
        },
        [&](gort::pool& p) { return p.submit(body); });
  });
}

TEST_P(Pool, TestAntsPoolWaitToGetWorkerPreMalloc) {
  run([] {
    std::function<void()> body;
    wait_to_get_worker(
        [&](std::int64_t cap, auto f) {
          body = f;
          return std::make_unique<gort::pool>(
              gort::pool_options{.capacity = cap, .pre_alloc = true});
        },
        [&](gort::pool& p) { return p.submit(body); });
  });
}

TEST_P(Pool, TestAntsPoolWithFuncWaitToGetWorker) {
  run([] {
    wait_to_get_worker(
        [](std::int64_t cap, auto f) {
          return std::make_unique<gort::pool_with_func<int>>([f](int) { f(); },
                                                             gort::pool_options{.capacity = cap});
        },
        [](gort::pool_with_func<int>& p) { return p.invoke(1); });
  });
}

TEST_P(Pool, TestAntsPoolWithFuncGenericWaitToGetWorker) {
  struct job {
    std::string name;
    int n;
  };
  run([] {
    wait_to_get_worker(
        [](std::int64_t cap, auto f) {
          return std::make_unique<gort::pool_with_func<job>>(
              [f](job j) {
                EXPECT_EQ(j.name, "job");
                f();
              },
              gort::pool_options{.capacity = cap, .pre_alloc = true});
        },
        [](gort::pool_with_func<job>& p) { return p.invoke(job{"job", 1}); });
  });
}

// ants: workers are reused from the cache. gort: an idle worker takes the next task (LIFO).
TEST_P(Pool, TestAntsPoolGetWorkerFromCache) {
  run([] {
    gort::pool p;
    std::atomic<std::uint64_t> first{0}, second{0};
    gort::wait_group wg;
    wg.add(1);
    ASSERT_FALSE(p.submit([&] {
      first = gort::this_goroutine::id();
      wg.done();
    }));
    wg.wait();
    ASSERT_TRUE(eventually([&] { return p.stats().idle == 1; }, "the worker goes idle"));
    wg.add(1);
    ASSERT_FALSE(p.submit([&] {
      second = gort::this_goroutine::id();
      wg.done();
    }));
    wg.wait();
    EXPECT_EQ(first.load(), second.load()) << "the idle worker was reused";
    EXPECT_EQ(p.running(), 1);
  });
}

// ants: the handler is called once per panicking task, for Pool, PoolWithFunc, the generic one,
// with and without PreAlloc. gort differs: the worker survives the exception (ants' exits), so
// running() stays and the pool keeps serving.
template <class MakePool, class Submit>
void exception_handler_case(MakePool make, Submit submit) {
  constexpr int k_tasks = 20;
  std::atomic<int> handled{0};
  std::atomic<int> right_message{0};
  gort::wait_group wg;
  wg.add(k_tasks);
  auto handler = [&](std::exception_ptr e) {
    ++handled;
    try {
      std::rethrow_exception(e);
    } catch (const std::runtime_error& ex) {
      if (std::string(ex.what()) == "boom") ++right_message;
    }
    wg.done();
  };
  auto p = make(gort::pool_options{.capacity = 5, .exception_handler = handler});
  for (int i = 0; i < k_tasks; ++i) ASSERT_FALSE(submit(*p));
  wg.wait();
  EXPECT_EQ(handled.load(), k_tasks);
  EXPECT_EQ(right_message.load(), k_tasks);
  EXPECT_TRUE(eventually([&] { return p->stats().completed == k_tasks; }, "all completed"));
  EXPECT_EQ(p->stats().failed, static_cast<std::uint64_t>(k_tasks));
  EXPECT_LE(p->running(), 5);
  EXPECT_GT(p->running(), 0) << "workers survive an exception";
  EXPECT_FALSE(p->release_timeout(10s));
  EXPECT_EQ(p->running(), 0);
}

TEST_P(Pool, TestPanicHandler) {
  run([] {
    exception_handler_case([](gort::pool_options o) { return std::make_unique<gort::pool>(o); },
                           [](gort::pool& p) {
                             return p.submit([] { throw std::runtime_error("boom"); });
                           });
    exception_handler_case(
        [](gort::pool_options o) {
          return std::make_unique<gort::pool_with_func<int>>(
              [](int) { throw std::runtime_error("boom"); }, o);
        },
        [](gort::pool_with_func<int>& p) { return p.invoke(7); });
  });
}

TEST_P(Pool, TestPanicHandlerPreMalloc) {
  run([] {
    exception_handler_case(
        [](gort::pool_options o) {
          o.pre_alloc = true;
          return std::make_unique<gort::pool>(o);
        },
        [](gort::pool& p) { return p.submit([] { throw std::runtime_error("boom"); }); });
  });
}

// ants: without a handler the panic is logged and the process survives.
TEST_P(Pool, TestPoolPanicWithoutHandler) {
  run([] {
    std::mutex mu;
    std::vector<std::string> lines;
    gort::pool p({.capacity = 2, .logger = [&](std::string_view m) {
                    std::lock_guard<std::mutex> l(mu);
                    lines.emplace_back(m);
                  }});
    ASSERT_FALSE(p.submit([] { throw std::runtime_error("boom"); }));
    ASSERT_FALSE(p.submit([] { throw 42; }));
    ASSERT_TRUE(eventually([&] { return p.stats().failed == 2; }, "both failed"));
    std::atomic<bool> ran{false};
    ASSERT_FALSE(p.submit([&] { ran = true; }));
    EXPECT_FALSE(p.release_timeout(10s));
    EXPECT_TRUE(ran.load());
    std::lock_guard<std::mutex> l(mu);
    ASSERT_EQ(lines.size(), 2u);
    // One line each, in whichever order the two workers logged them.
    auto count = [&](const std::regex& re) {
      return std::count_if(lines.begin(), lines.end(),
                           [&](const std::string& l) { return std::regex_match(l, re); });
    };
    EXPECT_EQ(count(std::regex(R"(goroutine [0-9]+ \[pool task exception\]: boom)")), 1)
        << lines[0] << "\n" << lines[1];
    EXPECT_EQ(count(std::regex(R"(goroutine [0-9]+ \[pool task exception\]: unknown exception)")),
              1)
        << lines[0] << "\n" << lines[1];
  });
}

// ants: 500 workers become idle; after the expiry passes, Running() is 0. Scaled: 50 workers,
// expiry 30 ms. Time is what is tested here, so the test sleeps and asserts one-sidedly.
template <class MakePool, class Submit>
void purge_case(MakePool make, Submit submit) {
  constexpr std::int64_t k_workers = 50;
  constexpr auto k_expiry = 30ms;
  gate g;
  gort::wait_group started, finished;
  started.add(k_workers);
  finished.add(k_workers);
  auto p = make(k_expiry, [&] {
    started.done();
    g.wait();
    finished.done();
  });
  for (std::int64_t i = 0; i < k_workers; ++i) ASSERT_FALSE(submit(*p));
  started.wait();
  EXPECT_EQ(p->running(), k_workers);
  g.open();
  finished.wait();
  const auto idle_since = std::chrono::steady_clock::now();
  // Every live worker idle. On a slow machine the first to go idle may expire before the last
  // one gets there, so not all of them need to be alive.
  ASSERT_TRUE(eventually(
      [&] {
        const gort::pool_stats st = p->stats();
        return st.busy == 0 && st.idle == st.running;
      },
      "all idle"));
  if (std::chrono::steady_clock::now() - idle_since < k_expiry) {
    EXPECT_EQ(p->running(), k_workers) << "purged before the expiry";
  }
  // Stopped after between one and two expiries of idleness; allow a slow machine plenty.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (p->running() > 0 && std::chrono::steady_clock::now() < deadline) nap(5ms);
  EXPECT_EQ(p->running(), 0);
  EXPECT_EQ(p->free(), p->cap());
  // The pool still works after purging everything.
  gort::wait_group again;
  again.add(1);
  ASSERT_FALSE(submit(*p, [&] { again.done(); }));
  again.wait();
}

TEST_P(Pool, TestPurgePool) {
  run([] {
    std::function<void()> body;
    purge_case(
        [&](auto expiry, auto f) {
          body = f;
          return std::make_unique<gort::pool>(gort::pool_options{.capacity = 100, .expiry = expiry});
        },
        [&](gort::pool& p, std::function<void()> other = {}) {
          return p.submit(other ? other : body);
        });
  });
}

TEST_P(Pool, TestPurgePreMallocPool) {
  run([] {
    std::function<void()> body;
    purge_case(
        [&](auto expiry, auto f) {
          body = f;
          return std::make_unique<gort::pool>(
              gort::pool_options{.capacity = 100, .expiry = expiry, .pre_alloc = true});
        },
        [&](gort::pool& p, std::function<void()> other = {}) {
          return p.submit(other ? other : body);
        });
  });
}

TEST_P(Pool, TestPurgePoolWithFunc) {
  run([] {
    std::function<void()> body;
    purge_case(
        [&](auto expiry, auto f) {
          body = f;
          return std::make_unique<gort::pool_with_func<std::function<void()>>>(
              [](std::function<void()> fn) { fn(); },
              gort::pool_options{.capacity = 100, .expiry = expiry});
        },
        [&](gort::pool_with_func<std::function<void()>>& p, std::function<void()> other = {}) {
          return p.invoke(other ? other : body);
        });
  });
}

// min_workers are started up front and never purged.
TEST_P(Pool, MinWorkersAreKeptThroughPurges) {
  run([] {
    gort::pool p({.capacity = 10, .min_workers = 3, .expiry = 20ms});
    EXPECT_EQ(p.running(), 3);
    ASSERT_TRUE(eventually([&] { return p.stats().idle == 3; }, "min workers idle"));
    gate g;
    gort::wait_group started;
    started.add(8);
    for (int i = 0; i < 8; ++i) {
      ASSERT_FALSE(p.submit([&] {
        started.done();
        g.wait();
      }));
    }
    started.wait();
    EXPECT_EQ(p.running(), 8);
    g.open();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (p.running() > 3 && std::chrono::steady_clock::now() < deadline) nap(5ms);
    EXPECT_EQ(p.running(), 3);
    nap(60ms);  // three more purge passes: still 3
    EXPECT_EQ(p.running(), 3);
    EXPECT_FALSE(p.release_timeout(10s));
    EXPECT_EQ(p.running(), 0);
    p.reboot();
    EXPECT_EQ(p.running(), 3) << "reboot starts min_workers again";
  });
}

// ants: pool of 10, 10 long tasks; the 11th Submit is ErrPoolOverload; after one finishes
// Submit succeeds.
TEST_P(Pool, TestNonblockingSubmit) {
  run([] {
    constexpr int k_cap = 10;
    gort::pool p({.capacity = k_cap, .nonblocking = true});
    gate g;
    gort::wait_group started, finished;
    started.add(k_cap);
    finished.add(k_cap);
    for (int i = 0; i < k_cap - 1; ++i) {
      ASSERT_FALSE(p.submit([&] {
        started.done();
        g.wait();
        finished.done();
      }));
    }
    gate last;
    ASSERT_FALSE(p.submit([&] {
      started.done();
      last.wait();
      finished.done();
    }));
    started.wait();
    EXPECT_EQ(p.submit([] {}), gort::pool_errc::overload);
    EXPECT_EQ(p.stats().rejected, 1u);
    last.open();
    ASSERT_TRUE(eventually([&] { return p.stats().idle == 1; }, "one worker free"));
    gort::wait_group one;
    one.add(1);
    EXPECT_FALSE(p.submit([&] { one.done(); }));
    one.wait();
    g.open();
    finished.wait();
    EXPECT_FALSE(p.release_timeout(10s));
  });
}

// ants: MaxBlockingTasks = 1: one extra submitter blocks; the next gets ErrPoolOverload; the
// blocked one succeeds later. For Pool and PoolWithFunc.
template <class P, class Submit>
void max_blocking_case(P& p, gate& g, gort::wait_group& started, Submit submit) {
  started.wait();
  std::atomic<int> blocked_result{-1};
  gort::wait_group blocked_done;
  blocked_done.add(1);
  gort::go([&] {
    blocked_result = submit() ? 1 : 0;
    blocked_done.done();
  });
  ASSERT_TRUE(eventually([&] { return p.waiting() == 1; }, "one submitter waits"));
  EXPECT_EQ(submit(), gort::pool_errc::overload);
  g.open();
  blocked_done.wait();
  EXPECT_EQ(blocked_result.load(), 0) << "the blocked submitter is accepted";
  EXPECT_EQ(p.waiting(), 0);
  EXPECT_FALSE(p.release_timeout(10s));
}

TEST_P(Pool, TestMaxBlockingSubmit) {
  run([] {
    constexpr int k_cap = 10;
    gort::pool p({.capacity = k_cap, .max_blocking_tasks = 1});
    gate g;
    gort::wait_group started;
    started.add(k_cap);
    for (int i = 0; i < k_cap; ++i) {
      ASSERT_FALSE(p.submit([&] {
        started.done();
        g.wait();
      }));
    }
    max_blocking_case(p, g, started, [&] { return p.submit([] {}); });
  });
}

TEST_P(Pool, TestMaxBlockingSubmitWithFunc) {
  run([] {
    constexpr int k_cap = 10;
    gate g;
    gort::wait_group started;
    started.add(k_cap);
    gort::pool_with_func<bool> p(
        [&](bool block) {
          if (!block) return;
          started.done();
          g.wait();
        },
        {.capacity = k_cap, .max_blocking_tasks = 1});
    for (int i = 0; i < k_cap; ++i) ASSERT_FALSE(p.invoke(true));
    max_blocking_case(p, g, started, [&] { return p.invoke(false); });
  });
}

// ants: Release -> Submit gives ErrPoolClosed -> Reboot -> Submit works.
TEST_P(Pool, TestRebootNewPool) {
  run([] {
    gort::pool p({.capacity = 10});
    gort::wait_group wg;
    wg.add(1);
    ASSERT_FALSE(p.submit([&] { wg.done(); }));
    wg.wait();
    p.release();
    EXPECT_TRUE(p.is_closed());
    EXPECT_EQ(p.submit([] {}), gort::pool_errc::closed);
    p.reboot();
    EXPECT_FALSE(p.is_closed());
    wg.add(1);
    EXPECT_FALSE(p.submit([&] { wg.done(); }));
    wg.wait();

    gort::pool_with_func<int> pf([&](int) { wg.done(); }, {.capacity = 10});
    wg.add(1);
    ASSERT_FALSE(pf.invoke(1));
    wg.wait();
    pf.release();
    EXPECT_EQ(pf.invoke(1), gort::pool_errc::closed);
    pf.reboot();
    wg.add(1);
    EXPECT_FALSE(pf.invoke(1));
    wg.wait();
  });
}

// ants: tasks submitted across a ReleaseTimeout/Reboot cycle are all counted.
void reboot_calc_case(gort::pool_options o) {
  std::atomic<int> sum{0};
  const int n = static_cast<int>(scaled(1000, 5));
  gort::pool p(o);
  for (int i = 0; i < n; ++i) ASSERT_FALSE(p.submit([&] { sum.fetch_add(1); }));
  EXPECT_FALSE(p.release_timeout(10s));
  EXPECT_EQ(sum.load(), n);
  EXPECT_EQ(p.submit([&] { sum.fetch_add(1); }), gort::pool_errc::closed);
  p.reboot();
  for (int i = 0; i < n; ++i) ASSERT_FALSE(p.submit([&] { sum.fetch_add(1); }));
  EXPECT_FALSE(p.release_timeout(10s));
  EXPECT_EQ(sum.load(), 2 * n);
}

TEST_P(Pool, TestRebootNewPoolCalc) {
  run([] { reboot_calc_case({.capacity = 10}); });
}

TEST_P(Pool, TestRebootNewPoolWithPreAllocCalc) {
  run([] { reboot_calc_case({.capacity = 10, .pre_alloc = true}); });
}

// ants: NewPool(-1): a nested Submit runs on a second worker; Free() is -1; Tune(10) leaves
// Cap() at -1; PreAlloc with an unlimited size is ErrInvalidPreAllocSize.
TEST_P(Pool, TestInfinitePool) {
  run([] {
    gort::pool p({.capacity = -1});
    gate inner_may_finish;
    gort::wait_group both;
    both.add(2);
    ASSERT_FALSE(p.submit([&] {
      EXPECT_FALSE(p.submit([&] {
        inner_may_finish.wait();
        both.done();
      }));
      both.done();
    }));
    ASSERT_TRUE(eventually([&] { return p.stats().completed == 1; }, "the outer task finished"));
    EXPECT_EQ(p.running(), 2);
    inner_may_finish.open();
    both.wait();
    EXPECT_EQ(p.free(), -1);
    p.tune(10);
    EXPECT_EQ(p.cap(), -1);
    EXPECT_TRUE(config_error_with([] { gort::pool bad({.capacity = -1, .pre_alloc = true}); },
                                  "can not set up a negative capacity under PreAlloc mode"));
  });
}

TEST_P(Pool, TestInfinitePoolWithFunc) {
  run([] {
    gort::wait_group wg;
    std::unique_ptr<gort::pool_with_func<int>> p;
    gate inner_may_finish;
    p = std::make_unique<gort::pool_with_func<int>>(
        [&](int depth) {
          if (depth == 0) EXPECT_FALSE(p->invoke(1));
          if (depth == 1) inner_may_finish.wait();
          wg.done();
        },
        gort::pool_options{.capacity = 0});
    wg.add(2);
    ASSERT_FALSE(p->invoke(0));
    ASSERT_TRUE(eventually([&] { return p->stats().completed == 1; }, "the outer task finished"));
    EXPECT_EQ(p->running(), 2);
    inner_may_finish.open();
    wg.wait();
    EXPECT_EQ(p->free(), -1);
    p->tune(10);
    EXPECT_EQ(p->cap(), -1);
  });
}

// ants: with DisablePurge, workers stay Running() past the expiry; ReleaseTimeout brings Running
// to 0 and Free back to the capacity.
void disable_purge_case(gort::pool_options o) {
  constexpr int k_workers = 10;
  o.capacity = k_workers;
  o.disable_purge = true;
  gort::pool p(o);
  gort::wait_group wg;
  wg.add(k_workers);
  gate g;
  for (int i = 0; i < k_workers; ++i) {
    ASSERT_FALSE(p.submit([&] {
      g.wait();
      wg.done();
    }));
  }
  g.open();
  wg.wait();
  nap(100ms);  // several expiries (time under test)
  EXPECT_EQ(p.running(), k_workers);
  EXPECT_EQ(p.free(), 0);
  EXPECT_FALSE(p.release_timeout(10s));
  EXPECT_EQ(p.running(), 0);
  EXPECT_EQ(p.free(), k_workers);
}

TEST_P(Pool, TestWithDisablePurgePool) {
  run([] { disable_purge_case({}); });
}

TEST_P(Pool, TestWithDisablePurgeAndWithExpirationPool) {
  run([] { disable_purge_case({.expiry = 10ms}); });
}

TEST_P(Pool, TestWithDisablePurgePoolFunc) {
  run([] {
    constexpr int k_workers = 10;
    gort::wait_group wg;
    gate g;
    gort::pool_with_func<int> p(
        [&](int) {
          g.wait();
          wg.done();
        },
        {.capacity = k_workers, .expiry = 10ms, .disable_purge = true});
    wg.add(k_workers);
    for (int i = 0; i < k_workers; ++i) ASSERT_FALSE(p.invoke(i));
    g.open();
    wg.wait();
    nap(60ms);
    EXPECT_EQ(p.running(), k_workers);
    EXPECT_FALSE(p.release_timeout(10s));
    EXPECT_EQ(p.running(), 0);
    EXPECT_EQ(p.free(), k_workers);
  });
}

// ants: Release while tasks run; the running tasks complete; later submissions are refused.
template <class P, class Submit>
void release_when_running_case(P& p, gate& g, gort::wait_group& started, std::atomic<int>& done,
                               int n, Submit submit) {
  started.wait();
  p.release();
  EXPECT_TRUE(p.is_closed());
  EXPECT_EQ(submit(), gort::pool_errc::closed);
  EXPECT_EQ(done.load(), 0);
  g.open();
  ASSERT_TRUE(eventually([&] { return p.running() == 0; }, "workers exit after their task"));
  EXPECT_EQ(done.load(), n) << "running tasks complete after release";
  EXPECT_EQ(p.release_timeout(1s), gort::pool_errc::closed) << "already closed (ants)";
}

TEST_P(Pool, TestReleaseWhenRunningPool) {
  run([] {
    constexpr int k_n = 10;
    gort::pool p({.capacity = k_n});
    gate g;
    gort::wait_group started;
    std::atomic<int> done{0};
    started.add(k_n);
    for (int i = 0; i < k_n; ++i) {
      ASSERT_FALSE(p.submit([&] {
        started.done();
        g.wait();
        ++done;
      }));
    }
    release_when_running_case(p, g, started, done, k_n, [&] { return p.submit([] {}); });
  });
}

TEST_P(Pool, TestReleaseWhenRunningPoolWithFunc) {
  run([] {
    constexpr int k_n = 10;
    gate g;
    gort::wait_group started;
    std::atomic<int> done{0};
    started.add(k_n);
    gort::pool_with_func<int> p(
        [&](int) {
          started.done();
          g.wait();
          ++done;
        },
        {.capacity = k_n});
    for (int i = 0; i < k_n; ++i) ASSERT_FALSE(p.invoke(i));
    release_when_running_case(p, g, started, done, k_n, [&] { return p.invoke(0); });
  });
}

// ants: cap 2 -> Tune(3) -> 3 running; 5 blocked submitters + Tune(8) -> 8 running (#205: the
// blocked submitters start at once).
TEST_P(Pool, TestPoolTuneScaleUp) {
  run([] {
    gort::pool p({.capacity = 2});
    gate g;
    gort::wait_group started;
    started.add(2);
    auto blocker = [&] {
      started.done();
      g.wait();
    };
    ASSERT_FALSE(p.submit(blocker));
    ASSERT_FALSE(p.submit(blocker));
    started.wait();
    EXPECT_EQ(p.running(), 2);
    p.tune(3);
    EXPECT_EQ(p.cap(), 3);
    started.add(1);
    ASSERT_FALSE(p.submit(blocker));
    started.wait();
    EXPECT_EQ(p.running(), 3);

    // Five submitters block; Tune(8) lets all five in before it returns.
    gort::wait_group submitters;
    submitters.add(5);
    started.add(5);
    for (int i = 0; i < 5; ++i) {
      gort::go([&] {
        EXPECT_FALSE(p.submit(blocker));
        submitters.done();
      });
    }
    ASSERT_TRUE(eventually([&] { return p.waiting() == 5; }, "five submitters wait"));
    p.tune(8);
    EXPECT_EQ(p.waiting(), 0) << "tune() served the waiters synchronously";
    EXPECT_EQ(p.running(), 8);
    started.wait();
    submitters.wait();
    EXPECT_EQ(p.running(), 8);
    // Tuning a pre_alloc pool has no effect (ants).
    gort::pool fixed({.capacity = 4, .pre_alloc = true});
    fixed.tune(8);
    EXPECT_EQ(fixed.cap(), 4);
    g.open();
    EXPECT_FALSE(p.release_timeout(10s));
  });
}

// Shrinking: surplus idle workers stop at once, busy ones when they finish.
TEST_P(Pool, TunePoolScaleDown) {
  run([] {
    gort::pool p({.capacity = 6});
    gate g;
    gort::wait_group started, finished;
    started.add(6);
    finished.add(6);
    gate first_two;
    for (int i = 0; i < 6; ++i) {
      gate* which = i < 2 ? &first_two : &g;
      ASSERT_FALSE(p.submit([&, which] {
        started.done();
        which->wait();
        finished.done();
      }));
    }
    started.wait();
    first_two.open();
    ASSERT_TRUE(eventually([&] { return p.stats().idle == 2; }, "two workers idle"));
    p.tune(3);
    EXPECT_EQ(p.cap(), 3);
    EXPECT_EQ(p.stats().idle, 0) << "surplus idle workers stopped at once";
    EXPECT_EQ(p.running(), 4) << "busy workers finish first";
    g.open();
    finished.wait();
    ASSERT_TRUE(eventually([&] { return p.running() <= 3; }, "busy workers exit down to cap"));
    EXPECT_FALSE(p.release_timeout(10s));
  });
}

// ants: 5 one-second tasks, ReleaseTimeout(2s) returns nil. Scaled to 20 ms tasks; plus the
// timeout case.
TEST_P(Pool, TestReleaseTimeout) {
  run([] {
    gort::pool p({.capacity = 10});
    std::atomic<int> done{0};
    for (int i = 0; i < 5; ++i) {
      ASSERT_FALSE(p.submit([&] {
        nap(20ms);
        ++done;
      }));
    }
    EXPECT_FALSE(p.release_timeout(2s));
    EXPECT_EQ(done.load(), 5);
    EXPECT_EQ(p.running(), 0);
    EXPECT_EQ(p.release_timeout(2s), gort::pool_errc::closed);

    gort::pool q({.capacity = 10});
    gate g;
    gort::wait_group finished;
    finished.add(3);
    for (int i = 0; i < 3; ++i) {
      ASSERT_FALSE(q.submit([&] {
        g.wait();
        finished.done();
      }));
    }
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(q.release_timeout(20ms), gort::pool_errc::timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_TRUE(q.is_closed());
    g.open();
    finished.wait();  // the tasks still finish after the timeout
    ASSERT_TRUE(eventually([&] { return q.running() == 0; }, "workers exit"));
  });
}

// ---- multi-pool (ants' multipool tests) ----

template <class MP, class Submit>
void multi_pool_case(MP& mp, gate*& g, gort::wait_group& started, Submit submit) {
  constexpr int k_pools = 10, k_per_pool = 5;
  for (int round = 0; round < 2; ++round) {
    gate this_round;
    g = &this_round;
    started.add(k_pools * k_per_pool);
    for (int i = 0; i < k_pools * k_per_pool; ++i) ASSERT_FALSE(submit(mp));
    started.wait();
    EXPECT_EQ(mp.running(), k_pools * k_per_pool);
    EXPECT_EQ(mp.free(), 0);
    EXPECT_EQ(mp.cap(), k_pools * k_per_pool);
    EXPECT_EQ(mp.waiting(), 0);
    for (int i = 0; i < k_pools; ++i) {
      EXPECT_EQ(mp.running_by_index(i).value, k_per_pool);
      EXPECT_FALSE(mp.running_by_index(i).err);
      EXPECT_EQ(mp.free_by_index(i).value, 0);
      EXPECT_EQ(mp.waiting_by_index(i).value, 0);
    }
    for (std::int64_t bad : {std::int64_t{-1}, std::int64_t{k_pools}}) {
      EXPECT_EQ(mp.running_by_index(bad).err, gort::pool_errc::invalid_pool_index);
      EXPECT_EQ(mp.free_by_index(bad).err, gort::pool_errc::invalid_pool_index);
      EXPECT_EQ(mp.waiting_by_index(bad).err, gort::pool_errc::invalid_pool_index);
    }
    this_round.open();
    EXPECT_FALSE(mp.release_timeout(10s));
    EXPECT_TRUE(mp.is_closed());
    EXPECT_EQ(mp.running(), 0);
    EXPECT_EQ(mp.release_timeout(10s), gort::pool_errc::closed);
    EXPECT_EQ(submit(mp), gort::pool_errc::closed);
    mp.reboot();
    EXPECT_FALSE(mp.is_closed());
  }
}

TEST_P(Pool, TestMultiPool) {
  run([] {
    for (auto lb : {gort::load_balancing::round_robin, gort::load_balancing::least_tasks}) {
      gort::multi_pool mp(10, lb, {.capacity = 5, .nonblocking = true});
      gate* g = nullptr;
      gort::wait_group started;
      multi_pool_case(mp, g, started, [&](gort::multi_pool& m) {
        gate* this_gate = g;
        return m.submit([&started, this_gate] {
          started.done();
          this_gate->wait();
        });
      });
    }
  });
}

TEST_P(Pool, TestMultiPoolWithFunc) {
  run([] {
    for (auto lb : {gort::load_balancing::round_robin, gort::load_balancing::least_tasks}) {
      gate* g = nullptr;
      gort::wait_group started;
      gort::multi_pool_with_func<gate*> mp(
          10,
          [&](gate* which) {
            started.done();
            which->wait();
          },
          lb, {.capacity = 5, .nonblocking = true});
      multi_pool_case(mp, g, started,
                      [&](gort::multi_pool_with_func<gate*>& m) { return m.invoke(g); });
    }
  });
}

// Round robin starts with pool 0 and, after reboot, continues with pool 1 (ants); an overloaded
// round-robin pick retries once on the least-tasks pool; release errors are aggregated.
TEST_P(Pool, MultiPoolBalancingAndErrors) {
  run([] {
    gort::multi_pool mp(3, gort::load_balancing::round_robin,
                        {.capacity = 2, .expiry = 5ms, .nonblocking = true});
    gort::wait_group started;
    std::vector<std::unique_ptr<gate>> gates;
    auto submit_blocker = [&] {
      gates.push_back(std::make_unique<gate>());
      gate* g = gates.back().get();
      started.add(1);
      std::error_code e = mp.submit([&started, g] {
        started.done();
        g->wait();
      });
      if (e) started.done();
      else started.wait();
      return e;
    };
    ASSERT_FALSE(submit_blocker());  // pool 0
    EXPECT_EQ(mp.running_by_index(0).value, 1) << "the first pick is pool 0";
    ASSERT_FALSE(submit_blocker());  // pool 1
    ASSERT_FALSE(submit_blocker());  // pool 2
    ASSERT_FALSE(submit_blocker());  // pool 0: full
    ASSERT_FALSE(submit_blocker());  // pool 1: full
    ASSERT_FALSE(submit_blocker());  // pool 2: full
    EXPECT_EQ(mp.free(), 0);
    // Free a slot in pool 1 (its worker is purged), so that the next round-robin pick, pool 0,
    // is overloaded and the retry goes to the least-tasks pool, pool 1.
    gates[4]->open();
    ASSERT_TRUE(eventually([&] { return mp.running_by_index(1).value == 1; }, "pool 1 shrinks"));
    ASSERT_FALSE(submit_blocker()) << "retried on the least-tasks pool";
    EXPECT_EQ(mp.running_by_index(1).value, 2);
    EXPECT_EQ(mp.submit([] {}), gort::pool_errc::overload) << "every pool full";
    const gort::multi_pool_error e = mp.release_timeout(20ms);
    EXPECT_EQ(e, gort::pool_errc::timeout);
    EXPECT_EQ(e.message(),
              "pool 0: operation timed out | pool 1: operation timed out | pool 2: operation "
              "timed out");
    ASSERT_EQ(e.per_pool.size(), 3u);
    EXPECT_EQ(mp.release_timeout(20ms), gort::pool_errc::closed);
    for (auto& g : gates) {
      if (g.get() != gates[4].get()) g->open();
    }
    ASSERT_TRUE(eventually([&] { return mp.running() == 0; }, "all workers exit"));
    mp.reboot();
    ASSERT_FALSE(submit_blocker());
    EXPECT_EQ(mp.running_by_index(1).value, 1) << "after reboot the next pick is pool 1";
    gates.back()->open();
    EXPECT_EQ(mp.stats().rejected, 3u) << "per attempt: the round-robin pick, then its retry";
    EXPECT_FALSE(mp.release_timeout(10s));
    EXPECT_EQ(mp.stats().completed, 8u);
  });
}

// ---- worker_stack_test.go / worker_loop_queue_test.go ----
//
// gort's containers expire by purge passes instead of timestamps (pool_workers.hpp): an entry is
// expired when it was present at the previous pass and has not been taken since. ants' tests
// insert workers, sleep past the expiry, insert more and expect the first batch to expire; the
// ports call refresh() where ants sleeps.

struct fake_worker {
  int id;
};

TEST(PoolWorkerQueue, TestNewWorkerStack) {
  gort::detail::worker_stack<fake_worker> q;
  EXPECT_EQ(q.len(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.detach(), nullptr);
}

TEST(PoolWorkerQueue, TestWorkerStack) {
  gort::detail::worker_stack<fake_worker> q;
  std::vector<fake_worker> w(11);
  for (int i = 0; i < 11; ++i) w[static_cast<std::size_t>(i)].id = i;
  q.reserve(11);
  for (int i = 0; i < 5; ++i) q.insert(&w[static_cast<std::size_t>(i)]);
  EXPECT_EQ(q.len(), 5u);
  std::vector<int> expired;
  auto collect = [&](fake_worker* f) { expired.push_back(f->id); };
  EXPECT_EQ(q.refresh(100, collect), 0u) << "the first pass starts the interval";
  for (int i = 5; i < 11; ++i) q.insert(&w[static_cast<std::size_t>(i)]);
  EXPECT_EQ(q.len(), 11u);
  EXPECT_EQ(q.refresh(100, collect), 5u);
  EXPECT_EQ(expired, (std::vector<int>{0, 1, 2, 3, 4})) << "oldest first";
  EXPECT_EQ(q.len(), 6u);
  // LIFO: the most recently inserted comes out first.
  EXPECT_EQ(q.detach()->id, 10);
  EXPECT_EQ(q.len(), 5u);
}

// ants' TestSearch checks the binary search for the expiry index; the equivalent here is the
// low-water mark: entries taken since the previous pass (and re-inserted) are not expired, and
// the `limit` (min_workers) caps how many go.
TEST(PoolWorkerQueue, TestSearch) {
  gort::detail::worker_stack<fake_worker> q;
  std::vector<fake_worker> w(10);
  for (int i = 0; i < 10; ++i) w[static_cast<std::size_t>(i)].id = i;
  q.reserve(10);
  for (auto& f : w) q.insert(&f);
  std::vector<int> expired;
  auto collect = [&](fake_worker* f) { expired.push_back(f->id); };
  EXPECT_EQ(q.refresh(100, collect), 0u);
  // Take the top 4 and give them back: only the bottom 6 stayed idle the whole interval.
  std::vector<fake_worker*> taken;
  for (int i = 0; i < 4; ++i) taken.push_back(q.detach());
  for (auto it = taken.rbegin(); it != taken.rend(); ++it) q.insert(*it);
  EXPECT_EQ(q.refresh(100, collect), 6u);
  EXPECT_EQ(expired, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  // The rest expire at the next pass, but at most `limit` of them.
  expired.clear();
  EXPECT_EQ(q.refresh(3, collect), 3u);
  EXPECT_EQ(expired, (std::vector<int>{6, 7, 8}));
  EXPECT_EQ(q.len(), 1u);
  // Nothing present at a pass: nothing expires at the next.
  gort::detail::worker_stack<fake_worker> e;
  EXPECT_EQ(e.refresh(100, collect), 0u);
  EXPECT_EQ(e.refresh(100, collect), 0u);
}

TEST(PoolWorkerQueue, TestNewLoopQueue) {
  constexpr std::size_t k_size = 100;
  gort::detail::worker_loop_queue<fake_worker> q(k_size);
  EXPECT_EQ(q.len(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.detach(), nullptr);
  EXPECT_EQ(q.size(), k_size);
  gort::detail::worker_loop_queue<fake_worker> zero(0);
  fake_worker f{0};
  EXPECT_FALSE(zero.insert(&f)) << "a queue of size 0 accepts nothing";
}

TEST(PoolWorkerQueue, TestLoopQueue) {
  constexpr std::size_t k_size = 10;
  gort::detail::worker_loop_queue<fake_worker> q(k_size);
  std::vector<fake_worker> w(k_size + 1);
  for (std::size_t i = 0; i < w.size(); ++i) w[i].id = static_cast<int>(i);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(q.insert(&w[static_cast<std::size_t>(i)]));
  EXPECT_EQ(q.len(), 5u);
  std::vector<int> expired;
  auto collect = [&](fake_worker* f) { expired.push_back(f->id); };
  EXPECT_EQ(q.refresh(100, collect), 0u);
  for (std::size_t i = 5; i < k_size; ++i) EXPECT_TRUE(q.insert(&w[i]));
  EXPECT_EQ(q.len(), k_size);
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.insert(&w[k_size])) << "ants' errQueueIsFull";
  EXPECT_EQ(q.refresh(100, collect), 5u);
  EXPECT_EQ(expired, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(q.len(), 5u);
  // FIFO: the least recently used comes out first.
  EXPECT_EQ(q.detach()->id, 5);
  EXPECT_EQ(q.len(), 4u);
}

// ants' TestRotatedQueueSearch: the expiry split over a ring whose head has wrapped around.
TEST(PoolWorkerQueue, TestRotatedQueueSearch) {
  constexpr std::size_t k_size = 10;
  gort::detail::worker_loop_queue<fake_worker> q(k_size);
  std::vector<fake_worker> w(20);
  for (std::size_t i = 0; i < w.size(); ++i) w[i].id = static_cast<int>(i);
  std::vector<int> expired;
  auto collect = [&](fake_worker* f) { expired.push_back(f->id); };
  // Rotate: fill 8, take 7 (head at 7), then fill to 10 wrapping the tail.
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(q.insert(&w[static_cast<std::size_t>(i)]));
  for (int i = 0; i < 7; ++i) EXPECT_EQ(q.detach()->id, i);
  EXPECT_EQ(q.head_index(), 7u);
  EXPECT_EQ(q.refresh(100, collect), 0u);  // start an interval with 1 entry (id 7)
  for (int i = 8; i < 17; ++i) EXPECT_TRUE(q.insert(&w[static_cast<std::size_t>(i)]));
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.refresh(100, collect), 1u);
  EXPECT_EQ(expired, (std::vector<int>{7}));
  expired.clear();
  // Take 3 from the head (8, 9, 10): of the 9 present at the last pass, 6 stayed.
  for (int i = 8; i < 11; ++i) EXPECT_EQ(q.detach()->id, i);
  EXPECT_EQ(q.refresh(100, collect), 6u);
  EXPECT_EQ(expired, (std::vector<int>{11, 12, 13, 14, 15, 16}));
  EXPECT_TRUE(q.empty());
}

TEST(PoolWorkerQueue, TestRetrieveExpiry) {
  constexpr std::size_t k_size = 10;
  gort::detail::worker_loop_queue<fake_worker> q(k_size);
  std::vector<fake_worker> w(k_size);
  for (std::size_t i = 0; i < k_size; ++i) w[i].id = static_cast<int>(i);
  std::vector<int> expired;
  auto collect = [&](fake_worker* f) { expired.push_back(f->id); };
  for (auto& f : w) EXPECT_TRUE(q.insert(&f));
  EXPECT_EQ(q.refresh(100, collect), 0u);
  EXPECT_EQ(q.refresh(100, collect), k_size) << "all idle for a whole interval";
  EXPECT_EQ(q.len(), 0u);
  // reset() hands out everything (release).
  for (auto& f : w) EXPECT_TRUE(q.insert(&f));
  std::size_t n = 0;
  q.reset([&](fake_worker*) { ++n; });
  EXPECT_EQ(n, k_size);
  EXPECT_TRUE(q.empty());
}

TEST(PoolWorkerQueue, PointerSet) {
  gort::detail::pointer_set s;
  std::vector<std::unique_ptr<int>> items;
  for (int i = 0; i < 1000; ++i) items.push_back(std::make_unique<int>(i));
  s.reserve(400);
  for (int i = 0; i < 400; ++i) s.insert(items[static_cast<std::size_t>(i)].get());
  // Growing by adopting storage made outside the lock keeps every entry.
  auto more = gort::detail::pointer_set::make_storage(1000);
  s.adopt(more);
  EXPECT_GE(s.room(), 1000u);
  for (int i = 0; i < 400; ++i) EXPECT_TRUE(s.contains(items[static_cast<std::size_t>(i)].get()));
  for (std::size_t i = 400; i < items.size(); ++i) s.insert(items[i].get());
  EXPECT_EQ(s.size(), 1000u);
  for (auto& p : items) EXPECT_TRUE(s.contains(p.get()));
  for (std::size_t i = 0; i < items.size(); i += 2) s.erase(items[i].get());
  EXPECT_EQ(s.size(), 500u);
  for (std::size_t i = 0; i < items.size(); ++i) EXPECT_EQ(s.contains(items[i].get()), i % 2 == 1);
  int other = 0;
  EXPECT_FALSE(s.contains(&other));
  s.erase(&other);
  EXPECT_EQ(s.size(), 500u);
}

TEST(PoolWorkerQueue, TaskStorage) {
  using gort::detail::pool_task;
  static_assert(pool_task::stored_inline<decltype([a = 1, b = 2.0, c = (void*)nullptr] {
    (void)a, (void)b, (void)c;
  })>);
  struct big {
    char data[64];
    void operator()() {}
  };
  static_assert(!pool_task::stored_inline<big>);
  int ran = 0;
  auto owned = std::make_unique<int>(5);
  pool_task t([&ran, p = std::move(owned)] { ran += *p; });  // move-only, inline
  pool_task u(std::move(t));
  EXPECT_FALSE(t);
  ASSERT_TRUE(u);
  u.run();
  EXPECT_FALSE(u);
  EXPECT_EQ(ran, 5);
  pool_task h(big{});
  pool_task h2;
  h2 = std::move(h);
  EXPECT_TRUE(h2);
  h2.run();
  pool_task thrower([] { throw std::runtime_error("x"); });
  EXPECT_THROW(thrower.run(), std::runtime_error);
  EXPECT_FALSE(thrower) << "emptied even when the callable throws";
}

// A five-word task (a few references and an index, the usual capture list) is stored in the task
// without allocating, and the worker goroutine that runs it, whose closure is the pool pointer
// plus that task, keeps its closure in the goroutine record: a submission allocates nothing.
TEST_P(Pool, AFiveWordTaskAndItsWorkerAllocateNothing) {
  using gort::detail::pool_task;
  run([] {
    std::uint64_t a = 1, b = 2, c = 3, d = 4;  // not constants: each is captured
    struct {
      bool inline_closure = false;
      bool heap_closure = true;
      std::uint64_t sum = 0;
    } seen;
    auto task = [&seen, a, b, c, d] {
      const gort::detail::goroutine* g = gort::detail::current();
      seen.inline_closure = g->closure == static_cast<const void*>(g->inline_closure);
      seen.heap_closure = (g->flags & gort::detail::goroutine::k_heap_closure) != 0;
      seen.sum = a + b + c + d;
    };
    static_assert(sizeof(task) == 5 * sizeof(void*));
    static_assert(pool_task::stored_inline<decltype(task)>);
    gort::pool p({.capacity = 1});
    ASSERT_FALSE(p.submit(task));
    ASSERT_FALSE(p.release_timeout(std::chrono::minutes(1)));
    EXPECT_EQ(seen.sum, 10u);
    EXPECT_TRUE(seen.inline_closure);
    EXPECT_FALSE(seen.heap_closure);
  });
}

// ---- fixed ants issues ----

// #17, #73: graceful shutdown. release_timeout returns only when every accepted task has
// finished; a refused task never runs.
TEST_P(Pool, Ants17And73GracefulReleaseRunsEveryAcceptedTask) {
  run([] {
    const int k_tasks = static_cast<int>(scaled(400, 4));
    gort::pool p({.capacity = 8});
    std::vector<std::atomic<int>> ran(static_cast<std::size_t>(k_tasks));
    std::vector<std::atomic<int>> accepted(static_cast<std::size_t>(k_tasks));
    gort::wait_group submitters;
    constexpr int k_submitters = 4;
    submitters.add(k_submitters);
    std::atomic<int> next{0};
    for (int s = 0; s < k_submitters; ++s) {
      gort::go([&] {
        for (int i; (i = next.fetch_add(1)) < k_tasks;) {
          auto e = p.submit([&ran, i] {
            nap(100us);
            ran[static_cast<std::size_t>(i)].fetch_add(1);
          });
          accepted[static_cast<std::size_t>(i)] = e ? 0 : 1;
          if (e) EXPECT_EQ(e, gort::pool_errc::closed);
        }
        submitters.done();
      });
    }
    ASSERT_TRUE(eventually([&] { return next.load() >= k_tasks / 2; }, "half submitted"));
    EXPECT_FALSE(p.release_timeout(10s));
    // Everything accepted has run by now (submitters still running only get `closed`).
    int accepted_before = 0;
    for (int i = 0; i < k_tasks; ++i) {
      if (accepted[static_cast<std::size_t>(i)].load() == 1) {
        ++accepted_before;
        EXPECT_EQ(ran[static_cast<std::size_t>(i)].load(), 1) << "task " << i;
      }
    }
    EXPECT_GT(accepted_before, 0);
    submitters.wait();
    for (int i = 0; i < k_tasks; ++i) {
      EXPECT_EQ(ran[static_cast<std::size_t>(i)].load(), accepted[static_cast<std::size_t>(i)].load())
          << "task " << i;
    }
    EXPECT_EQ(p.stats().submitted + p.stats().rejected, static_cast<std::uint64_t>(k_tasks));
  });
}

// #146: all workers throwing must not strand blocked submitters.
TEST_P(Pool, Ants146ThrowingTasksNeverStrandSubmitters) {
  run([] {
    constexpr int k_submitters = 20, k_each = 10;
    std::atomic<int> handled{0};
    gort::pool p({.capacity = 2, .exception_handler = [&](std::exception_ptr) { ++handled; }});
    gort::wait_group wg;
    wg.add(k_submitters);
    for (int s = 0; s < k_submitters; ++s) {
      gort::go([&] {
        for (int i = 0; i < k_each; ++i) {
          EXPECT_FALSE(p.submit([] { throw std::logic_error("every task throws"); }));
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_FALSE(p.release_timeout(10s));
    EXPECT_EQ(handled.load(), k_submitters * k_each);
    EXPECT_EQ(p.stats().failed, static_cast<std::uint64_t>(k_submitters * k_each));
  });
}

// #197: a task submitting into its own full pool runs the new task inline instead of waiting
// for itself.
TEST_P(Pool, Ants197SubmitFromOwnFullPoolRunsInline) {
  run([] {
    gort::pool p({.capacity = 1});
    std::atomic<int> depth_reached{0};
    std::atomic<std::uint64_t> outer_g{0}, inner_g{0};
    std::function<void(int)> nest = [&](int depth) {
      depth_reached = std::max(depth_reached.load(), depth);
      if (depth == 0) outer_g = gort::this_goroutine::id();
      if (depth == 3) {
        inner_g = gort::this_goroutine::id();
        return;
      }
      EXPECT_FALSE(p.submit([&, depth] { nest(depth + 1); }));
    };
    gort::wait_group wg;
    wg.add(1);
    ASSERT_FALSE(p.submit([&] {
      nest(0);
      wg.done();
    }));
    wg.wait();
    EXPECT_EQ(depth_reached.load(), 3);
    EXPECT_EQ(inner_g.load(), outer_g.load()) << "run inline on the submitting worker";
    EXPECT_EQ(p.stats().inline_runs, 3u);
    EXPECT_EQ(p.stats().submitted, 4u);
    EXPECT_LE(p.running(), 1);

    // A future submitted from inside a full pool is ready at once (no deadlock in get()).
    gort::pool q({.capacity = 2});
    gort::wait_group done;
    done.add(2);
    for (int i = 0; i < 2; ++i) {
      ASSERT_FALSE(q.submit([&] {
        auto f = q.submit_future([] { return 7; });
        EXPECT_EQ(f.get(), 7);
        done.done();
      }));
    }
    done.wait();
    // A nonblocking pool keeps ants' answer: overload.
    gort::pool nb({.capacity = 1, .nonblocking = true});
    gort::wait_group nb_done;
    nb_done.add(1);
    ASSERT_FALSE(nb.submit([&] {
      EXPECT_EQ(nb.submit([] {}), gort::pool_errc::overload);
      nb_done.done();
    }));
    nb_done.wait();
  });
}

// #205 is TestPoolTuneScaleUp. #237: a blocked submit gives up when its context is cancelled,
// and its task never runs.
TEST_P(Pool, Ants237SubmitWithContext) {
  run([] {
    gort::pool p({.capacity = 1});
    gate g;
    gort::wait_group started;
    started.add(1);
    ASSERT_FALSE(p.submit([&] {
      started.done();
      g.wait();
    }));
    started.wait();
    std::atomic<bool> ran{false};
    {
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      std::error_code result;
      gort::wait_group returned;
      returned.add(1);
      gort::go([&, ctx = ctx] {
        result = p.submit(ctx, [&] { ran = true; });
        returned.done();
      });
      ASSERT_TRUE(eventually([&] { return p.waiting() == 1; }, "the submitter waits"));
      cancel();
      returned.wait();
      EXPECT_EQ(result, gort::errc::canceled);
      EXPECT_EQ(p.waiting(), 0);
    }
    {
      auto [ctx, cancel] = gort::with_timeout(gort::background(), 10ms);
      EXPECT_EQ(p.submit(ctx, [&] { ran = true; }), gort::errc::deadline_exceeded);
      EXPECT_EQ(p.submit(ctx, [&] { ran = true; }), gort::errc::deadline_exceeded)
          << "already done: not attempted";
    }
    {
      // A context that cannot be cancelled behaves like submit(); with room it is accepted.
      gort::pool roomy({.capacity = 2});
      gort::wait_group one;
      one.add(1);
      EXPECT_FALSE(roomy.submit(gort::background(), [&] { one.done(); }));
      one.wait();
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      one.add(1);
      EXPECT_FALSE(roomy.submit(ctx, [&] { one.done(); }));
      one.wait();
      cancel();
    }
    g.open();
    EXPECT_FALSE(p.release_timeout(10s));
    EXPECT_FALSE(ran.load()) << "a task whose submit gave up never runs";
    EXPECT_EQ(p.stats().rejected, 3u);
  });
}

// #237 racing: context-aware submitters with short timeouts against workers finishing. Every
// accepted task runs exactly once; every refused one never.
TEST_P(Pool, Ants237ContextRaceRunsAcceptedExactlyOnce) {
  run([] {
    const int k_tasks = static_cast<int>(scaled(2000, 10));
    gort::pool p({.capacity = 2});
    std::vector<std::atomic<int>> ran(static_cast<std::size_t>(k_tasks));
    std::vector<int> accepted(static_cast<std::size_t>(k_tasks), -1);
    gort::wait_group wg;
    constexpr int k_submitters = 8;
    wg.add(k_submitters);
    for (int s = 0; s < k_submitters; ++s) {
      gort::go([&, s] {
        for (int i = s; i < k_tasks; i += k_submitters) {
          auto [ctx, cancel] = gort::with_timeout(gort::background(), 50us);
          std::error_code e = p.submit(ctx, [&ran, i] {
            nap(20us);
            ran[static_cast<std::size_t>(i)].fetch_add(1);
          });
          accepted[static_cast<std::size_t>(i)] = e ? 0 : 1;
          if (e) EXPECT_EQ(e, gort::errc::deadline_exceeded);
          cancel();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_FALSE(p.release_timeout(10s));
    std::uint64_t n_accepted = 0;
    for (int i = 0; i < k_tasks; ++i) {
      EXPECT_EQ(ran[static_cast<std::size_t>(i)].load(), accepted[static_cast<std::size_t>(i)])
          << "task " << i;
      n_accepted += accepted[static_cast<std::size_t>(i)] == 1 ? 1 : 0;
    }
    EXPECT_EQ(p.stats().submitted, n_accepted);
    EXPECT_EQ(p.stats().rejected, static_cast<std::uint64_t>(k_tasks) - n_accepted);
  });
}

// #374: running() never exceeds cap(), with many concurrent submitters.
TEST_P(Pool, Ants374RunningNeverExceedsCap) {
  run([] {
    constexpr std::int64_t k_cap = 4;
    const int k_each = static_cast<int>(scaled(500, 5));
    constexpr int k_submitters = 16;
    gort::pool p({.capacity = k_cap, .expiry = 1ms});  // purge churns workers too
    concurrency c;
    std::atomic<bool> over{false};
    std::atomic<bool> stop{false};
    gort::wait_group wg, monitor;
    wg.add(k_submitters);
    monitor.add(1);
    gort::go([&] {
      while (!stop.load()) {
        if (p.running() > p.cap()) over = true;
        gort::yield();
      }
      monitor.done();
    });
    for (int s = 0; s < k_submitters; ++s) {
      gort::go([&] {
        for (int i = 0; i < k_each; ++i) {
          EXPECT_FALSE(p.submit([&] {
            c.enter();
            if (p.running() > k_cap) over = true;
            gort::yield();
            c.leave();
          }));
        }
        wg.done();
      });
    }
    wg.wait();
    stop = true;
    monitor.wait();
    EXPECT_FALSE(over.load());
    EXPECT_LE(c.peak.load(), k_cap);
    EXPECT_FALSE(p.release_timeout(10s));
    EXPECT_EQ(p.stats().completed, static_cast<std::uint64_t>(k_submitters * k_each));
  });
}

// ---- futures ----

TEST_P(Pool, SubmitFuture) {
  run([] {
    gort::pool p({.capacity = 2});
    auto f = p.submit_future([] { return std::string("forty-two"); });
    EXPECT_EQ(f.get(), "forty-two");
    EXPECT_FALSE(f.valid());
    auto v = p.submit_future([] {});
    v.wait();
    EXPECT_TRUE(v.is_ready());
    v.get();
    auto t = p.submit_future([]() -> int { throw std::out_of_range("nope"); });
    EXPECT_THROW(t.get(), std::out_of_range);
    EXPECT_EQ(p.stats().failed, 0u) << "an exception delivered to a future is not a failure";
    auto move_only = p.submit_future([] { return std::make_unique<int>(3); });
    EXPECT_EQ(*move_only.get(), 3);
    // Waiting for a future parks only the goroutine: a blocked get() lets the task run even on
    // one processor.
    gate g;
    auto slow = p.submit_future([&] {
      g.wait();
      return 1;
    });
    gort::go([&] { g.open(); });
    EXPECT_EQ(slow.get(), 1);
    p.release();
    auto refused = p.submit_future([] { return 1; });
    ASSERT_TRUE(refused.is_ready());
    try {
      (void)refused.get();
      ADD_FAILURE() << "no exception";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), gort::pool_errc::closed);
    }
  });
}

TEST_P(Pool, PromiseAndFuture) {
  run([] {
    gort::promise<int> pr;
    auto f = pr.get_future();
    EXPECT_THROW((void)pr.get_future(), std::future_error);
    gort::go([pr = std::move(pr)]() mutable { pr.set_value(5); });
    EXPECT_EQ(f.get(), 5);
    gort::future<int> broken;
    {
      gort::promise<int> p2;
      broken = p2.get_future();
    }
    try {
      (void)broken.get();
      ADD_FAILURE() << "no exception";
    } catch (const std::future_error& e) {
      EXPECT_EQ(e.code(), std::future_errc::broken_promise);
    }
    int x = 9;
    gort::promise<int&> pr_ref;
    auto fr = pr_ref.get_future();
    pr_ref.set_value(x);
    EXPECT_EQ(&fr.get(), &x);
    gort::promise<void> pv;
    auto fv = pv.get_future();
    pv.set_value();
    EXPECT_THROW(pv.set_value(), std::future_error);
    fv.get();
  });
}

// ---- plain threads, destruction, counters, idleness ----

TEST_P(Pool, PlainThreadSubmittersBlockWhenFull) {
  run([] {
    gort::pool p({.capacity = 2});
    const int k_each = static_cast<int>(scaled(200, 4));
    std::atomic<int> ran{0};
    concurrency c;
    std::vector<std::thread> threads;
    gort::wait_group threads_done;  // parks this goroutine; join() would hold its processor
    threads_done.add(3);
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < k_each; ++i) {
          EXPECT_FALSE(p.submit([&] {
            c.enter();
            gort::yield();
            ++ran;
            c.leave();
          }));
        }
        threads_done.done();
      });
    }
    threads_done.wait();
    for (auto& t : threads) t.join();
    EXPECT_FALSE(p.release_timeout(10s));
    EXPECT_EQ(ran.load(), 3 * k_each);
    EXPECT_LE(c.peak.load(), 2);
  });
}

// Destroying a pool runs every accepted task and waits for every worker.
TEST_P(Pool, DestructorWaitsForAcceptedTasks) {
  run([] {
    std::atomic<int> ran{0};
    const std::int64_t goroutines_before = gort::num_goroutines();
    {
      gort::pool p({.capacity = 4});
      for (int i = 0; i < 20; ++i) {
        ASSERT_FALSE(p.submit([&] {
          nap(200us);
          ++ran;
        }));
      }
    }
    EXPECT_EQ(ran.load(), 20);
    EXPECT_TRUE(eventually([&] { return gort::num_goroutines() <= goroutines_before; },
                           "no worker left behind"));
  });
}

// A pool destroyed by one of its own tasks does not wait for itself; the last worker frees it.
TEST_P(Pool, DestroyedFromItsOwnTask) {
  run([] {
    const std::int64_t goroutines_before = gort::num_goroutines();
    auto* p = new gort::pool({.capacity = 4});
    gate others;
    gort::wait_group all;
    std::atomic<int> ran{0};
    all.add(3);
    for (int i = 0; i < 2; ++i) {
      ASSERT_FALSE(p->submit([&] {
        others.wait();
        ++ran;
        all.done();
      }));
    }
    ASSERT_FALSE(p->submit([&] {
      delete p;  // release + no wait: the two others still run
      others.open();
      ++ran;
      all.done();
    }));
    all.wait();
    EXPECT_EQ(ran.load(), 3);
    // The workers exit after their tasks' done(), the last one freeing the pool's core; returning
    // before they have would abandon them (Go's exit semantics) holding it, which LSan reports.
    EXPECT_TRUE(eventually([&] { return gort::num_goroutines() <= goroutines_before; },
                           "every worker exits"));
  });
}

TEST_P(Pool, StatsCountEveryOutcome) {
  run([] {
    gort::pool p({.capacity = 2, .nonblocking = true, .exception_handler = [](std::exception_ptr) {}});
    gate g;
    gort::wait_group started;
    started.add(2);
    ASSERT_FALSE(p.submit([&] {
      started.done();
      g.wait();
    }));
    ASSERT_FALSE(p.submit([&] {
      started.done();
      g.wait();
      throw std::runtime_error("x");
    }));
    started.wait();
    EXPECT_EQ(p.submit([] {}), gort::pool_errc::overload);
    auto s = p.stats();
    EXPECT_EQ(s.submitted, 2u);
    EXPECT_EQ(s.completed, 0u);
    EXPECT_EQ(s.rejected, 1u);
    EXPECT_EQ(s.running, 2);
    EXPECT_EQ(s.busy, 2);
    EXPECT_EQ(s.idle, 0);
    EXPECT_EQ(s.waiting, 0);
    g.open();
    ASSERT_TRUE(eventually([&] { return p.stats().idle == 2; }, "both idle"));
    s = p.stats();
    EXPECT_EQ(s.completed, 2u);
    EXPECT_EQ(s.failed, 1u);
    EXPECT_EQ(s.busy, 0);
    EXPECT_FALSE(p.release_timeout(10s));
    EXPECT_EQ(p.submit([] {}), gort::pool_errc::closed);
    EXPECT_EQ(p.stats().rejected, 2u);
  });
}

// No CPU burn while idle: idle workers park, and the purge timer ticks once per expiry.
TEST_P(Pool, IdlePoolUsesNoCpu) {
  if (gort_test::k_sanitized) GTEST_SKIP() << "sanitizer runtimes have background threads";
  run([] {
    gort::pool p({.capacity = 64, .expiry = 10s});
    gort::wait_group wg;
    wg.add(64);
    gate g;
    for (int i = 0; i < 64; ++i) {
      ASSERT_FALSE(p.submit([&] {
        g.wait();
        wg.done();
      }));
    }
    g.open();
    wg.wait();
    ASSERT_TRUE(eventually([&] { return p.stats().idle == 64; }, "all idle"));
    gort::wait_group measured;
    measured.add(1);
    std::int64_t before = 0, after = 0;
    std::thread t([&] {
      std::this_thread::sleep_for(50ms);  // the measurement window, not synchronization
      before = process_cpu_ns();
      std::this_thread::sleep_for(200ms);
      after = process_cpu_ns();
      measured.done();
    });
    measured.wait();
    t.join();
    EXPECT_LT(after - before, 15'000'000) << "ns of CPU while the pool idles";
    EXPECT_EQ(p.running(), 64);
  });
}

// ---- stress ----

// Submitters (blocking, nonblocking-by-context and futures), tune, release and reboot race for a
// bounded time. Every accepted task runs exactly once, every refused one never, running() stays
// within the largest capacity ever set, and the pool ends drained.
TEST_P(Pool, StressSubmitTuneReleaseReboot) {
  run([this] {
    const auto k_duration = gort_test::k_sanitized ? 300ms : 400ms;
    constexpr std::int64_t k_max_cap = 16;
    constexpr int k_submitters = 6;
    constexpr int k_per_submitter = 1 << 18;
    gort::pool p({.capacity = 8, .expiry = 2ms, .max_blocking_tasks = 4});
    std::vector<std::atomic<std::uint8_t>> ran(static_cast<std::size_t>(k_submitters) *
                                               k_per_submitter);
    std::vector<std::uint8_t> accepted(ran.size(), 0);
    std::atomic<bool> stop{false};
    std::atomic<bool> over{false};
    std::atomic<int> counts[k_submitters] = {};
    gort::wait_group wg;
    wg.add(k_submitters + 1);
    for (int s = 0; s < k_submitters; ++s) {
      gort::go([&, s] {
        int i = 0;
        for (; i < k_per_submitter && !stop.load(std::memory_order_relaxed); ++i) {
          const std::size_t id = static_cast<std::size_t>(s) * k_per_submitter + i;
          auto task = [&ran, &p, &over, id] {
            if (p.running() > k_max_cap) over = true;
            ran[id].fetch_add(1, std::memory_order_relaxed);
            if (id % 7 == 0) gort::yield();
          };
          std::error_code e;
          if (i % 5 == 4) {
            auto [ctx, cancel] = gort::with_timeout(gort::background(), 100us);
            e = p.submit(ctx, task);
            cancel();
          } else {
            e = p.submit(task);
          }
          accepted[id] = e ? 0 : 1;
          if (e) {
            EXPECT_TRUE(e == gort::pool_errc::closed || e == gort::pool_errc::overload ||
                        e == gort::errc::deadline_exceeded)
                << e.message();
            gort::yield();  // back off like a client would (a refusal does not park)
          }
        }
        counts[s] = i;
        wg.done();
      });
    }
    gort::go([&] {
      std::uint32_t r = 1;
      int round = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        r = r * 1103515245u + 12345u;
        switch ((r >> 16) % 5) {
          case 0:
          case 1: p.tune(1 + static_cast<std::int64_t>((r >> 8) % k_max_cap)); break;
          case 2: p.release(); break;
          case 3: (void)p.release_timeout(1ms); break;
          default: p.reboot(); break;
        }
        if (++round % 4 == 0) gort::yield();
        nap(50us);
      }
      p.reboot();
      wg.done();
    });
    nap(k_duration);  // the stress window (time bounds the test)
    stop = true;
    wg.wait();
    EXPECT_FALSE(p.release_timeout(10s)) << "at procs " << procs();
    EXPECT_FALSE(over.load()) << "running() above the largest capacity";
    std::size_t n_accepted = 0, n_total = 0;
    for (int s = 0; s < k_submitters; ++s) {
      for (int i = 0; i < counts[s].load(); ++i) {
        const std::size_t id = static_cast<std::size_t>(s) * k_per_submitter + i;
        ++n_total;
        n_accepted += accepted[id];
        ASSERT_EQ(ran[id].load(), accepted[id]) << "task " << id << " accepted=" << int(accepted[id]);
      }
    }
    const auto st = p.stats();
    EXPECT_EQ(st.submitted, n_accepted);
    EXPECT_EQ(st.completed, n_accepted);
    EXPECT_EQ(st.submitted + st.rejected, n_total);
    EXPECT_GT(n_accepted, 0u) << "total " << n_total << " rejected " << st.rejected << " inline " << st.inline_runs;
    EXPECT_EQ(p.running(), 0);
    EXPECT_EQ(p.waiting(), 0);
  });
}

}  // namespace
