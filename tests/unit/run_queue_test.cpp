// Local run queue: ports of Go's TestSchedLocalQueue, TestSchedLocalQueueSteal and
// TestSchedLocalQueueEmpty (runtime/proc_test.go, export_test.go), plus overflow, runnext and a
// concurrent owner/thieves test. Each runs at Go's capacity (256) and at 4, where every boundary
// is hit constantly.
#include "sched/run_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace {

struct item {
  int id = 0;
  std::atomic<int> seen{0};
};

template <std::uint32_t C>
using queue = gort::sched::run_queue<item, C>;

auto no_overflow = [](item* const*, std::size_t) { FAIL() << "unexpected overflow"; };

template <class Q>
class RunQueue : public ::testing::Test {};
using capacities = ::testing::Types<queue<256>, queue<4>>;
TYPED_TEST_SUITE(RunQueue, capacities);

// Go's TestSchedLocalQueue: for every length up to capacity, put then get back in FIFO order.
TYPED_TEST(RunQueue, TestSchedLocalQueue) {
  TypeParam q;
  std::vector<item> items(TypeParam::capacity);
  bool inherit = false;
  for (std::uint32_t i = 0; i < TypeParam::capacity; ++i) {
    ASSERT_EQ(q.get(inherit), nullptr) << "not empty initially at " << i;
    for (std::uint32_t j = 0; j < i; ++j) q.put(&items[j], false, no_overflow);
    for (std::uint32_t j = 0; j < i; ++j) {
      item* g = q.get(inherit);
      ASSERT_EQ(g, &items[j]) << "bad element at " << i << "/" << j;
      EXPECT_FALSE(inherit);
    }
    ASSERT_EQ(q.get(inherit), nullptr) << "not empty afterwards at " << i;
    EXPECT_TRUE(q.empty());
  }
}

// peek2 names the two elements get() would return next, runnext first, and takes neither; with
// the ring wrapped around its end as well.
TYPED_TEST(RunQueue, PeekNamesTheNextTwoWithoutTakingThem) {
  TypeParam q;
  std::vector<item> items(TypeParam::capacity + 2);
  bool inherit = false;
  item* first = &items[0];
  item* second = &items[0];
  q.peek2(first, second);
  EXPECT_EQ(first, nullptr);
  EXPECT_EQ(second, nullptr);
  for (std::uint32_t round = 0; round < 3; ++round) {  // the later rounds start mid-ring
    q.put(&items[0], false, no_overflow);
    q.peek2(first, second);
    EXPECT_EQ(first, &items[0]);
    EXPECT_EQ(second, nullptr);
    q.put(&items[1], false, no_overflow);
    q.put(&items[2], true, no_overflow);  // runnext
    q.peek2(first, second);
    EXPECT_EQ(first, &items[2]);
    EXPECT_EQ(second, &items[0]);
    for (item* expected : {&items[2], &items[0], &items[1]}) {
      item* g = q.get(inherit);
      ASSERT_EQ(g, expected) << "peek2 took an element, round " << round;
      q.peek2(first, second);
      if (expected == &items[2]) {
        EXPECT_EQ(first, &items[0]);
        EXPECT_EQ(second, &items[1]);
      }
    }
    q.peek2(first, second);
    EXPECT_EQ(first, nullptr);
    EXPECT_EQ(second, nullptr);
  }
}

// Go's TestSchedLocalQueueSteal: every element seen exactly once; the thief gets half, rounded up.
TYPED_TEST(RunQueue, TestSchedLocalQueueSteal) {
  for (std::uint32_t i = 0; i < TypeParam::capacity; ++i) {
    TypeParam p1;
    TypeParam p2;
    std::vector<item> items(TypeParam::capacity);
    for (std::uint32_t j = 0; j < i; ++j) p1.put(&items[j], false, no_overflow);
    std::uint32_t taken = 0;
    item* g = p2.steal_from(p1, true, nullptr, &taken);
    std::uint32_t stolen = 0;
    bool inherit = false;
    if (g != nullptr) {
      ++stolen;
      g->seen.fetch_add(1);
    }
    while ((g = p2.get(inherit)) != nullptr) {
      ++stolen;
      g->seen.fetch_add(1);
    }
    while ((g = p1.get(inherit)) != nullptr) g->seen.fetch_add(1);
    for (std::uint32_t j = 0; j < i; ++j) ASSERT_EQ(items[j].seen.load(), 1) << i << "/" << j;
    EXPECT_TRUE(stolen == i / 2 || stolen == i / 2 + 1) << "stole " << stolen << " of " << i;
    EXPECT_EQ(taken, stolen);
  }
}

