// spawn — gort: the cost of creating, running and finishing a goroutine.
//
// Main spawns 1,000,000 goroutines that each mark their own slot in `ran` and call wg.done(); main
// waits on the wait_group. Reported: wall time from the first spawn until wait() returns, divided
// by 1,000,000 (quantity "spawn", ns per goroutine).
// Correctness: after wait() every one of the 1,000,000 slots must be marked (each goroutine ran
// exactly its body once and done() published it); ok=0 otherwise.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {
constexpr int k_goroutines = 1'000'000;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        std::vector<unsigned char> ran(k_goroutines, 0);
        unsigned char* slots = ran.data();
        gort::wait_group wg;

        const auto start = bench::clock::now();
        wg.add(k_goroutines);
        for (int i = 0; i < k_goroutines; ++i) {
          gort::go([&wg, slots, i] {
            slots[i] = 1;
            wg.done();
          });
        }
        wg.wait();
        const auto stop = bench::clock::now();

        const auto marked = std::count(ran.begin(), ran.end(), 1);
        const bool ok = marked == k_goroutines;
        bench::report("spawn", bench::elapsed_ns(start, stop) / k_goroutines, "ns", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
