// pingpong — Boost.Fiber: the round trip of a value between two fibers over unbuffered channels.
//
// N threads share fibers through the work_stealing algorithm (common/fiber_pool.hpp). Two
// boost::fibers::unbuffered_channel, `ping` and `pong`. The partner fiber ranges over `ping` and
// pushes every value it pops, plus one, on `pong`. The main fiber pushes v on `ping` and pops v+1
// from `pong`, 1,000,000 times, starting from 0. Reported: wall time of the 1,000,000 round
// trips divided by 1,000,000 (quantity "pingpong", ns per round trip). Then main closes `ping`
// and joins the partner, which closes `pong` as it leaves (outside the clock).
// Correctness: the value main ends with must be 1,000,000 (every round trip added exactly one,
// in order), and `pong` must then be closed with nothing left in it; ok=0 otherwise.
#include <cstdint>

#include <boost/fiber/all.hpp>

#include "common/bench.hpp"
#include "common/fiber_pool.hpp"

namespace {
constexpr std::int64_t k_round_trips = 1'000'000;
using channel = boost::fibers::unbuffered_channel<std::int64_t>;
}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  return bench::run_work_stealing(procs, [] {
    channel ping;
    channel pong;
    boost::fibers::fiber partner([&ping, &pong] {
      for (std::int64_t v : ping) pong.push(v + 1);
      pong.close();
    });

    std::int64_t v = 0;
    const auto start = bench::clock::now();
    for (std::int64_t i = 0; i < k_round_trips; ++i) {
      ping.push(v);
      if (pong.pop(v) != boost::fibers::channel_op_status::success) v = -1;
    }
    const auto stop = bench::clock::now();

    ping.close();
    partner.join();
    std::int64_t extra = 0;
    const bool partner_done = pong.pop(extra) == boost::fibers::channel_op_status::closed;
    const bool ok = v == k_round_trips && partner_done;
    bench::report("pingpong", bench::elapsed_ns(start, stop) / k_round_trips, "ns", ok);
    return ok ? 0 : 1;
  });
}
