// pingpong — gort: the round trip of a value between two goroutines over unbuffered channels.
//
// Two unbuffered channels, `ping` and `pong`. The partner goroutine ranges over `ping` and sends
// every value it receives, plus one, on `pong`. Main (the other goroutine) sends v on `ping` and
// receives v+1 from `pong`, 1,000,000 times, starting from 0. Reported: wall time of the
// 1,000,000 round trips divided by 1,000,000 (quantity "pingpong", ns per round trip). Then main
// closes `ping` and the partner closes `pong` as it leaves (outside the clock).
// Correctness: the value main ends with must be 1,000,000 (every round trip added exactly one,
// in order), and `pong` must then be closed with nothing left in it; ok=0 otherwise.
#include <cstdint>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {
constexpr std::int64_t k_round_trips = 1'000'000;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        gort::chan<std::int64_t> ping(0);
        gort::chan<std::int64_t> pong(0);
        gort::go([ping, pong] {
          for (std::int64_t v : ping) pong.send(v + 1);
          pong.close();
        });

        std::int64_t v = 0;
        const auto start = bench::clock::now();
        for (std::int64_t i = 0; i < k_round_trips; ++i) {
          ping.send(v);
          v = pong.recv().value_or(-1);
        }
        const auto stop = bench::clock::now();

        ping.close();
        const bool partner_done = !pong.recv().has_value();
        const bool ok = v == k_round_trips && partner_done;
        bench::report("pingpong", bench::elapsed_ns(start, stop) / k_round_trips, "ns", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
