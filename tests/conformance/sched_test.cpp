// Scheduler behaviour against Go's rules (Go's src/runtime/proc.go and proc_test.go), at
// GOMAXPROCS 1, 2, 4 and 8. Tests that depend on the exact single-processor order use procs 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"
#include "sched/goroutine.hpp"
#include "stack/stack_pool.hpp"

namespace {

using gort_test::procs_test;
using gort_test::scaled;
using gort_test::scaled_spawns;

class Sched : public procs_test {};
GORT_INSTANTIATE_PROCS(Sched);

// A recorder of the order in which goroutines ran (they run one at a time at procs 1).
struct order_log {
  std::mutex mu;
  std::vector<int> seen;
  void add(int v) {
    std::lock_guard<std::mutex> l(mu);
    seen.push_back(v);
  }
};

TEST_P(Sched, RunReturnsMainResultAndMainIsGoroutineOne) {
  const int r = run([] {
    EXPECT_EQ(gort::this_goroutine::id(), 1u);
    EXPECT_TRUE(gort::detail::on_goroutine());
    return 42;
  });
  EXPECT_EQ(r, 42);
  EXPECT_EQ(gort::this_goroutine::id(), 0u);  // a plain thread again
}

TEST_P(Sched, MaxprocsReportsTheConfiguredCount) {
  run([&] {
    EXPECT_EQ(gort::maxprocs(), procs());
    EXPECT_EQ(gort::stats().gomaxprocs, procs());
    EXPECT_EQ(gort::stats().local_runq.size(), static_cast<std::size_t>(procs()));
  });
}

TEST_P(Sched, GoroutinesGetDistinctIncreasingIds) {
  run([] {
    constexpr int n = 100;
    std::vector<std::uint64_t> ids(n);
    gort::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&, i] {
        ids[static_cast<std::size_t>(i)] = gort::this_goroutine::id();
        wg.done();
      });
    }
    wg.wait();
    std::sort(ids.begin(), ids.end());
    EXPECT_GT(ids.front(), 1u);
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  });
}

TEST_P(Sched, GoPassesArgumentsByValue) {
  run([] {
    gort::wait_group wg;
    int sum = 0;
    std::string text = "abc";
    wg.add(1);
    gort::go(
        [&](int a, std::string s, long b) {
          sum = a + static_cast<int>(s.size()) + static_cast<int>(b);
          wg.done();
        },
        1, text, 10L);
    text.clear();  // the goroutine got its own copy
    wg.wait();
    EXPECT_EQ(sum, 14);
  });
}

TEST_P(Sched, LargeAndOveralignedClosuresWork) {
  run([] {
    gort::wait_group wg;
    std::array<std::int64_t, 64> big{};
    big[63] = 7;
    struct alignas(64) wide {
      int v = 5;
    } w;
    std::atomic<int> got{0};
    wg.add(2);
    gort::go([&wg, &got, big] {
      got.fetch_add(static_cast<int>(big[63]));
      wg.done();
    });
    gort::go([&wg, &got, w] {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&w) % 64, 0u);
      got.fetch_add(w.v);
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(got.load(), 12);
  });
}

// The order tests below assert the default scheduler's choices: they opt out of GORTDEBUG=shuffle
// (which the shuffled conformance runs set in the environment) with a debug string of their own.
constexpr const char* k_default_order = "shuffle=0";

// The order `body(log)` leaves in its log, run as main at one processor with the default order,
// from an attempt that sysmon left alone. Sysmon acts on time: it asks a goroutine running for
// 10 ms to yield at its next preemption point (a spawn), or hands its processor to another thread
// as a runaway's, and a sanitized build's first run of a goroutine can take that long. Either
// changes the order, so such an attempt is run again; each begins with a yield (a fresh slice).
template <class Body>
std::vector<int> undisturbed_order(Body body) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    order_log log;
    bool disturbed = true;
    gort::run(
        [&] {
          gort::yield();
          const gort::runtime_stats before = gort::stats();
          body(log);
          const gort::runtime_stats after = gort::stats();
          disturbed = after.preemptions != before.preemptions ||
                      after.runaway_handoffs != before.runaway_handoffs;
        },
        {.maxprocs = 1, .debug = k_default_order});
    if (!disturbed) return std::move(log.seen);
  }
  ADD_FAILURE() << "sysmon disturbed every attempt";
  return {};
}

