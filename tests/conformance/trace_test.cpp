// The execution trace (gort::trace_start/trace_stop, GORTDEBUG=trace=PATH), at GOMAXPROCS 1, 2,
// 4 and 8. The JSON is loaded by Python's json module (tests/support/check_trace.py), which also
// checks what viewers rely on; the test compares its counts with what the program did.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using gort_test::procs_test;
using gort_test::scaled;

class Trace : public procs_test {};
GORT_INSTANTIATE_PROCS(Trace);

struct summary {
  std::map<std::string, long> figures;
  std::set<std::uint64_t> exited;
  std::set<std::uint64_t> ran;
  std::set<std::string> reasons;
  std::string raw;
  int status = -1;
};

std::string python() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

summary check(const std::string& path) {
  summary s;
  const std::string cmd =
      python() + " " GORT_FIXTURES_DIR "/../check_trace.py " + path + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return s;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) s.raw += buf;
  const int st = ::pclose(p);
  s.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::istringstream in(s.raw);
  std::string key;
  while (in >> key) {
    if (key == "exited" || key == "ran") {
      std::uint64_t id = 0;
      in >> id;
      (key == "ran" ? s.ran : s.exited).insert(id);
    } else if (key == "reason") {
      std::string r;
      std::getline(in, r);
      s.reasons.insert(r.substr(1));
    } else {
      long v = 0;
      in >> v;
      s.figures[key] = v;
    }
  }
  return s;
}

std::string temp_path(const char* what) {
  static int n = 0;
  return testing::TempDir() + "gort_trace_" + what + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(++n) + ".json";
}

// A ping-pong of `rounds` round trips between main and a partner, traced from its start to its
// end into `path`.
void traced_pingpong(const std::string& path, int rounds) {
  gort_test::pingpong(rounds, [&] { gort::trace_start(path); });
  gort::trace_stop();
}

TEST_P(Trace, EverySpawnedGoroutineHasItsSliceAndArrow) {
  const std::string path = temp_path("spawn");
  const int n = static_cast<int>(scaled(200, 4));
  std::set<std::uint64_t> ids;
  run([&] {
    gort::trace_start(path);
    EXPECT_TRUE(gort::tracing());
    gort::chan<std::uint64_t> done(n);
    gort::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i) {
      gort::go([done, &wg]() mutable {
        (void)done.send(gort::this_goroutine::id());
        wg.done();
      });
    }
    for (int i = 0; i < n; ++i) ids.insert(*done.recv());
    wg.wait();
    gort::trace_stop();
    EXPECT_FALSE(gort::tracing());
  });
  const summary s = check(path);
  ASSERT_EQ(s.status, 0) << s.raw;
  // Each spawned goroutine ran inside the trace (its exit may come after the stop), at most once
  // to its end.
  for (std::uint64_t id : ids) EXPECT_EQ(s.ran.count(id), 1u) << "goroutine " << id;
  EXPECT_LE(s.exited.size(), ids.size());
  EXPECT_GE(s.figures.at("slices"), n);
  // Every spawn drew an arrow from main to the new goroutine's first slice.
  EXPECT_GE(s.figures.at("flow_starts"), n);
  EXPECT_GE(s.figures.at("flow_ends"), n);
  EXPECT_LE(s.figures.at("tracks"), procs() + 2 + 64);  // machines (+ sysmon)
  std::remove(path.c_str());
}

TEST_P(Trace, PingPongSlicesEndInChannelWaitsWithAnArrowPerReady) {
  const std::string path = temp_path("pingpong");
  const int rounds = static_cast<int>(scaled(1000, 4));
  run([&] { traced_pingpong(path, rounds); });
  const summary s = check(path);
  ASSERT_EQ(s.status, 0) << s.raw;
  // A round parks one side in a channel operation (which one is the channel's business).
  EXPECT_TRUE(s.reasons.count("chan receive") + s.reasons.count("chan send") > 0) << s.raw;
  // Every round parks at least one goroutine on a receive and readies it again.
  EXPECT_GE(s.figures.at("slices"), rounds);
  EXPECT_GE(s.figures.at("flow_ends"), rounds);
  EXPECT_LE(s.figures.at("flow_ends"), s.figures.at("flow_starts"));
  // At one processor nearly every switch is a direct hand-off (not under ASan, docs/design.md),
  // whose slice begins at the stamp of the slice it follows (one time-stamp read for both).
  if (procs() == 1 && !gort_test::k_asan) EXPECT_GE(s.figures.at("abutting"), rounds) << s.raw;
  std::remove(path.c_str());
}

