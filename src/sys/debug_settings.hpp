// sys/debug_settings.hpp — GORTDEBUG parsing (Go's GODEBUG for the scheduler).
//
// Syntax: comma-separated key=value pairs, e.g. "schedtrace=1000,scheddetail=1". Unknown keys are
// ignored like GODEBUG; a known key with a bad value is reported in `errors` and left at its
// default. Pure function; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gort::sys {

struct debug_settings {
  std::int64_t schedtrace_ms = 0;  // > 0: print the SCHED line every that many ms
  bool scheddetail = false;        // with schedtrace: also one line per P, M and G
  // 1: guard markers where the kernel has them, else PROT_NONE guard pages within the VMA
  // budget; 0: no guard pages, every stack checked by its canary; 2: the pre-6.13 scheme
  // (PROT_NONE within the budget, canaries beyond) even where markers exist.
  int stackguard = 1;
  std::uint64_t shuffle = 0;       // > 0: randomized scheduling for tests, seeded with this
  // Go's GODEBUG=asyncpreemptoff=1: sysmon does not take the processor of a goroutine that runs
  // 10 ms without a scheduling point (only the cooperative flag remains).
  bool asyncpreemptoff = false;
  int sigquit = -1;   // 1: dump every goroutine on SIGQUIT and exit 2; 0: off; -1: the option's
  int deadlock = -1;  // 0: no deadlock detection; 1: on; -1: the option's
  std::string trace;               // non-empty: write an execution trace to this path (trace.hpp)
  bool schedlatency = false;       // time runnable periods from the start (metrics.hpp)
  std::vector<std::string> errors;
};

debug_settings parse_debug_settings(std::string_view text);

}  // namespace gort::sys
