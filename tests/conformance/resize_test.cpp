// gort::set_maxprocs (Go's runtime.GOMAXPROCS(n)) and following the CPU limit (Go 1.25), at
// GOMAXPROCS 1, 2, 4 and 8: the count changes while goroutines run, park, sleep and spawn, and
// none is lost or stranded.
#include <gtest/gtest.h>

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"
#include "sched/scheduler.hpp"

namespace {

using gort_test::procs_test;
using gort_test::scaled;

class Resize : public procs_test {};
GORT_INSTANTIATE_PROCS(Resize);

void expect_count(int n) {
  EXPECT_EQ(gort::maxprocs(), n);
  const gort::runtime_stats st = gort::stats();
  EXPECT_EQ(st.gomaxprocs, n);
  EXPECT_EQ(st.local_runq.size(), static_cast<std::size_t>(n));
}

TEST_P(Resize, ReturnsThePreviousCountAndTakesEffect) {
  run([&] {
    EXPECT_EQ(gort::set_maxprocs(0), procs());  // a query
    int prev = procs();
    for (int n : {1, 3, 8, 2, 5, procs()}) {
      EXPECT_EQ(gort::set_maxprocs(n), prev);
      expect_count(n);
      prev = n;
    }
    EXPECT_THROW(gort::set_maxprocs(-1), gort::config_error);
    EXPECT_THROW(gort::set_maxprocs(1025), gort::config_error);
  });
}

TEST_P(Resize, FromAPlainThread) {
  run([&] {
    gort::chan<int> old(1);
    std::thread t([old]() mutable { (void)old.send(gort::set_maxprocs(3)); });
    EXPECT_EQ(*old.recv(), procs());
    t.join();
    expect_count(3);
  });
}

// Workers that park on channels, sleep on timers, spawn and yield, while another goroutine
// resizes through 1, 2, 4 and 8 and other counts: every piece of work finishes exactly once.
TEST_P(Resize, UnderLoadNoGoroutineIsLostOrStranded) {
  run([&] {
    const int pairs = 8;
    const int rounds = static_cast<int>(scaled(2000, 10));
    const int sleepers = 64;
    std::atomic<long> sum{0};
    std::atomic<int> children{0};
    gort::wait_group wg;
    wg.add(2 * pairs + sleepers);
    for (int i = 0; i < pairs; ++i) {
      gort::chan<int> ping(0), pong(0);
      gort::go([=, &wg, &sum]() mutable {
        for (int r = 0; r < rounds; ++r) {
          (void)ping.send(r);
          sum += *pong.recv();
        }
        wg.done();
      });
      gort::go([=, &wg, &children]() mutable {
        for (int r = 0; r < rounds; ++r) {
          const int v = *ping.recv();
          if (r % 100 == 0) {
            gort::go([&children] { children.fetch_add(1); });
          }
          if (r % 7 == 0) gort::yield();
          (void)pong.send(v);
        }
        wg.done();
      });
    }
    std::atomic<int> woke{0};
    for (int i = 0; i < sleepers; ++i) {
      gort::go([i, &wg, &woke] {
        for (int k = 0; k < 5; ++k) gort::sleep_for(std::chrono::microseconds(200 * (i % 8 + 1)));
        woke.fetch_add(1);
        wg.done();
      });
    }
    gort::chan<int> resized(1);
    gort::go([&, resized]() mutable {
      int count = 0;
      for (int n : {1, 2, 4, 8, 3, 1, 8, 2, 4, 1, 6, procs()}) {
        gort::set_maxprocs(n);
        EXPECT_EQ(gort::maxprocs(), n);
        ++count;
      }
      (void)resized.send(count);
    });
    EXPECT_EQ(*resized.recv(), 12);
    wg.wait();
    const long per_pair = static_cast<long>(rounds) * (rounds - 1) / 2;
    EXPECT_EQ(sum.load(), per_pair * pairs);
    EXPECT_EQ(woke.load(), sleepers);
    // The children spawned run too (they may still be finishing: wait for them to be counted).
    const int want_children = pairs * ((rounds + 99) / 100);
    while (children.load() < want_children) gort::yield();
    EXPECT_EQ(children.load(), want_children);
    expect_count(procs());
  });
}

// Machines whose goroutines ran when the world stopped give their processors up at the top of
// find_runnable and park; after a shrink most are never handed one back. Idle that long, they
// leave (stopm's idle exit) and must end their loop holding no processor, not look for work.
TEST(ResizeIdle, MachinesParkedByAResizeLeaveWhenIdle) {
  gort::options o;
  o.maxprocs = 4;
  gort::run(
      [&] {
        std::atomic<bool> stop{false};
        gort::wait_group running, done;
        running.add(4);
        done.add(4);
        for (int i = 0; i < 4; ++i) {
          gort::go([&] {
            running.done();
            while (!stop.load()) gort::yield();  // every yield passes find_runnable's top
            done.done();
          });
        }
        running.wait();
        const int peak = gort::stats().threads;
        EXPECT_EQ(gort::set_maxprocs(1), 4);
        stop.store(true);
        done.wait();
        // Wait for the parked machines to leave: sysmon, the machine running main, and M0 stay.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (gort::stats().threads > 3 && std::chrono::steady_clock::now() < deadline) {
          gort::sleep_for(std::chrono::milliseconds(50));
        }
        EXPECT_LE(gort::stats().threads, 3) << "peak " << peak;
        // The runtime still schedules on what is left (the goroutine owns nothing: main may
        // return before it has finished).
        gort::wait_group ran;
        ran.add(1);
        int v = 0;
        gort::go([&] {
          v = 7;
          ran.done();
        });
        ran.wait();
        EXPECT_EQ(v, 7);
      },
      o);
}