// Go's newproc puts the new goroutine in runnext (runtime/proc.go, runqput(pp, newg, true)):
// with one processor, spawning A then B runs B first (B takes runnext and pushes A to the tail
// of the local queue).
TEST(SchedOrder, SpawnAThenBRunsBFirst) {
  const std::vector<int> seen = undisturbed_order([](order_log& log) {
    gort::wait_group wg;
    wg.add(2);
    gort::go([&] {
      log.add(1);
      wg.done();
    });
    gort::go([&] {
      log.add(2);
      wg.done();
    });
    wg.wait();
  });
  EXPECT_EQ(seen, (std::vector<int>{2, 1}));
}

// gort::yield puts the caller at the tail of the global queue: local work runs before it.
TEST(SchedOrder, YieldGoesBehindLocalWork) {
  const std::vector<int> seen = undisturbed_order([](order_log& log) {
    gort::go([&] { log.add(1); });
    gort::go([&] { log.add(2); });
    gort::yield();
    log.add(0);
  });
  EXPECT_EQ(seen, (std::vector<int>{2, 1, 0}));
}

// Go's runqput/runqputslow (runtime/proc.go): 258 spawns without blocking at procs 1 leave runnext = #258, the ring with
// 128 (#129..#256) and the global queue with 129 (#1..#128 then #257). Then every goroutine runs
// exactly once, runnext first. The spawns must not be preempted (sysmon asks main to yield at a
// spawn once its slice is 10 ms old, which a sanitized build can reach): main starts them on a
// fresh slice, after a round that warmed the records, and a round that was preempted anyway is
// run again.
TEST(SchedOrder, OverflowSplitsHalfToGlobalQueue) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    order_log log;
    gort::runtime_stats before_block;
    std::uint64_t preemptions_before = 0;
    gort::run(
        [&] {
          gort::wait_group warm;
          warm.add(258);
          for (int i = 1; i <= 258; ++i) gort::go([&warm] { warm.done(); });
          warm.wait();
          gort::yield();  // a fresh slice
          preemptions_before = gort::stats().preemptions;
          gort::wait_group wg;
          wg.add(258);
          for (int i = 1; i <= 258; ++i) {
            gort::go([&, i] {
              log.add(i);
              wg.done();
            });
          }
          before_block = gort::stats();
          wg.wait();
        },
        {.maxprocs = 1, .debug = k_default_order});
    if (before_block.preemptions != preemptions_before) continue;  // main yielded at a spawn
    EXPECT_EQ(before_block.runqueue, 129);
    ASSERT_EQ(before_block.local_runq.size(), 1u);
    EXPECT_EQ(before_block.local_runq[0], 128);
    ASSERT_EQ(log.seen.size(), 258u);
    EXPECT_EQ(log.seen.front(), 258);
    std::vector<int> sorted = log.seen;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < 258; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i + 1);
    return;
  }
  ADD_FAILURE() << "every attempt's spawns were preempted";
}

