// gort/testing/gtest.hpp — a GoogleTest listener that fails every test that leaks goroutines.
//
//   int main(int argc, char** argv) {
//     ::testing::InitGoogleTest(&argc, argv);
//     gort::testing::install_leak_check();
//     return RUN_ALL_TESTS();
//   }
//
// After each test it reports (as a failure of that test) the goroutines that runtimes ended
// during the test abandoned (gort::testing::take_abandoned) and, when a runtime is still running
// (the implicit one), the goroutines still alive after find_leaks' retries. Header-only: gort
// itself does not depend on GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "gort/testing.hpp"

namespace gort::testing {

class leak_check_listener : public ::testing::EmptyTestEventListener {
 public:
  /// `skip`: tests that leave goroutines behind on purpose, whose leaks are dropped: each entry is
  /// a prefix of "<suite>.<test>" as GoogleTest prints it ("Outlive" for a whole suite,
  /// "P/Chan.NilChannelSendAndRecvBlockForever" for one test at every parameter).
  explicit leak_check_listener(leak_options o = {}, std::vector<std::string> skip = {})
      : options_(std::move(o)), skip_(std::move(skip)) {}

  void OnTestStart(const ::testing::TestInfo&) override {
    capture_abandoned(true);
    (void)take_abandoned();  // from before this test
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    std::string leaks = take_abandoned(options_);
    if (!leaks.empty()) leaks = "goroutines abandoned when the runtime shut down:\n\n" + leaks;
    std::string alive = find_leaks(options_);
    if (!alive.empty()) leaks += (leaks.empty() ? "" : "\n") + ("goroutines still running:\n\n" + alive);
    if (leaks.empty()) return;
    const std::string name = std::string(info.test_suite_name()) + "." + info.name();
    for (const std::string& s : skip_) {
      if (name.compare(0, s.size(), s) == 0) return;
    }
    ADD_FAILURE() << "leaked goroutines (gort::testing):\n" << leaks;
  }

 private:
  leak_options options_;
  std::vector<std::string> skip_;
};

/// Installs a leak_check_listener ahead of GoogleTest's result printer (so a leak is printed as
/// the failure of its test). Call after InitGoogleTest, before RUN_ALL_TESTS.
inline void install_leak_check(leak_options o = {}, std::vector<std::string> skip = {}) {
  ::testing::TestEventListeners& ls = ::testing::UnitTest::GetInstance()->listeners();
  ::testing::TestEventListener* printer = ls.Release(ls.default_result_printer());
  ls.Append(new leak_check_listener(std::move(o), std::move(skip)));
  if (printer != nullptr) ls.Append(printer);
}

}  // namespace gort::testing
