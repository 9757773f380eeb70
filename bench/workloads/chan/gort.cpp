// chan — gort: the cost of one message through a channel shared by producers and consumers.
//
// For each configuration (P producers, C consumers, capacity) = (1,1,0), (1,1,1024), (4,4,1024),
// in that order, on a fresh channel: main spawns C consumers that range over the channel until it
// is closed, each keeping its own count, sum and sum of squares, then P producers that each send
// their own share of the values 0…3,999,999 (4,000,000 / P consecutive values) and call
// producers.done(); main waits on `producers`, closes the channel and waits on `consumers`.
// Reported per configuration: wall time from the first spawn until every consumer has finished,
// divided by 4,000,000 (quantity "chan", ns per message, config "P,C,capacity").
// Correctness: the consumers' counts must add up to 4,000,000, their sums to 0 + 1 + … + 3,999,999
// and their sums of squares (mod 2^64) to 0² + 1² + … + 3,999,999² — every message received
// exactly once; ok=0 otherwise, for that configuration.
#include <cstdint>
#include <vector>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {

constexpr std::int64_t k_messages = 4'000'000;

struct config {
  int producers;
  int consumers;
  std::int64_t capacity;
  const char* name;
};
constexpr config k_configs[] = {
    {1, 1, 0, "1,1,0"}, {1, 1, 1024, "1,1,1024"}, {4, 4, 1024, "4,4,1024"}};

struct tally {
  std::int64_t count = 0;
  std::int64_t sum = 0;
  std::uint64_t sum_sq = 0;  // wraps mod 2^64
};

bool run_config(const config& cfg) {
  gort::chan<std::int64_t> c(cfg.capacity);
  std::vector<tally> tallies(static_cast<std::size_t>(cfg.consumers));
  gort::wait_group producers;
  gort::wait_group consumers;
  const std::int64_t per_producer = k_messages / cfg.producers;

  const auto start = bench::clock::now();
  consumers.add(cfg.consumers);
  for (int i = 0; i < cfg.consumers; ++i) {
    gort::go([c, out = &tallies[static_cast<std::size_t>(i)], &consumers] {
      tally t;
      for (std::int64_t v : c) {
        ++t.count;
        t.sum += v;
        t.sum_sq += static_cast<std::uint64_t>(v) * static_cast<std::uint64_t>(v);
      }
      *out = t;
      consumers.done();
    });
  }
  producers.add(cfg.producers);
  for (int p = 0; p < cfg.producers; ++p) {
    gort::go([c, first = p * per_producer, per_producer, &producers] {
      for (std::int64_t v = first; v < first + per_producer; ++v) c.send(v);
      producers.done();
    });
  }
  producers.wait();
  c.close();
  consumers.wait();
  const auto stop = bench::clock::now();

  tally total;
  for (const tally& t : tallies) {
    total.count += t.count;
    total.sum += t.sum;
    total.sum_sq += t.sum_sq;
  }
  tally expected;
  for (std::int64_t v = 0; v < k_messages; ++v) {
    ++expected.count;
    expected.sum += v;
    expected.sum_sq += static_cast<std::uint64_t>(v) * static_cast<std::uint64_t>(v);
  }
  const bool ok = total.count == expected.count && total.sum == expected.sum &&
                  total.sum_sq == expected.sum_sq;
  bench::report("chan", bench::elapsed_ns(start, stop) / k_messages, "ns", ok, cfg.name);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return gort::run(
      [] {
        bool ok = true;
        for (const config& cfg : k_configs) ok = run_config(cfg) && ok;
        return ok ? 0 : 1;
      },
      gort::options{.maxprocs = procs});
}
