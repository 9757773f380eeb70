// Goroutine dumps, labels, goroutine-local storage, the log sink, crash reports, SIGQUIT and
// deadlock detection (Go's runtime tracebacks and checkdead; docs/api.md, "Debugging").
//
// What ends a process (fatal signals, deadlocks, SIGQUIT) runs in gort_test_child
// (support/child.cpp), a separate program whose only threads are gort's.
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "procs.hpp"
#include "trace/dump.hpp"

namespace {

using namespace std::chrono_literals;

// ---- parsing a dump ----

struct parsed_goroutine {
  std::uint64_t id = 0;
  std::string state;  // between the brackets
  std::string labels;
  std::vector<std::string> functions;  // frame function lines
  std::vector<std::string> locations;  // their "\tfile:line" lines
  std::string created_by;              // "created by ..." line
  std::string created_at;              // the line after it
};

std::vector<parsed_goroutine> parse_dump(const std::string& text) {
  std::vector<parsed_goroutine> out;
  std::istringstream in(text);
  std::string line;
  static const std::regex header(R"(^goroutine ([0-9]+) \[([^\]]*)\]:$)");
  parsed_goroutine* cur = nullptr;
  bool after_created = false;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, header)) {
      out.emplace_back();
      cur = &out.back();
      cur->id = std::stoull(m[1]);
      cur->state = m[2];
      after_created = false;
      continue;
    }
    if (cur == nullptr || line.empty()) continue;
    if (line.rfind("labels: ", 0) == 0) {
      cur->labels = line;
    } else if (line.rfind("created by ", 0) == 0) {
      cur->created_by = line;
      after_created = true;
    } else if (line[0] == '\t') {
      if (after_created) {
        cur->created_at = line;
      } else {
        cur->locations.push_back(line);
      }
    } else {
      cur->functions.push_back(line);
    }
  }
  return out;
}

const parsed_goroutine* find_id(const std::vector<parsed_goroutine>& gs, std::uint64_t id) {
  for (const auto& g : gs) {
    if (g.id == id) return &g;
  }
  return nullptr;
}

bool any_contains(const std::vector<std::string>& v, const std::string& what) {
  for (const auto& s : v) {
    if (s.find(what) != std::string::npos) return true;
  }
  return false;
}

std::string dump() {
  std::ostringstream out;
  gort::dump_goroutines(out);
  return out.str();
}

// Each stores after its wait, so the wait is no tail call (the frame stays on the stack).
[[gnu::noinline]] void parked_in_receive_for_dump(gort::chan<int> c, std::atomic<std::uint64_t>* id) {
  id->store(gort::this_goroutine::id());
  (void)c.recv();
  id->store(0);
}

[[gnu::noinline]] void parked_in_wait_group_for_dump(gort::wait_group* wg, gort::wait_group* started,
                                                     std::atomic<std::uint64_t>* id) {
  id->store(gort::this_goroutine::id());
  started->done();
  wg->wait();
  id->store(0);
}

class Debug : public gort_test::procs_test {};

