// The execution trace (gort::trace_start/trace_stop, GORTDEBUG=trace=PATH), at GOMAXPROCS 1, 2,
// 4 and 8. The JSON is loaded by Python's json module (tests/support/check_trace.py), which also
// checks what viewers rely on; the test compares its counts with what the program did.
#include <gtest/gtest.h>

#include <unistd.h>

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
  run([&] {
    gort::chan<int> ping(0), pong(0);
    gort::wait_group wg;
    wg.add(1);
    gort::go([=, &wg]() mutable {
      for (int i = 0; i < rounds; ++i) (void)pong.send(*ping.recv());
      wg.done();
    });
    gort::trace_start(path);
    for (int i = 0; i < rounds; ++i) {
      (void)ping.send(i);
      (void)pong.recv();
    }
    wg.wait();
    gort::trace_stop();
  });
  const summary s = check(path);
  ASSERT_EQ(s.status, 0) << s.raw;
  // A round parks one side in a channel operation (which one is the channel's business).
  EXPECT_TRUE(s.reasons.count("chan receive") + s.reasons.count("chan send") > 0) << s.raw;
  // Every round parks at least one goroutine on a receive and readies it again.
  EXPECT_GE(s.figures.at("slices"), rounds);
  EXPECT_GE(s.figures.at("flow_ends"), rounds);
  EXPECT_LE(s.figures.at("flow_ends"), s.figures.at("flow_starts"));
  std::remove(path.c_str());
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
