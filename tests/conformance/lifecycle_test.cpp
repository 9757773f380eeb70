// Runtime lifecycle and failure reporting: run/shutdown, options validation, GORTMAXPROCS,
// uncaught exceptions (and a throwing handler), stack overflow (guard markers on every stack, the
// canary fallback, frames that jump a guard page), fork without exec, per-runtime random seeds,
// idle CPU, schedtrace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <cstdlib>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "gort/gort.hpp"
#include "procs.hpp"
#include "stack/stack_pool.hpp"

namespace {

using gort_test::procs_test;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class Lifecycle : public procs_test {};
GORT_INSTANTIATE_PROCS(Lifecycle);

std::int64_t process_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TEST_P(Lifecycle, ShutdownLeavesNoThreadsAndCanRunAgain) {
  run([] {});  // sanitizer runtimes start a helper thread of their own at the first thread
  const int before = gort_test::thread_count();
  for (int round = 0; round < 3; ++round) {
    const int r = run([&] {
      gort::wait_group wg;
      wg.add(100);
      for (int i = 0; i < 100; ++i) gort::go([&] { wg.done(); });
      wg.wait();
      EXPECT_GE(gort_test::thread_count(), before + 1);  // sysmon at least
      return round;
    });
    EXPECT_EQ(r, round);
    EXPECT_EQ(gort_test::thread_count(), before) << "threads leaked by round " << round;
    EXPECT_EQ(gort::stats().gomaxprocs, 0);  // no runtime
    EXPECT_EQ(gort::num_goroutines(), 0);
  }
}

TEST_P(Lifecycle, MainExceptionIsRethrownByRun) {
  EXPECT_THROW(run([]() -> int { throw std::out_of_range("main failed"); }), std::out_of_range);
  EXPECT_EQ(gort::stats().gomaxprocs, 0);
}

TEST_P(Lifecycle, RunInsideRunIsAConfigError) {
  run([] { EXPECT_THROW(gort::run([] {}), gort::config_error); });
}

TEST(LifecycleOptions, InvalidOptionsAreConfigErrors) {
  EXPECT_THROW(gort::run([] {}, {.maxprocs = -1}), gort::config_error);
  EXPECT_THROW(gort::run([] {}, {.maxprocs = 1025}), gort::config_error);
  EXPECT_THROW(gort::run([] {}, {.stack_size = 4096}), gort::config_error);
  EXPECT_THROW(gort::run([] {}, {.stack_size = std::size_t{4} << 30}), gort::config_error);
  try {
    gort::run([] {}, {.maxprocs = -3});
  } catch (const gort::config_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("maxprocs = -3"));
  }
  // Still usable afterwards.
  EXPECT_EQ(gort::run([] { return 1; }, {.maxprocs = 2}), 1);
}

// Goroutines alive when main returns are abandoned like Go's: run() returns, parked goroutines
// never resume, and every closure that did not run to completion is destroyed at shutdown if it
// never started — no copy of a captured object is left alive.
TEST_P(Lifecycle, GoroutinesAliveAtMainReturnAreAbandoned) {
  struct counted {
    std::atomic<int>* alive;
    explicit counted(std::atomic<int>* a) : alive(a) { alive->fetch_add(1); }
    counted(const counted& o) : alive(o.alive) { alive->fetch_add(1); }
    ~counted() { alive->fetch_sub(1); }
  };
  std::atomic<int> alive{0};
  std::atomic<int> resumed{0};
  gort::wait_group never;  // outlives the runtime: the parked goroutines reference it
  never.add(1);
  run([&] {
    gort::wait_group parked;
    parked.add(10);
    for (int i = 0; i < 10; ++i) {
      gort::go([&] {
        parked.done();
        never.wait();  // parked forever
        resumed.fetch_add(1);
      });
    }
    parked.wait();
    counted c(&alive);
    for (int i = 0; i < 1000; ++i) gort::go([c] { (void)c; });
  });
  EXPECT_EQ(resumed.load(), 0);
  EXPECT_EQ(alive.load(), 0) << "closures of never-started goroutines must be destroyed";
}

