// gort's sync primitives: ports of Go's sync tests (mutex_test.go, rwmutex_test.go, once_test.go,
// cond_test.go, Go's src/sync) and gort's own checks (mutual exclusion under context
// cancellation, starvation mode, standard lock adaptors, plain threads, misuse death tests,
// wait_group::wait(ctx)), at GOMAXPROCS 1, 2, 4 and 8.
//
// Go's TestWaitGroupMisuse is in waitgroup_test.cpp. Checks that something "is blocked" use a
// non-blocking probe at a point where the blocking is guaranteed; sleeps appear only where the
// time is the subject (Go's TestMutexFairness holds the lock for 100 µs) or as load.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using namespace std::chrono_literals;
using gort_test::procs_test;
using gort_test::scaled;

class Sync : public procs_test {};
GORT_INSTANTIATE_PROCS(Sync);

// Work that takes time inside a critical section (or a holder that keeps a lock for a while).
void nap(std::chrono::nanoseconds d) { gort::sleep_for(d); }

// ---- mutex ----

// Go's HammerMutex/TestMutex, with a check that the critical sections never overlap.
TEST_P(Sync, TestMutex) {
  run([] {
    gort::mutex m;
    m.lock();
    EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with mutex locked";
    m.unlock();
    EXPECT_TRUE(m.try_lock()) << "try_lock failed with mutex unlocked";
    m.unlock();
    constexpr int goroutines = 10;
    const int loops = static_cast<int>(scaled(1000, 4));
    std::atomic<int> inside{0};
    std::atomic<bool> overlap{false};
    long counter = 0;  // guarded by m
    gort::chan<bool> cdone(0);
    for (int g = 0; g < goroutines; ++g) {
      gort::go([&] {
        for (int i = 0; i < loops; ++i) {
          if (i % 3 == 0) {
            if (m.try_lock()) {
              if (inside.fetch_add(1) != 0) overlap = true;
              ++counter;
              inside.fetch_sub(1);
              m.unlock();
            }
            continue;
          }
          m.lock();
          if (inside.fetch_add(1) != 0) overlap = true;
          ++counter;
          inside.fetch_sub(1);
          m.unlock();
        }
        cdone.send(true);
      });
    }
    for (int g = 0; g < goroutines; ++g) (void)cdone.recv();
    EXPECT_FALSE(overlap.load());
    EXPECT_GE(counter, goroutines * (loops - loops / 3 - 1));
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  });
}

// Go's TestMutexFairness: a goroutine that holds the lock for 100 µs at a time, in a loop, must
// not keep another from acquiring it (starvation mode hands it over).
TEST_P(Sync, TestMutexFairness) {
  run([] {
    gort::mutex mu;
    std::atomic<bool> stop{false};
    gort::wait_group holder_done;
    holder_done.add(1);
    gort::go([&] {
      while (!stop.load()) {
        mu.lock();
        nap(100us);
        mu.unlock();
      }
      holder_done.done();
    });
    gort::chan<bool> done(1);
    gort::go([&] {
      for (int i = 0; i < 10; ++i) {
        nap(100us);
        mu.lock();
        mu.unlock();
      }
      done.send(true);
    });
    bool ok = false;
    gort::select(gort::recv(done, [&](auto) { ok = true; }), gort::recv(gort::after(10s)));
    EXPECT_TRUE(ok) << "can't acquire the mutex in 10 seconds";
    stop = true;
    holder_done.wait();
    if (!ok) (void)done.recv();
  });
}

// gort: the standard adaptors work (Lockable), and a mutex may be held across a park and be
// unlocked by another goroutine (Go allows it).
TEST_P(Sync, MutexMeetsLockableAndMayBeHeldAcrossAPark) {
  run([] {
    gort::mutex m;
    {
      std::lock_guard<gort::mutex> l(m);
      EXPECT_FALSE(m.try_lock());
    }
    {
      std::unique_lock<gort::mutex> l(m, std::try_to_lock);
      EXPECT_TRUE(l.owns_lock());
      l.unlock();
      l.lock();
    }
    gort::mutex m2;
    { std::scoped_lock both(m, m2); }
    // Held across a sleep and a channel wait, unlocked by someone else.
    m.lock();
    nap(1ms);
    gort::chan<int> c(0);
    gort::wait_group wg;
    wg.add(1);
    gort::go([&] {
      c.send(1);
      m.unlock();  // not the goroutine that locked it
      wg.done();
    });
    EXPECT_EQ(c.recv(), std::optional<int>(1));
    wg.wait();
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  });
}

