// hog — gort: does a goroutine that never calls the runtime stall the others on its processor?
//
// Defined at 1 processor (bench/compare runs it with argv[1] = 1 whatever --procs says). Main
// (goroutine 1) first calibrates the spin loop below: it runs it in chunks of 2^20 steps for
// 200 ms to learn its speed, and sets the spin length to the number of steps that takes 2 s. Then:
//   1. main spawns the ticker goroutine and waits until it says (on an unbuffered channel) that
//      its gort::ticker of 1 ms is armed;
//   2. main spins: the spin length's worth of steps of a 64-bit linear congruential generator, a
//      pure loop with no call into the runtime (nor any other call);
//   3. main sets `stop` and waits on a wait_group for the ticker goroutine.
// The ticker goroutine receives ticks until it sees `stop` after a tick; for every tick it records
// how much longer than the 1 ms period it waited since the previous tick (since arming the ticker,
// for the first): the tick's delay, in ms (0 when the tick came within the period).
// Reported: the largest delay (quantity "max_delay", ms) and the 99th percentile (nearest rank) of
// the delays (quantity "p99_delay", ms). Without preemption of a goroutine that makes no runtime
// call, the first tick waits for the whole spin. The spin's actual length goes to stderr.
// Correctness: the generator's final values (of the spin and of the calibration) must equal the
// ones computed directly, by jumping the generator ahead the same number of steps in O(log n);
// and at least one tick must have been received; ok=0 otherwise.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {

constexpr std::uint64_t k_mult = 6364136223846793005ULL;  // Knuth's MMIX generator
constexpr std::uint64_t k_inc = 1442695040888963407ULL;
constexpr std::uint64_t k_seed = 42;
constexpr double k_spin_ms = 2000;
constexpr double k_calibration_ms = 200;
constexpr std::uint64_t k_chunk = 1 << 20;
constexpr auto k_period = std::chrono::milliseconds(1);

/// `steps` steps of the generator from x: the hog. No calls, no memory traffic in the loop. The
/// empty volatile asm after it gives the function a side effect in the compiler's eyes, so that a
/// call is never removed or moved across the clock readings and the atomic store around it.
[[gnu::noinline]] std::uint64_t spin(std::uint64_t x, std::uint64_t steps) {
  for (std::uint64_t i = 0; i < steps; ++i) x = x * k_mult + k_inc;
  asm volatile("" : "+r"(x));
  return x;
}

/// The generator's state after `steps` steps from x, by repeated squaring of the step.
std::uint64_t jump(std::uint64_t x, std::uint64_t steps) {
  std::uint64_t mult = 1, inc = 0;               // the accumulated step x -> mult * x + inc
  std::uint64_t cur_mult = k_mult, cur_inc = k_inc;  // the step applied 2^k times
  for (; steps > 0; steps >>= 1) {
    if (steps & 1) {
      mult *= cur_mult;
      inc = inc * cur_mult + cur_inc;
    }
    cur_inc = (cur_mult + 1) * cur_inc;
    cur_mult *= cur_mult;
  }
  return mult * x + inc;
}

struct calibration {
  std::uint64_t spin_steps;  // the steps spin() takes k_spin_ms to run
  std::uint64_t steps;       // the steps run to find out, and where they led (checked too)
  std::uint64_t state;
};

/// Runs spin() from k_seed in chunks for k_calibration_ms on this thread to learn its speed.
calibration calibrate() {
  calibration c{0, 0, k_seed};
  const auto start = bench::clock::now();
  double ms = 0;
  do {
    c.state = spin(c.state, k_chunk);
    c.steps += k_chunk;
    ms = bench::elapsed_ms(start, bench::clock::now());
  } while (ms < k_calibration_ms);
  c.spin_steps = static_cast<std::uint64_t>(static_cast<double>(c.steps) * (k_spin_ms / ms));
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        const calibration cal = calibrate();
        const std::uint64_t steps = cal.spin_steps;
        gort::chan<int> armed(0);
        gort::wait_group ticker_done;
        std::atomic<bool> stop{false};
        std::vector<double> delays;  // written by the ticker goroutine, read after ticker_done
        delays.reserve(1 << 14);

        ticker_done.add(1);
        gort::go([&] {
          gort::ticker ticker(k_period);
          auto previous = bench::clock::now();
          armed.send(1);
          for (;;) {
            (void)ticker.c().recv();
            const auto now = bench::clock::now();
            const double period_ms = std::chrono::duration<double, std::milli>(k_period).count();
            delays.push_back(std::max(0.0, bench::elapsed_ms(previous, now) - period_ms));
            previous = now;
            // relaxed: pairs with main's store after the spin; nothing is published through
            // `stop` (the delays travel the other way, through ticker_done).
            if (stop.load(std::memory_order_relaxed)) break;
          }
          ticker_done.done();
        });

        (void)armed.recv();
        const auto spin_start = bench::clock::now();
        const std::uint64_t result = spin(k_seed, steps);
        const double spin_ms = bench::elapsed_ms(spin_start, bench::clock::now());
        stop.store(true, std::memory_order_relaxed);  // pairs with the ticker's load
        ticker_done.wait();

        std::fprintf(stderr, "hog: spun %.0f ms, %zu ticks\n", spin_ms, delays.size());
        const bool ok = result == jump(k_seed, steps) && cal.state == jump(k_seed, cal.steps) &&
                        !delays.empty();
        std::vector<double> sorted = delays;
        std::sort(sorted.begin(), sorted.end());
        const double max_delay = sorted.empty() ? 0 : sorted.back();
        const auto rank =  // nearest rank, at least 1
            std::max<std::size_t>(1, static_cast<std::size_t>(
                                         std::ceil(0.99 * static_cast<double>(sorted.size()))));
        const double p99_delay = sorted.empty() ? 0 : sorted[rank - 1];
        bench::report("max_delay", max_delay, "ms", ok);
        bench::report("p99_delay", p99_delay, "ms", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
