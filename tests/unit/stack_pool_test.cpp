// Stack pool: layout, guard markers on every slot, PROT_NONE guard pages within budget (the
// fallback), canaries, promises, scavenging (checked with mincore), shrinking reservations under
// RLIMIT_AS, the fault handler's arena lookup, and the VMA economy that lets a million stacks fit
// under vm.max_map_count.
#include "stack/stack_pool.hpp"
#include "sys/advise.hpp"

#include "procs.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

using gort::sched::arena_hit;
using gort::sched::stack_pool;
using gort::sched::stack_slot;
using policy = gort::sched::stack_pool::guard_policy;

std::size_t resident_pages(const void* p, std::size_t bytes) {
  const std::size_t page = stack_pool::page_size();
  std::vector<unsigned char> vec((bytes + page - 1) / page);
  EXPECT_EQ(::mincore(const_cast<void*>(p), bytes, vec.data()), 0);
  std::size_t n = 0;
  for (unsigned char c : vec) n += c & 1;
  return n;
}

#define SKIP_WITHOUT_MARKERS()                                                               \
  if (!stack_pool::guard_markers_supported())                                               \
  GTEST_SKIP() << "this kernel has no guard markers (MADV_GUARD_INSTALL, Linux 6.13+): the " \
                  "mprotect fallback is tested instead"

TEST(StackPool, SlotLayout) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(16 * page, policy::none);
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

TEST(StackPool, SlotsCycleThroughColorsInsideTheTopPage) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(16 * page, policy::none);
  constexpr std::size_t n = 2 * gort::sched::k_stack_colors;
  stack_slot* s[n];
  ASSERT_EQ(pool.get_batch(s, n), n);
  std::vector<bool> seen(gort::sched::k_stack_colors, false);
  for (stack_slot* x : s) {
    ASSERT_LT(x->color, gort::sched::k_stack_colors);
    seen[x->color] = true;
    EXPECT_EQ(x->frames_top(), x->stack_top() - x->color * gort::sched::k_color_step);
    // The colored top stays in the slot's top page, with room for the first frames.
    EXPECT_GE(x->frames_top() - (x->top() - page), static_cast<std::ptrdiff_t>(page / 2));
  }
  for (std::size_t c = 0; c < gort::sched::k_stack_colors; ++c) EXPECT_TRUE(seen[c]) << c;
  // Neighbouring slots (carved in address order) never share a color.
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (s[i + 1]->lo == s[i]->lo + 16 * page) EXPECT_NE(s[i + 1]->color, s[i]->color);
  }
  pool.put_batch(s, n, 0);
}

TEST(StackPool, GuardPagesWithinBudget) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, policy::mprotect_only, 5);
  std::vector<stack_slot*> s(64);
  ASSERT_EQ(pool.get_batch(s.data(), s.size()), s.size());
  int guarded = 0;
  for (stack_slot* x : s) {
    guarded += x->guarded ? 1 : 0;
    EXPECT_FALSE(x->marker);
  }
  EXPECT_EQ(guarded, 5);
  EXPECT_EQ(pool.snapshot().guarded, 5u);
  EXPECT_EQ(pool.snapshot().markers, 0u);
  pool.put_batch(s.data(), s.size(), 0);
}

// Takes one slot from a pool of this policy and writes one byte below its stack. The death tests'
// child.
void write_below_a_fresh_stack(policy p) {
  stack_pool pool(4 * stack_pool::page_size(), p, 1);
  stack_slot* s = nullptr;
  pool.get_batch(&s, 1);
  if (!s->guarded || s->marker != (p == policy::automatic)) std::_Exit(2);
  *reinterpret_cast<volatile char*>(s->usable - 1) = 1;
  std::_Exit(3);
}

// Died of the fault: SIGSEGV, or a sanitizer's report of it (which exits with an error status).
bool died_of_segv(int status) {
  if (gort_test::k_sanitized) return WIFEXITED(status) && WEXITSTATUS(status) != 0;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}
constexpr const char* k_segv_report = gort_test::k_sanitized ? "SEGV" : "";

TEST(StackPoolDeathTest, GuardPageFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(write_below_a_fresh_stack(policy::mprotect_only), died_of_segv, k_segv_report);
}

