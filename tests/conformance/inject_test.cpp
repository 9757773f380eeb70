// Goroutines submitted by threads outside the runtime (plain std::threads: a service's acceptor,
// a callback thread), at GOMAXPROCS 1, 2, 4 and 8: every submission runs exactly once, ids stay
// distinct, a submission racing with every machine going idle is still run, and a thread that
// outlives one runtime submits cleanly into the next (its spawn cache belongs to the old one).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using gort_test::procs_test;
using gort_test::scaled;
using gort_test::scaled_spawns;

class Inject : public procs_test {};
GORT_INSTANTIATE_PROCS(Inject);

// K threads each submit n goroutines; goroutine (t, i) increments slot t * n + i and records its
// id. No slot may end at 0 (lost) or 2 (run twice), and no id may repeat.
void submit_from_threads(int threads, int per_thread) {
  const auto total = static_cast<std::size_t>(threads) * static_cast<std::size_t>(per_thread);
  std::vector<std::atomic<int>> runs(total);
  std::vector<std::uint64_t> ids(total);
  gort::wait_group wg;
  wg.add(static_cast<std::int64_t>(total));
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::size_t slot = static_cast<std::size_t>(t) * static_cast<std::size_t>(per_thread) +
                                 static_cast<std::size_t>(i);
        gort::go([&runs, &ids, &wg, slot] {
          ids[slot] = gort::this_goroutine::id();
          runs[slot].fetch_add(1, std::memory_order_relaxed);  // ordered by wg.done()/wait()
          wg.done();
        });
      }
    });
  }
  wg.wait();
  for (auto& t : ts) t.join();
  std::size_t lost = 0;
  std::size_t twice = 0;
  for (auto& r : runs) {
    const int v = r.load(std::memory_order_relaxed);
    lost += v == 0 ? 1 : 0;
    twice += v > 1 ? 1 : 0;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(twice, 0u);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "a goroutine id repeats";
  EXPECT_GT(ids.front(), 1u);
}

TEST_P(Inject, SubmissionsFromKThreadsRunExactlyOnce) {
  run([] {
    for (const int k : {1, 2, 4, 8}) {
      submit_from_threads(k, static_cast<int>(scaled_spawns(20'000)));
    }
  });
}

// Round i: main publishes i and parks on a channel receive, so its machine looks for work and,
// finding none, every machine heads for idle; the submitter, spinning on the published round,
// submits the goroutine that sends i at that same moment. A lost wake-up leaves main parked
// forever (the test watchdog reports it).
TEST_P(Inject, SubmissionRacingWithIdleMachinesRuns) {
  run([] {
    const int rounds = static_cast<int>(scaled(2'000, 10));
    gort::chan<int> ch(0);  // unbuffered: main is parked in recv until the goroutine's send
    std::atomic<int> round{-1};
    std::thread submitter([&] {
      for (int i = 0; i < rounds; ++i) {
        // acquire: pairs with main's release store; spinning: the race is the point.
        while (round.load(std::memory_order_acquire) != i) {
        }
        gort::go([ch, i] { ch.send(i); });
      }
    });
    for (int i = 0; i < rounds; ++i) {
      round.store(i, std::memory_order_release);
      const std::optional<int> v = ch.recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(*v, i);
    }
    submitter.join();
  });
}

// One plain thread outlives three runtimes and submits into each: what it cached for spawning
// belongs to the runtime it was taken from and must not reach the next one.
TEST_P(Inject, ThreadOutlivingARuntimeSubmitsIntoTheNext) {
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> job;  // guarded by mu
  bool quit = false;          // guarded by mu
  std::thread worker([&] {
    std::unique_lock<std::mutex> l(mu);
    for (;;) {
      cv.wait(l, [&] { return quit || job; });
      if (!job) return;
      job();
      job = nullptr;
      cv.notify_all();
    }
  });
  for (int r = 0; r < 3; ++r) {
    run([&] {
      const int n = static_cast<int>(scaled(5'000));
      auto ran = std::make_shared<std::atomic<int>>(0);
      gort::wait_group wg;
      wg.add(n);
      {
        std::unique_lock<std::mutex> l(mu);
        job = [&] {
          for (int i = 0; i < n; ++i) {
            gort::go([ran, &wg] {
              ran->fetch_add(1, std::memory_order_relaxed);
              wg.done();
            });
          }
        };
        cv.notify_all();
      }
      // The worker runs the job while this goroutine waits on the wait group (the job's
      // condition variable is a plain thread's business; main only parks in wg.wait).
      wg.wait();
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return !job; });
      }
      EXPECT_EQ(ran->load(std::memory_order_relaxed), n);
    });
  }
  {
    std::lock_guard<std::mutex> l(mu);
    quit = true;
  }
  cv.notify_all();
  worker.join();
}

}  // namespace
