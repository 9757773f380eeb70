// tests/support/leak_check.cpp — gort::testing's leak check after every test of the executables
// that link it (conformance and pool tests): goroutines a runtime abandoned when a test's main
// returned, or still running in the implicit runtime, fail that test. Suites whose tests abandon
// goroutines behind on purpose (blocked forever, or what shutdown does with them is the subject)
// are listed here.
#include "gort/testing/gtest.hpp"

namespace {

const bool installed = [] {
  gort::testing::install_leak_check(
      gort::testing::leak_options{},
      {
          "Outlive",                                              // goroutines outlive run()
          "P/Lifecycle.GoroutinesAliveAtMainReturnAreAbandoned",  // abandoning is the subject
          "P/Chan.NilChannelSendAndRecvBlockForever",             // block forever, as in Go
          "P/Chan.ZeroCasesAndOnlyNilChannels",
          "P/ChanPrograms.select3_",
          "P/Sched.LongRunningGoroutineIsPreempted",  // hogs still running when main returns
          "P/LockOSThread.ShutdownWithLockedGoroutine",  // what shutdown does with them is the subject
      });
  return true;
}();

}  // namespace