// The parked goroutines' own frames, wait reasons and creation sites; the dumper first, running.
TEST_P(Debug, DumpShowsWaitReasonsFramesAndCreationSites) {
  const bool stacks = gort::sched::can_unwind();
  run([stacks] {
    gort::chan<int> c(0);
    gort::wait_group gate;
    gort::wait_group started, finished;
    gate.add(1);
    started.add(2);
    finished.add(2);
    std::atomic<std::uint64_t> recv_id{0}, wg_id{0};
    const int line = __LINE__ + 1;
    gort::go([&] {
      started.done();
      parked_in_receive_for_dump(c, &recv_id);
      finished.done();
    });
    gort::go([&] {
      parked_in_wait_group_for_dump(&gate, &started, &wg_id);
      finished.done();
    });
    started.wait();
    // Both are parked (or about to): the dump shows them parked once they are.
    std::vector<parsed_goroutine> gs;
    for (;;) {
      gs = parse_dump(dump());
      const parsed_goroutine* r = find_id(gs, recv_id.load());
      const parsed_goroutine* w = find_id(gs, wg_id.load());
      if (r != nullptr && w != nullptr && r->state == "chan receive" &&
          w->state == "sync.WaitGroup.Wait") {
        break;
      }
      gort::yield();
    }
    ASSERT_FALSE(gs.empty());
    EXPECT_EQ(gs[0].id, gort::this_goroutine::id());
    EXPECT_EQ(gs[0].state, "running");
    const parsed_goroutine* r = find_id(gs, recv_id.load());
    const parsed_goroutine* w = find_id(gs, wg_id.load());
    ASSERT_NE(r, nullptr);
    ASSERT_NE(w, nullptr);
    EXPECT_NE(r->created_by.find("in goroutine " + std::to_string(gort::this_goroutine::id())),
              std::string::npos)
        << r->created_by;
    EXPECT_NE(r->created_at.find("debug_test.cpp:" + std::to_string(line)), std::string::npos)
        << r->created_at;
    if (stacks) {
      EXPECT_TRUE(any_contains(r->functions, "parked_in_receive_for_dump")) << dump();
      EXPECT_TRUE(any_contains(w->functions, "parked_in_wait_group_for_dump")) << dump();
      // The creator is this test's body (a lambda inside it).
      EXPECT_NE(r->created_by.find("DumpShowsWaitReasonsFramesAndCreationSites"), std::string::npos)
          << r->created_by;
      // The dumper's own frames include this test body.
      EXPECT_TRUE(any_contains(gs[0].functions, "DumpShowsWaitReasonsFramesAndCreationSites"))
          << dump();
      // The runtime's own frames are left out.
      EXPECT_FALSE(any_contains(r->functions, "gort::sched::")) << dump();
    }
    c.send(1);
    gate.done();
    finished.wait();
  });
}

// Goroutines woken while dumps read their stacks: nothing is lost or resumed twice.
TEST_P(Debug, DumpsRaceWithWakeUps) {
  run([] {
    constexpr int pairs = 4;
    static constexpr std::int64_t rounds = gort_test::scaled(2000, 10);
    gort::wait_group done;
    done.add(pairs);
    std::atomic<bool> stop{false};
    for (int i = 0; i < pairs; ++i) {
      gort::chan<int> a(0), b(0);
      gort::go([a, b] {
        for (std::int64_t k = 0; k < rounds; ++k) {
          a.send(1);
          (void)b.recv();
        }
      });
      gort::go([a, b, &done] {
        for (std::int64_t k = 0; k < rounds; ++k) {
          (void)a.recv();
          b.send(1);
        }
        done.done();
      });
    }
    gort::wait_group dumper;
    dumper.add(1);
    gort::go([&stop, &dumper] {
      while (!stop.load()) {
        const auto gs = parse_dump(dump());
        for (const auto& g : gs) {
          EXPECT_FALSE(g.state.empty());
        }
        gort::yield();
      }
      dumper.done();
    });
    done.wait();
    stop.store(true);
    dumper.wait();
  });
}

TEST_P(Debug, LabelsAreInheritedAndDumped) {
  run([] {
    gort::chan<int> c(0);
    std::atomic<std::uint64_t> child{0};
    gort::wait_group started, finished;
    started.add(1);
    finished.add(1);
    gort::with_labels({{"request", "42"}, {"user", "ann"}}, [&] {
      EXPECT_EQ(gort::this_goroutine::get_labels().get("request"), "42");
      gort::go([&] {
        child.store(gort::this_goroutine::id());
        EXPECT_EQ(gort::this_goroutine::get_labels().get("user"), "ann");
        gort::with_labels({{"user", "bob"}}, [&] {
          EXPECT_EQ(gort::this_goroutine::get_labels().get("user"), "bob");
          EXPECT_EQ(gort::this_goroutine::get_labels().get("request"), "42");
          started.done();
          (void)c.recv();
        });
        EXPECT_EQ(gort::this_goroutine::get_labels().get("user"), "ann");
        finished.done();
      });
    });
    EXPECT_TRUE(gort::this_goroutine::get_labels().empty());  // restored
    started.wait();
    for (;;) {
      const auto gs = parse_dump(dump());
      const parsed_goroutine* g = find_id(gs, child.load());
      ASSERT_NE(g, nullptr);
      if (g->state == "chan receive") {
        EXPECT_EQ(g->labels, R"(labels: {"request":"42", "user":"bob"})");
        break;
      }
      gort::yield();
    }
    c.send(1);
    finished.wait();
  });
}

