// gort/testing.hpp — leak checks for tests (Go's go.uber.org/goleak).
//
//   gort::run([] {
//     auto baseline = gort::testing::ignore_current();
//     start_server();
//     stop_server();
//     gort::testing::verify_none(baseline);   // throws gort::testing::leak_error listing leaks
//   });
//
// A goroutine "leaks" when it is still alive once the code that started it says it is done.
// verify_none looks for goroutines other than the caller, retrying with back-off (goroutines that
// were just told to stop need a moment to finish), and reports those that remain in
// gort::dump_goroutines' format. Goroutines a runtime abandoned when its main returned are leaks
// too: with capture_abandoned(true), take_abandoned() returns them (the GoogleTest listener of
// gort/testing/gtest.hpp checks both after every test).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gort/detail/std_parts.hpp"

namespace gort::testing {

/// What is not a leak (goleak's options), and how long to wait for goroutines to finish.
struct leak_options {
  /// goleak's IgnoreTopFunction: goroutines whose first frame shown in a dump (their innermost
  /// function outside the runtime) starts with one of these demangled names.
  std::vector<std::string> ignore_top_functions{};
  /// goleak's IgnoreAnyFunction by creation site: goroutines created by a function whose
  /// demangled name starts with one of these, or whose creation site "file:line" ends with one.
  std::vector<std::string> ignore_created_by{};
  /// goleak's IgnoreCurrent: goroutine ids to ignore (ignore_current() fills it).
  std::vector<std::uint64_t> ignore_ids{};
  /// Looks at most this many times, sleeping 1 µs, 2 µs, … up to max_sleep in between (goleak's
  /// defaults: 20 retries, 100 ms).
  int max_retries = 20;
  std::chrono::microseconds max_sleep = std::chrono::milliseconds(100);
};

/// Thrown by verify_none; what() is the report.
class leak_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// `o` plus the ids of every goroutine alive now (goleak.IgnoreCurrent). Any thread.
leak_options ignore_current(leak_options o = {});

/// The goroutines (other than the caller) still alive and not ignored after the retries, in dump
/// format; empty when there are none or no runtime runs. From a goroutine the waits park it (other
/// goroutines keep running); from a plain thread they sleep the thread. Any thread.
std::string find_leaks(const leak_options& o = {});

/// find_leaks(o), throwing leak_error with the report when it is not empty. Any thread.
void verify_none(const leak_options& o = {});

/// While on, every runtime that shuts down with goroutines still alive records them (symbolized,
/// before their stacks are freed) for take_abandoned. Off by default (the record costs a dump).
/// Any thread.
void capture_abandoned(bool on) noexcept;

/// The goroutines abandoned by runtimes that shut down since the last call, except those `o`
/// ignores (ignore_ids and the retry settings do not apply), in dump format; empty if none. Any
/// thread.
std::string take_abandoned(const leak_options& o = {});

}  // namespace gort::testing
