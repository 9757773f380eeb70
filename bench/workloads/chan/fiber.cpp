// chan — Boost.Fiber: the cost of one message through a channel shared by producers and consumers.
//
// N threads share fibers through the work_stealing algorithm (common/fiber_pool.hpp). For each
// configuration (P producers, C consumers, capacity) = (1,1,0), (1,1,1024), (4,4,1024), in that
// order, on a fresh channel — boost::fibers::unbuffered_channel for capacity 0, else
// boost::fibers::buffered_channel(1024) (Boost keeps one slot free: it holds at most 1023
// values) — the main fiber launches C consumer fibers that range over the channel until it is
// closed, each keeping its own count, sum and sum of squares, then P producer fibers that each
// push their own share of the values 0…3,999,999 (4,000,000 / P consecutive values); main joins
// the producers, closes the channel and joins the consumers. Reported per configuration: wall
// time from the first launch until every consumer has been joined, divided by 4,000,000
// (quantity "chan", ns per message, config "P,C,capacity").
// Correctness: the consumers' counts must add up to 4,000,000, their sums to 0 + 1 + … + 3,999,999
// and their sums of squares (mod 2^64) to 0² + 1² + … + 3,999,999² — every message received
// exactly once; ok=0 otherwise, for that configuration.
#include <cstdint>
#include <vector>

#include <boost/fiber/all.hpp>

#include "common/bench.hpp"
#include "common/fiber_pool.hpp"

namespace {

constexpr std::int64_t k_messages = 4'000'000;

struct config {
  int producers;
  int consumers;
  std::size_t capacity;
  const char* name;
};
constexpr config k_configs[] = {
    {1, 1, 0, "1,1,0"}, {1, 1, 1024, "1,1,1024"}, {4, 4, 1024, "4,4,1024"}};

struct tally {
  std::int64_t count = 0;
  std::int64_t sum = 0;
  std::uint64_t sum_sq = 0;  // wraps mod 2^64
};

template <class Channel>
bool run_config(const config& cfg, Channel& c) {
  std::vector<tally> tallies(static_cast<std::size_t>(cfg.consumers));
  std::vector<boost::fibers::fiber> producers;
  std::vector<boost::fibers::fiber> consumers;
  const std::int64_t per_producer = k_messages / cfg.producers;

  const auto start = bench::clock::now();
  for (int i = 0; i < cfg.consumers; ++i) {
    consumers.emplace_back([&c, out = &tallies[static_cast<std::size_t>(i)]] {
      tally t;
      for (std::int64_t v : c) {
        ++t.count;
        t.sum += v;
        t.sum_sq += static_cast<std::uint64_t>(v) * static_cast<std::uint64_t>(v);
      }
      *out = t;
    });
  }
  for (int p = 0; p < cfg.producers; ++p) {
    producers.emplace_back([&c, first = p * per_producer, per_producer] {
      for (std::int64_t v = first; v < first + per_producer; ++v) c.push(v);
    });
  }
  for (auto& f : producers) f.join();
  c.close();
  for (auto& f : consumers) f.join();
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
  return bench::run_work_stealing(procs, [] {
    bool ok = true;
    for (const config& cfg : k_configs) {
      if (cfg.capacity == 0) {
        boost::fibers::unbuffered_channel<std::int64_t> c;
        ok = run_config(cfg, c) && ok;
      } else {
        boost::fibers::buffered_channel<std::int64_t> c(cfg.capacity);
        ok = run_config(cfg, c) && ok;
      }
    }
    return ok ? 0 : 1;
  });
}
