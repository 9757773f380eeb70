// tests/support/watchdog.cpp — see watchdog.hpp.
#include "watchdog.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <unistd.h>

#include "sched/scheduler.hpp"
#include "trace/dump.hpp"

namespace gort_test {

namespace {

using clock = std::chrono::steady_clock;

// A test that fails (or hangs) under GORTDEBUG=shuffle=SEED says how to replay it: at
// GOMAXPROCS=1 the same seed gives the same schedule (docs/hacking.md).
void print_shuffle_replay(const std::string& what) {
  const char* debug = std::getenv("GORTDEBUG");
  if (debug == nullptr || std::string(debug).find("shuffle=") == std::string::npos) return;
  char exe[4096] = "<test binary>";
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = '\0';
  std::fprintf(stderr,
               "shuffle: %s failed under GORTDEBUG=%s; replay: GORTDEBUG=%s %s --gtest_filter='%s'\n",
               what.c_str(), debug, debug, exe, what.c_str());
  std::fflush(stderr);
}

// One thread per process, sleeping on a condition variable until the armed deadline.
class watchdog {
 public:
  static watchdog& instance() {
    static watchdog* w = new watchdog;  // never destroyed: may outlive main's statics
    return *w;
  }

  void arm(clock::duration limit, std::string what) {
    std::lock_guard l(mu_);
    deadline_ = clock::now() + limit;
    limit_ = limit;
    what_ = std::move(what);
    armed_ = true;
    cv_.notify_one();
  }

  void disarm() {
    std::lock_guard l(mu_);
    armed_ = false;
    cv_.notify_one();
  }

 private:
  watchdog() { std::thread([this] { loop(); }).detach(); }

  [[noreturn]] void fire(const std::string& what, clock::duration limit) {
    const double secs = std::chrono::duration<double>(limit).count();
    std::fprintf(stderr, "\nwatchdog: %s still running after %.1f s; scheduler state:\n",
                 what.c_str(), secs);
    print_shuffle_replay(what);
    std::fflush(stderr);
    // Printing takes the scheduler's locks: if the hang holds one, give up after a while.
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::seconds(5));
      std::fputs("watchdog: the scheduler's locks are held; no state printed\n", stderr);
      std::_Exit(1);
    }).detach();
    if (gort::sched::scheduler* s = gort::sched::g_sched.load(std::memory_order_acquire)) {
      gort::sched::print_sched_state(*s, true, -1);
      // And where each goroutine is parked (gort::dump_goroutines' format).
      const std::string dump = "\n" + gort::sched::dump_text(*s);
      std::fwrite(dump.data(), 1, dump.size(), stderr);
    } else {
      std::fputs("  (no runtime is running)\n", stderr);
    }
    std::fflush(stderr);
    std::_Exit(1);
  }

  [[noreturn]] void loop() {
    std::unique_lock l(mu_);
    for (;;) {
      if (!armed_) {
        cv_.wait(l);
        continue;
      }
      if (cv_.wait_until(l, deadline_) == std::cv_status::timeout && armed_ &&
          clock::now() >= deadline_) {
        fire(what_, limit_);
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  clock::time_point deadline_;
  clock::duration limit_{};
  std::string what_;
};

std::chrono::milliseconds default_limit() {
  if (const char* v = std::getenv("GORT_TEST_WATCHDOG_SECONDS")) {
    const long n = std::strtol(v, nullptr, 10);
    if (n > 0) return std::chrono::seconds(n);
  }
  return std::chrono::seconds(240);
}

class listener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo& t) override {
    arm_watchdog(default_limit(), std::string(t.test_suite_name()) + "." + t.name());
  }
  void OnTestEnd(const ::testing::TestInfo& t) override {
    disarm_watchdog();
    if (t.result() != nullptr && t.result()->Failed()) {
      print_shuffle_replay(std::string(t.test_suite_name()) + "." + t.name());
    }
  }
};

// Installed by the support library into every test binary.
const bool installed = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new listener);
  return true;
}();

}  // namespace

void arm_watchdog(std::chrono::milliseconds limit, std::string what) {
  watchdog::instance().arm(limit, std::move(what));
}

void disarm_watchdog() { watchdog::instance().disarm(); }

}  // namespace gort_test