// Ring overflow at scale: nothing lost, nothing run twice.
TEST_P(Sched, OverflowToGlobalQueueLosesNothing) {
  const int n = static_cast<int>(scaled_spawns(200000));  // well above a local queue's 256
  std::vector<std::atomic<int>> ran(static_cast<std::size_t>(n));
  run([&] {
    gort::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&, i] {
        ran[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
  });
  for (int i = 0; i < n; ++i) ASSERT_EQ(ran[static_cast<std::size_t>(i)].load(), 1) << i;
}

// Go's TestYieldProgress: a goroutine that keeps yielding does not starve the others.
TEST_P(Sched, TestYieldProgress) {
  run([] {
    std::atomic<bool> stop{false};
    gort::wait_group done;
    done.add(1);
    gort::go([&] {
      while (!stop.load(std::memory_order_acquire)) gort::yield();
      done.done();
    });
    gort::yield();
    stop.store(true, std::memory_order_release);
    done.wait();
  });
}

// Go's TestGoroutineParallelism: with P processors, P goroutines make progress simultaneously —
// each waits (busy) for the previous one's step, which needs all of them running at once.
TEST_P(Sched, TestGoroutineParallelism) {
  const int p = procs();
  if (p > 4 && gort_test::k_sanitized) GTEST_SKIP() << "oversubscribed busy-waiting under sanitizers";
  run([p] {
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::atomic<std::uint32_t> x{0};
      gort::wait_group wg;
      wg.add(p - 1);
      for (int k = 1; k < p; ++k) {
        gort::go([&, k] {
          for (int i = 0; i < 3; ++i) {
            const auto expected = static_cast<std::uint32_t>(p * i + k);
            while (x.load(std::memory_order_acquire) != expected) std::this_thread::yield();
            x.store(expected + 1, std::memory_order_release);
          }
          wg.done();
        });
      }
      // main is participant 0
      for (int i = 0; i < 3; ++i) {
        const auto expected = static_cast<std::uint32_t>(p * i);
        while (x.load(std::memory_order_acquire) != expected) std::this_thread::yield();
        x.store(expected + 1, std::memory_order_release);
      }
      wg.wait();
      EXPECT_EQ(x.load(), static_cast<std::uint32_t>(3 * p));
    }
  });
}

// A busy goroutine holding the only processor's sibling in runnext can only make progress if an
// idle processor steals it: steals happen and are counted.
// The goroutine waits in main's runnext while main spins without a scheduling point; it can only
// run on another thread if an idle processor stole it, and the thief counts the steal before it
// runs the goroutine (same thread: the count happens-before the flag). If sysmon's preemption
// request (main's slice may already be 10 ms old on a loaded machine) made go() yield, main's own
// processor ran the goroutine on main's thread: try again; likewise if sysmon handed main's
// processor to another thread as a runaway's. Each attempt begins with a yield: main runs on
// without a processor after such a hand-off, and a spawn without one goes to the global queue,
// where a thread takes it without stealing; the switch takes a processor back.
TEST_P(Sched, IdleProcessorStealsRunnext) {
  if (procs() == 1) GTEST_SKIP() << "needs a second processor";
  run([] {
    for (int attempt = 0; attempt < 100; ++attempt) {
      gort::yield();
      std::atomic<bool> flag{false};
      std::thread::id ran_on;
      const std::thread::id main_thread = std::this_thread::get_id();
      const std::uint64_t steals_before = gort::stats().steals;
      const std::uint64_t handoffs_before = gort::stats().runaway_handoffs;
      gort::go([&] {
        ran_on = std::this_thread::get_id();
        flag.store(true, std::memory_order_release);
      });
      // Spin without a scheduling point: the goroutine above sits in our runnext.
      while (!flag.load(std::memory_order_acquire)) std::this_thread::yield();
      if (ran_on == main_thread) continue;  // preempted at go(): not a steal
      // sysmon took main's processor, runnext and all, for running 10 ms without a scheduling
      // point, and handed it to another thread (runaway hand-off): not a steal either.
      if (gort::stats().runaway_handoffs != handoffs_before) continue;
      EXPECT_GE(gort::stats().steals, steals_before + 1);
      return;
    }
    ADD_FAILURE() << "the goroutine never ran on another processor's thread";
  });
}

// sysmon asks a goroutine running for 10 ms to yield at its next preemption point (gort::go
// is one); without that, the goroutine it waits for could never run at procs 1. (At more
// processors another one usually steals it first.)
TEST_P(Sched, LongRunningGoroutineIsPreempted) {
  run([this] {
    std::atomic<bool> flag{false};
    gort::go([&] { flag.store(true, std::memory_order_release); });
    while (!flag.load(std::memory_order_acquire)) {
      gort::go([] {});  // a preemption point; the new goroutine takes runnext
    }
    if (procs() == 1) EXPECT_GE(gort::stats().preemptions, 1u);
  });
}

