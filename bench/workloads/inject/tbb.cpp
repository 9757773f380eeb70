// inject — oneTBB: tasks enqueued by plain OS threads into a task_arena (task_arena::enqueue,
// oneTBB's fire-and-forget submission from any thread).
//
// One tbb::task_arena of concurrency N with no slot reserved for application threads (argv[1]),
// so N worker threads run its tasks: global_control's max_allowed_parallelism counts the main
// thread, which here only waits (as gort's main goroutine does, holding no processor), hence
// N + 1 — with N, the arena would get N - 1 workers.
// For each configuration K = 1, 4, 16 plain threads (config "1", "4", "16"), in that order: main
// starts K std::threads, which wait on a latch; the clock starts and main opens the latch; each
// thread calls arena.enqueue 250,000 times, every task adding one to a shared atomic counter; the
// task whose increment brings the counter to K × 250,000 counts down a latch that main waits on;
// the clock stops. Reported: wall time from opening the latch to main's wake-up divided by
// K × 250,000 (quantity "inject", ns per task); the threads are joined after the clock.
// Correctness: the counter must be exactly K × 250,000 after the wait; ok=0 otherwise.
#include <atomic>
#include <cstdint>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "common/bench.hpp"

namespace {

constexpr std::int64_t k_per_thread = 250'000;
constexpr int k_thread_counts[] = {1, 4, 16};

bool run_config(tbb::task_arena& arena, int threads) {
  const std::int64_t total = threads * k_per_thread;
  std::atomic<std::int64_t> counter{0};
  std::latch finished(1);
  std::latch start_line(1);

  std::vector<std::thread> submitters;
  submitters.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&] {
      start_line.wait();
      for (std::int64_t i = 0; i < k_per_thread; ++i) {
        arena.enqueue([&counter, &finished, total] {
          // acq_rel: the increments form one chain of read-modify-writes, so the last one has
          // acquired every task's increment and its count_down() hands them all to main (the
          // latch's release/acquire) before main reads the counter or reuses its memory.
          // (lock xadd on x86 whatever the order: it costs nothing.)
          if (counter.fetch_add(1, std::memory_order_acq_rel) + 1 == total) finished.count_down();
        });
      }
    });
  }

  const auto start = bench::clock::now();
  start_line.count_down();
  finished.wait();
  const auto stop = bench::clock::now();
  for (auto& t : submitters) t.join();

  const bool ok = counter.load(std::memory_order_relaxed) == total;  // ordered by the wait
  const std::string config = std::to_string(threads);
  bench::report("inject", bench::elapsed_ns(start, stop) / static_cast<double>(total), "ns", ok,
                config.c_str());
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<std::size_t>(procs) + 1);
  tbb::task_arena arena(procs, 0);
  arena.initialize();  // outside the clock, like gort::run's start-up

  bool ok = true;
  for (const int threads : k_thread_counts) ok = run_config(arena, threads) && ok;
  return ok ? 0 : 1;
}
