// Plain threads racing a runtime's shutdown: gort::go, ready(), timers, stats and channel
// operations from threads that are not goroutines while gort::run returns. Each call either
// completes against the live runtime or is refused cleanly (gort::shutdown_error, or a ready()
// that leaves an abandoned goroutine alone); nothing touches freed memory, nothing accepted is
// lost. Regression tests run in a child process (they crashed before the gate existed); the
// randomized stress runs 200 rounds with exact accounting.
//
// Its own executable: gort::run is called many times, and no implicit runtime may start.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using gort::detail::goroutine;

// A closure that counts how its armed instance ends: destroyed after running, or destroyed
// without running (refused by go(), or never started before shutdown). Moving disarms the source.
struct token_counts {
  std::atomic<std::int64_t> made{0};
  std::atomic<std::int64_t> ran{0};
  std::atomic<std::int64_t> died_after_running{0};
  std::atomic<std::int64_t> died_unrun{0};
};

struct token {
  token_counts* c;
  bool armed = true;
  bool ran = false;
  explicit token(token_counts* counts) : c(counts) { c->made.fetch_add(1); }
  token(token&& o) noexcept : c(o.c), armed(o.armed), ran(o.ran) { o.armed = false; }
  token(const token&) = delete;
  ~token() {
    if (!armed) return;
    (ran ? c->died_after_running : c->died_unrun).fetch_add(1);
  }
  void operator()() {
    ran = true;
    c->ran.fetch_add(1);
  }
};

// Goroutines park here (their records in test-owned memory, not on their stacks, so the list may
// outlive the runtime); plain threads take them out and ready() them.
struct parking_lot {
  gort::detail::spinlock lock;
  std::vector<goroutine*> parked;  // guarded by lock
  std::atomic<std::int64_t> parks{0};
  std::atomic<std::int64_t> readied{0};
  std::atomic<std::int64_t> resumed{0};

  // The lock is released by park's unlock callback, after the goroutine has left its stack:
  // clang's thread-safety analysis cannot follow that hand-over (as in the library's own waits).
  void park_here() GORT_NO_THREAD_SAFETY_ANALYSIS {
    lock.lock();
    parked.push_back(gort::detail::current());
    parks.fetch_add(1);
    gort::detail::park(gort::detail::wait_reason::forever,
                       [this]() GORT_NO_THREAD_SAFETY_ANALYSIS { lock.unlock(); });
    resumed.fetch_add(1);
  }

  // A plain thread: ready one parked goroutine, if any. True if one was taken.
  bool ready_one() {
    lock.lock();
    goroutine* g = nullptr;
    if (!parked.empty()) {
      g = parked.back();
      parked.pop_back();
    }
    lock.unlock();
    if (g == nullptr) return false;
    readied.fetch_add(1);
    gort::detail::ready(g);  // completes, or does nothing for a goroutine shutdown abandoned
    return true;
  }

  std::size_t left() {
    std::lock_guard<gort::detail::spinlock> l(lock);
    return parked.size();
  }
};

// ---- regression tests (child processes) ----

[[noreturn]] void go_while_run_returns() {
  gort::run([] {});  // this process uses gort::run: no implicit runtime may start
  token_counts counts;
  std::int64_t accepted = 0;
  std::int64_t refused = 0;
  for (int round = 0; round < 100; ++round) {
    std::atomic<bool> stop{false};
    std::thread spawner([&] {
      while (!stop.load()) {
        try {
          gort::go(token(&counts));
          ++accepted;
        } catch (const gort::shutdown_error&) {
          ++refused;
        }
      }
    });
    gort::run(
        [] {
          for (int i = 0; i < 10; ++i) gort::go([] {});
        },
        {.maxprocs = 1 + round % 4});
    stop = true;
    spawner.join();
  }
  // Every accepted goroutine ran or had its never-started closure destroyed at shutdown; every
  // refused one was destroyed by the caller.
  if (counts.died_after_running + counts.died_unrun != counts.made) std::_Exit(2);
  if (counts.died_after_running != counts.ran) std::_Exit(3);
  if (accepted + refused != counts.made || refused == 0) std::_Exit(4);
  std::fprintf(stderr, "accepted %lld refused %lld ran %lld\n", static_cast<long long>(accepted),
               static_cast<long long>(refused), static_cast<long long>(counts.ran.load()));
  std::_Exit(0);
}

