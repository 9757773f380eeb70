// parked — gort: what 1,000,000 blocked goroutines cost to create and to keep.
//
// Three wait_groups: `started` (1,000,000), `gate` (1), `finished` (1,000,000). Each goroutine
// calls started.done(), blocks in gate.wait(), then bumps `woken` and calls finished.done().
//   1. rss_before = VmRSS; the clock starts; main spawns the 1,000,000 goroutines;
//   2. main waits on `started`; the clock stops: quantity "spawn" (ms) — every goroutine has
//      started and is about to block;
//   3. rss_after = VmRSS; quantity "rss_per_goroutine" = (rss_after - rss_before) / 1,000,000
//      (bytes);
//   4. the clock starts again; main calls gate.done() and waits on `finished`; the clock stops:
//      quantity "wake" (ms) — every goroutine has resumed on its stack, left the gate and
//      finished.
// Correctness: all 1,000,000 goroutines woke and finished (`woken` == 1,000,000 after
// finished.wait()); ok=0 otherwise, for every quantity.
#include <atomic>
#include <cstdint>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {
constexpr int k_goroutines = 1'000'000;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        gort::wait_group started;
        gort::wait_group gate;
        gort::wait_group finished;
        std::atomic<std::int64_t> woken{0};
        started.add(k_goroutines);
        gate.add(1);
        finished.add(k_goroutines);

        const long long rss_before = bench::vm_rss_bytes();
        const auto start = bench::clock::now();
        for (int i = 0; i < k_goroutines; ++i) {
          gort::go([&] {
            started.done();
            gate.wait();
            woken.fetch_add(1, std::memory_order_relaxed);  // read after finished.wait()
            finished.done();
          });
        }
        started.wait();
        const auto stop = bench::clock::now();
        const long long rss_after = bench::vm_rss_bytes();

        const auto wake_start = bench::clock::now();
        gate.done();
        finished.wait();
        const auto wake_stop = bench::clock::now();

        const bool ok = woken.load(std::memory_order_relaxed) == k_goroutines &&
                        rss_before >= 0 && rss_after >= 0;
        bench::report("spawn", bench::elapsed_ms(start, stop), "ms", ok);
        bench::report("rss_per_goroutine",
                      static_cast<double>(rss_after - rss_before) / k_goroutines, "bytes", ok);
        bench::report("wake", bench::elapsed_ms(wake_start, wake_stop), "ms", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