// Every slot that goes out carries a guard marker, and the markers cost no mappings.
TEST(StackPool, GuardMarkersOnEverySlot) {
  SKIP_WITHOUT_MARKERS();
  const std::size_t page = stack_pool::page_size();
  const int before = gort_test::map_count();
  stack_pool pool(16 * page);
  std::vector<stack_slot*> s(static_cast<std::size_t>(gort_test::scaled(20000)));
  ASSERT_EQ(pool.get_batch(s.data(), s.size()), s.size());
  for (stack_slot* x : s) {
    ASSERT_TRUE(x->guarded);
    ASSERT_TRUE(x->marker);
  }
  EXPECT_EQ(pool.snapshot().guarded, s.size());
  EXPECT_EQ(pool.snapshot().markers, s.size());
  EXPECT_LT(gort_test::map_count() - before, 64);
  pool.put_batch(s.data(), s.size(), 0);
}

// A million guarded stacks: the goal of guard markers. Address space only (16 GiB of it), no
// resident memory beyond page tables.
TEST(StackPool, MillionGuardedSlotsStayUnderTheMapLimit) {
  SKIP_WITHOUT_MARKERS();
  if (gort_test::k_sanitized) GTEST_SKIP() << "sanitizer runtimes shadow the address space";
  const std::size_t page = stack_pool::page_size();
  const int before = gort_test::map_count();
  stack_pool pool(4 * page);
  std::vector<stack_slot*> s(1'000'000);
  for (std::size_t i = 0; i < s.size(); i += 16) {  // batches of 16, as processors take them
    ASSERT_EQ(pool.get_batch(s.data() + i, 16), 16u);
  }
  const stack_pool::counters c = pool.snapshot();
  EXPECT_EQ(c.guarded, 1'000'000u);
  const int maps = gort_test::map_count() - before;
  EXPECT_LT(maps, 1000) << c.reservations << " reservations";
  std::printf("1,000,000 guarded slots: %d mappings, %llu reservations\n", maps,
              static_cast<unsigned long long>(c.reservations));
  pool.put_batch(s.data(), s.size(), 0);
}

TEST(StackPoolDeathTest, GuardMarkerFaults) {
  SKIP_WITHOUT_MARKERS();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(write_below_a_fresh_stack(policy::automatic), died_of_segv, k_segv_report);
}

