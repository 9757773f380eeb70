// select — gort: the cost of a two-case select over two busy buffered channels.
//
// Two channels `a` and `b` with capacity 128, each fed by its own producer goroutine: a's sends
// 0…999,999, b's sends 1,000,000…1,999,999, then each calls producers.done() (neither closes its
// channel). Main does 2,000,000 selects, each with one receive case on `a` and one on `b`,
// counting what each case received and summing the values. Reported: wall time from spawning the
// producers until the last select returns, divided by 2,000,000 (quantity "select", ns per
// select). Main then waits on `producers` (outside the clock).
// Correctness: exactly 1,000,000 values from each channel, no case fired empty-handed, and the
// sum is 0 + 1 + … + 1,999,999; ok=0 otherwise.
#include <cstdint>
#include <optional>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {
constexpr std::int64_t k_per_producer = 1'000'000;
constexpr std::int64_t k_selects = 2 * k_per_producer;
constexpr std::int64_t k_capacity = 128;
constexpr std::int64_t k_expected_sum = k_selects * (k_selects - 1) / 2;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        gort::chan<std::int64_t> a(k_capacity);
        gort::chan<std::int64_t> b(k_capacity);
        gort::wait_group producers;
        std::int64_t from_a = 0;
        std::int64_t from_b = 0;
        std::int64_t empty = 0;
        std::int64_t sum = 0;

        const auto start = bench::clock::now();
        producers.add(2);
        gort::go([a, &producers] {
          for (std::int64_t v = 0; v < k_per_producer; ++v) a.send(v);
          producers.done();
        });
        gort::go([b, &producers] {
          for (std::int64_t v = k_per_producer; v < 2 * k_per_producer; ++v) b.send(v);
          producers.done();
        });
        for (std::int64_t i = 0; i < k_selects; ++i) {
          gort::select(gort::recv(a,
                                  [&](std::optional<std::int64_t> v) {
                                    if (v) {
                                      ++from_a;
                                      sum += *v;
                                    } else {
                                      ++empty;
                                    }
                                  }),
                       gort::recv(b, [&](std::optional<std::int64_t> v) {
                         if (v) {
                           ++from_b;
                           sum += *v;
                         } else {
                           ++empty;
                         }
                       }));
        }
        const auto stop = bench::clock::now();
        producers.wait();

        const bool ok = from_a == k_per_producer && from_b == k_per_producer && empty == 0 &&
                        sum == k_expected_sum;
        bench::report("select", bench::elapsed_ns(start, stop) / k_selects, "ns", ok);
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
