// blocking — gort: pingpong while other goroutines sit in blocking system calls.
//
// 100 sleeper goroutines each loop on nanosleep(1 ms) inside gort::blocking — a real blocking
// system call, during which sysmon takes the goroutine's processor and hands it to another thread
// (docs/design.md, "Blocking calls") — counting their sleeps, until `stop` is set. Once all 100
// have started, the pingpong workload runs beside them: two unbuffered channels, `ping` and
// `pong`; the partner goroutine ranges over `ping` and sends every value it receives, plus one,
// on `pong`; main sends v on `ping` and receives v+1 from `pong`, 1,000,000 times, starting from
// 0. Reported: wall time of the 1,000,000 round trips divided by 1,000,000 (quantity "blocking",
// ns per round trip). Then (outside the clock) main closes `ping`, sets `stop` and waits on a
// wait_group for the sleepers.
//
// Correctness: the value main ends with must be 1,000,000 and `pong` must then be closed with
// nothing left in it (as in pingpong); by the end of the measurement every sleeper must have
// completed at least one sleep (the load was there), and all 100 must have returned; ok=0
// otherwise.
#include <time.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {
constexpr std::int64_t k_round_trips = 1'000'000;
constexpr int k_sleepers = 100;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        std::atomic<bool> stop{false};
        std::vector<std::atomic<std::int64_t>> sleeps(k_sleepers);
        gort::wait_group started, finished;
        started.add(k_sleepers);
        finished.add(k_sleepers);
        for (int i = 0; i < k_sleepers; ++i) {
          gort::go([&, i] {
            started.done();
            const timespec ts{0, 1'000'000};
            while (!stop.load(std::memory_order_relaxed)) {
              gort::blocking([&] { ::nanosleep(&ts, nullptr); });
              sleeps[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
            }
            finished.done();
          });
        }
        started.wait();

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
        const auto end = bench::clock::now();
        bool slept = true;
        for (auto& n : sleeps) slept = slept && n.load(std::memory_order_relaxed) > 0;

        ping.close();
        const bool partner_done = !pong.recv().has_value();
        stop.store(true, std::memory_order_relaxed);
        finished.wait();

        const bool ok = v == k_round_trips && partner_done && slept;
        bench::report("blocking", bench::elapsed_ns(start, end) / k_round_trips, "ns", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
