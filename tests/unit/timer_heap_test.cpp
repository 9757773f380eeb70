// The per-processor timer heap: firing order, periodic re-arming, removal from any position,
// stoppable and non-stoppable nodes. Deterministic: `now` is passed in, no clock involved.
#include "time/timer_heap.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace {

using gort::sched::k_never;
using gort::sched::timer_heap;

struct recorded : gort::detail::timer_node {
  std::vector<int>* log = nullptr;
  int id = 0;
};

void record(gort::detail::timer_node* n, std::int64_t) noexcept {
  auto* r = static_cast<recorded*>(n);
  r->log->push_back(r->id);
}

std::vector<recorded> make(int n, std::vector<int>* log, bool stoppable) {
  std::vector<recorded> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    v[static_cast<std::size_t>(i)].log = log;
    v[static_cast<std::size_t>(i)].id = i;
    v[static_cast<std::size_t>(i)].fire = &record;
    v[static_cast<std::size_t>(i)].stoppable = stoppable;
  }
  return v;
}

// Adds t as timer_start does: a full heap refuses it, and grows without the lock.
void push(timer_heap& h, gort::detail::timer_node* t) {
  for (;;) {
    h.lock.lock();
    const bool added = h.try_push_locked(t);
    h.lock.unlock();
    if (added) return;
    h.grow();
  }
}

class TimerHeap : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Stoppable, TimerHeap, ::testing::Bool());

TEST_P(TimerHeap, FiresInDeadlineOrder) {
  std::vector<int> log;
  auto nodes = make(2000, &log, GetParam());
  std::mt19937 rng(7);
  std::vector<int> order(nodes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::shuffle(order.begin(), order.end(), rng);
  timer_heap h;
  EXPECT_EQ(h.earliest(), k_never);
  for (int i : order) {
    nodes[static_cast<std::size_t>(i)].when = 1000 + 10 * i;  // id order == deadline order
    push(h, &nodes[static_cast<std::size_t>(i)]);
  }
  EXPECT_EQ(h.earliest(), 1000);
  EXPECT_EQ(h.run(999), 0);
  for (std::int64_t now = 1000; now < 1000 + 10 * 2000; now += 137) h.run(now);
  h.run(1'000'000);
  ASSERT_EQ(log.size(), nodes.size());
  EXPECT_TRUE(std::is_sorted(log.begin(), log.end()));
  EXPECT_EQ(h.earliest(), k_never);
  for (auto& n : nodes) EXPECT_EQ(n.heap.load(), nullptr);
}

TEST_P(TimerHeap, EraseFromAnyPosition) {
  std::vector<int> log;
  auto nodes = make(500, &log, GetParam());
  timer_heap h;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].when = static_cast<std::int64_t>((i * 7919) % 500);
    push(h, &nodes[i]);
  }
  h.lock.lock();
  for (std::size_t i = 0; i < nodes.size(); i += 3) h.erase_locked(&nodes[i]);
  h.lock.unlock();
  h.run(1'000'000);
  std::vector<int> expected;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (i % 3 != 0) expected.push_back(static_cast<int>(i));
  }
  std::sort(expected.begin(), expected.end(), [&](int a, int b) {
    return nodes[static_cast<std::size_t>(a)].when < nodes[static_cast<std::size_t>(b)].when;
  });
  ASSERT_EQ(log.size(), expected.size());
  for (std::size_t k = 1; k < log.size(); ++k) {
    EXPECT_LE(nodes[static_cast<std::size_t>(log[k - 1])].when, nodes[static_cast<std::size_t>(log[k])].when);
  }
}

// A full heap takes nothing until grow() gave it room, and growth keeps every pending entry.
TEST(TimerHeapGrowth, AFullHeapRefusesUntilGrownAndKeepsItsEntries) {
  std::vector<int> log;
  auto nodes = make(1000, &log, true);
  for (std::size_t i = 0; i < nodes.size(); ++i) nodes[i].when = 5000 - static_cast<std::int64_t>(i);
  timer_heap h;
  h.lock.lock();
  EXPECT_FALSE(h.try_push_locked(&nodes[0]));  // a new heap has no room yet
  h.lock.unlock();
  EXPECT_EQ(nodes[0].heap.load(), nullptr);
  EXPECT_EQ(h.earliest(), k_never);
  h.grow();
  std::size_t taken = 0;
  h.lock.lock();
  while (taken < nodes.size() && h.try_push_locked(&nodes[taken])) ++taken;
  h.lock.unlock();
  ASSERT_GT(taken, 0u);
  ASSERT_LT(taken, nodes.size());
  EXPECT_EQ(nodes[taken].heap.load(), nullptr);  // the refused one was left alone
  EXPECT_EQ(h.size(), taken);
  EXPECT_EQ(h.earliest(), nodes[taken - 1].when);
  for (std::size_t i = taken; i < nodes.size(); ++i) push(h, &nodes[i]);
  EXPECT_EQ(h.size(), nodes.size());
  EXPECT_EQ(h.run(5000), static_cast<int>(nodes.size()));
  ASSERT_EQ(log.size(), nodes.size());
  EXPECT_TRUE(std::is_sorted(log.rbegin(), log.rend()));  // latest id = earliest deadline
}

TEST(TimerHeapPeriodic, RearmsSkippingMissedPeriods) {
  std::vector<int> log;
  auto nodes = make(1, &log, true);
  recorded& t = nodes[0];
  t.period = 100;
  t.when = 100;
  timer_heap h;
  push(h, &t);
  EXPECT_EQ(h.run(100), 1);
  EXPECT_EQ(t.when, 200);
  // Five periods late: fires once, next deadline is the first one after now.
  EXPECT_EQ(h.run(650), 1);
  EXPECT_EQ(t.when, 700);
  EXPECT_EQ(h.earliest(), 700);
  EXPECT_EQ(t.heap.load(), &h);
  h.lock.lock();
  h.erase_locked(&t);
  h.lock.unlock();
  EXPECT_EQ(h.earliest(), k_never);
}

}  // namespace
