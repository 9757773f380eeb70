// detail::spinlock, the lock of every wait queue: mutual exclusion under contention (more threads
// than cores, so holders lose their CPU and the sched_yield fallback runs), try_lock, and a waiter
// against a holder that re-locks in a tight loop — the case the starving flag exists for.
#include "gort/detail/spinlock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace {

TEST(Spinlock, MutualExclusionUnderContention) {
  gort::detail::spinlock lock;
  long counter = 0;  // plain: only the lock orders the increments (TSan checks it too)
  bool inside = false;
  std::atomic<int> overlaps{0};
  constexpr int k_threads = 8;
  constexpr int k_each = 50'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < k_each; ++i) {
        std::lock_guard<gort::detail::spinlock> g(lock);
        if (inside) overlaps.fetch_add(1, std::memory_order_relaxed);
        inside = true;
        ++counter;
        inside = false;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, static_cast<long>(k_threads) * k_each);
  EXPECT_EQ(overlaps.load(), 0);
}

TEST(Spinlock, TryLockFailsWhileHeldAndSucceedsAfter) {
  gort::detail::spinlock lock;
  lock.lock();
  bool got = true;
  std::thread other([&] { got = lock.try_lock(); });
  other.join();
  EXPECT_FALSE(got);
  lock.unlock();
  const bool again = lock.try_lock();
  EXPECT_TRUE(again);
  if (again) lock.unlock();
}

// The holder re-takes the lock a few instructions after each release, from its own cached line;
// the waiter must still get in, every time, and never while the holder is inside.
TEST(Spinlock, WaiterGetsInAgainstATightLoopHolder) {
  gort::detail::spinlock lock;
  std::atomic<bool> stop{false};
  std::atomic<bool> holder_running{false};
  bool holder_inside = false;
  long holder_rounds = 0;
  std::thread holder([&] {
    holder_running.store(true, std::memory_order_release);
    while (!stop.load(std::memory_order_relaxed)) {
      lock.lock();
      holder_inside = true;
      ++holder_rounds;
      holder_inside = false;
      lock.unlock();
    }
  });
  while (!holder_running.load(std::memory_order_acquire)) std::this_thread::yield();
  int entered = 0;
  int overlaps = 0;
  for (int i = 0; i < 2'000; ++i) {
    lock.lock();
    if (holder_inside) ++overlaps;
    ++entered;
    lock.unlock();
  }
  stop.store(true, std::memory_order_relaxed);
  holder.join();
  EXPECT_EQ(entered, 2'000);
  EXPECT_EQ(overlaps, 0);
  EXPECT_GT(holder_rounds, 0);
}

}  // namespace
