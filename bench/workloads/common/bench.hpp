// bench/workloads/common/bench.hpp — the program side of the bench/compare protocol, shared by
// the C++ workload programs (gort, Boost.Fiber, oneTBB). Measures nothing itself.
//
// Protocol (bench/README.md):
//   argv[1]  the processor count N, a positive integer (required);
//   stdout   one line per measured quantity,
//            `RESULT quantity=<name> value=<number> unit=<unit> ok=<1|0> config=<string-or-empty>`,
//            and no other line starting with RESULT;
//   exit     0 when every reported answer was right, 1 when one was wrong, 2 on bad usage.
// Each program checks its own answer (the sum, the count) and reports it in ok=.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace bench {

using clock = std::chrono::steady_clock;

/// Milliseconds and nanoseconds between two clock readings, as doubles.
inline double elapsed_ms(clock::time_point from, clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}
inline double elapsed_ns(clock::time_point from, clock::time_point to) {
  return std::chrono::duration<double, std::nano>(to - from).count();
}

/// argv[1] as the processor count; prints usage and exits with 2 when missing or invalid.
inline int procs_from_args(int argc, char** argv) {
  if (argc >= 2) {
    char* end = nullptr;
    const long n = std::strtol(argv[1], &end, 10);
    if (end != argv[1] && *end == '\0' && n >= 1 && n <= 1024) return static_cast<int>(n);
  }
  std::fprintf(stderr, "usage: %s PROCS   (PROCS: processor count, 1..1024)\n",
               argc > 0 ? argv[0] : "bench");
  std::exit(2);
}

/// Prints one protocol line. `quantity`, `unit` and `config` must not contain spaces (config may
/// be empty). Flushes, so a later crash cannot lose a line already measured.
inline void report(const char* quantity, double value, const char* unit, bool ok,
                   const char* config = "") {
  std::printf("RESULT quantity=%s value=%.6g unit=%s ok=%d config=%s\n", quantity, value, unit,
              ok ? 1 : 0, config);
  std::fflush(stdout);
}

/// A process's resident set size in bytes (VmRSS in its /proc/<pid>/status; this process's by
/// default), or -1 when unreadable.
inline long long vm_rss_bytes(const std::string& status_path = "/proc/self/status") {
  std::ifstream status(status_path);
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;  // in kB
  }
  return -1;
}

}  // namespace bench
