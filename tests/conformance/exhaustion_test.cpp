// Exhaustion at the edges: no thread can be created (a pids cgroup), and the address space holds
// only a few stacks (RLIMIT_AS). Each runs in a child process (the limits are process-wide): the
// runtime reports a clear error, registers nothing half-way, and works again once resources are
// back; gort::go reports stack exhaustion as std::bad_alloc and the runtime keeps running.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <thread>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

// ---- a pids cgroup for a child process (cgroup v2, or the v1 pids hierarchy) ----

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.flush();
  return static_cast<bool>(f);
}

// The directory of this process's pids cgroup, or "" when the machine has none we can use.
std::string pids_cgroup_dir(std::string* why) {
  std::ifstream cg("/proc/self/cgroup");
  std::string v1_path;
  std::string v2_path;
  bool have_v2 = false;
  for (std::string line; std::getline(cg, line);) {
    const std::size_t a = line.find(':');
    const std::size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (controllers == "pids") v1_path = path;
    if (controllers.empty()) {
      v2_path = path;
      have_v2 = true;
    }
  }
  struct stat st {};
  if (!v1_path.empty() && ::stat("/sys/fs/cgroup/pids/cgroup.procs", &st) == 0) {
    return "/sys/fs/cgroup/pids" + (v1_path == "/" ? std::string() : v1_path);
  }
  std::ifstream ctl("/sys/fs/cgroup/cgroup.controllers");
  std::string controllers;
  std::getline(ctl, controllers);
  if (have_v2 && (" " + controllers + " ").find(" pids ") != std::string::npos) {
    const std::string dir = "/sys/fs/cgroup" + (v2_path == "/" ? std::string() : v2_path);
    write_file(dir + "/cgroup.subtree_control", "+pids");  // may already be on, or refused
    return dir;
  }
  *why = "no pids cgroup controller (neither cgroup v2 with pids at /sys/fs/cgroup nor the v1 "
         "pids hierarchy)";
  return "";
}

// Why this machine cannot limit our threads with a pids cgroup, or "" when it can.
std::string pids_limit_unavailable() {
  std::string why;
  const std::string dir = pids_cgroup_dir(&why);
  if (dir.empty()) return why;
  const std::string probe = dir + "/gort-probe-" + std::to_string(::getpid());
  if (::mkdir(probe.c_str(), 0755) != 0) {
    return "cannot create a cgroup under " + dir + ": " + std::strerror(errno) +
           " (needs root and a writable cgroup file system)";
  }
  struct stat st {};
  const bool has_max = ::stat((probe + "/pids.max").c_str(), &st) == 0;
  ::rmdir(probe.c_str());
  return has_max ? "" : "the pids controller is not enabled under " + dir;
}

// Moves the calling (child) process into its own pids cgroup. Exits 20 when that fails: the
// parent checked pids_limit_unavailable() first.
class pids_limit {
 public:
  explicit pids_limit(const std::string& max) {
    std::string why;
    parent_ = pids_cgroup_dir(&why);
    dir_ = parent_ + "/gort-test-" + std::to_string(::getpid());
    if (parent_.empty() || ::mkdir(dir_.c_str(), 0755) != 0) std::_Exit(20);
    if (!write_file(dir_ + "/cgroup.procs", std::to_string(::getpid()))) std::_Exit(21);
    set(max);
  }
  void set(const std::string& max) {
    if (!write_file(dir_ + "/pids.max", max)) std::_Exit(22);
  }
  ~pids_limit() {
    write_file(parent_ + "/cgroup.procs", std::to_string(::getpid()));
    ::rmdir(dir_.c_str());
  }

 private:
  std::string parent_;
  std::string dir_;
};

#define SKIP_WITHOUT_PIDS_CGROUP()                                              \
  if (const std::string why = pids_limit_unavailable(); !why.empty())          \
  GTEST_SKIP() << "cannot refuse thread creation on this machine: " << why

// ---- thread creation refused at start ----

[[noreturn]] void run_without_threads() {
  const int threads = gort_test::thread_count();
  std::string first;
  {
    pids_limit limit("1");  // this process may not create any thread
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        gort::run([] {});
        std::_Exit(2);
      } catch (const std::system_error& e) {
        // Names what failed, on every attempt: nothing stayed registered from the first one.
        if (std::string(e.what()).find("cannot start the runtime's sysmon thread") ==
            std::string::npos) {
          std::fprintf(stderr, "unexpected: %s\n", e.what());
          std::_Exit(3);
        }
        if (first.empty()) first = e.what();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "unexpected: %s\n", e.what());
        std::_Exit(4);
      }
      if (gort::stats().gomaxprocs != 0 || gort_test::thread_count() != threads) std::_Exit(5);
    }
    limit.set("max");  // threads are available again
    if (gort::run([] { return 5; }, {.maxprocs = 2}) != 5) std::_Exit(6);
  }
  std::fprintf(stderr, "refused: %s; then ran\n", first.c_str());
  std::_Exit(0);
}

TEST(ExhaustionDeathTest, RunWithoutThreadsFailsCleanlyAndLaterWorks) {
  SKIP_WITHOUT_PIDS_CGROUP();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_without_threads(), ::testing::ExitedWithCode(0),
              "refused: gort::run: cannot start the runtime's sysmon thread: .*; then ran");
}

