// Stack pool: layout, guard pages within budget, canaries, scavenging (checked with mincore), and
// the VMA economy that lets a million stacks fit under vm.max_map_count.
#include "stack/stack_pool.hpp"

#include "procs.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

using gort::sched::stack_pool;
using gort::sched::stack_slot;

std::size_t resident_pages(const void* p, std::size_t bytes) {
  const std::size_t page = stack_pool::page_size();
  std::vector<unsigned char> vec((bytes + page - 1) / page);
  EXPECT_EQ(::mincore(const_cast<void*>(p), bytes, vec.data()), 0);
  std::size_t n = 0;
  for (unsigned char c : vec) n += c & 1;
  return n;
}

int map_count() {
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

TEST(StackPool, SlotLayout) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(16 * page, 0);
  stack_slot* s[3];
  ASSERT_EQ(pool.get_batch(s, 3), 3u);
  for (stack_slot* x : s) {
    EXPECT_EQ(x->size, 16 * page);
    EXPECT_EQ(x->usable, x->lo + page);
    EXPECT_EQ(x->stack_top(), x->top() - gort::sched::k_canary_bytes);
    EXPECT_EQ(x->usable_size(), 15 * page - gort::sched::k_canary_bytes);
    EXPECT_FALSE(x->guarded);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(x->lo) % page, 0u);
  }
  pool.put_batch(s, 3, 0);
  EXPECT_EQ(pool.snapshot().pooled, pool.snapshot().reserved);
}

TEST(StackPool, GuardPagesWithinBudget) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, 5);
  std::vector<stack_slot*> s(64);
  ASSERT_EQ(pool.get_batch(s.data(), s.size()), s.size());
  int guarded = 0;
  for (stack_slot* x : s) guarded += x->guarded ? 1 : 0;
  EXPECT_EQ(guarded, 5);
  EXPECT_EQ(pool.snapshot().guarded, 5u);
  pool.put_batch(s.data(), s.size(), 0);
}

TEST(StackPoolDeathTest, GuardPageFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::size_t page = stack_pool::page_size();
  EXPECT_DEATH(
      {
        stack_pool pool(4 * page, 1);
        stack_slot* s = nullptr;
        pool.get_batch(&s, 1);
        if (!s->guarded) std::abort();
        *reinterpret_cast<volatile char*>(s->usable - 1) = 1;  // one byte below the stack
      },
      "");
}

TEST(StackPool, CanaryDetectsWritesBelowTheStack) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, 0);
  stack_slot* s[2];
  ASSERT_EQ(pool.get_batch(s, 2), 2u);
  EXPECT_TRUE(stack_pool::canary_intact(s[0]));
  // The canary is the top of whatever lies just below the slot: an overflow deeper than the
  // guard zone writes it before anything else there.
  s[0]->usable[-8] = 0x5a;  // within the guard zone: harmless, not the canary
  EXPECT_TRUE(stack_pool::canary_intact(s[0]));
  s[0]->lo[-8] = 0x5a;
  EXPECT_FALSE(stack_pool::canary_intact(s[0]));
  s[0]->lo[-8] = 0;
  EXPECT_TRUE(stack_pool::canary_intact(s[0]));
  // Adjacent slots: one's canary zone is the top of the other, above its usable stack.
  stack_slot* low = s[0]->lo < s[1]->lo ? s[0] : s[1];
  stack_slot* high = low == s[0] ? s[1] : s[0];
  if (high->lo == low->top()) {
    std::memset(low->usable, 0x77, low->usable_size());  // the whole usable stack of `low`
    EXPECT_TRUE(stack_pool::canary_intact(high));
  }
  pool.put_batch(s, 2, 0);
}

// Checking a canary reads the guard zone, which maps the shared zero page: no resident memory.
TEST(StackPool, CanaryChecksCostNoResidentMemory) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan's shadow memory grows with every address read";
#endif
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, 0);
  std::vector<stack_slot*> s(20000);
  ASSERT_EQ(pool.get_batch(s.data(), s.size()), s.size());
  const long before = gort_test::rss_kib();
  for (stack_slot* x : s) ASSERT_TRUE(stack_pool::canary_intact(x));
  const long grown = gort_test::rss_kib() - before;
  // 20,000 zones of 4 KiB would be 80,000 KiB if they were committed.
  EXPECT_LT(grown, 8000) << "KiB";
  pool.put_batch(s.data(), s.size(), 0);
}

TEST(StackPool, ScavengeReturnsPagesToTheOs) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(32 * page, 0);
  stack_slot* s[4];
  ASSERT_EQ(pool.get_batch(s, 4), 4u);
  for (stack_slot* x : s) std::memset(x->usable, 0xab, x->usable_size());
  for (stack_slot* x : s) EXPECT_EQ(resident_pages(x->usable, x->usable_size()), 31u);
  pool.put_batch(s, 4, /*now=*/1000);
  EXPECT_EQ(pool.snapshot().hot, 4u);
  // Not idle long enough yet: nothing released.
  EXPECT_EQ(pool.scavenge(/*now=*/1500, /*min_idle_ns=*/1000), 0u);
  const std::size_t released = pool.scavenge(/*now=*/3000, /*min_idle_ns=*/1000);
  EXPECT_GE(released, 4 * 31 * page);
  for (stack_slot* x : s) {
    EXPECT_EQ(resident_pages(x->lo, x->size), 0u);
    EXPECT_FALSE(x->dirty);
  }
  EXPECT_EQ(pool.snapshot().hot, 0u);
  EXPECT_EQ(pool.snapshot().released_bytes, released);
  // Released slots are handed out again, zero-filled.
  stack_slot* again[4];
  ASSERT_EQ(pool.get_batch(again, 4), 4u);
  for (stack_slot* x : again) EXPECT_EQ(x->usable[0], 0);
  pool.put_batch(again, 4, 0);
}

TEST(StackPool, HotSlotsAreReusedFirst) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, 0);
  stack_slot* a = nullptr;
  ASSERT_EQ(pool.get_batch(&a, 1), 1u);
  pool.put_batch(&a, 1, 0);
  stack_slot* b = nullptr;
  ASSERT_EQ(pool.get_batch(&b, 1), 1u);
  EXPECT_EQ(a, b);  // warm memory goes out again before clean slots
  pool.put_batch(&b, 1, 0);
}

// 100,000 unguarded stacks cost a handful of mappings, not 100,000.
TEST(StackPool, ReservationsKeepMappingsFew) {
  const std::size_t page = stack_pool::page_size();
  const int before = map_count();
  {
    stack_pool pool(16 * page, 0);
    std::vector<stack_slot*> s(100000);
    ASSERT_EQ(pool.get_batch(s.data(), s.size()), s.size());
    EXPECT_LT(map_count() - before, 100);
    pool.put_batch(s.data(), s.size(), 0);
  }
  // Everything unmapped again (sanitizer runtimes may keep a few mappings of their own).
  EXPECT_LE(map_count(), before + 64);
}

}  // namespace
