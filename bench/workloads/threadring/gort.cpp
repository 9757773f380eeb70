// threadring — gort: a token passed around a ring of 503 goroutines (the Benchmarks Game's
// thread-ring).
//
// 503 goroutines, ids 1…503, each receiving from its own unbuffered channel and sending to the
// next one's (503 sends to 1's). A goroutine that receives n > 0 sends n-1 on; the one that
// receives 0 sends its id on `result` and ends. Main spawns the ring (outside the clock), then
// sends 10,000,000 to goroutine 1 and receives the id: 10,000,000 hops. Reported: wall time from
// that send until the id is received, divided by 10,000,000 (quantity "threadring", ns per hop).
// The other 502 goroutines stay blocked and are abandoned when main returns, as in Go.
// Correctness: the id must be (10,000,000 mod 503) + 1 = 361; ok=0 otherwise.
#include <cstdint>
#include <optional>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {

constexpr int k_ring = 503;
constexpr std::int64_t k_hops = 10'000'000;
constexpr std::int64_t k_expected_id = k_hops % k_ring + 1;

void relay(std::int64_t id, gort::chan<std::int64_t> in, gort::chan<std::int64_t> out,
           gort::chan<std::int64_t> result) {
  for (std::int64_t n : in) {
    if (n == 0) {
      result.send(id);
      return;
    }
    out.send(n - 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        gort::chan<std::int64_t> result(0);
        gort::chan<std::int64_t> first(0);
        gort::chan<std::int64_t> in = first;
        for (std::int64_t id = 1; id < k_ring; ++id) {
          gort::chan<std::int64_t> out(0);
          gort::go([id, in, out, result] { relay(id, in, out, result); });
          in = out;
        }
        gort::go([in, first, result] { relay(k_ring, in, first, result); });

        const auto start = bench::clock::now();
        first.send(k_hops);
        const std::optional<std::int64_t> id = result.recv();
        const auto stop = bench::clock::now();

        const bool ok = id == k_expected_id;
        bench::report("threadring", bench::elapsed_ns(start, stop) / k_hops, "ns", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
