// gort::lock_os_thread / unlock_os_thread (Go's runtime.LockOSThread; its tests in
// runtime/proc_test.go, TestLockOSThreadNesting and TestLockOSThreadExit, and
// runtime/testdata/testprog/lockosthread.go), at GOMAXPROCS 1, 2, 4 and 8: a locked goroutine
// keeps its OS thread (gettid) across every kind of park, yields and blocking calls; no other
// goroutine runs on that thread meanwhile; nesting; a goroutine that ends locked ends its thread;
// dumps, resizes and shutdown with a locked goroutine.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using namespace std::chrono_literals;
using gort_test::procs_test;
using gort_test::scaled;

class LockOSThread : public procs_test {};
GORT_INSTANTIATE_PROCS(LockOSThread);

pid_t tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

bool thread_alive(pid_t t) {
  struct stat st;
  return ::stat(("/proc/self/task/" + std::to_string(t)).c_str(), &st) == 0;
}

// Goroutines that record the thread they run on, again and again, until stopped: each time they
// find the locked thread (`locked`, 0 while nothing is locked), that is a violation.
struct observers {
  std::atomic<pid_t> locked{0};
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> violations{0};
  std::atomic<std::int64_t> looks{0};
  gort::wait_group done;

  void start(int n) {
    done.add(n);
    gort::chan<int> relay(0);
    for (int i = 0; i < n; ++i) {
      gort::go([this, relay, i] {
        while (!stop.load(std::memory_order_acquire)) {
          const pid_t l = locked.load(std::memory_order_acquire);
          if (l != 0 && l == tid()) violations.fetch_add(1, std::memory_order_relaxed);
          looks.fetch_add(1, std::memory_order_relaxed);
          // Park and move between threads: pairs hand a value to each other, the rest yield.
          if (i % 2 == 0) {
            (void)relay.try_send(i);
          } else {
            (void)relay.try_recv();
          }
          gort::yield();
        }
        done.done();
      });
    }
  }
  void finish() {
    stop.store(true, std::memory_order_release);
    done.wait();
  }
};

// Helpers that each make the calling goroutine park in one way, woken by another goroutine.
struct park_kinds {
  gort::chan<int> to_locked{0};
  gort::chan<int> from_locked{0};
  gort::mutex mu;
  gort::cond cv;
  bool flag = false;
  int pipe_fds[2] = {-1, -1};
};

TEST_P(LockOSThread, StaysOnItsThreadAcrossEveryKindOfPark) {
  const int rounds = static_cast<int>(scaled(200, 10));
  run([&] {
    park_kinds k;
    ASSERT_EQ(::pipe(k.pipe_fds), 0);
    observers obs;
    obs.start(2 * procs() + 4);
    gort::wait_group locked_done;
    locked_done.add(1);
    std::atomic<int> moved{0};
    std::atomic<int> checked{0};
    gort::go([&] {
      gort::lock_os_thread();
      EXPECT_TRUE(gort::locked_to_os_thread());
      const pid_t me = tid();
      obs.locked.store(me, std::memory_order_release);
      auto check = [&] {
        if (tid() != me) moved.fetch_add(1);
        checked.fetch_add(1);
      };
      for (int r = 0; r < rounds; ++r) {
        (void)k.to_locked.recv();  // chan receive
        check();
        k.from_locked.send(r);  // chan send (unbuffered: parks until the helper receives)
        check();
        gort::select(gort::recv(k.to_locked, [](std::optional<int>) {}));  // select
        check();
        k.mu.lock();  // sync.Mutex (the helper holds it)
        check();
        k.mu.unlock();
        {
          std::unique_lock<gort::mutex> l(k.mu);  // sync.Cond
          k.cv.wait(l, [&] { return k.flag; });
          k.flag = false;
        }
        check();
        gort::sleep_for(std::chrono::microseconds(50));  // sleep (a timer)
        check();
        (void)gort::after(std::chrono::microseconds(50)).recv();  // a timer channel
        check();
        k.from_locked.send(-1);  // the helper writes the pipe after this
        EXPECT_FALSE(gort::wait_readable(k.pipe_fds[0]));  // I/O wait in the poller
        char c = 0;
        EXPECT_EQ(::read(k.pipe_fds[0], &c, 1), 1);
        check();
        gort::yield();
        check();
        const pid_t in_call = gort::blocking([] { return tid(); });  // gort::blocking
        EXPECT_EQ(in_call, me);
        check();
        gort::blocking_long([] { std::this_thread::yield(); });
        check();
        gort::preempt_point();
        check();
      }
      obs.locked.store(0, std::memory_order_release);
      gort::unlock_os_thread();
      EXPECT_FALSE(gort::locked_to_os_thread());
      locked_done.done();
    });
    // The helper: wakes the locked goroutine in each way, in the same order.
    for (int r = 0; r < rounds; ++r) {
      k.to_locked.send(1);
      EXPECT_EQ(k.from_locked.recv().value_or(-2), r);
      k.mu.lock();
      k.to_locked.send(2);  // the select
      gort::yield();        // the locked goroutine meets the held mutex (or not: both are fine)
      k.mu.unlock();
      {
        std::lock_guard<gort::mutex> l(k.mu);
        k.flag = true;
      }
      k.cv.signal();
      EXPECT_EQ(k.from_locked.recv().value_or(-2), -1);
      const char c = 'x';
      EXPECT_EQ(::write(k.pipe_fds[1], &c, 1), 1);
    }
    locked_done.wait();
    obs.finish();
    ::close(k.pipe_fds[0]);
    ::close(k.pipe_fds[1]);
    EXPECT_EQ(moved.load(), 0);
    EXPECT_EQ(checked.load(), rounds * 12);
    EXPECT_EQ(obs.violations.load(), 0) << "another goroutine ran on the locked thread";
    EXPECT_GT(obs.looks.load(), 0);
  });
}