TEST(ShutdownRaceDeathTest, GoFromPlainThreadWhileRunReturns) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(go_while_run_returns(), ::testing::ExitedWithCode(0), "accepted [0-9]+ refused");
}

[[noreturn]] void ready_while_run_returns() {
  gort::run([] {});  // this process uses gort::run: no implicit runtime may start
  for (int round = 0; round < 100; ++round) {
    parking_lot lot;
    std::atomic<bool> stop{false};
    std::thread readier([&] {
      while (!stop.load()) lot.ready_one();
    });
    gort::run(
        [&lot] {
          for (int i = 0; i < 20; ++i) {
            gort::go([&lot] {
              for (;;) lot.park_here();
            });
          }
          for (int i = 0; i < 50; ++i) gort::yield();
        },
        {.maxprocs = 1 + round % 4});
    stop = true;
    readier.join();
    // Every park is accounted for: still listed (abandoned) or taken by the readier.
    if (lot.parks.load() != static_cast<std::int64_t>(lot.left()) + lot.readied.load()) {
      std::_Exit(2);
    }
    if (lot.resumed.load() > lot.readied.load()) std::_Exit(3);
  }
  std::fprintf(stderr, "ready rounds done\n");
  std::_Exit(0);
}

TEST(ShutdownRaceDeathTest, ReadyFromPlainThreadWhileRunReturns) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(ready_while_run_returns(), ::testing::ExitedWithCode(0), "ready rounds done");
}