TEST_P(Lifecycle, ExceptionHandlerReceivesGoroutineExceptions) {
  std::atomic<int> calls{0};
  std::atomic<std::uint64_t> id{0};
  std::string what;
  gort::options o;
  o.on_exception = [&](const gort::goroutine_exception& e) {
    id = e.goroutine_id;
    try {
      std::rethrow_exception(e.error);
    } catch (const std::exception& ex) {
      what = ex.what();
    }
    EXPECT_THAT(e.created_at.file_name(), HasSubstr("lifecycle_test.cpp"));
    calls.fetch_add(1);
  };
  run(
      [] {
        gort::wait_group wg;
        wg.add(1);
        gort::go([&] {
          struct finish {
            gort::wait_group* w;
            ~finish() { w->done(); }
          } f{&wg};
          throw std::runtime_error("handled boom");
        });
        wg.wait();
        // The runtime keeps working after a goroutine threw.
        wg.add(1);
        gort::go([&] { wg.done(); });
        wg.wait();
      },
      o);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_GT(id.load(), 1u);
  EXPECT_EQ(what, "handled boom");
}

TEST(LifecycleDeathTest, UncaughtExceptionPrintsGoroutineAndCreationSite) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(gort::run(
                   [] {
                     gort::wait_group wg;
                     wg.add(1);
                     gort::go([] { throw std::runtime_error("boom"); });
                     wg.wait();
                   },
                   {.maxprocs = 2}),
               "goroutine [0-9]+ \\[exception\\]: boom(.|\n)*created by (.|\n)*lifecycle_test.cpp:[0-9]+");
}

// A handler that throws while handling: both exceptions are reported, then the process ends as for
// an unhandled one.
TEST(LifecycleDeathTest, ThrowingExceptionHandlerReportsBoth) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  gort::options o;
  o.maxprocs = 2;
  o.on_exception = [](const gort::goroutine_exception&) {
    throw std::logic_error("handler boom");
  };
  EXPECT_DEATH(gort::run(
                   [] {
                     gort::wait_group wg;
                     wg.add(1);
                     gort::go([] { throw std::runtime_error("first boom"); });
                     wg.wait();
                   },
                   o),
               "goroutine [0-9]+ \\[exception\\]: first boom\n"
               "gort::options::on_exception threw while handling it: handler boom"
               "(.|\n)*created by (.|\n)*lifecycle_test.cpp:[0-9]+");
}

int recurse(int depth, volatile char* sink) {
  volatile char buf[512];
  buf[0] = static_cast<char>(depth);
  *sink = buf[0];
  return depth > 1'000'000'000 ? 0 : recurse(depth + 1, sink) + buf[511];
}

TEST(LifecycleDeathTest, StackOverflowIsReportedWithGuardPage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(gort::run(
                   [] {
                     gort::wait_group wg;
                     wg.add(1);
                     gort::go([] {
                       volatile char sink;
                       recurse(0, &sink);
                     });
                     wg.wait();
                   },
                   {.maxprocs = 1}),
               "goroutine [0-9]+: stack overflow(.|\n)*created by (.|\n)*lifecycle_test.cpp");
}

// Runs `overflow` on a goroutine spawned once `neighbours` goroutines are parked: their stacks lie
// below its own, where an overflow runs.
void overflow_above_parked(int neighbours, void (*overflow)(), gort::options o) {
  gort::run(
      [neighbours, overflow] {
        gort_test::with_parked_goroutines(neighbours, [] {}, [overflow] {
          gort::wait_group wg;
          wg.add(1);
          gort::go([overflow] { overflow(); });
          wg.wait();
        });
      },
      o);
}

void infinite_recursion() {
  volatile char sink;
  recurse(0, &sink);
}

