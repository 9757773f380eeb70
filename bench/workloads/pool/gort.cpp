// pool — gort: gort::pool, a bounded pool of worker goroutines (ants semantics), in blocking mode.
//
// Two configurations (config=):
//   tiny       2,000,000 tasks submitted by main to a pool of capacity 1,000; each task adds its
//              index to an atomic sum. Reported: task_ns = wall time from the first submission
//              until every task has finished, divided by 2,000,000 (ns per task).
//   sleep10ms  1,000,000 tasks through a pool of capacity 100,000; each task sleeps 10 ms
//              (gort::sleep_for), then marks its own slot. Reported: total_ms = wall time from the
//              first submission until every task has finished (ms), and peak_rss_mb = the
//              process's peak resident set size (VmHWM from /proc/self/status, read after the
//              run; MiB).
// "Every task has finished" is learnt from release_timeout(), which returns once every accepted
// task has run and every worker has exited — the pool's own way to wait (the Go peer counts its
// goroutines with a WaitGroup instead); the pool's teardown is therefore inside the clock.
//
// Correctness (ok=): every submit() returned ok and release_timeout() returned ok; tiny — the
// sum of the indices is 2,000,000·1,999,999/2 and the pool counted 2,000,000 completed tasks;
// sleep10ms — every one of the 1,000,000 slots is marked exactly once (a task counts the slots it
// found already marked) and no more than the capacity ran at once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {

constexpr std::int64_t k_tiny_tasks = 2'000'000;
constexpr std::int64_t k_tiny_capacity = 1'000;
constexpr std::int64_t k_sleep_tasks = 1'000'000;
constexpr std::int64_t k_sleep_capacity = 100'000;
constexpr auto k_sleep = std::chrono::milliseconds(10);

/// The process's peak resident set size in bytes (VmHWM), or -1.
long long vm_hwm_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;  // in kB
  }
  return -1;
}

bool tiny() {
  // On a cache line of its own, as Go's `sum` is (captured by the goroutines, it escapes to the
  // heap): on main's stack next to the submit loop's locals, every worker's add would also steal
  // the line main spills to, and the run's speed would hinge on where the compiler put the frame
  // (measured: ~110 or ~520 ns per task depending on the build).
  struct alignas(64) padded_sum {
    std::atomic<std::int64_t> v{0};
  } sum_line;
  std::atomic<std::int64_t>& sum = sum_line.v;
  bool submitted_ok = true;
  gort::pool p({.capacity = k_tiny_capacity});

  const auto start = bench::clock::now();
  for (std::int64_t i = 0; i < k_tiny_tasks; ++i) {
    if (p.submit([&sum, i] { sum.fetch_add(i, std::memory_order_relaxed); })) submitted_ok = false;
  }
  const bool released = !p.release_timeout(std::chrono::minutes(5));
  const auto stop = bench::clock::now();

  const bool ok = submitted_ok && released &&
                  sum.load(std::memory_order_relaxed) == k_tiny_tasks * (k_tiny_tasks - 1) / 2 &&
                  p.stats().completed == static_cast<std::uint64_t>(k_tiny_tasks);
  bench::report("task_ns", bench::elapsed_ns(start, stop) / k_tiny_tasks, "ns", ok, "tiny");
  return ok;
}

bool sleep10ms() {
  auto marks = std::make_unique<std::atomic<std::uint32_t>[]>(k_sleep_tasks);
  std::atomic<std::int64_t> twice{0}, in_flight{0}, peak_in_flight{0};
  bool submitted_ok = true;
  gort::pool p({.capacity = k_sleep_capacity});

  const auto start = bench::clock::now();
  for (std::int64_t i = 0; i < k_sleep_tasks; ++i) {
    auto task = [&, i] {
      const std::int64_t n = in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
      std::int64_t peak = peak_in_flight.load(std::memory_order_relaxed);
      while (n > peak && !peak_in_flight.compare_exchange_weak(peak, n, std::memory_order_relaxed)) {
      }
      gort::sleep_for(k_sleep);
      if (marks[i].fetch_add(1, std::memory_order_relaxed) != 0) {
        twice.fetch_add(1, std::memory_order_relaxed);
      }
      in_flight.fetch_sub(1, std::memory_order_relaxed);
    };
    if (p.submit(task)) submitted_ok = false;
  }
  const bool released = !p.release_timeout(std::chrono::minutes(5));
  const auto stop = bench::clock::now();
  const long long peak = vm_hwm_bytes();

  bool ok = submitted_ok && released && twice.load() == 0 &&
            peak_in_flight.load() <= k_sleep_capacity && peak >= 0;
  for (std::int64_t i = 0; i < k_sleep_tasks && ok; ++i) ok = marks[i].load() == 1;
  bench::report("total_ms", bench::elapsed_ms(start, stop), "ms", ok, "sleep10ms");
  bench::report("peak_rss_mb", static_cast<double>(peak) / (1 << 20), "MiB", ok, "sleep10ms");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        bool ok = tiny();
        ok = sleep10ms() && ok;
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