// The global queue is checked every 61st tick even when the local queue never drains: a chain of
// goroutines respawning each other cannot starve a goroutine sitting in the global queue. Each hop
// starts a new time slice (it comes from the ring, a no-op occupies runnext), so the fairness
// check — not sysmon's 10 ms preemption — must release it within about 61 hops.
TEST(SchedOrder, GlobalQueueIsNotStarvedByLocalWork) {
  gort::run(
      [] {
        std::atomic<bool> released{false};
        std::atomic<int> hops{0};
        gort::wait_group wg;
        wg.add(1);
        struct relay {
          static void hop(std::atomic<bool>* r, std::atomic<int>* h, gort::wait_group* w) {
            if (r->load()) {
              w->done();
              return;
            }
            if (h->fetch_add(1) == 0) {
              // From a plain thread, while the chain runs: lands in the global queue.
              std::thread t([r] { gort::go([r] { r->store(true); }); });
              t.join();
            }
            gort::go(&relay::hop, r, h, w);
            gort::go([] {});  // takes runnext, pushing the next hop to the ring
          }
        };
        gort::go(&relay::hop, &released, &hops, &wg);
        wg.wait();
        EXPECT_GT(hops.load(), 0);
        EXPECT_LT(hops.load(), 1000);
      },
      {.maxprocs = 1});
}

// A million goroutines parked at once (the stack design's headline): all park, all wake.
TEST_P(Sched, MillionConcurrentGoroutines) {
  if (procs() != 2 && procs() != 8) GTEST_SKIP() << "run at 2 and 8 processors only (memory, time)";
  constexpr std::int64_t n = scaled(1000000, gort_test::k_tsan ? 500 : 20);
  run([] {
    gort_test::with_parked_goroutines(
        n, [] {},
        [] {
          EXPECT_EQ(gort::num_goroutines(), n + 1);
          EXPECT_GE(gort::stats().stacks_in_use, static_cast<std::uint64_t>(n));
          // Guard markers give every stack a real guard page without new mappings (sanitizer
          // runtimes map memory of their own per goroutine).
          if (gort::sched::stack_pool::guard_markers_supported()) {
            EXPECT_GE(gort::stats().stacks_guarded, static_cast<std::uint64_t>(n));
            if (!gort_test::k_sanitized) EXPECT_LT(gort_test::map_count(), 1000);
          }
        });
  });
}

TEST_P(Sched, NumGoroutinesCountsLiveGoroutines) {
  run([] {
    EXPECT_EQ(gort::num_goroutines(), 1);
    constexpr int n = 50;
    gort_test::with_parked_goroutines(n, [] {}, [] { EXPECT_EQ(gort::num_goroutines(), n + 1); });
    // Exits are counted after each goroutine has left its stack, a moment after done().
    while (gort::num_goroutines() != 1) gort::yield();
    EXPECT_EQ(gort::num_goroutines(), 1);
  });
}

// Spawning from plain threads while the runtime runs (they go to the global queue).
TEST_P(Sched, GoFromPlainThreads) {
  run([] {
    constexpr int threads = 4;
    const int per_thread = static_cast<int>(scaled_spawns(2000, 1));
    std::atomic<int> ran{0};
    gort::wait_group wg;
    wg.add(threads * per_thread);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&] {
        EXPECT_EQ(gort::this_goroutine::id(), 0u);
        for (int i = 0; i < per_thread; ++i) {
          gort::go([&] {
            ran.fetch_add(1);
            wg.done();
          });
        }
      });
    }
    wg.wait();
    for (auto& t : ts) t.join();
    EXPECT_EQ(ran.load(), threads * per_thread);
  });
}

// Deep fork-join (the fib workload's shape) completes with the right answer.
int fib(int n) {
  if (n < 2) return n;
  int a = 0;
  gort::wait_group wg;
  wg.add(1);
  gort::go([&] {
    a = fib(n - 1);
    wg.done();
  });
  const int b = fib(n - 2);
  wg.wait();
  return a + b;
}

TEST_P(Sched, ForkJoinFib) {
  constexpr int n = gort_test::k_sanitized ? 15 : 22;
  const int expected = n == 15 ? 610 : 17711;
  EXPECT_EQ(run([] { return fib(n); }), expected);
}