// More goroutines than the pre-6.13 scheme could guard (a quarter of vm.max_map_count / 2, about
// 8,000): with guard markers the last one's stack still has a real guard page. In the fallback
// (stackguard=2), its unguarded stack lets the recursion run down through its neighbours' stacks
// until it faults in a guarded one; the fault lies in the stack arena and is reported all the same.
TEST(LifecycleDeathTest, StackOverflowBeyondTheOldGuardBudgetIsReported) {
  if (gort_test::k_tsan) GTEST_SKIP() << "TSan supports at most 8,128 fibers";
  if (!gort::sched::stack_pool::guard_markers_supported()) {
    GTEST_SKIP() << "no guard markers on this kernel (Linux 6.13+)";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_above_parked(9000, &infinite_recursion,
                                     {.maxprocs = 1, .stack_size = 16 * 1024}),
               "goroutine [0-9]+: stack overflow(.|\n)*created by (.|\n)*lifecycle_test.cpp");
}

TEST(LifecycleDeathTest, FallbackReportsAnOverflowThatRanThroughItsNeighbours) {
  if (gort_test::k_asan) GTEST_SKIP() << "ASan reports the deliberate overrun first";
  if (gort_test::k_tsan) GTEST_SKIP() << "TSan supports at most 8,128 fibers";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_above_parked(9000, &infinite_recursion,
                                     {.maxprocs = 1, .stack_size = 16 * 1024,
                                      .debug = "stackguard=2"}),
               "goroutine [0-9]+: stack overflow(.|\n)*created by (.|\n)*lifecycle_test.cpp");
}

// A frame larger than the whole stack, zero-initialized: without stack-clash probes its writes
// would start far below the guard page, in another goroutine's stack. gort's CMake target and
// gort.pc compile consumers with -fstack-clash-protection, so the frame probes each page from the
// top and faults on the guard page first.
[[gnu::noinline]] int big_zeroed_frame(int seed) {
  volatile char big[256 * 1024] = {};
  big[seed % sizeof big] = static_cast<char>(seed);
  return big[(seed * 7) % sizeof big];
}

TEST(LifecycleDeathTest, FrameLargerThanTheStackIsReported) {
  if (gort_test::k_asan) GTEST_SKIP() << "ASan reports the deliberate overrun first";
  if (!gort::sched::stack_pool::guard_markers_supported()) {
    GTEST_SKIP() << "no guard markers on this kernel (Linux 6.13+)";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_above_parked(100, [] { (void)big_zeroed_frame(3); }, {.maxprocs = 1}),
               "goroutine [0-9]+: stack overflow");
}

TEST(LifecycleDeathTest, StackOverflowIsReportedByCanaryWithoutGuardPages) {
  if (gort_test::k_asan) GTEST_SKIP() << "ASan reports the deliberate overrun first";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The canary is checked when the goroutine switches away; the recursion overruns the guard
  // zone's top words (but stays within the zone) and then parks.
  EXPECT_DEATH(gort::run(
                   [] {
                     gort::wait_group wg;
                     wg.add(1);
                     gort::go([&] {
                       struct frame {
                         static void dive(int left, gort::wait_group* w) {
                           volatile char pad[256];
                           pad[0] = 1;
                           // The whole array stays on the stack (clang keeps only the bytes used).
                           asm volatile("" : : "r"(pad) : "memory");
                           if (left > 0) {
                             dive(left - 1, w);
                           } else {
                             gort::yield();
                           }
                           pad[255] = pad[0];
                         }
                       };
                       // 16 KiB slot = 12 KiB usable + page guard zone: ~13 KiB of frames
                       // overrun the usable stack by less than the zone.
                       frame::dive(46, &wg);
                       wg.done();
                     });
                     wg.wait();
                   },
                   {.maxprocs = 1, .stack_size = 16 * 1024, .debug = "stackguard=0"}),
               "goroutine [0-9]+: stack overflow");
}

