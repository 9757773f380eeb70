// skynet — Boost.Fiber: a tree of 1,111,111 fibers that report up through unbuffered channels.
//
// N threads share fibers through the work_stealing algorithm (common/fiber_pool.hpp).
// skynet(parent, num, size): a leaf (size 1) pushes its ordinal `num` on its parent's channel; an
// inner node makes one boost::fibers::unbuffered_channel, launches 10 detached children on it
// (default stack allocator; ordinals num + i*size/10, size/10 each), pops their 10 sums, and
// pushes the total on its own parent's channel. Children are launched with launch::dispatch (the
// child runs at once, the parent waits in the ready queue), as Boost.Fiber's own skynet benchmark
// does, so the tree unfolds depth-first; with the default launch::post every one of the
// 1,111,111 fibers exists at once. Measured side by side on the 2-core machine the time is about
// the same, the peak RSS 5–9 GB instead of 11–12 GB (Boost frees a finished fiber's stack only when
// its thread's dispatcher fiber runs). Channels are held by std::shared_ptr, the C++ counterpart
// of Go's garbage-collected channel: a child may still be inside push() when its parent has
// popped the last value and returned. The root covers 1,000,000 leaves (ordinals
// 0…999,999): 1,111,111 fibers in all, no wait groups or mutexes. The main fiber times one tree
// from launching the root until it pops the root's sum, 5 times in a row, and reports the best
// (quantity "skynet", ms).
// Correctness: every run's sum must be 499,999,500,000 (= 0 + 1 + … + 999,999); ok=0 otherwise.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>

#include <boost/fiber/all.hpp>

#include "common/bench.hpp"
#include "common/fiber_pool.hpp"

namespace {

constexpr std::int64_t k_leaves = 1'000'000;
constexpr std::int64_t k_div = 10;
constexpr std::int64_t k_expected = k_leaves * (k_leaves - 1) / 2;
constexpr int k_runs = 5;

using channel = boost::fibers::unbuffered_channel<std::int64_t>;

void skynet(std::shared_ptr<channel> parent, std::int64_t num, std::int64_t size) {
  if (size == 1) {
    parent->push(num);
    return;
  }
  auto children = std::make_shared<channel>();
  const std::int64_t child_size = size / k_div;
  for (std::int64_t i = 0; i < k_div; ++i) {
    boost::fibers::fiber(boost::fibers::launch::dispatch, skynet, children, num + i * child_size,
                         child_size)
        .detach();
  }
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < k_div; ++i) sum += children->value_pop();
  parent->push(sum);
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return bench::run_work_stealing(procs, [] {
    bool ok = true;
    double best_ms = std::numeric_limits<double>::infinity();
    for (int run = 0; run < k_runs; ++run) {
      auto root = std::make_shared<channel>();
      const auto start = bench::clock::now();
      boost::fibers::fiber(skynet, root, std::int64_t{0}, k_leaves).detach();
      const std::int64_t sum = root->value_pop();
      const auto stop = bench::clock::now();

      ok = ok && sum == k_expected;
      best_ms = std::min(best_ms, bench::elapsed_ms(start, stop));
    }
    bench::report("skynet", best_ms, "ms", ok);
    return ok ? 0 : 1;
  });
}