// The implicit runtime (gort::go from a plain thread in a process that never called gort::run):
// with no thread at all, and with sysmon but no machine thread.
[[noreturn]] void implicit_without_threads() {
  const int threads = gort_test::thread_count();
  std::string first;
  {
    pids_limit limit("1");
    for (const char* max : {"1", "sysmon"}) {
      if (std::string(max) == "sysmon") limit.set(std::to_string(threads + 1));
      for (int attempt = 0; attempt < 2; ++attempt) {
        try {
          gort::go([] { std::_Exit(7); });  // must never run: the spawn was refused
          std::_Exit(2);
        } catch (const std::system_error& e) {
          const std::string what = e.what();
          const char* want = std::string(max) == "1" ? "cannot start the runtime's sysmon thread"
                                                      : "cannot start the runtime's first machine";
          if (what.find(want) == std::string::npos) {
            std::fprintf(stderr, "unexpected: %s\n", e.what());
            std::_Exit(3);
          }
          if (first.empty()) first = what;
        }
        if (gort::stats().gomaxprocs != 0 || gort_test::thread_count() != threads) std::_Exit(5);
      }
    }
    limit.set("max");
    gort::wait_group wg;
    wg.add(1);
    gort::go([&wg] { wg.done(); });
    wg.wait();
    if (gort::stats().gomaxprocs == 0) std::_Exit(6);
  }
  std::fprintf(stderr, "refused: %s; then ran\n", first.c_str());
  std::_Exit(0);
}

TEST(ExhaustionDeathTest, ImplicitRuntimeWithoutThreadsFailsCleanlyAndLaterWorks) {
  SKIP_WITHOUT_PIDS_CGROUP();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(implicit_without_threads(), ::testing::ExitedWithCode(0),
              "refused: gort::go: cannot start the runtime's sysmon thread: .*; then ran");
}

// ---- stacks under an address-space limit ----

// Runs with `stack` bytes per goroutine under a 16 GiB address-space limit: the runtime starts,
// gort::go throws std::bad_alloc once no stack is left (from a goroutine and from a plain
// thread), and everything keeps working. stderr is fully buffered: a goroutine's line reaches it
// only if the process ends normally (an abort would lose it).
[[noreturn]] void stacks_under_address_limit(std::size_t stack) {
  static char buffer[1 << 16];
  std::setvbuf(stderr, buffer, _IOFBF, sizeof buffer);
  const rlimit lim{std::size_t{16} << 30, std::size_t{16} << 30};
  if (::setrlimit(RLIMIT_AS, &lim) != 0) std::_Exit(10);
  bool plain_refused = false;
  const int accepted = gort::run(
      [&plain_refused] {
        gort::wait_group gate;
        gort::wait_group started;
        gort::wait_group finished;
        gate.add(1);
        int n = 0;
        // Spawn until refused, then wait until every accepted goroutine has started: one that
        // starts on a slot its processor had cached returns the promise it took, which makes
        // room for another. Done when a round is refused at once, with nothing left to start.
        for (int round_accepted = -1; round_accepted != 0;) {
          round_accepted = 0;
          for (;;) {
            finished.add(1);
            started.add(1);
            try {
              gort::go([&gate, &started, &finished, n] {
                if (n == 0) std::fprintf(stderr, "goroutine with a big stack was here\n");
                started.done();
                gate.wait();
                finished.done();
              });
            } catch (const std::bad_alloc&) {
              finished.done();
              started.done();
              break;
            }
            ++round_accepted;
            if (++n > 10000) std::_Exit(11);  // the limit should have stopped us long before
          }
          started.wait();
        }
        // A plain thread is refused the same way.
        std::thread t([&plain_refused] {
          try {
            gort::go([] {});
          } catch (const std::bad_alloc&) {
            plain_refused = true;
          }
        });
        t.join();
        // The runtime still works: the parked goroutines finish, and new ones start.
        gate.done();
        finished.wait();
        gort::wait_group again;
        again.add(1);
        gort::go([&again] { again.done(); });
        again.wait();
        return n;
      },
      {.maxprocs = 2, .stack_size = stack});
  std::fprintf(stderr, "%d goroutines of %zu MiB stacks, then bad_alloc (plain thread: %s)\n",
               accepted, stack >> 20, plain_refused ? "bad_alloc" : "accepted");
  std::exit(accepted >= 2 && accepted < 16384 / static_cast<int>(stack >> 20) ? 0 : 12);
}

TEST(ExhaustionDeathTest, GigabyteStacksUnderAnAddressSpaceLimit) {
  if (gort_test::k_sanitized) GTEST_SKIP() << "sanitizer runtimes need the whole address space";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(stacks_under_address_limit(std::size_t{1} << 30), ::testing::ExitedWithCode(0),
              "goroutine with a big stack was here(.|\n)*[0-9]+ goroutines of 1024 MiB stacks, then "
              "bad_alloc \\(plain thread: bad_alloc\\)");
}

TEST(ExhaustionDeathTest, QuarterGigabyteStacksUnderAnAddressSpaceLimit) {
  if (gort_test::k_sanitized) GTEST_SKIP() << "sanitizer runtimes need the whole address space";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(stacks_under_address_limit(std::size_t{256} << 20), ::testing::ExitedWithCode(0),
              "goroutine with a big stack was here(.|\n)*[0-9]+ goroutines of 256 MiB stacks, then "
              "bad_alloc \\(plain thread: bad_alloc\\)");
}

}  // namespace
