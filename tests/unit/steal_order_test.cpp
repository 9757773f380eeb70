// Go's TestStealOrder (RunStealOrderTest): the coprime walk visits every processor exactly once.
#include "sched/steal_order.hpp"

#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

namespace {

TEST(StealOrder, TestStealOrder) {
  gort::sched::steal_order ord;
  for (std::uint32_t procs = 1; procs <= 64; ++procs) {
    ord.reset(procs);
    if (procs >= 3) {
      EXPECT_GE(ord.coprimes().size(), 2u) << "procs=" << procs;
    }
    std::set<std::pair<std::uint32_t, std::uint32_t>> starts;
    for (std::uint32_t i = 0; i < procs * static_cast<std::uint32_t>(ord.coprimes().size()); ++i) {
      auto w = ord.start(i);
      starts.insert({w.position(), i});
      std::vector<int> seen(procs, 0);
      std::uint32_t steps = 0;
      for (; !w.done(); w.next()) {
        ++seen[w.position()];
        ++steps;
        ASSERT_LE(steps, procs);
      }
      ASSERT_EQ(steps, procs);
      for (std::uint32_t p = 0; p < procs; ++p) ASSERT_EQ(seen[p], 1) << procs << " " << i << " " << p;
    }
  }
}

// Different random starts give different (position, stride) walks — thieves spread out.
TEST(StealOrder, DistinctWalks) {
  gort::sched::steal_order ord;
  ord.reset(8);
  std::set<std::vector<std::uint32_t>> orders;
  for (std::uint32_t r = 0; r < 8 * 4; ++r) {
    std::vector<std::uint32_t> o;
    for (auto w = ord.start(r); !w.done(); w.next()) o.push_back(w.position());
    orders.insert(o);
  }
  EXPECT_EQ(orders.size(), 32u);  // 8 starts x 4 coprimes of 8 (1, 3, 5, 7)
}

}  // namespace