TEST_P(LockOSThread, NoOtherGoroutineRunsOnTheLockedThread) {
  // Many short goroutines, spawned by the locked goroutine and by others, record their thread.
  const int n = static_cast<int>(scaled(20'000, 20));
  run([&] {
    std::atomic<pid_t> locked{0};
    std::atomic<std::int64_t> violations{0};
    gort::wait_group all;
    all.add(1);
    gort::go([&] {
      gort::lock_os_thread();
      locked.store(tid(), std::memory_order_release);
      gort::wait_group wg;
      for (int i = 0; i < n; ++i) {
        wg.add(1);
        gort::go([&] {
          if (tid() == locked.load(std::memory_order_acquire)) violations.fetch_add(1);
          wg.done();
        });
        if (i % 64 == 0) gort::yield();
      }
      wg.wait();
      EXPECT_EQ(tid(), locked.load());
      locked.store(0, std::memory_order_release);
      gort::unlock_os_thread();
      all.done();
    });
    all.wait();
    EXPECT_EQ(violations.load(), 0);
  });
}

TEST_P(LockOSThread, ParkedLockedGoroutineDoesNotStopOthers) {
  // At GOMAXPROCS 1 especially: the locked goroutine's thread sleeps and hands the processor on.
  run([&] {
    gort::chan<int> wake(0);
    gort::chan<pid_t> result(1);
    gort::go([&] {
      gort::lock_os_thread();
      const pid_t me = tid();
      const int v = wake.recv().value_or(-1);
      result.send(v == 7 && tid() == me ? me : 0);
      gort::unlock_os_thread();
    });
    // Others work (ping-pong chains and spawns) while it is parked.
    constexpr int k_pairs = 8;
    const int trips = static_cast<int>(scaled(2'000, 10));
    gort::wait_group wg;
    for (int i = 0; i < k_pairs; ++i) {
      gort::chan<int> ping(0);
      gort::chan<int> pong(0);
      wg.add(2);
      gort::go([=, &wg] {
        for (int v : ping) pong.send(v + 1);
        pong.close();
        wg.done();
      });
      gort::go([=, &wg] {
        int v = 0;
        for (int t = 0; t < trips; ++t) {
          ping.send(v);
          v = pong.recv().value_or(-1);
        }
        EXPECT_EQ(v, trips);
        ping.close();
        wg.done();
      });
    }
    wg.wait();
    wake.send(7);
    EXPECT_NE(result.recv().value_or(0), 0);
  });
}

TEST_P(LockOSThread, Nesting) {
  run([] {
    gort::unlock_os_thread();  // without a lock: nothing (as Go)
    EXPECT_FALSE(gort::locked_to_os_thread());
    gort::wait_group wg;
    wg.add(1);
    std::atomic<bool> ok{false};
    gort::go([&] {
      gort::lock_os_thread();
      gort::lock_os_thread();
      const pid_t me = tid();
      gort::unlock_os_thread();
      EXPECT_TRUE(gort::locked_to_os_thread());  // one lock still holds
      for (int i = 0; i < 50; ++i) {
        gort::sleep_for(std::chrono::microseconds(20));
        gort::yield();
        if (tid() != me) return wg.done();
      }
      EXPECT_EQ(gort::stats().locked_threads, 1);
      gort::unlock_os_thread();
      EXPECT_FALSE(gort::locked_to_os_thread());
      gort::unlock_os_thread();  // one too many: nothing
      EXPECT_FALSE(gort::locked_to_os_thread());
      EXPECT_EQ(gort::stats().locked_threads, 0);
      // Unlocked, it keeps working wherever it runs.
      gort::chan<int> c(0);
      gort::go([c] { c.send(5); });
      EXPECT_EQ(c.recv().value_or(0), 5);
      gort::yield();
      ok.store(true);
      wg.done();
    });
    wg.wait();
    EXPECT_TRUE(ok.load());
  });
}

TEST_P(LockOSThread, LockUnlockManyTimes) {
  const int n = static_cast<int>(scaled(2'000, 10));
  run([&] {
    gort::wait_group wg;
    std::atomic<int> moved{0};
    for (int g = 0; g < 4; ++g) {
      wg.add(1);
      gort::go([&] {
        gort::chan<int> c(1);
        for (int i = 0; i < n; ++i) {
          gort::lock_os_thread();
          const pid_t me = tid();
          gort::yield();
          c.send(i);
          (void)c.recv();
          if (tid() != me) moved.fetch_add(1);
          gort::unlock_os_thread();
          gort::yield();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(moved.load(), 0);
    EXPECT_EQ(gort::stats().locked_threads, 0);
  });
}

// Polls `cond` with a deadline (a park between looks; the deadline only bounds a failure).
template <class Cond>
bool eventually(Cond cond) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    gort::sleep_for(200us);
  }
  return true;
}

TEST_P(LockOSThread, GoroutineEndingLockedEndsItsThread) {
  const pid_t caller = tid();
  run([&] {
    for (int round = 0; round < 3; ++round) {
      gort::chan<pid_t> c(1);
      gort::go([c] {
        gort::lock_os_thread();
        c.send(tid());
        // Ends locked (even nested): the thread must not be reused.
        gort::lock_os_thread();
      });
      const pid_t t = c.recv().value_or(0);
      ASSERT_NE(t, 0);
      if (t == caller) continue;  // M0: it stays (see M0StopsRunningGoroutines)
      EXPECT_TRUE(eventually([t] { return !thread_alive(t); })) << "thread " << t << " still runs";
      // The runtime goes on with its other threads.
      gort::wait_group wg;
      std::atomic<int> on_dead{0};
      for (int i = 0; i < 100; ++i) {
        wg.add(1);
        gort::go([&, t] {
          if (tid() == t) on_dead.fetch_add(1);
          wg.done();
        });
      }
      wg.wait();
      EXPECT_EQ(on_dead.load(), 0);
      EXPECT_EQ(gort::stats().locked_threads, 0);
    }
  });
}

TEST_P(LockOSThread, M0StopsRunningGoroutinesAfterALockedEnd) {
  // A goroutine that ends locked on the thread that called run: that thread runs no goroutine
  // again, and run() still returns when main does.
  const pid_t caller = tid();
  const int before = gort_test::thread_count();
  run([&] {
    bool hit = false;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!hit && std::chrono::steady_clock::now() < deadline) {
      gort::chan<bool> c(1);
      gort::go([c, caller] {
        const bool on_m0 = tid() == caller;
        if (on_m0) gort::lock_os_thread();
        c.send(on_m0);
      });
      hit = c.recv().value_or(false);
    }
    ASSERT_TRUE(hit) << "no goroutine ran on the run() caller's thread";
    std::atomic<int> on_m0{0};
    gort::wait_group wg;
    for (int i = 0; i < 2'000; ++i) {
      wg.add(1);
      gort::go([&] {
        if (tid() == caller) on_m0.fetch_add(1);
        gort::yield();
        if (tid() == caller) on_m0.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(on_m0.load(), 0);
    EXPECT_EQ(tid() == caller, false);
  });
  EXPECT_EQ(tid(), caller);
  EXPECT_EQ(gort_test::thread_count(), before);  // every runtime thread ended
}

TEST_P(LockOSThread, DumpSaysLockedToThread) {
  run([] {
    gort::chan<int> c(0);
    std::atomic<std::uint64_t> id{0};
    gort::wait_group done;
    done.add(1);
    gort::go([&] {
      gort::lock_os_thread();
      id.store(gort::this_goroutine::id());
      (void)c.recv();
      gort::unlock_os_thread();
      done.done();
    });
    const std::string want_prefix = "]:";
    std::string text;
    const bool found = eventually([&] {
      if (id.load() == 0) return false;
      std::ostringstream out;
      gort::dump_goroutines(out);
      text = out.str();
      return text.find("goroutine " + std::to_string(id.load()) +
                       " [chan receive, locked to thread]:") != std::string::npos;
    });
    EXPECT_TRUE(found) << text;
    // Main itself is not locked.
    EXPECT_EQ(text.find("goroutine 1 [running, locked to thread]"), std::string::npos) << text;
    c.send(1);
    done.wait();
    std::ostringstream after;
    gort::dump_goroutines(after);
    EXPECT_EQ(after.str().find("locked to thread"), std::string::npos) << after.str();
  });
}

TEST_P(LockOSThread, ResizeWhileLockedGoroutineParkedOrRunning) {
  run([&] {
    gort::chan<int> wake(0);
    gort::chan<bool> ok(2);
    std::atomic<bool> stop{false};
    gort::go([&] {  // parked, locked
      gort::lock_os_thread();
      const pid_t me = tid();
      (void)wake.recv();
      ok.send(tid() == me);
    });
    gort::go([&] {  // running (yielding), locked
      gort::lock_os_thread();
      const pid_t me = tid();
      bool same = true;
      while (!stop.load(std::memory_order_acquire)) {
        gort::yield();
        same = same && tid() == me;
      }
      ok.send(same);
    });
    gort::yield();
    for (int n : {procs() + 1, 1, procs(), 3, procs()}) gort::set_maxprocs(n);
    EXPECT_EQ(gort::maxprocs(), procs());
    stop.store(true, std::memory_order_release);
    wake.send(1);
    EXPECT_TRUE(ok.recv().value_or(false));
    EXPECT_TRUE(ok.recv().value_or(false));
  });
}

TEST_P(LockOSThread, ShutdownWithLockedGoroutineParkedOrRunning) {
  const int before = gort_test::thread_count();
  for (int variant = 0; variant < 3; ++variant) {
    // Outlives the runtime: an abandoned goroutine's stack objects are not destroyed.
    gort::chan<int> never(0);
    run([&] {
      gort::wait_group started;
      started.add(2);
      gort::go([&] {  // parked for good on a channel nobody sends on
        gort::lock_os_thread();
        started.done();
        (void)never.recv();
      });
      gort::go([&] {  // runs (yields) until shutdown abandons it
        gort::lock_os_thread();
        started.done();
        for (;;) gort::yield();
      });
      started.wait();
      if (variant == 1) gort::yield();
      if (variant == 2) gort::sleep_for(100us);
    });
    EXPECT_EQ(gort_test::thread_count(), before) << "variant " << variant;
  }
}

TEST_P(LockOSThread, LockedMainGoroutine) {
  // Main locks itself (as a Go program's init may): it stays on its thread, others run elsewhere.
  run([&] {
    gort::lock_os_thread();
    const pid_t me = tid();
    std::atomic<int> on_main{0};
    gort::wait_group wg;
    for (int i = 0; i < 500; ++i) {
      wg.add(1);
      gort::go([&] {
        if (tid() == me) on_main.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    gort::sleep_for(50us);
    EXPECT_EQ(tid(), me);
    EXPECT_EQ(on_main.load(), 0);
    // Returns locked: shutdown as usual.
  });
}

TEST(LockOSThreadPlain, PlainThreadCallsDoNothing) {
  gort::lock_os_thread();
  EXPECT_FALSE(gort::locked_to_os_thread());
  gort::unlock_os_thread();
  gort::unlock_os_thread();
  EXPECT_FALSE(gort::locked_to_os_thread());
}

}  // namespace