// A goroutine parked inside a catch block keeps its exception across the park, even when other
// goroutines throw and catch on the same thread meanwhile and it resumes on another thread.
TEST_P(Sched, ExceptionStateSurvivesAPark) {
  run([] {
    gort::wait_group gate;
    gort::wait_group done;
    gate.add(1);
    done.add(2);
    gort::go([&] {
      try {
        throw std::runtime_error("first");
      } catch (const std::exception&) {
        gate.wait();  // park while handling
        EXPECT_EQ(std::uncaught_exceptions(), 0);
        try {
          throw;  // rethrow the exception being handled
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "first");
        }
      }
      done.done();
    });
    gort::go([&] {
      try {
        throw std::logic_error("second");
      } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "second");
      }
      gate.done();
      done.done();
    });
    done.wait();
  });
}

// Whose goroutine a park's unlock callback runs on when the parker spawned a goroutine just
// before: main takes a lock, spawns a goroutine that takes the lock (so it can only continue once
// the parker has left its stack) and readies main, then parks, its unlock callback releasing the
// lock. Called on main.
struct park_unlock_ids {
  std::uint64_t fresh;      // the spawned goroutine's id
  std::uint64_t at_unlock;  // the id of the goroutine the unlock callback ran on
};
// The lock is released by park's unlock callback, which the analysis cannot follow.
park_unlock_ids park_after_spawning_one() GORT_NO_THREAD_SAFETY_ANALYSIS {
  gort::detail::spinlock lock;
  gort::detail::goroutine* parker = nullptr;  // guarded by lock
  std::atomic<std::uint64_t> fresh_id{0};
  std::uint64_t id_at_unlock = ~std::uint64_t{0};
  gort::wait_group done;
  done.add(1);
  lock.lock();
  parker = gort::detail::current();
  gort::go([&]() GORT_NO_THREAD_SAFETY_ANALYSIS {
    fresh_id.store(gort::this_goroutine::id(), std::memory_order_relaxed);
    lock.lock();  // the parker has left its stack once this returns
    gort::detail::goroutine* g = parker;
    lock.unlock();
    gort::detail::ready(g);
    done.done();
  });
  gort::detail::park(gort::detail::wait_reason::forever, [&]() GORT_NO_THREAD_SAFETY_ANALYSIS {
    id_at_unlock = gort::this_goroutine::id();
    lock.unlock();
  });
  done.wait();
  return {fresh_id.load(std::memory_order_relaxed), id_at_unlock};
}

// A park's unlock callback runs once the parker has left its stack; until then its wait lock is
// held. A goroutine that never ran must not get a fresh stack slot (a page fault) in that window,
// or every processor parking on the same lock queues behind the fault. With no goroutine ended
// yet on main's processor, the callback therefore never runs on behalf of the fresh goroutine
// that takes the processor next.
TEST_P(Sched, AParkReleasesItsLockBeforeAFreshGoroutineGetsItsStack) {
  run([] {
    const park_unlock_ids ids = park_after_spawning_one();
    EXPECT_NE(ids.fresh, 0u);
    EXPECT_NE(ids.at_unlock, ids.fresh);
    EXPECT_NE(ids.at_unlock, gort::this_goroutine::id());  // the parker had left its stack
  });
}

// The other side of the rule above: when the stack the goroutine would get was left by one that
// ended on this processor (its pages in use, no fault), the park hands the processor straight to
// it, and the unlock callback runs on its behalf. One processor, so the ended goroutine's stack
// is in main's processor's cache; not under ASan, which has no direct hand-off.
TEST_P(Sched, AParkHandsItsProcessorToAFreshGoroutineWhoseStackIsWarm) {
  if (procs() != 1) GTEST_SKIP() << "the ended goroutine must end on main's processor";
  if (gort_test::k_asan) GTEST_SKIP() << "no direct hand-off under ASan";
  run([] {
    {
      gort::wait_group warmed;  // a goroutine ends here first: its stack tops the cache
      warmed.add(1);
      gort::go([&] { warmed.done(); });
      warmed.wait();
    }
    const park_unlock_ids ids = park_after_spawning_one();
    EXPECT_NE(ids.fresh, 0u);
    EXPECT_EQ(ids.at_unlock, ids.fresh);
  });
}