// gort: lock(ctx) gives up when the context is done; the mutex stays consistent.
TEST_P(Sync, MutexLockWithContextGivesUp) {
  run([] {
    gort::mutex m;
    m.lock();
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::wait_group wg;
    wg.add(1);
    std::error_code e;
    gort::go([&, ctx = ctx] {
      e = m.lock(ctx);
      wg.done();
    });
    cancel();
    wg.wait();
    EXPECT_EQ(e, gort::errc::canceled);
    EXPECT_EQ(m.lock(ctx), gort::errc::canceled) << "a done context never acquires";
    m.unlock();
    // The waiter left: the mutex is free and works normally.
    EXPECT_TRUE(m.try_lock());
    m.unlock();
    auto [live, stop] = gort::with_timeout(gort::background(), 1h);
    EXPECT_FALSE(m.lock(live));
    m.unlock();
    // A deadline ends the wait with deadline_exceeded.
    m.lock();
    auto [short_ctx, c2] = gort::with_timeout(gort::background(), 3ms);
    EXPECT_EQ(m.lock(short_ctx), gort::errc::deadline_exceeded);
    m.unlock();
    EXPECT_FALSE(m.lock(gort::background()));
    m.unlock();
    stop();
  });
}

// gort: contended lock(ctx) and lock() with waiters cancelled at random moments — in normal and
// starvation mode — keep mutual exclusion, lose no wake-up and leave the mutex unlocked.
TEST_P(Sync, MutexLockWithContextUnderContentionAndCancellation) {
  run([] {
    gort::mutex m;
    constexpr int goroutines = 8;
    const int rounds = static_cast<int>(scaled(400, 4));
    std::atomic<int> inside{0};
    std::atomic<bool> overlap{false};
    std::atomic<int> acquired{0};
    std::atomic<int> gave_up{0};
    gort::wait_group wg;
    wg.add(goroutines);
    for (int g = 0; g < goroutines; ++g) {
      gort::go([&, g] {
        std::mt19937 rng(static_cast<unsigned>(g) * 7919u + 1);
        for (int i = 0; i < rounds; ++i) {
          auto [ctx, cancel] = gort::with_cancel(gort::background());
          // Another goroutine cancels this attempt at a random moment.
          gort::wait_group canceller;
          canceller.add(1);
          const unsigned spins = rng() % 64;
          gort::go([&canceller, cancel = cancel, spins] {
            for (unsigned s = 0; s < spins; ++s) gort::yield();
            cancel();
            canceller.done();
          });
          const bool plain = rng() % 4 == 0;
          const std::error_code e = plain ? (m.lock(), std::error_code{}) : m.lock(ctx);
          if (!e) {
            if (inside.fetch_add(1) != 0) overlap = true;
            // Sometimes hold it long enough (> 1 ms) to push waiters into starvation mode.
            if (rng() % 64 == 0) {
              nap(1500us);
            } else {
              gort::yield();
            }
            inside.fetch_sub(1);
            m.unlock();
            acquired.fetch_add(1);
          } else {
            EXPECT_EQ(e, gort::errc::canceled);
            gave_up.fetch_add(1);
          }
          canceller.wait();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_FALSE(overlap.load());
    EXPECT_EQ(acquired.load() + gave_up.load(), goroutines * rounds);
    EXPECT_GT(acquired.load(), 0);
    // Consistent at the end: free, and usable by many at once.
    EXPECT_TRUE(m.try_lock());
    m.unlock();
    gort::wait_group again;
    again.add(goroutines);
    for (int g = 0; g < goroutines; ++g) {
      gort::go([&] {
        for (int i = 0; i < 100; ++i) {
          m.lock();
          m.unlock();
        }
        again.done();
      });
    }
    again.wait();
  });
}

// gort: the last waiter of a starving mutex gives up; once the owner unlocks, the mutex is free
// for try_lock (nobody is left to hand it to).
TEST_P(Sync, MutexStarvingWaiterGivesUpAndTryLockStillWorks) {
  run([] {
    for (int round = 0; round < 20; ++round) {
      gort::mutex m;
      m.lock();
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      gort::wait_group done;
      done.add(1);
      std::error_code e;
      gort::go([&, ctx = ctx] {
        e = m.lock(ctx);
        if (!e) m.unlock();
        done.done();
      });
      // Make the waiter wait over 1 ms, wake it, and take the lock back before it runs (on one
      // processor it is in our runnext; elsewhere it may win, which is fine): it then switches
      // the mutex to starvation mode and queues again.
      nap(1500us);
      m.unlock();
      m.lock();
      nap(200us);
      cancel();
      done.wait();
      m.unlock();
      EXPECT_TRUE(m.try_lock()) << "round " << round << ": free mutex refused try_lock";
      m.unlock();
    }
  });
}

// gort: goroutines and plain threads contend for one mutex.
TEST_P(Sync, MutexSharedByGoroutinesAndThreads) {
  run([] {
    gort::mutex m;
    long counter = 0;
    const int per = static_cast<int>(scaled(20'000, 10));
    gort::wait_group done;
    done.add(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < per; ++i) {
          std::lock_guard<gort::mutex> l(m);
          ++counter;
        }
        done.done();
      });
    }
    for (int g = 0; g < 2; ++g) {
      gort::go([&] {
        for (int i = 0; i < per; ++i) {
          std::lock_guard<gort::mutex> l(m);
          ++counter;
        }
        done.done();
      });
    }
    done.wait();
    for (auto& t : threads) t.join();
    EXPECT_EQ(counter, 4L * per);
  });
}

TEST(SyncDeathTest, TestMutexMisuseUnlockOfUnlocked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(gort::run(
                   [] {
                     gort::mutex m;
                     m.unlock();
                   },
                   {.maxprocs = 2}),
               "fatal error: sync: unlock of unlocked mutex");
  EXPECT_DEATH(
      {
        gort::mutex m;  // on a plain thread too
        m.lock();
        m.unlock();
        m.unlock();
      },
      "fatal error: sync: unlock of unlocked mutex");
}

TEST(SyncDeathTest, TestMutexMisuseRWMutex) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        gort::rw_mutex m;
        m.unlock_shared();
      },
      "fatal error: sync: RUnlock of unlocked RWMutex");
  EXPECT_DEATH(
      {
        gort::rw_mutex m;
        m.lock();
        m.unlock_shared();
      },
      "fatal error: sync: RUnlock of unlocked RWMutex");
  EXPECT_DEATH(
      {
        gort::rw_mutex m;
        m.unlock();
      },
      "fatal error: sync: Unlock of unlocked RWMutex");
  EXPECT_DEATH(
      {
        gort::rw_mutex m;
        m.lock_shared();
        m.unlock();
      },
      "fatal error: sync: Unlock of unlocked RWMutex");
}