// Shrinking hands the dropped processors' timers on: goroutines asleep when their processor
// goes away still wake.
TEST_P(Resize, ShrinkingKeepsEveryTimer) {
  run([&] {
    gort::set_maxprocs(8);
    const int n = 200;
    gort::wait_group started, done;
    started.add(n);
    done.add(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&] {
        started.done();
        gort::sleep_for(std::chrono::milliseconds(5));
        done.done();
      });
    }
    started.wait();
    EXPECT_EQ(gort::set_maxprocs(1), 8);
    done.wait();  // a timer left on a dropped processor would hang here (the watchdog reports it)
    expect_count(1);
    EXPECT_EQ(gort::stats().timers, 0);
  });
}

// The thread id of this process's thread named `name`, or 0.
pid_t thread_named(const std::string& name) {
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return 0;
  pid_t found = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string c;
    std::getline(comm, c);
    if (c == name) found = static_cast<pid_t>(std::atoi(e->d_name));
  }
  ::closedir(d);
  return found;
}

// Waits (yielding the goroutine's processor) until the count is n or 10 s passed.
bool wait_for_count(int n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gort::maxprocs() != n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    gort::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Go 1.25: with the count not set explicitly, sysmon follows the CPUs it may run on. Here the
// affinity mask of sysmon's thread (which reads it) shrinks to one CPU and back.
TEST(ResizeFollow, FollowsTheAffinityMaskUntilSetExplicitly) {
  if (std::getenv("GORTMAXPROCS") != nullptr) GTEST_SKIP() << "GORTMAXPROCS fixes the count";
  const int initial = gort::maxprocs();
  if (initial < 2) GTEST_SKIP() << "one CPU: nothing to shrink to";
  gort::run([&] {
    ASSERT_EQ(gort::maxprocs(), initial);
    pid_t sysmon = 0;
    for (int i = 0; i < 500 && sysmon == 0; ++i) {  // it names itself once it runs
      sysmon = thread_named("gort-sysmon");
      if (sysmon == 0) gort::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_NE(sysmon, 0);
    cpu_set_t all, one;
    ASSERT_EQ(::sched_getaffinity(sysmon, sizeof all, &all), 0);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &all)) {
        CPU_SET(c, &one);
        break;
      }
    }
    ASSERT_EQ(::sched_setaffinity(sysmon, sizeof one, &one), 0);
    EXPECT_TRUE(wait_for_count(1)) << "count stayed " << gort::maxprocs();
    ASSERT_EQ(::sched_setaffinity(sysmon, sizeof all, &all), 0);
    EXPECT_TRUE(wait_for_count(initial)) << "count stayed " << gort::maxprocs();
    // Set explicitly: following stops; set_default_maxprocs resumes it at the CPUs' count.
    EXPECT_EQ(gort::set_maxprocs(3), initial);
    EXPECT_EQ(gort::set_default_maxprocs(), 3);
    EXPECT_EQ(gort::maxprocs(), initial);
  });
}

// The cgroup limit is followed too: the runtime reads a copy of a fixture tree (a cgroup v2 leaf
// at 2.5 CPUs, tests/support/fixtures/cgroup/README.md) on a machine said to have 8 CPUs, and the
// test rewrites the leaf's cpu.max as a container manager would.
class cpu_limit_fixture {
 public:
  cpu_limit_fixture() {
    namespace fs = std::filesystem;
    root_ = fs::temp_directory_path() / ("gort-cgroup-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::copy(fs::path(GORT_FIXTURES_DIR) / "cgroup/sysroots/v2-limited", root_,
             fs::copy_options::recursive);
    gort::sched::set_cpu_limit_source({root_.string(), 8});
  }
  ~cpu_limit_fixture() {
    gort::sched::set_cpu_limit_source({});
    std::filesystem::remove_all(root_);
  }
  cpu_limit_fixture(const cpu_limit_fixture&) = delete;
  cpu_limit_fixture& operator=(const cpu_limit_fixture&) = delete;

  // Replaces the leaf's cpu.max at once (write and rename), so no reading sees half a file.
  void set_cpu_max(const std::string& line) const {
    const auto dir = root_ / "sys/fs/cgroup/app.slice/web.service";
    {
      std::ofstream f(dir / "cpu.max.new");
      f << line << "\n";
    }
    std::filesystem::rename(dir / "cpu.max.new", dir / "cpu.max");
  }

 private:
  std::filesystem::path root_;
};

TEST(ResizeFollow, FollowsTheCgroupLimitUntilSetExplicitly) {
  if (std::getenv("GORTMAXPROCS") != nullptr) GTEST_SKIP() << "GORTMAXPROCS fixes the count";
  cpu_limit_fixture cgroup;
  gort::run([&] {
    EXPECT_EQ(gort::maxprocs(), 3);  // 2.5 CPUs, rounded up (Go 1.25)
    cgroup.set_cpu_max("max 100000");  // the limit lifted: all 8 CPUs
    EXPECT_TRUE(wait_for_count(8)) << "count stayed " << gort::maxprocs();
    cgroup.set_cpu_max("150000 100000");  // 1.5 CPUs: never fewer than 2 processors
    EXPECT_TRUE(wait_for_count(2)) << "count stayed " << gort::maxprocs();
    // Set explicitly, the count no longer follows; set_default_maxprocs reads the limit again.
    EXPECT_EQ(gort::set_maxprocs(5), 2);
    cgroup.set_cpu_max("400000 100000");
    EXPECT_EQ(gort::set_default_maxprocs(), 5);
    EXPECT_EQ(gort::maxprocs(), 4);
  });
}

}  // namespace
