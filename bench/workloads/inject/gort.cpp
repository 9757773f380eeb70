// inject — gort: goroutines submitted by plain OS threads that are not part of the runtime (a
// service's own threads: an acceptor from another framework, a callback thread).
//
// For each configuration K = 1, 4, 16 plain threads (config "1", "4", "16"), in that order: main
// (goroutine 1 of gort::run) starts K std::threads, which wait on a latch; the clock starts and
// main opens the latch; each thread calls gort::go 250,000 times, every goroutine adding one to a
// shared atomic counter; the goroutine whose increment brings the counter to K × 250,000 calls
// done() on a wait_group that main waits on; the clock stops. Reported: wall time from opening the
// latch to main's wake-up divided by K × 250,000 (quantity "inject", ns per goroutine); the
// threads are joined after the clock (every one of their gort::go calls has taken effect by
// then, so the joins return at once).
//
// Why gort::run and not the implicit runtime a plain thread's gort::go would start: the runtime
// is up before the clock (the workload measures submission and completion, not runtime start-up),
// its processor count is argv[1] like every other program's, and main waits parked on a
// wait_group, holding no processor, as the oneTBB peer's main thread waits without running tasks.
// Completion is detected by the counter itself (the goroutine that sees the last increment), so a
// goroutine costs one atomic add in both programs and no wait_group operation.
//
// Correctness: the counter must be exactly K × 250,000 after the wait (no goroutine lost; the
// counter stops there only if none ran twice before the last one); ok=0 otherwise.
#include <atomic>
#include <cstdint>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {

constexpr std::int64_t k_per_thread = 250'000;
constexpr int k_thread_counts[] = {1, 4, 16};

bool run_config(int threads) {
  const std::int64_t total = threads * k_per_thread;
  std::atomic<std::int64_t> counter{0};
  gort::wait_group finished;
  finished.add(1);
  std::latch start_line(1);

  std::vector<std::thread> submitters;
  submitters.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&] {
      start_line.wait();
      for (std::int64_t i = 0; i < k_per_thread; ++i) {
        gort::go([&counter, &finished, total] {
          // acq_rel: the increments form one chain of read-modify-writes, so the last one has
          // acquired every goroutine's increment and its done() hands them all to main (the
          // wait_group's release/acquire) before main reads the counter or reuses its memory.
          // (lock xadd on x86 whatever the order: it costs nothing.)
          if (counter.fetch_add(1, std::memory_order_acq_rel) + 1 == total) finished.done();
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
  return gort::run(
      [] {
        bool ok = true;
        for (const int threads : k_thread_counts) ok = run_config(threads) && ok;
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