// Where the running goroutine's closure lives: in its record, and whether the heap flag is set.
struct closure_place {
  bool inline_storage = false;
  bool heap_flag = true;
};
void look_at_closure(closure_place* out) {
  const gort::detail::goroutine* g = gort::detail::current();
  out->inline_storage = g->closure == static_cast<const void*>(g->inline_closure);
  out->heap_flag = (g->flags & gort::detail::goroutine::k_heap_closure) != 0;
}

// A closure that fits the record's inline storage lives there: gort::go(f) stores exactly f (the
// empty argument tuple takes no room), so a capture list of k_inline_closure bytes allocates
// nothing; one word more spills to the heap.
TEST_P(Sched, AClosureThatFitsTheRecordIsNotAllocated) {
  static_assert(gort::sched::k_inline_closure == 7 * sizeof(void*));
  run([] {
    closure_place fits;
    closure_place spills;
    gort::wait_group wg;
    wg.add(2);
    std::uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6;  // not constants: each is captured
    gort::go([&wg, &fits, a, b, c, d, e] {  // seven words
      look_at_closure(&fits);
      EXPECT_EQ(a + b + c + d + e, 15u);
      wg.done();
    });
    gort::go([&wg, &spills, a, b, c, d, e, f] {  // eight
      look_at_closure(&spills);
      EXPECT_EQ(a + b + c + d + e + f, 21u);
      wg.done();
    });
    wg.wait();
    EXPECT_TRUE(fits.inline_storage);
    EXPECT_FALSE(fits.heap_flag);
    EXPECT_FALSE(spills.inline_storage);
    EXPECT_TRUE(spills.heap_flag);
  });
}

// A goroutine that resumed from a park waits for nothing: the switch clears the wait reason that
// park set (park tail-calls the switch and leaves that to it), for both forms of park.
TEST_P(Sched, AResumedGoroutineHasNoWaitReason) {
  run([] {
    gort::detail::goroutine* const self = gort::detail::current();
    gort::chan<int> c(0);
    gort::go([c] { c.send(1); });
    EXPECT_EQ(c.recv(), 1);  // parks (park with the caller's record) until the sender comes
    EXPECT_EQ(self->reason, gort::detail::wait_reason::zero);
    gort::sleep_for(std::chrono::microseconds(1));  // parks through park(reason, callback)
    EXPECT_EQ(self->reason, gort::detail::wait_reason::zero);
  });
}

// Goroutines alive together start their frames at different offsets within a page (stack
// colors, stack/stack_pool.hpp): without them every goroutine's innermost frames would compete
// for the same cache sets.
[[gnu::noinline]] std::uintptr_t frame_offset_in_page() {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) %
         gort::sched::stack_pool::page_size();
}

TEST_P(Sched, GoroutinesStartTheirFramesAtDifferentCacheColors) {
  constexpr std::size_t n = 2 * gort::sched::k_stack_colors;
  std::vector<std::uintptr_t> offsets(n);
  run([&] {
    gort::wait_group started;
    gort::chan<int> release(0);
    started.add(static_cast<int>(n));
    gort::wait_group done;
    done.add(static_cast<int>(n));
    for (std::size_t i = 0; i < n; ++i) {
      gort::go([&, i] {
        offsets[i] = frame_offset_in_page();
        started.done();
        (void)release.recv();  // all n alive at once: n distinct slots
        done.done();
      });
    }
    started.wait();
    release.close();
    done.wait();
  });
  std::sort(offsets.begin(), offsets.end());
  const auto distinct =
      static_cast<std::size_t>(std::unique(offsets.begin(), offsets.end()) - offsets.begin());
  // Colors cycle with a slot's index, and each processor takes its slots in batches of
  // consecutive ones: the goroutines of one processor differ, those of two may repeat each
  // other's colors. Some processor ran at least n / procs of them (at 8 processors, 4).
  const std::size_t per_processor = n / static_cast<std::size_t>(procs());
  EXPECT_GE(distinct, std::min(gort::sched::k_stack_colors / 2, per_processor));
}

}  // namespace
