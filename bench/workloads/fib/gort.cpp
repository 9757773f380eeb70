// fib — gort: fork-join with one goroutine and one wait_group per call.
//
// fib(n) for n >= 2 spawns fib(n-1) on a new goroutine, computes fib(n-2) inline and joins with a
// wait_group before adding the two; fib(30) creates about 1.3 million goroutines. Reported: wall
// time of fib(30) on the main goroutine (quantity "fib", ms).
// Correctness: the result must be 832040; ok=0 otherwise.
#include <cstdint>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {

constexpr int k_n = 30;
constexpr std::int64_t k_expected = 832040;

std::int64_t fib(int n) {
  if (n < 2) return n;
  std::int64_t left = 0;
  gort::wait_group wg;
  wg.add(1);
  gort::go([&left, &wg, n] {
    left = fib(n - 1);
    wg.done();
  });
  const std::int64_t right = fib(n - 2);
  wg.wait();
  return left + right;
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        const auto start = bench::clock::now();
        const std::int64_t result = fib(k_n);
        const auto stop = bench::clock::now();

        const bool ok = result == k_expected;
        bench::report("fib", bench::elapsed_ms(start, stop), "ms", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
