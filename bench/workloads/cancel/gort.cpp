// cancel — gort: cancelling one context tree that 1,000,000 goroutines wait on.
//
// A root context (with_cancel of background) has 1,000 children (with_cancel of the root). For
// each child, 1,000 goroutines block in a two-case select on the child's done() and on a work
// channel of that child that never receives (a worker's usual "work or cancellation" loop). Main
// spawns all 1,000,000, waits until every one has started (a wait_group) and gives the last ones
// 100 ms to reach their select — all untimed. Then the clock starts, main cancels the root, and
// waits on a wait_group that each goroutine signals after its select returns. Reported: from the
// cancel() call until that wait returns (quantity "cancel", ms).
// Correctness: every goroutine must have left its select through the done case (it marks its own
// slot), and every child must report errc::canceled; ok=0 otherwise.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {
constexpr int k_children = 1'000;
constexpr int k_per_child = 1'000;
constexpr int k_goroutines = k_children * k_per_child;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        auto [root, cancel] = gort::with_cancel(gort::background());
        std::vector<gort::context> children;
        std::vector<gort::chan<int>> work;
        children.reserve(k_children);
        work.reserve(k_children);
        for (int c = 0; c < k_children; ++c) {
          children.push_back(gort::with_cancel(root).first);
          work.emplace_back(0);
        }
        std::vector<unsigned char> by_done(k_goroutines, 0);
        unsigned char* slots = by_done.data();
        gort::wait_group started;
        gort::wait_group finished;
        started.add(k_goroutines);
        finished.add(k_goroutines);
        for (int c = 0; c < k_children; ++c) {
          const gort::context* ctx = &children[static_cast<std::size_t>(c)];
          const gort::chan<int>* w = &work[static_cast<std::size_t>(c)];
          for (int j = 0; j < k_per_child; ++j) {
            const int i = c * k_per_child + j;
            gort::go([&started, &finished, ctx, w, slots, i] {
              started.done();
              gort::select(gort::recv(ctx->done(), [&](auto) { slots[i] = 1; }),
                           gort::recv(*w, [](auto) {}));
              finished.done();
            });
          }
        }
        started.wait();
        gort::sleep_for(std::chrono::milliseconds(100));  // untimed: the last ones reach select

        const auto start = bench::clock::now();
        cancel();
        finished.wait();
        const auto stop = bench::clock::now();

        bool ok = std::count(by_done.begin(), by_done.end(), 1) == k_goroutines;
        for (const gort::context& ch : children) ok = ok && ch.err() == gort::errc::canceled;
        bench::report("cancel", bench::elapsed_ms(start, stop), "ms", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
