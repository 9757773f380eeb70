// spawn — Boost.Fiber: the cost of creating, running and finishing a fiber.
//
// N threads share fibers through the work_stealing algorithm (common/fiber_pool.hpp). The main
// fiber launches 1,000,000 detached fibers with Boost.Fiber's default stack allocator; each marks
// its own slot in `ran` and calls wg.done() on a fiber-aware wait group; main waits on it.
// Reported: wall time from the first launch until wait() returns, divided by 1,000,000
// (quantity "spawn", ns per fiber).
// Correctness: after wait() every one of the 1,000,000 slots must be marked; ok=0 otherwise.
#include <algorithm>
#include <vector>

#include <boost/fiber/all.hpp>

#include "common/bench.hpp"
#include "common/fiber_pool.hpp"

namespace {
constexpr int k_fibers = 1'000'000;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return bench::run_work_stealing(procs, [] {
    std::vector<unsigned char> ran(k_fibers, 0);
    unsigned char* slots = ran.data();
    bench::fiber_wait_group wg;

    const auto start = bench::clock::now();
    wg.add(k_fibers);
    for (int i = 0; i < k_fibers; ++i) {
      boost::fibers::fiber([&wg, slots, i] {
        slots[i] = 1;
        wg.done();
      }).detach();
    }
    wg.wait();
    const auto stop = bench::clock::now();

    const auto marked = std::count(ran.begin(), ran.end(), 1);
    const bool ok = marked == k_fibers;
    bench::report("spawn", bench::elapsed_ns(start, stop) / k_fibers, "ns", ok);
    return ok ? 0 : 1;
  });
}