// ---- rw_mutex ----

std::atomic<int> spin_sink{0};  // keeps the critical sections from being optimized away

void hammer_rw_mutex(int readers, int iterations) {
  std::atomic<int> activity{0};  // active readers + 10000 * active writers
  std::atomic<bool> broken{false};
  gort::rw_mutex rwm;
  gort::chan<bool> cdone(0);
  auto reader = [&] {
    for (int i = 0; i < iterations; ++i) {
      rwm.lock_shared();
      const int n = activity.fetch_add(1) + 1;
      if (n < 1 || n >= 10000) broken = true;
      for (int k = 0; k < 100; ++k) spin_sink.fetch_add(0, std::memory_order_relaxed);
      activity.fetch_sub(1);
      rwm.unlock_shared();
    }
    cdone.send(true);
  };
  auto writer = [&] {
    for (int i = 0; i < iterations; ++i) {
      rwm.lock();
      const int n = activity.fetch_add(10000) + 10000;
      if (n != 10000) broken = true;
      for (int k = 0; k < 100; ++k) spin_sink.fetch_add(0, std::memory_order_relaxed);
      activity.fetch_sub(10000);
      rwm.unlock();
    }
    cdone.send(true);
  };
  gort::go(writer);
  int i = 0;
  for (; i < readers / 2; ++i) gort::go(reader);
  gort::go(writer);
  for (; i < readers; ++i) gort::go(reader);
  for (int k = 0; k < 2 + readers; ++k) (void)cdone.recv();
  EXPECT_FALSE(broken.load()) << readers << " readers";
}