// The scavenger's MADV_DONTNEED releases a marker slot's guard page with the rest (adjacent slots
// coalesce into one call), and the marker survives it and every reuse.
TEST(StackPool, GuardMarkersSurviveScavengingAndReuse) {
  SKIP_WITHOUT_MARKERS();
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(8 * page);
  stack_slot* s[4];
  ASSERT_EQ(pool.get_batch(s, 4), 4u);
  for (stack_slot* x : s) std::memset(x->usable, 0xab, x->usable_size());
  pool.put_batch(s, 4, 1000);
  const std::size_t released = pool.scavenge(3000, 1000);
  EXPECT_EQ(released, 4 * 8 * page);  // whole slots, guard pages included: one run
  for (stack_slot* x : s) {
    EXPECT_EQ(resident_pages(x->usable, x->usable_size()), 0u);
    EXPECT_TRUE(x->marker);
  }
  stack_slot* again[4];
  ASSERT_EQ(pool.get_batch(again, 4), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(again[i]->guarded && again[i]->marker);
  EXPECT_EQ(pool.snapshot().markers, 4u);  // not installed twice
  pool.put_batch(again, 4, 0);
}

TEST(StackPoolDeathTest, GuardMarkerFaultsAfterScavengeAndReuse) {
  SKIP_WITHOUT_MARKERS();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::size_t page = stack_pool::page_size();
  EXPECT_EXIT(
      {
        stack_pool pool(8 * page);
        stack_slot* s = nullptr;
        pool.get_batch(&s, 1);
        std::memset(s->usable, 1, s->usable_size());
        pool.put_batch(&s, 1, 0);
        if (pool.scavenge(0, 0) == 0) std::_Exit(2);
        stack_slot* again = nullptr;
        pool.get_batch(&again, 1);
        if (again != s) std::_Exit(3);
        *reinterpret_cast<volatile char*>(again->usable - 1) = 1;
        std::_Exit(4);
      },
      died_of_segv, k_segv_report);
}

// The SIGSEGV handler recognizes any address inside a reservation and the slot it falls in.
TEST(StackPool, ArenaLookupFindsTheSlot) {
  const std::size_t page = stack_pool::page_size();
  auto pool = std::make_unique<stack_pool>(4 * page, policy::none);
  stack_slot* s[3];
  ASSERT_EQ(pool->get_batch(s, 3), 3u);
  arena_hit hit;
  for (stack_slot* x : s) {
    ASSERT_TRUE(stack_pool::find_in_arena(x->lo + 8, &hit));
    EXPECT_EQ(hit.slot_lo, x->lo);
    EXPECT_TRUE(hit.in_guard);
    ASSERT_TRUE(stack_pool::find_in_arena(x->usable + 100, &hit));
    EXPECT_EQ(hit.slot_lo, x->lo);
    EXPECT_FALSE(hit.in_guard);
    ASSERT_TRUE(stack_pool::find_in_arena(x->top() - 1, &hit));
    EXPECT_EQ(hit.slot_lo, x->lo);
  }
  int local = 0;
  EXPECT_FALSE(stack_pool::find_in_arena(&local, &hit));
  char* gone = s[0]->lo;
  pool->put_batch(s, 3, 0);
  pool.reset();
  EXPECT_FALSE(stack_pool::find_in_arena(gone + 8, &hit));
}

TEST(StackPool, CanaryDetectsWritesBelowTheStack) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, policy::none);
  constexpr std::size_t k_slots = 4;
  stack_slot* s[k_slots];
  ASSERT_EQ(pool.get_batch(s, k_slots), k_slots);
  EXPECT_TRUE(stack_pool::canary_intact(s[0]));
  // The canary is the top of whatever lies just below the slot: an overflow deeper than the
  // guard zone writes it before anything else there.
  s[0]->usable[-8] = 0x5a;  // within the guard zone: harmless, not the canary
  EXPECT_TRUE(stack_pool::canary_intact(s[0]));
  s[0]->lo[-8] = 0x5a;
  EXPECT_FALSE(stack_pool::canary_intact(s[0]));
  s[0]->lo[-8] = 0;
  EXPECT_TRUE(stack_pool::canary_intact(s[0]));
  // Adjacent slots: one's canary zone is the top of the other, above its usable stack. A fresh
  // pool carves its first slots out of one reservation, so some two of them are neighbours.
  stack_slot* low = nullptr;
  stack_slot* high = nullptr;
  for (stack_slot* a : s) {
    for (stack_slot* b : s) {
      if (b->lo == a->top()) {
        low = a;
        high = b;
      }
    }
  }
  ASSERT_NE(low, nullptr) << "no two of " << k_slots << " fresh slots are adjacent";
  std::memset(low->usable, 0x77, low->usable_size());  // the whole usable stack of `low`
  EXPECT_TRUE(stack_pool::canary_intact(high));
  pool.put_batch(s, k_slots, 0);
}

// KiB of resident memory that reading the canaries of 20,000 fresh slots adds (after writing
// their canary zones first, as a slot about to become a stack does, when `committed`).
long canary_read_growth_kib(bool committed) {
  const std::size_t page = stack_pool::page_size();
  // Top pages left to the first touch: this measures what reading fresh canary zones costs.
  stack_pool pool(4 * page, policy::none, -1, stack_pool::top_pages::on_first_touch);
  std::vector<stack_slot*> s(20000);
  EXPECT_EQ(pool.get_batch(s.data(), s.size()), s.size());
  if (committed) {
    for (stack_slot* x : s) stack_pool::commit_canary(x);
  }
  const long before = gort_test::rss_kib();
  for (int round = 0; round < 3; ++round) {
    for (stack_slot* x : s) EXPECT_TRUE(stack_pool::canary_intact(x));
  }
  const long grown = gort_test::rss_kib() - before;
  pool.put_batch(s.data(), s.size(), 0);
  return grown;
}

// A slot about to become a stack commits its canary zone (commit_canary: at most the one page the
// slot underneath commits anyway); after that, checking canaries costs no resident memory, on
// kernels with the shared zero page and on kernels that commit a page on every first read alike.
// 20,000 zones of 4 KiB would be 80,000 KiB if the reads committed anything.
TEST(StackPool, CanaryChecksCostNoResidentMemory) {
  if (gort_test::k_tsan) GTEST_SKIP() << "TSan's shadow memory grows with every address read";
  EXPECT_LT(canary_read_growth_kib(true), 8000) << "KiB";
}

