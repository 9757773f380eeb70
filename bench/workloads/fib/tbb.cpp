// fib — oneTBB: fork-join with one tbb::task_group per call.
//
// Parallelism is capped at N with tbb::global_control(max_allowed_parallelism, N). fib(n) for
// n >= 2 runs fib(n-1) as a task of a task_group, computes fib(n-2) inline and waits on the group
// before adding the two. Tasks are not fibers: a waiting thread runs other tasks on its own stack
// rather than switching, which is what this peer shows. Reported: wall time of fib(30)
// (quantity "fib", ms).
// Correctness: the result must be 832040; ok=0 otherwise.
#include <cstdint>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include "common/bench.hpp"

namespace {

constexpr int k_n = 30;
constexpr std::int64_t k_expected = 832040;

std::int64_t fib(int n) {
  if (n < 2) return n;
  std::int64_t left = 0;
  tbb::task_group group;
  group.run([&left, n] { left = fib(n - 1); });
  const std::int64_t right = fib(n - 2);
  group.wait();
  return left + right;
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<std::size_t>(procs));

  const auto start = bench::clock::now();
  const std::int64_t result = fib(k_n);
  const auto stop = bench::clock::now();

  const bool ok = result == k_expected;
  bench::report("fib", bench::elapsed_ms(start, stop), "ms", ok);
  return ok ? 0 : 1;
}
