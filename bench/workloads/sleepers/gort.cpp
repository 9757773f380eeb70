// sleepers — gort: 100,000 goroutines sleeping on the runtime's timers at once.
//
// Main spawns 100,000 goroutines; goroutine i sleeps (i mod 100) ms with gort::sleep_for (0 ms:
// returns at once), then marks its own slot in `woke` and calls wg.done(); main waits on the
// wait_group. Reported: wall time from the first spawn until wait() returns (quantity
// "sleepers", ms; the ideal is just over 99 ms, the longest sleep).
// Correctness: after wait() every one of the 100,000 slots must be marked (every goroutine woke
// and finished); ok=0 otherwise.
#include <algorithm>
#include <chrono>
#include <vector>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {
constexpr int k_goroutines = 100'000;
constexpr int k_distinct_sleeps = 100;  // goroutine i sleeps (i mod 100) ms
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        std::vector<unsigned char> woke(k_goroutines, 0);
        unsigned char* slots = woke.data();
        gort::wait_group wg;

        const auto start = bench::clock::now();
        wg.add(k_goroutines);
        for (int i = 0; i < k_goroutines; ++i) {
          gort::go([&wg, slots, i] {
            gort::sleep_for(std::chrono::milliseconds(i % k_distinct_sleeps));
            slots[i] = 1;
            wg.done();
          });
        }
        wg.wait();
        const auto stop = bench::clock::now();

        const auto marked = std::count(woke.begin(), woke.end(), 1);
        const bool ok = marked == k_goroutines;
        bench::report("sleepers", bench::elapsed_ms(start, stop), "ms", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