// Go's TestSchedLocalQueueEmpty: while the owner moves an element from runnext to the ring and
// takes it, another thread must never see the queue as empty (one element is always present).
TYPED_TEST(RunQueue, TestSchedLocalQueueEmpty) {
  TypeParam q;
  item a;
  item b;
  const int iters = 20000;
  // One observer thread for all rounds (a thread per round, as Go's goroutine per round, made
  // this test take over a minute under the sanitizers). Round r: the owner publishes `round = r`,
  // then races the observer's empty() against its own put(b) + get(); the observer answers in
  // `seen` with r * 2 + spurious.
  std::atomic<int> round{-1};
  std::atomic<int> seen{-1};
  std::thread observer([&] {
    for (int r = 0; r < iters; ++r) {
      while (round.load(std::memory_order_acquire) != r) std::this_thread::yield();
      const bool spurious = q.empty();
      seen.store(r * 2 + (spurious ? 1 : 0), std::memory_order_release);
    }
  });
  bool failed = false;
  for (int i = 0; i < iters && !failed; ++i) {
    const bool next0 = (i & 1) == 0;
    const bool next1 = (i & 2) == 0;
    q.put(&a, next0, no_overflow);
    round.store(i, std::memory_order_release);
    q.put(&b, next1, no_overflow);
    bool inherit = false;
    q.get(inherit);
    int answer = -1;
    while ((answer = seen.load(std::memory_order_acquire)) / 2 != i || answer < 0) {
      std::this_thread::yield();
    }
    EXPECT_EQ(answer % 2, 0) << "queue reported empty, next0=" << next0 << " next1=" << next1;
    failed = answer % 2 != 0;
    q.get(inherit);
    EXPECT_TRUE(q.empty());
  }
  if (failed) {  // let the observer finish its remaining rounds
    for (int r = round.load(std::memory_order_relaxed) + 1; r < iters; ++r) {
      round.store(r, std::memory_order_release);
      while (seen.load(std::memory_order_acquire) / 2 != r) std::this_thread::yield();
    }
  }
  observer.join();
}

// runnext: put(next) takes the slot and kicks the previous occupant to the tail; get() returns
// runnext first with inherit_time.
TYPED_TEST(RunQueue, RunnextKicksPreviousToTail) {
  TypeParam q;
  item a;
  item b;
  item c;
  q.put(&a, false, no_overflow);
  q.put(&b, true, no_overflow);
  q.put(&c, true, no_overflow);  // b goes to the tail, after a
  bool inherit = false;
  EXPECT_EQ(q.get(inherit), &c);
  EXPECT_TRUE(inherit);
  EXPECT_EQ(q.get(inherit), &a);
  EXPECT_FALSE(inherit);
  EXPECT_EQ(q.get(inherit), &b);
  EXPECT_EQ(q.get(inherit), nullptr);
}

// swap_runnext: the new element takes the slot; the displaced one (or null) goes to the caller.
TYPED_TEST(RunQueue, SwapRunnextReturnsTheDisplacedElement) {
  TypeParam q;
  item a;
  item b;
  EXPECT_EQ(q.swap_runnext(&a), nullptr);
  EXPECT_EQ(q.swap_runnext(&b), &a);
  bool inherit = false;
  EXPECT_EQ(q.get(inherit), &b);
  EXPECT_TRUE(inherit);
  EXPECT_EQ(q.get(inherit), nullptr);
}

// A full ring hands exactly half of it plus the new element to the overflow sink, in order, and
// keeps the other half: nothing lost, nothing duplicated (Go's runqputslow).
TYPED_TEST(RunQueue, OverflowMovesHalfPlusOne) {
  constexpr std::uint32_t cap = TypeParam::capacity;
  TypeParam q;
  std::vector<item> items(cap + 1);
  for (std::uint32_t i = 0; i <= cap; ++i) items[i].id = static_cast<int>(i);
  std::vector<item*> spilled;
  auto sink = [&](item* const* batch, std::size_t n) { spilled.assign(batch, batch + n); };
  for (std::uint32_t i = 0; i < cap; ++i) q.put(&items[i], false, sink);
  ASSERT_TRUE(spilled.empty());
  EXPECT_EQ(q.size(), cap);
  q.put(&items[cap], false, sink);
  ASSERT_EQ(spilled.size(), cap / 2 + 1);
  for (std::uint32_t i = 0; i < cap / 2; ++i) EXPECT_EQ(spilled[i], &items[i]);
  EXPECT_EQ(spilled.back(), &items[cap]);
  EXPECT_EQ(q.size(), cap / 2);
  bool inherit = false;
  for (std::uint32_t i = cap / 2; i < cap; ++i) EXPECT_EQ(q.get(inherit), &items[i]);
  EXPECT_EQ(q.get(inherit), nullptr);
}

