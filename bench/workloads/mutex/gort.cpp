// mutex — gort: a gort::mutex contended by 8 goroutines.
//
// 8 goroutines each lock one shared gort::mutex, increment a shared (non-atomic) counter and
// unlock it, 500,000 times. Reported: wall time from the first spawn until the wait_group that
// every goroutine signals when done is released, divided by the 4,000,000 locks (quantity
// "mutex", ns per lock).
// Correctness: the counter must be exactly 4,000,000 — the increment is a plain read-modify-write,
// so an increment lost to two goroutines inside the mutex at once shows up; ok=0 otherwise.
#include <cstdint>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {
constexpr int k_goroutines = 8;
constexpr int k_locks_each = 500'000;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        gort::mutex mu;
        std::int64_t counter = 0;  // guarded by mu
        gort::wait_group wg;

        const auto start = bench::clock::now();
        wg.add(k_goroutines);
        for (int g = 0; g < k_goroutines; ++g) {
          gort::go([&] {
            for (int i = 0; i < k_locks_each; ++i) {
              mu.lock();
              ++counter;
              mu.unlock();
            }
            wg.done();
          });
        }
        wg.wait();
        const auto stop = bench::clock::now();

        constexpr std::int64_t total = std::int64_t{k_goroutines} * k_locks_each;
        const bool ok = counter == total;
        bench::report("mutex", bench::elapsed_ns(start, stop) / static_cast<double>(total), "ns",
                      ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