TEST(LifecycleDeathTest, OverflowPastTheGuardZoneIsReportedAtTheNextSwitch) {
  if (gort_test::k_asan) GTEST_SKIP() << "ASan reports the deliberate overrun first";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Without guard pages, a recursion that runs through the whole guard zone into the canary below
  // it and returns is caught when the goroutine next switches away.
  EXPECT_DEATH(gort::run(
                   [] {
                     gort::wait_group wg;
                     wg.add(1);
                     gort::go([&] {
                       struct frame {
                         static int dive(int left) {
                           volatile char pad[200];
                           for (volatile char& c : pad) c = 1;  // every byte, none optimized away
                           return left > 0 ? dive(left - 1) + pad[7] : pad[3];
                         }
                       };
                       // 16 KiB slot: ~12 KiB usable + 4 KiB guard zone; ~24 KiB of frames.
                       (void)frame::dive(100);
                       gort::yield();
                       wg.done();
                     });
                     wg.wait();
                   },
                   {.maxprocs = 1, .stack_size = 16 * 1024, .debug = "stackguard=0"}),
               "goroutine [0-9]+: stack overflow");
}

// Stacks of finished goroutines are cached, and their memory goes back to the OS once idle
// (free_os_memory does now what sysmon does after a second).
TEST_P(Lifecycle, IdleStacksReturnMemoryToTheOs) {
  run([] {
    constexpr int n = 2000;
    gort_test::with_parked_goroutines(
        n,
        [] {
          volatile char deep[32 * 1024];  // commit ~8 pages of this goroutine's stack
          for (std::size_t k = 0; k < sizeof deep; k += 512) deep[k] = 1;
        },
        [] { EXPECT_GE(gort::stats().stacks_in_use, static_cast<std::uint64_t>(n)); });
    while (gort::num_goroutines() != 1) gort::yield();
    const long before = gort_test::rss_kib();
    const std::uint64_t released_before = gort::stats().stack_bytes_released;
    gort::free_os_memory();
    const gort::runtime_stats after = gort::stats();
    EXPECT_LE(after.stacks_in_use, 2u);
    // Processor caches keep at most 32 warm stacks each; everything else is released.
    EXPECT_GE(after.stack_bytes_released - released_before,
              static_cast<std::uint64_t>(n - 32 * 8) * 32 * 1024);
    if (!gort_test::k_sanitized) {
      EXPECT_LT(gort_test::rss_kib(), before - (n / 2) * 32) << "KiB resident after release";
    }
  });
}

// A parked goroutine keeps about one page of stack resident, whether that page was committed ahead
// of its first run (the stack pool commits the top pages of the slots it hands out) or by its
// first write: committing ahead adds nothing that a goroutine does not touch.
TEST_P(Lifecycle, AParkedGoroutineKeepsAboutOnePageResident) {
  if (gort_test::k_sanitized) GTEST_SKIP() << "sanitizer runtimes keep shadow memory per page";
  run([] {
    constexpr long n = 4000;
    const long page_kib = ::sysconf(_SC_PAGESIZE) / 1024;
    const long before = gort_test::rss_kib();
    long grown = -1;
    gort_test::with_parked_goroutines(n, [] {}, [&] { grown = gort_test::rss_kib() - before; });
    // A stack page and a 256-byte record each, the processors' stack caches (32 slots each) and
    // the runtime's queues: under two pages a goroutine. A whole 64 KiB slot each would be 16.
    EXPECT_GE(grown, 0);
    EXPECT_LT(grown, n * 2 * page_kib) << "KiB resident for " << n << " parked goroutines";
  });
}

// An idle runtime burns no CPU: everything parked, only a plain thread's timer pending.
TEST_P(Lifecycle, IdleRuntimeUsesNoCpu) {
  if (gort_test::k_sanitized) GTEST_SKIP() << "sanitizer runtimes have background threads";
  run([] {
    gort::wait_group release;
    release.add(1);
    std::int64_t cpu_before = 0;
    std::int64_t cpu_after = 0;
    std::thread waker([&] {
      // Let the runtime settle into idleness (machines park, sysmon deep-sleeps), then measure
      // the process's CPU time across 300 ms of wall time. The sleeps are the measurement
      // window, not synchronization: the goroutine waits on `release`.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      cpu_before = process_cpu_ns();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      cpu_after = process_cpu_ns();
      release.done();
    });
    release.wait();
    waker.join();
    // A spinning scheduler would burn ~300 ms per processor here; allow scheduling noise.
    EXPECT_LT(cpu_after - cpu_before, 15'000'000) << "ns of CPU while idle";
  });
}