TEST(Labels, Values) {
  gort::labels a{{"b", "2"}, {"a", "1"}, {"a", "3"}};
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a.get("a"), "3");
  EXPECT_EQ(a.get("z"), std::nullopt);
  gort::labels b = a.with("c", "4");
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(b.size(), 3u);
  const auto items = b.merged(gort::labels{{"a", "9"}}).items();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0], (std::pair<std::string, std::string>("a", "9")));
  EXPECT_EQ(items[2].first, "c");
  EXPECT_TRUE(gort::this_goroutine::get_labels().empty());  // a plain thread has none
}

struct counted {
  static inline std::atomic<int> live{0};
  int value = 0;
  counted() { live.fetch_add(1); }
  ~counted() { live.fetch_sub(1); }
};

// Signals a wait group when destroyed: created first, so destroyed last of its goroutine's values.
struct done_on_destroy {
  gort::wait_group* wg = nullptr;
  ~done_on_destroy() {
    if (wg != nullptr) wg->done();
  }
};

TEST_P(Debug, GoroutineLocalFollowsTheGoroutine) {
  counted::live.store(0);
  run([] {
    gort::goroutine_local<done_on_destroy> ended_signal;
    gort::goroutine_local<counted> local;
    gort::goroutine_local<std::string> name;
    local->value = 1;
    constexpr int n = 16;
    gort::wait_group ended;
    ended.add(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&, i] {
        ended_signal->wg = &ended;
        EXPECT_EQ(local.get_if(), nullptr);
        local->value = 100 + i;
        *name = "g" + std::to_string(i);
        for (int k = 0; k < 10; ++k) {
          gort::yield();  // may resume on another thread
          EXPECT_EQ(local->value, 100 + i);
          EXPECT_EQ(*name, "g" + std::to_string(i));
        }
      });
    }
    // Each goroutine's values are destroyed when it ends, newest first: its counted value before
    // its signal.
    ended.wait();
    EXPECT_EQ(counted::live.load(), 1);  // main's own
    EXPECT_EQ(local->value, 1);
    local.reset();
    EXPECT_EQ(local.get_if(), nullptr);
    EXPECT_EQ(counted::live.load(), 0);
  });
}

TEST(GoroutineLocal, PlainThreadsHaveTheirOwn) {
  counted::live.store(0);
  gort::goroutine_local<counted> local;
  local->value = 7;
  std::thread t([&] {
    EXPECT_EQ(local.get_if(), nullptr);
    local->value = 8;
  });
  t.join();
  EXPECT_EQ(local->value, 7);
  EXPECT_EQ(counted::live.load(), 1);  // the thread's value died with the thread
  local.reset();
  EXPECT_EQ(counted::live.load(), 0);
}

