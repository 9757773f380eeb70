// gort/debug.hpp — goroutine dumps (Go's all-goroutine traceback).
//
//   gort::dump_goroutines(std::cerr);
//
//   goroutine 1 [running]:
//   main_loop()
//   	/src/app.cpp:40 +0x5d
//
//   goroutine 18 [chan receive, 5 minutes]:
//   labels: {"request":"42"}
//   worker(gort::chan<job>)
//   	/src/app.cpp:12 +0x31
//   created by main_loop() in goroutine 1
//   	/src/app.cpp:38 +0x9a
//
// docs/design.md ("Goroutine dumps") describes the format; options::sigquit_dump prints the same
// on SIGQUIT.
#pragma once

#include <iosfwd>

namespace gort {

/// Writes every goroutine of the running runtime to `out`: the caller's first, then by id. Parked
/// goroutines show their wait reason, how long they have waited (from one minute on), their
/// labels, their own stack frames (function and file:line where debug information exists) and
/// where they were created; goroutines running on other threads show their state and creation
/// site. Taken without stopping the world. Any thread; prints a note when no runtime runs.
void dump_goroutines(std::ostream& out);

}  // namespace gort
