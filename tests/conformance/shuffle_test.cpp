// GORTDEBUG=shuffle=SEED (docs/hacking.md): randomized scheduling that a seed replays exactly at
// GOMAXPROCS=1, and that explores orders the default scheduler never produces.
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "gort/gort.hpp"

namespace {

// Goroutines passing values through channels, yielding and spawning; returns the order in which
// their steps ran.
// The order in which 6 goroutines on one processor reach their steps; `preempted` says whether
// sysmon asked for a preemption or handed the processor off as a runaway's meanwhile (both
// time-based, so outside what a seed replays).
// The log has a lock: a runaway hand-off (sysmon gives the processor of a goroutine that ran
// 10 ms without a scheduling point to another thread, and the goroutine runs on) lets two
// goroutines run at once even at one processor. Such a run is reported as preempted.
std::vector<int> trace(const std::string& debug, bool* preempted = nullptr) {
  std::vector<int> order;
  std::mutex order_mu;
  gort::run(
      [&] {
        gort::chan<int> c(2);
        gort::wait_group wg;
        constexpr int k_workers = 6;
        wg.add(k_workers);
        for (int w = 0; w < k_workers; ++w) {
          gort::go([&, w] {
            for (int i = 0; i < 5; ++i) {
              {
                std::lock_guard<std::mutex> l(order_mu);
                order.push_back(w * 100 + i);
              }
              if (w % 2 == 0) {
                c.send(w);
              } else {
                (void)c.recv();
              }
            }
            wg.done();
          });
        }
        wg.wait();
        if (preempted != nullptr) {
          const gort::runtime_stats st = gort::stats();
          *preempted = st.preemptions != 0 || st.runaway_handoffs != 0;
        }
      },
      {.maxprocs = 1, .debug = debug});
  return order;
}

TEST(Shuffle, ASeedReplaysTheSameScheduleOnOneProcessor) {
  // Sysmon's preemption depends on time (a slow build, a loaded machine): compare two runs that
  // neither saw one.
  std::vector<std::vector<int>> clean;
  for (int attempt = 0; attempt < 50 && clean.size() < 2; ++attempt) {
    bool preempted = true;
    std::vector<int> t = trace("shuffle=12345", &preempted);
    if (!preempted) clean.push_back(std::move(t));
  }
  ASSERT_EQ(clean.size(), 2u) << "every run was preempted by sysmon";
  EXPECT_EQ(clean[0].size(), 30u);
  EXPECT_EQ(clean[0], clean[1]);
}

TEST(Shuffle, SeedsExploreDifferentSchedules) {
  const std::vector<int> plain = trace("shuffle=0");
  int differ = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const std::vector<int> s = trace("shuffle=" + std::to_string(seed));
    ASSERT_EQ(s.size(), plain.size());
    differ += s != plain;
  }
  EXPECT_GE(differ, 4) << "shuffled schedules should mostly differ from the default one";
}

TEST(Shuffle, ShuffleZeroIsTheDefaultSchedule) {
  // Both strings are non-empty, so neither run reads GORTDEBUG from the environment (the
  // shuffled conformance runs set it there).
  // Like the replay test above, it compares runs that sysmon's time-based preemption left alone.
  for (int attempt = 0; attempt < 50; ++attempt) {
    bool preempted_a = true;
    bool preempted_b = true;
    const std::vector<int> a = trace("scheddetail=0", &preempted_a);
    const std::vector<int> b = trace("shuffle=0", &preempted_b);
    if (preempted_a || preempted_b) continue;
    EXPECT_EQ(a, b);
    return;
  }
  FAIL() << "every run was preempted by sysmon";
}

}  // namespace
