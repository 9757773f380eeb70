// skynet — gort: a tree of 1,111,111 goroutines that report up through unbuffered channels.
//
// skynet(parent, num, size): a leaf (size 1) sends its ordinal `num` on its parent's channel; an
// inner node makes one unbuffered channel, spawns 10 children on it (ordinals num + i*size/10,
// size/10 each), receives their 10 sums, and sends the total on its own parent's channel. The
// root covers 1,000,000 leaves (ordinals 0…999,999): 1,111,111 goroutines in all, no wait_groups
// or mutexes. Main times one tree from spawning the root until it receives the root's sum, 5
// times in a row, and reports the best (quantity "skynet", ms).
// Correctness: every run's sum must be 499,999,500,000 (= 0 + 1 + … + 999,999); ok=0 otherwise.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {

constexpr std::int64_t k_leaves = 1'000'000;
constexpr std::int64_t k_div = 10;
constexpr std::int64_t k_expected = k_leaves * (k_leaves - 1) / 2;
constexpr int k_runs = 5;

void skynet(gort::chan<std::int64_t> parent, std::int64_t num, std::int64_t size) {
  if (size == 1) {
    parent.send(num);
    return;
  }
  gort::chan<std::int64_t> children(0);
  const std::int64_t child_size = size / k_div;
  for (std::int64_t i = 0; i < k_div; ++i) {
    gort::go(skynet, children, num + i * child_size, child_size);
  }
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < k_div; ++i) sum += children.recv().value_or(0);
  parent.send(sum);
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        bool ok = true;
        double best_ms = std::numeric_limits<double>::infinity();
        for (int run = 0; run < k_runs; ++run) {
          gort::chan<std::int64_t> root(0);
          const auto start = bench::clock::now();
          gort::go(skynet, root, std::int64_t{0}, k_leaves);
          const std::optional<std::int64_t> sum = root.recv();
          const auto stop = bench::clock::now();

          ok = ok && sum == k_expected;
          best_ms = std::min(best_ms, bench::elapsed_ms(start, stop));
        }
        bench::report("skynet", best_ms, "ms", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