TEST_P(Sync, TestRWMutex) {
  run([] {
    gort::rw_mutex m;
    m.lock();
    EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with mutex locked";
    EXPECT_FALSE(m.try_lock_shared()) << "try_lock_shared succeeded with mutex locked";
    m.unlock();
    EXPECT_TRUE(m.try_lock()) << "try_lock failed with mutex unlocked";
    m.unlock();
    EXPECT_TRUE(m.try_lock_shared()) << "try_lock_shared failed with mutex unlocked";
    EXPECT_TRUE(m.try_lock_shared()) << "try_lock_shared failed with mutex rlocked";
    EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with mutex rlocked";
    m.unlock_shared();
    m.unlock_shared();
    const int n = static_cast<int>(scaled(1000, 10));
    for (int readers : {1, 3, 10}) hammer_rw_mutex(readers, n);
  });
}

TEST_P(Sync, TestParallelReaders) {
  run([] {
    for (int readers : {1, 3, 4}) {
      gort::rw_mutex m;
      gort::chan<bool> clocked(0);
      gort::chan<bool> cunlock(0);
      gort::chan<bool> cdone(0);
      for (int i = 0; i < readers; ++i) {
        gort::go([&] {
          m.lock_shared();
          clocked.send(true);
          (void)cunlock.recv();
          m.unlock_shared();
          cdone.send(true);
        });
      }
      for (int i = 0; i < readers; ++i) (void)clocked.recv();  // all hold it at once
      for (int i = 0; i < readers; ++i) cunlock.send(true);
      for (int i = 0; i < readers; ++i) (void)cdone.recv();
    }
  });
}

// Go's writer preference: once a writer waits, new readers wait behind it.
TEST_P(Sync, RWMutexPrefersAPendingWriter) {
  run([] {
    gort::rw_mutex m;
    m.lock_shared();
    gort::wait_group wg;
    wg.add(2);
    std::atomic<int> order{0};
    int writer_pos = -1;
    int reader_pos = -1;
    gort::go([&] {
      std::unique_lock<gort::rw_mutex> w(m);
      writer_pos = order.fetch_add(1);
      wg.done();
    });
    // The writer announces itself before it blocks: from then on try_lock_shared fails.
    while (m.try_lock_shared()) {
      m.unlock_shared();
      gort::yield();
    }
    gort::go([&] {
      std::shared_lock<gort::rw_mutex> r(m);
      reader_pos = order.fetch_add(1);
      wg.done();
    });
    m.unlock_shared();
    wg.wait();
    EXPECT_EQ(writer_pos, 0);
    EXPECT_EQ(reader_pos, 1);
  });
}

// ---- once ----

TEST_P(Sync, TestOnce) {
  run([] {
    gort::once once;
    std::atomic<int> calls{0};
    gort::chan<bool> c(0);
    for (int i = 0; i < 10; ++i) {
      gort::go([&] {
        once.call([&] {
          nap(1ms);  // concurrent callers must wait for this call to finish
          calls.fetch_add(1);
        });
        EXPECT_EQ(calls.load(), 1) << "call() returned before f finished";
        c.send(true);
      });
    }
    for (int i = 0; i < 10; ++i) (void)c.recv();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_TRUE(once.done());
  });
}