// After gort::run has returned, gort::go from a plain thread is refused with a message instead of
// starting an implicit runtime that would make the next gort::run fail.
TEST(Shutdown, GoAfterRunReturnedIsRefused) {
  gort::run([] {});
  try {
    gort::go([] {});
    FAIL() << "accepted without a runtime";
  } catch (const gort::shutdown_error& e) {
    EXPECT_NE(std::string(e.what()).find("gort::run has returned"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gort::timer(std::chrono::milliseconds(1)), gort::shutdown_error);
  EXPECT_EQ(gort::stats().gomaxprocs, 0);
  EXPECT_EQ(gort::run([] { return 7; }), 7);  // and run still works
}

// ---- the randomized stress ----

struct stress_round {
  int procs;
  int workers;
  int main_yields;
  std::uint64_t seed;
};

std::uint64_t xorshift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

TEST(ShutdownStress, PlainThreadsRaceRunReturning) {
  const char* env = std::getenv("GORT_STRESS_SEED");
  const std::uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("GORT_STRESS_SEED=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  gort::run([] {});  // this process uses gort::run: no implicit runtime may start
  // TSan creates a fiber per goroutine and zeroes ~800 KiB of fresh memory for it: on a VM whose
  // page faults cost ~10 µs that is milliseconds per goroutine, so a TSan run does fewer rounds.
  const int k_rounds = gort_test::k_tsan ? 40 : 200;
  int survived = 0;
  std::int64_t total_accepted = 0;
  std::int64_t total_refused = 0;
  std::int64_t total_readied = 0;
  std::int64_t total_messages = 0;
  // TSan keeps heavy per-fiber state: fewer goroutines per round there, so 200 rounds stay short.
  const int max_workers = gort_test::k_tsan ? 8 : 32;
  const int max_yields = gort_test::k_tsan ? 10 : gort_test::k_sanitized ? 200 : 2000;
  const std::int64_t max_backlog = gort_test::k_sanitized ? 64 : 4096;
  for (int round = 0; round < k_rounds; ++round) {
    const stress_round r{1 << (rng() % 4), 1 + static_cast<int>(rng() % max_workers),
                         static_cast<int>(rng() % max_yields), rng()};
    SCOPED_TRACE("round " + std::to_string(round) + " procs " + std::to_string(r.procs) +
                 " workers " + std::to_string(r.workers) + " yields " +
                 std::to_string(r.main_yields));
    token_counts counts;
    parking_lot lot;
    gort::chan<std::int64_t> c(8);  // goroutines and a plain thread send, a plain thread receives
    std::atomic<std::int64_t> sent{0};
    std::atomic<std::int64_t> received{0};
    std::atomic<std::int64_t> accepted{0};
    std::atomic<std::int64_t> refused{0};
    std::atomic<bool> stop{false};
    std::atomic<bool> bad_exception{false};

    std::vector<std::thread> plain;
    plain.emplace_back([&] {  // spawner
      while (!stop.load(std::memory_order_relaxed)) {
        // A bounded backlog of goroutines waiting to run (a sanitized runtime runs them slower
        // than a plain thread can spawn them), unless the runtime is gone or going.
        while (accepted.load() - counts.ran.load() > max_backlog && gort::num_goroutines() > 0 &&
               !stop.load(std::memory_order_relaxed)) {
          std::this_thread::yield();
        }
        try {
          gort::go(token(&counts));
          accepted.fetch_add(1);
        } catch (const gort::shutdown_error&) {
          refused.fetch_add(1);
        } catch (...) {
          bad_exception = true;
        }
      }
    });
    plain.emplace_back([&] {  // readier, with stats and timers on the side
      std::uint64_t x = r.seed | 1;
      while (!stop.load(std::memory_order_relaxed)) {
        lot.ready_one();
        switch (xorshift(x) % 8) {
          case 0:
            (void)gort::stats();
            break;
          case 1:
            (void)gort::num_goroutines();
            break;
          case 2:
            try {
              gort::timer t(std::chrono::microseconds(xorshift(x) % 200));
              if (xorshift(x) % 2 == 0) (void)t.stop();
            } catch (const gort::shutdown_error&) {
            } catch (...) {
              bad_exception = true;
            }
            break;
          default:
            break;
        }
      }
    });
    plain.emplace_back([&] {  // plain sender
      while (!stop.load(std::memory_order_relaxed)) {
        try {
          if (c.try_send(1)) sent.fetch_add(1);
        } catch (...) {
          bad_exception = true;  // c is closed only after this thread stopped
        }
      }
    });
    std::thread receiver([&] {  // plain receiver: blocks in recv until c is closed
      for (;;) {
        auto v = c.recv();
        if (!v) return;
        received.fetch_add(1);
      }
    });

    gort::run(
        [&] {
          for (int i = 0; i < r.workers; ++i) {
            gort::go([&, i] {
              std::uint64_t x = (r.seed ^ static_cast<std::uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull) | 1;
              for (;;) {
                switch (xorshift(x) % 4) {
                  case 0:
                    lot.park_here();
                    break;
                  case 1:
                    if (c.try_send(1)) sent.fetch_add(1);
                    break;
                  case 2:
                    // Counted first: go() is a preemption point after it has accepted, and
                    // shutdown may abandon this goroutine there.
                    accepted.fetch_add(1);
                    gort::go(token(&counts));
                    break;
                  default:
                    gort::yield();
                    break;
                }
              }
            });
          }
          for (int i = 0; i < r.main_yields; ++i) gort::yield();
        },
        {.maxprocs = r.procs});

    stop = true;
    for (auto& t : plain) t.join();
    c.close();  // from a plain thread, after the runtime is gone: wakes the receiver
    receiver.join();
    std::int64_t left_in_buffer = 0;
    while (c.try_recv()) ++left_in_buffer;

    ASSERT_FALSE(bad_exception.load());
    // go: every closure made was destroyed exactly once, after running or unrun.
    ASSERT_EQ(counts.died_after_running + counts.died_unrun, counts.made.load());
    ASSERT_EQ(counts.died_after_running.load(), counts.ran.load());
    ASSERT_EQ(accepted + refused, counts.made.load());
    // ready: every park is still listed (abandoned) or was taken and readied exactly once.
    ASSERT_EQ(lot.parks.load(), static_cast<std::int64_t>(lot.left()) + lot.readied.load());
    ASSERT_LE(lot.resumed.load(), lot.readied.load());
    // channel: every value sent was received or is still buffered.
    ASSERT_EQ(sent.load(), received.load() + left_in_buffer);
    ASSERT_EQ(gort::stats().gomaxprocs, 0);
    total_accepted += accepted.load();
    total_refused += refused.load();
    total_readied += lot.readied.load();
    total_messages += sent.load();
    ++survived;
  }
  std::printf("%d of %d rounds survived: %lld goroutines accepted, %lld refused, %lld readies, "
              "%lld messages\n",
              survived, k_rounds, static_cast<long long>(total_accepted),
              static_cast<long long>(total_refused), static_cast<long long>(total_readied),
              static_cast<long long>(total_messages));
  EXPECT_EQ(survived, k_rounds);
  EXPECT_GT(total_refused, 0);
}

}  // namespace
