// fib — Boost.Fiber: fork-join with one fiber per call, joined with fiber::join().
//
// N threads share fibers through the work_stealing algorithm (common/fiber_pool.hpp). fib(n) for
// n >= 2 launches fib(n-1) on a new fiber (default stack allocator), computes fib(n-2) inline and
// joins the fiber before adding the two; fib(30) creates about 1.3 million fibers. Reported: wall
// time of fib(30) on the main fiber (quantity "fib", ms).
// Correctness: the result must be 832040; ok=0 otherwise.
#include <cstdint>

#include <boost/fiber/all.hpp>

#include "common/bench.hpp"
#include "common/fiber_pool.hpp"

namespace {

constexpr int k_n = 30;
constexpr std::int64_t k_expected = 832040;

std::int64_t fib(int n) {
  if (n < 2) return n;
  std::int64_t left = 0;
  boost::fibers::fiber child([&left, n] { left = fib(n - 1); });
  const std::int64_t right = fib(n - 2);
  child.join();
  return left + right;
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return bench::run_work_stealing(procs, [] {
    const auto start = bench::clock::now();
    const std::int64_t result = fib(k_n);
    const auto stop = bench::clock::now();

    const bool ok = result == k_expected;
    bench::report("fib", bench::elapsed_ms(start, stop), "ms", ok);
    return ok ? 0 : 1;
  });
}