// Go's TestOncePanic: a call whose f throws is still the one call.
TEST_P(Sync, TestOncePanic) {
  run([] {
    gort::once once;
    EXPECT_THROW(once.call([] { throw std::runtime_error("failed"); }), std::runtime_error);
    EXPECT_TRUE(once.done());
    once.call([] { ADD_FAILURE() << "once.call called twice"; });
  });
}

// ---- cond ----

TEST_P(Sync, TestCondSignal) {
  run([] {
    gort::mutex m;
    gort::cond c;
    int n = 2;
    gort::chan<bool> running(n);
    gort::chan<bool> awake(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&] {
        std::unique_lock<gort::mutex> l(m);
        running.send(true);
        c.wait(l);
        awake.send(true);
      });
    }
    for (int i = 0; i < n; ++i) (void)running.recv();  // everyone is waiting (or about to)
    while (n > 0) {
      EXPECT_EQ(awake.try_recv().status, gort::recv_status::empty) << "goroutine not asleep";
      m.lock();
      c.signal();
      m.unlock();
      (void)awake.recv();  // deadlocks if no goroutine wakes up
      EXPECT_EQ(awake.try_recv().status, gort::recv_status::empty) << "too many goroutines awake";
      --n;
    }
    c.signal();
  });
}

TEST_P(Sync, TestCondSignalGenerations) {
  run([] {
    gort::mutex m;
    gort::cond c;
    constexpr int n = 100;
    gort::chan<bool> running(n);
    gort::chan<int> awake(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&, i] {
        m.lock();
        running.send(true);
        c.wait(m);
        awake.send(i);
        m.unlock();
      });
      if (i > 0) {
        const int a = *awake.recv();
        ASSERT_EQ(a, i - 1) << "wrong goroutine woke up";
      }
      (void)running.recv();
      m.lock();
      c.signal();
      m.unlock();
    }
    EXPECT_EQ(awake.recv(), std::optional<int>(n - 1));
  });
}

TEST_P(Sync, TestCondBroadcast) {
  run([] {
    gort::mutex m;
    gort::cond c;
    const int n = static_cast<int>(scaled(200, 4));
    gort::chan<int> running(n);
    gort::chan<int> awake(n);
    bool exit = false;  // guarded by m
    gort::wait_group exited;
    exited.add(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&, i] {
        m.lock();
        while (!exit) {
          running.send(i);
          c.wait(m);
          awake.send(i);
        }
        m.unlock();
        exited.done();
      });
    }
    for (int round = 0; round < n; ++round) {
      for (int k = 0; k < n; ++k) (void)running.recv();  // deadlocks unless n are running
      if (round == n - 1) {
        m.lock();
        exit = true;
        m.unlock();
      }
      EXPECT_EQ(awake.try_recv().status, gort::recv_status::empty) << "goroutine not asleep";
      m.lock();
      c.broadcast();
      m.unlock();
      std::vector<bool> seen(static_cast<std::size_t>(n), false);
      for (int k = 0; k < n; ++k) {
        const int g = *awake.recv();
        ASSERT_FALSE(seen[static_cast<std::size_t>(g)]) << "goroutine woke up twice";
        seen[static_cast<std::size_t>(g)] = true;
      }
    }
    exited.wait();
    EXPECT_EQ(running.try_recv().status, gort::recv_status::empty) << "goroutine did not exit";
    c.broadcast();
  });
}

TEST_P(Sync, TestCondSignalStealing) {
  run([] {
    const int iters = static_cast<int>(scaled(1000, 10));
    for (int it = 0; it < iters; ++it) {
      gort::mutex m;
      gort::cond c;
      gort::wait_group all;
      all.add(3);
      // Start a waiter.
      gort::chan<int> ch(0);
      gort::go([&] {
        m.lock();
        ch.send(1);
        c.wait(m);
        m.unlock();
        ch.send(2);
        all.done();
      });
      (void)ch.recv();
      m.lock();
      m.unlock();
      // The waiter is inside wait(): we synchronized with it, then took the mutex it held.
      // Race a broadcast against a new waiter: the first waiter must be woken either way.
      bool done = false;  // guarded by m
      gort::go([&] {
        c.broadcast();
        all.done();
      });
      gort::go([&] {
        m.lock();
        while (!done) c.wait(m);
        m.unlock();
        all.done();
      });
      bool woke = false;
      gort::select(gort::recv(ch, [&](auto) { woke = true; }), gort::recv(gort::after(2s)));
      ASSERT_TRUE(woke) << "first waiter didn't get the broadcast";
      // Release the second waiter in case it didn't get the broadcast.
      m.lock();
      done = true;
      m.unlock();
      c.broadcast();
      all.wait();
    }
  });
}

