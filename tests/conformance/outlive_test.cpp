// Objects that outlive a runtime: a channel, mutex, rw_mutex, wait_group, cond, semaphore,
// context, pool or future that goroutines were blocked on when run() returned is used afterwards —
// by plain threads, or under a second run(). The abandoned goroutines' waiter records were on
// stacks that shutdown freed; the object must forget them without reading them (docs/api.md,
// "Objects that outlive a runtime"), and plain threads that were waiting on it too must keep
// waiting and be woken as usual.
//
// Each test runs in a child process (these crashed before the objects learnt to forget) and
// checks its outcome there: the child exits 0 only when every check held.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "gort/gort.hpp"

namespace {

using namespace std::chrono_literals;

#define CHILD_CHECK(cond)                                                         \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__);     \
      std::fflush(stderr);                                                        \
      std::_Exit(3);                                                              \
    }                                                                             \
  } while (0)

// Runs body in a child process; the test passes when the child exits 0.
template <class Body>
void in_child(Body body) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        body();
        std::fflush(stdout);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// Spins (yielding) on a plain thread until pred() holds; the condition is one the test makes
// true itself, so this cannot hang unless the behaviour under test is wrong.
template <class Pred>
void wait_until(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

// Lets the goroutines started so far block (one processor: they run when main yields).
void let_others_block() {
  for (int i = 0; i < 50; ++i) gort::yield();
}

const gort::options k_one{.maxprocs = 1};

TEST(Outlive, ChannelForgetsAbandonedReceiversAndKeepsAThread) {
  in_child([] {
    gort::chan<int> c(0);
    std::atomic<bool> thread_waiting{false};
    std::optional<int> thread_got;
    std::thread receiver;
    gort::run(
        [&] {
          gort::go([&] { (void)c.recv(); });  // abandoned
          receiver = std::thread([&] {
            thread_waiting = true;
            thread_got = c.recv();  // blocked across the end of the runtime
          });
          wait_until([&] { return thread_waiting.load(); });
          let_others_block();
          gort::go([&] { (void)c.recv(); });  // abandoned, behind the thread
          let_others_block();
        },
        k_one);
    // The thread's receive is still pending; a send reaches it, not a dead goroutine.
    c.send(7);
    receiver.join();
    CHILD_CHECK(thread_got == 7);
    // The channel works as new: buffered nothing, nobody waiting.
    CHILD_CHECK(!c.try_send(1));
    std::thread s([&] { c.send(8); });
    CHILD_CHECK(c.recv() == 8);
    s.join();
    // And under a second runtime.
    int got = gort::run([&] {
      gort::go([&] { c.send(9); });
      return *c.recv();
    });
    CHILD_CHECK(got == 9);
    c.close();
    CHILD_CHECK(!c.recv().has_value());
  });
}

TEST(Outlive, ChannelForgetsAbandonedSendersAndSelects) {
  in_child([] {
    gort::chan<int> a(0), b(0);
    gort::run(
        [&] {
          for (int i = 0; i < 3; ++i) gort::go([&, i] { a.send(i); });
          gort::go([&] { gort::select(gort::recv(a), gort::recv(b)); });
          let_others_block();
        },
        k_one);
    // No value offered by an abandoned sender is delivered.
    CHILD_CHECK(a.try_recv().status == gort::recv_status::empty);
    const int got = gort::run([&] {
      gort::go([&] { b.send(5); });
      int v = -1;
      gort::select(gort::recv(a), gort::recv(b, [&](std::optional<int> x) { v = x.value_or(-1); }));
      return v;
    });
    CHILD_CHECK(got == 5);
  });
}

TEST(Outlive, MutexForgetsAbandonedWaitersAndHandsOffToAThread) {
  in_child([] {
    gort::mutex mu;
    std::atomic<int> stage{0};
    std::thread holder([&] {
      mu.lock();
      stage = 1;
      wait_until([&] { return stage.load() == 3; });
      mu.unlock();  // after the runtime ended: the thread below gets it, not a dead goroutine
    });
    wait_until([&] { return stage.load() == 1; });
    std::atomic<bool> thread_locked{false};
    std::thread waiter;
    gort::run(
        [&] {
          gort::go([&] { mu.lock(); });  // abandoned while queued
          let_others_block();
          waiter = std::thread([&] {
            stage = 2;
            mu.lock();  // queued across the end of the runtime
            thread_locked = true;
            mu.unlock();
          });
          wait_until([&] { return stage.load() == 2; });
          gort::go([&] { mu.lock(); });  // abandoned
          let_others_block();
        },
        k_one);
    stage = 3;
    holder.join();
    waiter.join();
    CHILD_CHECK(thread_locked.load());
    // Free now, with nobody waiting: it behaves as new, from threads and from a second runtime.
    CHILD_CHECK(mu.try_lock());
    mu.unlock();
    gort::run([&] {
      int counter = 0;
      gort::wait_group wg;
      wg.add(4);
      for (int g = 0; g < 4; ++g) {
        gort::go([&] {
          for (int i = 0; i < 1000; ++i) {
            std::lock_guard l(mu);
            ++counter;
          }
          wg.done();
        });
      }
      wg.wait();
      CHILD_CHECK(counter == 4000);
    });
  });
}

TEST(Outlive, AMutexHeldByAnAbandonedGoroutineStaysHeld) {
  in_child([] {
    gort::mutex mu;
    gort::run([&] { gort::go([&] { mu.lock(); }); let_others_block(); }, k_one);
    CHILD_CHECK(!mu.try_lock());  // a holder holds, even one that is gone (as in Go)
  });
}

TEST(Outlive, RwMutexForgetsAbandonedReaders) {
  in_child([] {
    gort::rw_mutex rw;
    std::atomic<int> stage{0};
    std::thread writer([&] {
      rw.lock();
      stage = 1;
      wait_until([&] { return stage.load() == 2; });
      rw.unlock();  // the readers queued behind it are gone: their wake-ups must not be stored
    });
    wait_until([&] { return stage.load() == 1; });
    gort::run(
        [&] {
          for (int i = 0; i < 3; ++i) gort::go([&] { rw.lock_shared(); });  // queued, abandoned
          let_others_block();
        },
        k_one);
    stage = 2;
    writer.join();
    // A writer gets it; a reader then waits for it (a stored wake-up would let it in).
    rw.lock();
    std::atomic<bool> reader_in{false};
    std::thread reader([&] {
      rw.lock_shared();
      reader_in = true;
      rw.unlock_shared();
    });
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();
    CHILD_CHECK(!reader_in.load());
    rw.unlock();
    reader.join();
    CHILD_CHECK(reader_in.load());
    CHILD_CHECK(rw.try_lock());
    rw.unlock();
  });
}

TEST(Outlive, WaitGroupForgetsAbandonedWaitersAndKeepsAThread) {
  in_child([] {
    gort::wait_group wg;
    wg.add(1);
    std::atomic<bool> thread_waiting{false}, thread_done{false};
    std::thread waiter;
    gort::run(
        [&] {
          gort::go([&] { wg.wait(); });  // abandoned
          waiter = std::thread([&] {
            thread_waiting = true;
            wg.wait();
            thread_done = true;
          });
          wait_until([&] { return thread_waiting.load(); });
          let_others_block();
          gort::go([&] { wg.wait(); });  // abandoned
          let_others_block();
        },
        k_one);
    wg.done();  // releases the thread; the dead waiters' wake-ups are not stored
    waiter.join();
    CHILD_CHECK(thread_done.load());
    // Reused: a wait must wait for the new count (a stored wake-up would end it early, or
    // report "WaitGroup is reused before previous Wait has returned").
    wg.add(1);
    std::atomic<bool> finished{false};
    std::thread worker([&] {
      for (int i = 0; i < 1000; ++i) std::this_thread::yield();
      finished = true;
      wg.done();
    });
    wg.wait();
    CHILD_CHECK(finished.load());
    worker.join();
    gort::run([&] {
      wg.add(2);
      gort::go([&] { wg.done(); });
      gort::go([&] { wg.done(); });
      wg.wait();
    });
  });
}

TEST(Outlive, CondForgetsAbandonedWaitersAndWakesAThread) {
  in_child([] {
    gort::cond cv;
    gort::mutex mu;
    bool ready = false;  // guarded by mu
    std::atomic<bool> thread_waiting{false}, thread_done{false};
    std::thread waiter;
    gort::run(
        [&] {
          gort::go([&] {
            std::unique_lock l(mu);
            cv.wait(l);  // abandoned
          });
          waiter = std::thread([&] {
            std::unique_lock l(mu);
            thread_waiting = true;
            cv.wait(l, [&] { return ready; });
            thread_done = true;
          });
          wait_until([&] { return thread_waiting.load(); });
          let_others_block();
        },
        k_one);
    {
      std::lock_guard l(mu);
      ready = true;
    }
    cv.signal();  // a dead goroutine's ticket must not absorb it
    waiter.join();
    CHILD_CHECK(thread_done.load());
    gort::run([&] {
      bool go_on = false;
      gort::go([&] {
        std::lock_guard l(mu);
        go_on = true;
        cv.signal();
      });
      std::unique_lock l(mu);
      cv.wait(l, [&] { return go_on; });
    });
  });
}

TEST(Outlive, SemaphoreForgetsAbandonedWaitersAndGrantsAThread) {
  in_child([] {
    gort::semaphore sem(2);
    std::atomic<bool> thread_waiting{false}, thread_has{false};
    std::thread waiter;
    gort::run(
        [&] {
          sem.acquire(2);  // held by main, released after the runtime ended
          gort::go([&] { sem.acquire(2); });  // abandoned at the front
          let_others_block();
          waiter = std::thread([&] {
            thread_waiting = true;
            sem.acquire(1);
            thread_has = true;
          });
          wait_until([&] { return thread_waiting.load(); });
        },
        k_one);
    for (int i = 0; i < 100 && !thread_has.load(); ++i) std::this_thread::yield();
    CHILD_CHECK(!thread_has.load());  // nothing released yet
    sem.release(2);  // the dead front waiter is gone: the thread's 1 fits
    waiter.join();
    CHILD_CHECK(thread_has.load());
    CHILD_CHECK(sem.try_acquire(1));
    CHILD_CHECK(!sem.try_acquire(1));
    sem.release(2);
  });
}

TEST(Outlive, ContextForgetsAbandonedWaitersAndWakesAThread) {
  in_child([] {
    std::pair<gort::context, gort::cancel_func> cc = gort::with_cancel(gort::background());
    std::atomic<bool> thread_waiting{false};
    std::error_code thread_err;
    std::thread waiter;
    gort::run(
        [&] {
          gort::go([&] { (void)gort::sleep_for(cc.first, 1h); });   // abandoned
          gort::go([&] { gort::mutex m; m.lock(); (void)m.lock(cc.first); });  // abandoned
          let_others_block();
          waiter = std::thread([&] {
            thread_waiting = true;
            thread_err = gort::sleep_for(cc.first, 1h);
          });
          wait_until([&] { return thread_waiting.load(); });
          for (int i = 0; i < 1000; ++i) std::this_thread::yield();
        },
        k_one);
    cc.second();  // must not touch the dead goroutines' links; wakes the thread
    waiter.join();
    CHILD_CHECK(thread_err == gort::errc::canceled);
    CHILD_CHECK(cc.first.err() == gort::errc::canceled);
    CHILD_CHECK(gort::detail::context_links(cc.first) == 0);
  });
}

TEST(Outlive, PoolForgetsItsWorkersAndServesAgain) {
  in_child([] {
    std::unique_ptr<gort::pool> p;
    std::atomic<int> ran{0};
    gort::run(
        [&] {
          p = std::make_unique<gort::pool>(gort::pool_options{.capacity = 2});
          for (int i = 0; i < 2; ++i) CHILD_CHECK(!p->submit([&] { ran.fetch_add(1); }));
          let_others_block();  // both workers idle (parked) now
          CHILD_CHECK(p->running() == 2);
        },
        k_one);
    CHILD_CHECK(ran.load() == 2);
    // Under a second runtime the pool serves again with new workers.
    gort::run([&] {
      gort::future<int> f = p->submit_future([] { return 42; });
      CHILD_CHECK(f.get() == 42);
      CHILD_CHECK(p->running() == 1);
      CHILD_CHECK(!p->release_timeout(10s));
    });
    p.reset();  // destroyed with no runtime: frees everything (ASan's leak check)
  });
}

TEST(Outlive, PoolDestroyedAfterRunWithAbandonedWorkers) {
  in_child([] {
    std::unique_ptr<gort::pool> p;
    gort::run(
        [&] {
          p = std::make_unique<gort::pool>(gort::pool_options{.capacity = 4, .min_workers = 4});
          let_others_block();
        },
        k_one);
    CHILD_CHECK(p->stats().running == 0);  // the workers were forgotten
    p.reset();
  });
}

TEST(Outlive, FutureForgetsAnAbandonedWaiter) {
  in_child([] {
    gort::promise<int> pr;
    gort::future<int> f = pr.get_future();
    std::optional<gort::future<int>> moved(std::move(f));
    gort::run([&] { gort::go([&] { (void)moved->wait(); }); let_others_block(); }, k_one);
    pr.set_value(3);  // must not ready the dead goroutine
    CHILD_CHECK(moved->get() == 3);
  });
}

}  // namespace