// Reading a never-touched canary zone is free only where the kernel maps the zero page; the pool
// never relies on it (commit_canary), and this test states which kind of kernel this is.
TEST(StackPool, CanaryReadOfUntouchedMemoryDependsOnTheKernel) {
  if (gort_test::k_tsan) GTEST_SKIP() << "TSan's shadow memory grows with every address read";
  const long grown = canary_read_growth_kib(false);
  if (gort_test::reads_map_zero_page()) {
    EXPECT_LT(grown, 8000) << "KiB (the zero page serves these reads)";
  } else {
    EXPECT_GE(grown, 40000) << "KiB (this kernel commits a page on a read; the detector said so)";
  }
}

TEST(StackPool, ScavengeReturnsPagesToTheOs) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(32 * page, policy::none);
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

// Whether this kernel commits pages through a batched MADV_POPULATE_WRITE (sys/advise.hpp).
bool batched_populate_works() {
  const std::size_t page = stack_pool::page_size();
  void* p = ::mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  char* ranges[2] = {static_cast<char*>(p), static_cast<char*>(p) + 2 * page};
  gort::sys::populate_ranges(ranges, 2, page);
  const bool works = resident_pages(p, 4 * page) == 2;
  ::munmap(p, 4 * page);
  return works;
}

// A slot that is not resident (fresh, or scavenged) goes out with its top page — where its
// goroutine's first frames go — already committed, and nothing else of it; a hot slot is left as
// it is. Both guard kinds.
TEST(StackPool, SlotsGoOutWithTheirTopPageCommitted) {
  if (!batched_populate_works()) {
    GTEST_SKIP() << "this kernel does not take MADV_POPULATE_WRITE through process_madvise";
  }
  const std::size_t page = stack_pool::page_size();
  for (policy pol : {policy::automatic, policy::none}) {
    stack_pool pool(16 * page, pol);
    constexpr std::size_t k = 70;  // two system calls' worth (64 ranges each)
    stack_slot* s[k];
    ASSERT_EQ(pool.get_batch(s, k), k);
    for (stack_slot* x : s) {
      EXPECT_EQ(resident_pages(x->top() - page, page), 1u);
      const auto below_top = static_cast<std::size_t>(x->top() - page - x->usable);
      EXPECT_EQ(resident_pages(x->usable, below_top), 0u);
    }
    pool.put_batch(s, k, 0);
    ASSERT_GE(pool.scavenge(0, 0), k * 15 * page);
    for (stack_slot* x : s) EXPECT_EQ(resident_pages(x->lo, x->size), 0u);
    stack_slot* again[k];
    ASSERT_EQ(pool.get_batch(again, k), k);
    for (stack_slot* x : again) EXPECT_EQ(resident_pages(x->top() - page, page), 1u);
    pool.put_batch(again, k, 0);
  }
}

// Without the commit (top_pages::on_first_touch) a fresh slot is address space only.
TEST(StackPool, SlotsLeftToTheFirstTouchHaveNothingResident) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(16 * page, policy::none, -1, stack_pool::top_pages::on_first_touch);
  stack_slot* s[8];
  ASSERT_EQ(pool.get_batch(s, 8), 8u);
  for (stack_slot* x : s) EXPECT_EQ(resident_pages(x->lo, x->size), 0u);
  pool.put_batch(s, 8, 0);
}

TEST(StackPool, HotSlotsAreReusedFirst) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, policy::none);
  stack_slot* a = nullptr;
  ASSERT_EQ(pool.get_batch(&a, 1), 1u);
  pool.put_batch(&a, 1, 0);
  stack_slot* b = nullptr;
  ASSERT_EQ(pool.get_batch(&b, 1), 1u);
  EXPECT_EQ(a, b);  // warm memory goes out again before clean slots
  pool.put_batch(&b, 1, 0);
}

// Promises: free slots always back every promise; a redeemed promise always yields a slot; slots
// beyond promises go out only while the rest stays backed; the scavenger keeps backing slots.
TEST(StackPool, PromisesAreBackedByFreeSlots) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, policy::none);
  EXPECT_EQ(pool.promise(10), 10u);
  stack_pool::counters c = pool.snapshot();
  EXPECT_EQ(c.promised, 10u);
  EXPECT_GE(c.pooled, 10u);
  // Take every unpromised slot: 10 stay behind for the promises.
  std::vector<stack_slot*> s(c.pooled);
  const std::size_t free_now = c.pooled;
  EXPECT_EQ(pool.get_batch(s.data(), free_now - 10, 0), free_now - 10);
  // More slots without a promise: the pool carves rather than giving away a promised one.
  stack_slot* extra = nullptr;
  EXPECT_EQ(pool.get_batch(&extra, 1, 0), 1u);
  EXPECT_GT(pool.snapshot().reserved, c.reserved);
  // Redeeming: one slot each, guaranteed.
  stack_slot* r = nullptr;
  EXPECT_EQ(pool.get_batch(&r, 1, 1), 1u);
  EXPECT_EQ(pool.snapshot().promised, 9u);
  pool.unpromise(9);
  EXPECT_EQ(pool.snapshot().promised, 0u);
  pool.put_batch(s.data(), free_now - 10, 0);
  pool.put_batch(&extra, 1, 0);
  pool.put_batch(&r, 1, 0);
}