// gort: cond with a predicate, and plain threads as waiters.
TEST_P(Sync, CondWaitWithPredicateAndPlainThreads) {
  run([] {
    gort::mutex m;
    gort::cond c;
    int value = 0;  // guarded by m
    gort::wait_group waiters;
    waiters.add(2);
    std::thread t([&] {
      std::unique_lock<gort::mutex> l(m);
      c.wait(l, [&] { return value == 3; });
      waiters.done();
    });
    gort::go([&] {
      std::unique_lock<gort::mutex> l(m);
      c.wait(l, [&] { return value == 3; });
      waiters.done();
    });
    for (int i = 0; i < 3; ++i) {
      {
        std::lock_guard<gort::mutex> l(m);
        ++value;
      }
      c.notify_all();
    }
    waiters.wait();
    t.join();
  });
}

// ---- wait_group::wait(ctx) ----

TEST_P(Sync, WaitGroupWaitWithContextGivesUp) {
  run([] {
    gort::wait_group wg;
    wg.add(1);
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::wait_group waiting;
    waiting.add(1);
    std::error_code e;
    gort::go([&, ctx = ctx] {
      e = wg.wait(ctx);
      waiting.done();
    });
    cancel();
    waiting.wait();
    EXPECT_EQ(e, gort::errc::canceled);
    EXPECT_EQ(wg.wait(ctx), gort::errc::canceled) << "a done context never waits";
    // The group is unaffected: a plain waiter is released by done(), and the group is reusable.
    gort::wait_group plain_done;
    plain_done.add(1);
    gort::go([&] {
      wg.wait();
      plain_done.done();
    });
    wg.done();
    plain_done.wait();
    wg.add(1);
    wg.done();
    wg.wait();
    auto [live, stop] = gort::with_timeout(gort::background(), 1h);
    EXPECT_FALSE(wg.wait(live)) << "zero: returns at once";
    wg.add(1);
    gort::go([&] { wg.done(); });
    EXPECT_FALSE(wg.wait(live));
    auto [short_ctx, c2] = gort::with_timeout(gort::background(), 3ms);
    wg.add(1);
    EXPECT_EQ(wg.wait(short_ctx), gort::errc::deadline_exceeded);
    wg.done();
    stop();
  });
}

// gort: many context waiters, some cancelled while done() releases the others, round after
// round on one reused group: every waiter returns once, and reuse never trips the misuse checks.
TEST_P(Sync, WaitGroupWaitWithContextRacingDone) {
  run([] {
    gort::wait_group wg;
    const int rounds = static_cast<int>(scaled(300, 10));
    constexpr int waiters = 6;
    for (int r = 0; r < rounds; ++r) {
      wg.add(1);
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      gort::wait_group joined;
      joined.add(waiters);
      std::atomic<int> ok{0};
      std::atomic<int> cancelled{0};
      for (int w = 0; w < waiters; ++w) {
        gort::go([&, ctx = ctx, w] {
          const std::error_code e = (w % 2 == 0) ? wg.wait(ctx) : (wg.wait(), std::error_code{});
          (e ? cancelled : ok).fetch_add(1);
          joined.done();
        });
      }
      if (r % 2 == 0) {
        cancel();
        wg.done();
      } else {
        wg.done();
        cancel();
      }
      joined.wait();
      EXPECT_EQ(ok.load() + cancelled.load(), waiters);
      EXPECT_GE(ok.load(), waiters / 2);  // the plain waiters always finish by done()
    }
  });
}

}  // namespace
