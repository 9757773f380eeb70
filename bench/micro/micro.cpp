// bench/micro/micro.cpp — gort's hot paths in isolation, and the costs they cannot go below.
//
//   build-bench/bench/gort_micro [--benchmark_filter=...]
//
// Each benchmark runs inside one gort runtime at 1 processor unless its name says otherwise, so
// it measures the path itself, not cross-core traffic.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <boost/context/detail/fcontext.hpp>

#include "gort/gort.hpp"

namespace {

// The physical floor of a goroutine switch: a Boost.Context jump there and back.
void BM_FcontextRoundTrip(benchmark::State& state) {
  namespace bc = boost::context::detail;
  static char stack[64 * 1024];
  auto body = [](bc::transfer_t t) {
    for (;;) t = bc::jump_fcontext(t.fctx, nullptr);
  };
  bc::fcontext_t ctx = bc::make_fcontext(stack + sizeof stack, sizeof stack, body);
  for (auto _ : state) ctx = bc::jump_fcontext(ctx, nullptr).fctx;
}
BENCHMARK(BM_FcontextRoundTrip);

// gort::yield with one goroutine: switch to the scheduler, global queue round trip, switch back.
void BM_Yield(benchmark::State& state) {
  gort::run([&] {
    for (auto _ : state) gort::yield();
  }, {.maxprocs = 1});
}
BENCHMARK(BM_Yield);

// Spawn a goroutine and wait for it: record, runnext, stack attach, two switches each way.
void BM_SpawnAndJoin(benchmark::State& state) {
  gort::run([&] {
    for (auto _ : state) {
      gort::wait_group wg;
      wg.add(1);
      gort::go([&] { wg.done(); });
      wg.wait();
    }
  }, {.maxprocs = 1});
}
BENCHMARK(BM_SpawnAndJoin);

// Park and ready between two goroutines (a hand-off through two wait groups per round).
void BM_ParkReadyPingPong(benchmark::State& state) {
  gort::run([&] {
    std::atomic<bool> stop{false};
    gort::wait_group ping;
    gort::wait_group pong;
    gort::wait_group done;
    ping.add(1);
    done.add(1);
    gort::go([&] {
      for (;;) {
        ping.wait();
        if (stop.load(std::memory_order_relaxed)) break;
        ping.add(1);
        pong.done();
      }
      done.done();
    });
    for (auto _ : state) {
      pong.add(1);
      ping.done();
      pong.wait();
    }
    stop.store(true);
    ping.done();
    done.wait();
  }, {.maxprocs = 1});
}
BENCHMARK(BM_ParkReadyPingPong);

// Fresh stack slots laid out as gort's (64 KiB apart, huge pages off), handed out one at a time;
// a new reservation, mapped outside the timed region, when they run out.
class fresh_slots {
 public:
  static constexpr std::size_t k_slot = 64 * 1024;
  static constexpr std::size_t k_count = 16384;
  explicit fresh_slots(benchmark::State& state) : state_(state) {}
  ~fresh_slots() {
    if (base_ != nullptr) ::munmap(base_, k_count * k_slot);
  }
  /// The next slot's index (a new reservation's first is 0) and its base.
  std::size_t next() {
    if (i_ == k_count) {
      state_.PauseTiming();
      if (base_ != nullptr) ::munmap(base_, k_count * k_slot);
      base_ = static_cast<char*>(::mmap(nullptr, k_count * k_slot, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
      ::madvise(base_, k_count * k_slot, MADV_NOHUGEPAGE);
      i_ = 0;
      state_.ResumeTiming();
    }
    return i_++;
  }
  char* slot(std::size_t i) const { return base_ + i * k_slot; }

 private:
  benchmark::State& state_;
  char* base_ = nullptr;
  std::size_t i_ = k_count;
};

// What one parked goroutine's stack page costs the kernel on this machine: the first write to a
// fresh anonymous page 64 KiB from the previous one (the layout of gort's stacks).
void BM_FreshStackPageFault(benchmark::State& state) {
  fresh_slots slots(state);
  for (auto _ : state) slots.slot(slots.next())[fresh_slots::k_slot - 64] = 1;
}
// threads:2 — both vCPUs at once, each on its own slots, as a spawn burst on two processors; a
// hypervisor that serializes page-table work shows it here (time per slot per thread).
BENCHMARK(BM_FreshStackPageFault)->Threads(1)->Threads(2)->UseRealTime();

// The same page as the runtime hands it out: committed for a batch of 16 slots with one
// process_madvise(MADV_POPULATE_WRITE) (the stack pool's get_batch), then written. The difference
// from BM_FreshStackPageFault is what the batched commit saves per goroutine; where the hypervisor
// shadows page tables, the first write to a committed page still costs an exit.
void BM_CommittedStackPageFirstWrite(benchmark::State& state) {
  constexpr std::size_t batch = 16;  // divides fresh_slots::k_count
  constexpr int k_pidfd_self = -10000;  // Linux 6.15's PIDFD_SELF_THREAD
  constexpr int k_populate_write = 23;  // MADV_POPULATE_WRITE
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  fresh_slots slots(state);
  for (auto _ : state) {
    const std::size_t i = slots.next();
    if (i % batch == 0) {
      iovec iov[batch];
      for (std::size_t k = 0; k < batch; ++k) {
        iov[k] = {slots.slot(i + k) + fresh_slots::k_slot - page, page};
      }
      if (::syscall(SYS_process_madvise, k_pidfd_self, iov, batch, k_populate_write, 0) < 0) {
        state.SkipWithError("this kernel does not take MADV_POPULATE_WRITE in process_madvise");
        break;
      }
    }
    slots.slot(i)[fresh_slots::k_slot - 64] = 1;
  }
}
BENCHMARK(BM_CommittedStackPageFirstWrite)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