// A machine's events fill several of its buffer's chunks (2 MiB, docs/design.md): a round trip
// records two slices, two flows and their ends, about 112 bytes; 60,000 round trips make about
// 6.7 MB. The events across the chunk boundaries are all there, in order (no flow end without
// its start, no overlapping slices on a track).
TEST_P(Trace, TraceLargerThanAChunkKeepsEveryEvent) {
  const std::string path = temp_path("large");
  const int rounds = static_cast<int>(scaled(60'000, 4));
  run([&] { traced_pingpong(path, rounds); });
  const summary s = check(path);
  ASSERT_EQ(s.status, 0) << s.raw;
  EXPECT_GE(s.figures.at("slices"), 2 * rounds);
  EXPECT_GE(s.figures.at("flow_ends"), 2 * rounds - 1);
  EXPECT_LE(s.figures.at("flow_ends"), s.figures.at("flow_starts"));
  std::remove(path.c_str());
}

// Two traces in one runtime, the second on the chunks the first gave back: each file has its own
// events only (every flow end has its start in the same file), none lost.
TEST_P(Trace, SecondTraceReusesTheFirstOnesMemory) {
  const std::string first = temp_path("first");
  const std::string second = temp_path("second");
  const int rounds = static_cast<int>(scaled(40'000, 4));
  run([&] {
    traced_pingpong(first, rounds);
    traced_pingpong(second, rounds / 2);
  });
  const summary a = check(first);
  ASSERT_EQ(a.status, 0) << a.raw;
  const summary b = check(second);
  ASSERT_EQ(b.status, 0) << b.raw;
  EXPECT_GE(a.figures.at("slices"), 2 * rounds);
  EXPECT_GE(b.figures.at("slices"), rounds);
  EXPECT_LT(b.figures.at("slices"), a.figures.at("slices"));
  EXPECT_GE(b.figures.at("flow_ends"), rounds - 1);
  std::remove(first.c_str());
  std::remove(second.c_str());
}

// trace_stop (and a new trace_start) while goroutines on every processor keep recording: the
// writers' hand-shake with the collector. Each trace is complete JSON and saw the workers run.
TEST_P(Trace, StopAndStartWhileGoroutinesRun) {
  const int workers = procs() + 1;
  const int traces = 4;
  std::vector<std::string> paths;
  for (int i = 0; i < traces; ++i) paths.push_back(temp_path("busy"));
  run([&] {
    std::atomic<bool> stop{false};
    std::atomic<long> rounds{0};
    gort::wait_group wg;
    wg.add(workers);
    for (int w = 0; w < workers; ++w) {
      gort::go([&] {
        gort::chan<int> c(1);
        while (!stop.load(std::memory_order_relaxed)) {
          (void)c.send(1);
          (void)c.recv();
          gort::yield();
          rounds.fetch_add(1, std::memory_order_relaxed);
        }
        wg.done();
      });
    }
    for (const std::string& path : paths) {
      gort::trace_start(path);
      const long at_start = rounds.load(std::memory_order_relaxed);
      // Until the workers made progress inside this trace (main yields to let them run at
      // GOMAXPROCS 1).
      while (rounds.load(std::memory_order_relaxed) < at_start + 200) gort::yield();
      gort::trace_stop();
    }
    stop.store(true, std::memory_order_relaxed);
    wg.wait();
  });
  for (const std::string& path : paths) {
    const summary s = check(path);
    ASSERT_EQ(s.status, 0) << s.raw;
    EXPECT_TRUE(s.reasons.count("yield")) << s.raw;
    EXPECT_GE(s.figures.at("slices"), 1);
    std::remove(path.c_str());
  }
}

TEST_P(Trace, DebugSettingTracesTheWholeRun) {
  const std::string path = temp_path("debug");
  gort::options o;
  o.debug = "trace=" + path;
  const int n = 10;
  run(
      [&] {
        EXPECT_TRUE(gort::tracing());
        gort::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; ++i) gort::go([&] { wg.done(); });
        wg.wait();
      },
      o);
  EXPECT_FALSE(gort::tracing());
  const summary s = check(path);
  ASSERT_EQ(s.status, 0) << s.raw;
  EXPECT_TRUE(s.exited.count(1)) << "main's last slice ends the run";
  EXPECT_GE(s.ran.size(), static_cast<std::size_t>(n + 1));  // main and the n it spawned
  std::remove(path.c_str());
}

TEST_P(Trace, StartTwiceIsAnErrorAndStopWithoutStartDoesNothing) {
  const std::string path = temp_path("twice");
  run([&] {
    gort::trace_stop();  // nothing running
    gort::trace_start(path);
    EXPECT_THROW(gort::trace_start(path), gort::config_error);
    gort::trace_stop();
    gort::trace_stop();
    EXPECT_THROW(gort::trace_start("/nonexistent-dir/x.json"), std::system_error);
    EXPECT_FALSE(gort::tracing());
  });
  const summary s = check(path);
  EXPECT_EQ(s.status, 0) << s.raw;
  std::remove(path.c_str());
}

TEST(TraceNoRuntime, StartWithoutRuntimeIsAnError) {
  EXPECT_THROW(gort::trace_start(temp_path("none")), gort::config_error);
  gort::trace_stop();
}

}  // namespace