TEST(DumpFormat, HeaderShowsMinutesFromOneOn) {
  using gort::sched::format_header;
  EXPECT_EQ(format_header(18, "chan receive", 59'999'999'999, false), "goroutine 18 [chan receive]:");
  EXPECT_EQ(format_header(18, "chan receive", 60'000'000'000, false),
            "goroutine 18 [chan receive, 1 minutes]:");
  EXPECT_EQ(format_header(7, "select", 5 * 60'000'000'000LL + 1, true),
            "goroutine 7 [select, 5 minutes, locked to thread]:");
  EXPECT_EQ(format_header(1, "running", 0, false), "goroutine 1 [running]:");
}

TEST(DumpFormat, NoRuntime) { EXPECT_EQ(dump(), "(no gort runtime is running)\n"); }

TEST(LogSink, RuntimeMessagesGoToTheSink) {
  std::vector<std::string> lines;
  gort::set_log_sink([&lines](std::string_view l) { lines.emplace_back(l); });
  gort::options o;
  o.maxprocs = 1;
  o.debug = "schedtrace=x";
  gort::run([] {}, o);
  gort::log("direct");
  gort::set_log_sink({});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("GORTDEBUG: schedtrace=x"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "direct");
}

[[gnu::noinline]] void leaky_receiver(gort::chan<int> c) {
  (void)c.recv();
  asm volatile("" ::: "memory");  // no tail call: this frame stays on the stack
}

TEST_P(Debug, VerifyNoneReportsLeaksAndHonoursIgnores) {
  run([] {
    const gort::testing::leak_options baseline = gort::testing::ignore_current();
    gort::testing::leak_options quick = baseline;
    quick.max_retries = 3;
    EXPECT_NO_THROW(gort::testing::verify_none(quick));
    gort::chan<int> c(0);
    const int line = __LINE__ + 1;
    gort::go([c] { leaky_receiver(c); });
    std::string report;
    try {
      gort::testing::verify_none(quick);
    } catch (const gort::testing::leak_error& e) {
      report = e.what();
    }
    const auto gs = parse_dump(report);
    ASSERT_EQ(gs.size(), 1u) << report;
    EXPECT_EQ(gs[0].state, "chan receive");
    EXPECT_NE(gs[0].created_at.find("debug_test.cpp:" + std::to_string(line)), std::string::npos)
        << report;
    if (gort::sched::can_unwind()) {
      EXPECT_TRUE(any_contains(gs[0].functions, "leaky_receiver")) << report;
      // Its first frame shown (chan<int>::recv or, where that is inlined without inline
      // information, leaky_receiver itself) is its top function.
      ASSERT_FALSE(gs[0].functions.empty());
      gort::testing::leak_options by_top = quick;
      by_top.ignore_top_functions.push_back(gs[0].functions[0].substr(0, 20));
      EXPECT_EQ(gort::testing::find_leaks(by_top), "");
      gort::testing::leak_options other_top = quick;
      other_top.ignore_top_functions.push_back("no_such_function");
      EXPECT_NE(gort::testing::find_leaks(other_top), "");
    }
    gort::testing::leak_options by_site = quick;
    by_site.ignore_created_by.push_back("debug_test.cpp:" + std::to_string(line));
    EXPECT_EQ(gort::testing::find_leaks(by_site), "");
    EXPECT_EQ(gort::testing::find_leaks(gort::testing::ignore_current(quick)), "");
    // Told to stop just before the check: the retries wait for it to finish.
    c.close();
    EXPECT_NO_THROW(gort::testing::verify_none(baseline));
  });
}

// Spawns a goroutine that will be blocked when main returns (on a nil channel, which holds no
// memory that its abandonment would leak); `line` is where.
// Leaves one goroutine parked for good and returns once it has parked (shutdown records only
// parked goroutines: a runnable one was still making progress).
void abandon_one(int& line) {
  const std::uint64_t parks = gort::stats().parks;
  line = __LINE__ + 1;
  gort::go([] { leaky_receiver(gort::chan<int>()); });
  while (gort::stats().parks == parks) gort::yield();  // main itself never parks here
}

TEST_P(Debug, AbandonedGoroutinesAreCaptured) {
  gort::testing::capture_abandoned(true);
  (void)gort::testing::take_abandoned();
  int line = 0;
  run([&line] { abandon_one(line); });
  gort::testing::capture_abandoned(false);
  const std::string report = gort::testing::take_abandoned();
  const auto gs = parse_dump(report);
  ASSERT_EQ(gs.size(), 1u) << report;
  EXPECT_EQ(gs[0].state, "chan receive (nil chan)") << report;
  EXPECT_NE(gs[0].created_by.find("in goroutine 1"), std::string::npos) << report;
  EXPECT_EQ(gort::testing::take_abandoned(), "");  // taken
  EXPECT_NE(gs[0].created_at.find("debug_test.cpp:" + std::to_string(line)), std::string::npos)
      << report;
  gort::testing::leak_options o;
  o.ignore_created_by.push_back("debug_test.cpp:" + std::to_string(line));
  gort::testing::capture_abandoned(true);
  run([&line] { abandon_one(line); });
  gort::testing::capture_abandoned(false);
  EXPECT_EQ(gort::testing::take_abandoned(o), "") << "ignored by creation site";
}

// ---- child processes ----

struct child_result {
  bool signaled = false;
  int code = 0;  // exit status, or the signal
  std::string output;
};

child_result run_child(const std::string& scenario, const std::string& env = "") {
  // Sanitizer builds: the sanitizers' own handlers of fatal signals stay out of the way (gort's
  // chains to the default action, as in a service that installed none).
  const std::string sanitizers =
      "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:${ASAN_OPTIONS:-} "
      "TSAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:${TSAN_OPTIONS:-} ";
  const std::string cmd = sanitizers + env + " exec " GORT_TEST_CHILD " " + scenario + " 2>&1";
  child_result r;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
  const int st = ::pclose(f);
  if (WIFSIGNALED(st)) {
    r.signaled = true;
    r.code = WTERMSIG(st);
  } else if (WIFEXITED(st)) {
    r.code = WEXITSTATUS(st);
  }
  return r;
}

TEST(Deadlock, AllAsleepIsReported) {
  const child_result r = run_child("deadlock");
  ASSERT_TRUE(r.signaled) << r.output;
  if (gort_test::k_tsan && r.code == SIGALRM) {
    // TSan's runtime runs a background thread: a thread outside gort, so no report (design.md,
    // "Deadlock detection": any such thread suppresses it).
    EXPECT_EQ(r.output.find("deadlock!"), std::string::npos) << r.output;
    return;
  }
  EXPECT_EQ(r.code, SIGABRT) << r.output;
  EXPECT_EQ(r.output.find("fatal error: all goroutines are asleep - deadlock!\n\ngoroutine "), 0u)
      << r.output;
  const auto gs = parse_dump(r.output);
  const parsed_goroutine* main = find_id(gs, 1);
  ASSERT_NE(main, nullptr) << r.output;
  EXPECT_EQ(main->state, "chan receive");
  bool wg = false;
  for (const auto& g : gs) wg = wg || g.state == "sync.WaitGroup.Wait";
  EXPECT_TRUE(wg) << r.output;
  EXPECT_EQ(gs.size(), 3u) << r.output;
  if (gort::sched::can_unwind()) {
    EXPECT_TRUE(any_contains(main->functions, "child_wait_forever_on")) << r.output;
    EXPECT_TRUE(any_contains(main->functions, "child_deadlock_main")) << r.output;
  }
}

TEST(Deadlock, LockedGoroutineParkedCountsAsAsleep) {
  const child_result r = run_child("deadlock-locked");
  ASSERT_TRUE(r.signaled) << r.output;
  if (gort_test::k_tsan && r.code == SIGALRM) {
    EXPECT_EQ(r.output.find("deadlock!"), std::string::npos) << r.output;  // as above
    return;
  }
  EXPECT_EQ(r.code, SIGABRT) << r.output;
  EXPECT_EQ(r.output.find("fatal error: all goroutines are asleep - deadlock!\n\ngoroutine "), 0u)
      << r.output;
  const auto gs = parse_dump(r.output);
  ASSERT_EQ(gs.size(), 2u) << r.output;
  const parsed_goroutine* main = find_id(gs, 1);
  ASSERT_NE(main, nullptr) << r.output;
  EXPECT_EQ(main->state, "chan receive");
  const parsed_goroutine& locked = gs[0].id == 1 ? gs[1] : gs[0];
  EXPECT_EQ(locked.state, "chan receive, locked to thread") << r.output;
}

TEST(Deadlock, CanBeTurnedOff) {
  for (const char* scenario : {"deadlock-off-option", "deadlock-off-env"}) {
    const child_result r =
        run_child(scenario, std::string(scenario) == "deadlock-off-env" ? "GORTDEBUG=deadlock=0" : "");
    EXPECT_TRUE(r.signaled && r.code == SIGALRM) << scenario << ": " << r.output;
    EXPECT_EQ(r.output.find("deadlock!"), std::string::npos) << scenario << ": " << r.output;
  }
}

TEST(Deadlock, NotReportedWhileSomethingCanWake) {
  for (const char* scenario : {"timer-pending", "sleep-pending", "io-waiter", "plain-thread-wakes"}) {
    const child_result r = run_child(scenario);
    EXPECT_FALSE(r.signaled) << scenario << ": " << r.output;
    EXPECT_EQ(r.code, 0) << scenario << ": " << r.output;
    EXPECT_EQ(r.output.find("deadlock"), std::string::npos) << scenario << ": " << r.output;
  }
}

void expect_crash_report(const child_result& r, const char* signal, const char* frame) {
  EXPECT_TRUE(r.signaled) << r.output;
  EXPECT_NE(r.output.find(std::string("[signal ") + signal), std::string::npos) << r.output;
  const auto gs = parse_dump(r.output);
  ASSERT_EQ(gs.size(), 1u) << r.output;
  EXPECT_EQ(gs[0].state, "running");
  EXPECT_GT(gs[0].id, 1u);
  EXPECT_NE(gs[0].created_by.find("in goroutine 1"), std::string::npos) << r.output;
  EXPECT_NE(gs[0].created_at.find("child.cpp:"), std::string::npos) << r.output;
  if (gort::sched::can_unwind()) EXPECT_TRUE(any_contains(gs[0].functions, frame)) << r.output;
}

TEST(Crash, FatalSignalsOnAGoroutineAreReported) {
  const child_result segv = run_child("segv");
  EXPECT_EQ(segv.code, SIGSEGV);
  expect_crash_report(segv, "SIGSEGV", "child_crash_null");
  const child_result fpe = run_child("fpe");
  EXPECT_EQ(fpe.code, SIGFPE);
  expect_crash_report(fpe, "SIGFPE", "child_crash_divide");
  const child_result ill = run_child("ill");
  EXPECT_EQ(ill.code, SIGILL);
  expect_crash_report(ill, "SIGILL", "child_crash_trap");
}

TEST(Crash, ChainsToThePreviousHandler) {
  const child_result r = run_child("segv-chained");
  EXPECT_FALSE(r.signaled) << r.output;
  EXPECT_EQ(r.code, 42) << r.output;
  const std::size_t report = r.output.find("[signal SIGSEGV");
  const std::size_t previous = r.output.find("previous handler ran");
  EXPECT_NE(report, std::string::npos) << r.output;
  EXPECT_NE(previous, std::string::npos) << r.output;
  EXPECT_LT(report, previous) << r.output;
}

TEST(Crash, ReportCanBeTurnedOff) {
  const child_result r = run_child("segv-no-report");
  EXPECT_TRUE(r.signaled && r.code == SIGSEGV) << r.output;
  EXPECT_EQ(r.output.find("goroutine"), std::string::npos) << r.output;
}

TEST(SigQuit, DumpsAndExitsWithStatus2WhenEnabled) {
  if (gort_test::k_tsan) {
    // TSan holds an asynchronous signal until the receiving thread enters a function it
    // intercepts; gort's threads sleep in raw futex calls, so the handler may never run.
    GTEST_SKIP() << "TSan defers asynchronous signals";
  }
  const child_result r = run_child("sigquit");
  EXPECT_FALSE(r.signaled) << r.output;
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(r.output.find("SIGQUIT: quit\n\ngoroutine "), 0u) << r.output;
  const auto gs = parse_dump(r.output);
  const parsed_goroutine* main = find_id(gs, 1);
  ASSERT_NE(main, nullptr) << r.output;
  EXPECT_EQ(main->state, "chan receive") << r.output;  // the signal was sent once it was parked
  if (gort::sched::can_unwind()) {
    EXPECT_TRUE(any_contains(main->functions, "child_wait_forever_on")) << r.output;
  }
  EXPECT_EQ(gs.size(), 2u) << r.output;
}

TEST(SigQuit, OffByDefault) {
  const child_result r = run_child("sigquit-off");
  EXPECT_TRUE(r.signaled && r.code == SIGQUIT) << r.output;
  EXPECT_EQ(r.output.find("goroutine"), std::string::npos) << r.output;
}

GORT_INSTANTIATE_PROCS(Debug);

}  // namespace