// The scavenger releases every idle slot, but never has more slots out for madvise at once than
// the promises leave spare, so a redeemed promise always finds a slot in the pool.
TEST(StackPool, ScavengerKeepsSlotsThatBackPromises) {
  const std::size_t page = stack_pool::page_size();
  stack_pool pool(4 * page, policy::none);
  std::vector<stack_slot*> s(64);
  ASSERT_EQ(pool.get_batch(s.data(), s.size()), s.size());  // the first reservation: 64 slots
  ASSERT_EQ(pool.snapshot().pooled, 0u);
  for (stack_slot* x : s) std::memset(x->usable, 1, x->usable_size());
  pool.put_batch(s.data(), s.size(), 0);
  ASSERT_EQ(pool.promise(60), 60u);
  EXPECT_EQ(pool.scavenge(0, 0), 64 * 4 * page);  // in batches of at most 4
  stack_pool::counters c = pool.snapshot();
  EXPECT_EQ(c.pooled, 64u);
  EXPECT_EQ(c.hot, 0u);
  EXPECT_EQ(c.reserved, 64u);
  for (int i = 0; i < 60; ++i) {
    stack_slot* x = nullptr;
    ASSERT_EQ(pool.get_batch(&x, 1, 1), 1u);
    // Released: nothing resident below the top page (which get_batch may commit).
    const auto below_top = static_cast<std::size_t>(x->top() - page - x->usable);
    EXPECT_EQ(resident_pages(x->usable, below_top), 0u);
  }
  EXPECT_EQ(pool.snapshot().reserved, 64u);  // no carving was needed
}

// Under an address-space limit, reservations shrink to what fits, promises stop at what exists,
// and the pool keeps working. In a child process (the limit is process-wide).
[[noreturn]] void shrink_under_limit() {
  // 256 MiB slots under a 4 GiB limit: the first reservation (64 slots, 16 GiB) cannot fit.
  const rlimit lim{std::size_t{4} << 30, std::size_t{4} << 30};
  if (::setrlimit(RLIMIT_AS, &lim) != 0) std::_Exit(10);
  stack_pool pool(std::size_t{256} << 20, policy::automatic);
  const std::size_t got = pool.promise(64);
  if (got == 0 || got >= 16) std::_Exit(11);
  std::vector<stack_slot*> s(got);
  if (pool.get_batch(s.data(), got, got) != got) std::_Exit(12);
  if (pool.promise(1) != 0) std::_Exit(13);  // nothing is left
  pool.put_batch(s.data(), got, 0);
  if (pool.promise(1) != 1) std::_Exit(14);  // a released slot can be promised again
  std::fprintf(stderr, "%zu slots of 256 MiB under a 4 GiB limit\n", got);
  std::_Exit(0);
}

TEST(StackPoolDeathTest, ReservationsShrinkUnderAnAddressSpaceLimit) {
  if (gort_test::k_sanitized) GTEST_SKIP() << "sanitizer runtimes need the whole address space";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(shrink_under_limit(), ::testing::ExitedWithCode(0),
              "slots of 256 MiB under a 4 GiB limit");
}

// 100,000 unguarded stacks cost a handful of mappings, not 100,000.
TEST(StackPool, ReservationsKeepMappingsFew) {
  const std::size_t page = stack_pool::page_size();
  const int before = gort_test::map_count();
  {
    stack_pool pool(16 * page, policy::none);
    std::vector<stack_slot*> s(100000);
    ASSERT_EQ(pool.get_batch(s.data(), s.size()), s.size());
    EXPECT_LT(gort_test::map_count() - before, 100);
    pool.put_batch(s.data(), s.size(), 0);
  }
  // Everything unmapped again (sanitizer runtimes may keep a few mappings of their own).
  EXPECT_LE(gort_test::map_count(), before + 64);
}

}  // namespace