// The runnext of a victim is stolen only when asked (Go: last steal round) and only when its
// ring is empty.
TYPED_TEST(RunQueue, StealRunnextOnlyWhenAsked) {
  TypeParam victim;
  TypeParam thief;
  item a;
  victim.put(&a, true, no_overflow);
  EXPECT_EQ(thief.steal_from(victim, false, nullptr, nullptr), nullptr);
  EXPECT_TRUE(victim.has_runnext());
  EXPECT_EQ(thief.steal_from(victim, true, nullptr, nullptr), &a);
  EXPECT_TRUE(victim.empty());
}

// A running victim's runnext: the thief backs off, then takes it if the victim did not switch
// goroutines meanwhile (its progress counter stood still)...
TYPED_TEST(RunQueue, RunningVictimsRunnextStolenWhenItMadeNoProgress) {
  TypeParam victim;
  TypeParam thief;
  item a;
  const std::atomic<std::uint64_t> progress{7};
  victim.put(&a, true, no_overflow);
  EXPECT_EQ(thief.steal_from(victim, true, &progress, nullptr), &a);
  EXPECT_TRUE(victim.empty());
}

// ...and leaves it to the victim when the victim kept switching (a hand-off in progress: it will
// run its runnext itself). The switching is a thread bumping the counter; a back-off that saw no
// bump (that thread was descheduled throughout, as happens on a loaded 2-core machine under TSan)
// may legitimately steal, so the test asks for 10 attempts in which progress prevented the steal,
// within at most 2,000 attempts (a thief that ignored progress would steal every time).
TYPED_TEST(RunQueue, RunningVictimsRunnextLeftAloneWhileItSwitches) {
  TypeParam victim;
  item a;
  std::atomic<std::uint64_t> progress{0};
  std::atomic<bool> stop{false};
  std::thread switcher([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      progress.fetch_add(1, std::memory_order_relaxed);
      for (int i = 0; i < 50; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
    }
  });
  while (progress.load(std::memory_order_relaxed) == 0) std::this_thread::yield();
  int left_alone = 0;
  for (int attempt = 0; attempt < 2'000 && left_alone < 10; ++attempt) {
    TypeParam thief;
    victim.put(&a, true, no_overflow);
    item* got = thief.steal_from(victim, true, &progress, nullptr);
    if (got == nullptr) {
      ++left_alone;
      bool inherit = false;
      EXPECT_EQ(victim.get(inherit), &a);  // still the victim's, in runnext
      EXPECT_TRUE(inherit);
    } else {
      EXPECT_EQ(got, &a);
    }
    EXPECT_TRUE(victim.empty());
  }
  stop.store(true, std::memory_order_relaxed);
  switcher.join();
  EXPECT_GE(left_alone, 10);
}

// Owner pushes and pops while two thieves steal: every element is taken exactly once.
TYPED_TEST(RunQueue, ConcurrentOwnerAndThievesLoseNothing) {
  constexpr int n = 200000;
  std::vector<item> items(n);
  TypeParam owner_q;
  std::atomic<bool> stop{false};
  std::atomic<int> taken{0};
  std::vector<item*> overflowed;
  std::atomic<std::uint64_t> progress{0};  // the owner's switch counter (thieves back off)
  auto consume = [&](item* g) {
    if (g != nullptr) {
      g->seen.fetch_add(1, std::memory_order_relaxed);
      taken.fetch_add(1, std::memory_order_relaxed);
    }
  };
  auto thief = [&] {
    TypeParam mine;
    bool inherit = false;
    while (!stop.load(std::memory_order_acquire) || !owner_q.empty()) {
      consume(mine.steal_from(owner_q, true, &progress, nullptr));
      while (item* g = mine.get(inherit)) consume(g);
    }
  };
  std::thread t1(thief);
  std::thread t2(thief);
  bool inherit = false;
  for (int i = 0; i < n; ++i) {
    auto spill = [&](item* const* batch, std::size_t k) {
      overflowed.insert(overflowed.end(), batch, batch + k);
    };
    if (i % 3 == 1) {  // the scheduler's runq_put_next: swap runnext, requeue what it displaced
      if (item* old = owner_q.swap_runnext(&items[i])) owner_q.put(old, false, spill);
    } else {
      owner_q.put(&items[i], (i % 3) == 0, spill);
    }
    if (i % 4 == 0) {
      consume(owner_q.get(inherit));
      progress.store(progress.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  }
  while (item* g = owner_q.get(inherit)) consume(g);
  stop.store(true, std::memory_order_release);
  t1.join();
  t2.join();
  for (item* g : overflowed) consume(g);
  EXPECT_EQ(taken.load(), n);
  for (int i = 0; i < n; ++i) ASSERT_EQ(items[i].seen.load(), 1) << "element " << i;
}

}  // namespace