// fork() without exec in a process whose runtime runs: the child has none of the runtime's
// threads. It is told so instead of waiting forever: gort::run and gort::go refuse with the
// reason, and a goroutine that parks (nothing else could ever run) aborts with it.
std::string drain(int fd) {
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// Forks; the child runs `child` with stderr on a pipe. Returns the child's wait status and output.
template <class F>
std::pair<int, std::string> fork_and_capture(F child) {
  int fds[2];
  if (::pipe(fds) != 0) std::_Exit(20);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    child();
    std::_Exit(9);
  }
  ::close(fds[1]);
  std::string out = drain(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {status, out};
}

[[noreturn]] void fork_while_running() {
  std::pair<int, std::string> from_goroutine;
  std::pair<int, std::string> from_thread;
  gort::run(
      [&] {
        from_goroutine = fork_and_capture([] {
          try {
            gort::run([] {});
          } catch (const gort::config_error& e) {
            std::fprintf(stderr, "run: %s\n", e.what());
          }
          gort::wait_group never;
          never.add(1);
          never.wait();  // parks: nothing could ever wake it in the child
        });
        std::thread t([&] {
          from_thread = fork_and_capture([] {
            try {
              gort::go([] {});
            } catch (const gort::shutdown_error& e) {
              std::fprintf(stderr, "go: %s\n", e.what());
              std::_Exit(3);
            }
          });
        });
        t.join();
      },
      {.maxprocs = 2});
  const bool aborted = WIFSIGNALED(from_goroutine.first) && WTERMSIG(from_goroutine.first) == SIGABRT;
  const bool refused = WIFEXITED(from_thread.first) && WEXITSTATUS(from_thread.first) == 3;
  std::fprintf(stderr, "goroutine child (%s):\n%s\nthread child (%s):\n%s\n",
               aborted ? "aborted" : "NOT aborted", from_goroutine.second.c_str(),
               refused ? "refused" : "NOT refused", from_thread.second.c_str());
  std::_Exit(aborted && refused ? 0 : 1);
}

TEST(LifecycleDeathTest, ForkWithoutExecIsReportedInTheChild) {
  if (gort_test::k_tsan) GTEST_SKIP() << "TSan does not support fork() in a multi-threaded process";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(fork_while_running(), ::testing::ExitedWithCode(0),
              "goroutine child \\(aborted\\):\n"
              "run: gort::run: fork\\(\\) without exec\\(\\)(.|\n)*"
              "fatal error: fork\\(\\) without exec\\(\\)(.|\n)*"
              "thread child \\(refused\\):\n"
              "go: gort::go: fork\\(\\) without exec\\(\\)");
}

// A pool (or a timer, or gort::go) used from a plain thread before any gort::run starts the
// implicit runtime; gort::run then refuses and says why.
[[noreturn]] void pool_before_run() {
  gort::pool p;
  try {
    gort::run([] {});
  } catch (const gort::config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::_Exit(0);
  }
  std::_Exit(1);
}

TEST(LifecycleDeathTest, RunAfterAPoolStartedTheImplicitRuntimeSaysWhy) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(pool_before_run(), ::testing::ExitedWithCode(0),
              "a runtime is already running: .*the implicit runtime, .*gort::pool .*before any "
              "gort::run");
}

// Select's random choice comes from state seeded from the OS per runtime: two runtimes in one
// process pick differently among always-ready cases (with one processor nothing else draws).
// GORTDEBUG=shuffle=SEED replaces the OS's seed by design, so this test opts out of it.
TEST(LifecycleRandom, EachRuntimeSeedsItsChoicesFromTheOs) {
  auto choices = [] {
    return gort::run(
        [] {
          gort::chan<int> a(1);
          gort::chan<int> b(1);
          std::uint64_t bits = 0;
          for (int i = 0; i < 64; ++i) {
            (void)a.try_send(1);
            (void)b.try_send(1);
            const std::size_t fired = gort::select(gort::recv(a), gort::recv(b));
            bits = bits << 1 | fired;
            (void)a.try_recv();
            (void)b.try_recv();
          }
          return bits;
        },
        {.maxprocs = 1, .debug = "shuffle=0"});  // not the shuffle's fixed seed
  };
  const std::uint64_t first = choices();
  const std::uint64_t second = choices();
  EXPECT_NE(first, second) << "the same 64 choices twice: a constant seed";
  EXPECT_NE(first, 0u);
  EXPECT_NE(first, ~std::uint64_t{0});
}

TEST_P(Lifecycle, SchedtracePrintsGoLines) {
  testing::internal::CaptureStderr();
  run(
      [] {
        gort::wait_group release;
        release.add(1);
        std::thread waker([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(60));  // let a few lines print
          release.done();
        });
        release.wait();
        waker.join();
      },
      {.debug = "schedtrace=10"});
  const std::string err = testing::internal::GetCapturedStderr();
  std::string bracket = "\\[[0-9]+";
  for (int i = 1; i < procs(); ++i) bracket += " [0-9]+";
  bracket += "\\]";
  const std::regex line("SCHED 0ms: gomaxprocs=" + std::to_string(procs()) +
                        " idleprocs=[0-9]+ threads=[0-9]+ spinningthreads=[0-9]+ "
                        "idlethreads=[0-9]+ runqueue=[0-9]+ " +
                        bracket);
  EXPECT_TRUE(std::regex_search(err, line)) << err;
  EXPECT_GE(std::count(err.begin(), err.end(), '\n'), 2) << err;
}

TEST(LifecycleTrace, ScheddetailPrintsProcessorsMachinesGoroutines) {
  if (gort_test::k_tsan) GTEST_SKIP() << "detail mode reads running machines' fields racily";
  testing::internal::CaptureStderr();
  gort::run(
      [] {
        gort::wait_group release;
        release.add(1);
        std::thread waker([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(40));
          release.done();
        });
        release.wait();
        waker.join();
      },
      {.maxprocs = 2, .debug = "schedtrace=10,scheddetail=1"});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("gcwaiting=0"));
  EXPECT_TRUE(std::regex_search(err, std::regex("  P0: status=[0-9] schedtick=[0-9]+")));
  EXPECT_TRUE(std::regex_search(err, std::regex("  P1: status=")));
  EXPECT_TRUE(std::regex_search(err, std::regex("  M0: p=")));
  EXPECT_TRUE(std::regex_search(err, std::regex("  G1: status=4\\(sync.WaitGroup.Wait\\)")))
      << err;
}

TEST(LifecycleEnv, GortmaxprocsEnvironmentVariable) {
  ::setenv("GORTMAXPROCS", "3", 1);
  EXPECT_EQ(gort::maxprocs(), 3);
  gort::run([] { EXPECT_EQ(gort::maxprocs(), 3); });
  // Options win over the environment.
  gort::run([] { EXPECT_EQ(gort::maxprocs(), 5); }, {.maxprocs = 5});
  ::setenv("GORTMAXPROCS", "zero", 1);
  testing::internal::CaptureStderr();
  const int fallback = gort::run([] { return gort::maxprocs(); });
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_GE(fallback, 1);
  EXPECT_THAT(err, HasSubstr("invalid GORTMAXPROCS=\"zero\""));
  ::setenv("GORTMAXPROCS", "-2", 1);
  EXPECT_GE(gort::run([] { return gort::maxprocs(); }), 1);
  ::unsetenv("GORTMAXPROCS");
}

TEST(LifecycleEnv, BadGortdebugValueIsReported) {
  testing::internal::CaptureStderr();
  gort::run([] {}, {.maxprocs = 1, .debug = "schedtrace=abc"});
  EXPECT_THAT(testing::internal::GetCapturedStderr(), HasSubstr("schedtrace=abc"));
}

}  // namespace
