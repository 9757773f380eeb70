// bench/workloads/common/fiber_pool.hpp — how every Boost.Fiber peer runs its workload: N OS
// threads sharing fibers through Boost.Fiber's work_stealing scheduler, plus a fiber-aware
// wait group (Boost.Fiber has none). Measures nothing itself.
//
// Setup, the way Boost.Fiber's own work_stealing example does it:
//   1. the calling thread starts N-1 worker threads;
//   2. every one of the N threads (the caller included) installs work_stealing(N); the algorithm's
//      constructor holds each thread until all N have registered, so stealing covers all of them;
//   3. each worker's main fiber then sleeps on a fiber condition variable (its thread keeps
//      running and stealing ready fibers meanwhile) until the caller's body has returned;
//   4. the caller runs the body on its main fiber, sets `stop_`, wakes the workers and joins them.
// work_stealing may be installed once per process (its registry of schedulers is static), so
// run_work_stealing() may be called once per process.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/fiber/all.hpp>

namespace bench {

/// Runs body() on the calling thread's main fiber while `procs` threads (the caller and procs-1
/// workers) run fibers with work_stealing; returns body's result after the workers have stopped.
template <class F>
auto run_work_stealing(int procs, F body) {
  using algorithm = boost::fibers::algo::work_stealing;
  const auto threads = static_cast<std::uint32_t>(procs);

  boost::fibers::mutex stop_mutex;
  boost::fibers::condition_variable stop_cv;
  bool stop = false;  // guarded by stop_mutex

  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  for (std::uint32_t i = 1; i < threads; ++i) {
    workers.emplace_back([&] {
      boost::fibers::use_scheduling_algorithm<algorithm>(threads);
      std::unique_lock<boost::fibers::mutex> lock(stop_mutex);
      stop_cv.wait(lock, [&] { return stop; });
    });
  }
  boost::fibers::use_scheduling_algorithm<algorithm>(threads);

  auto result = body();

  {
    std::lock_guard<boost::fibers::mutex> lock(stop_mutex);
    stop = true;
  }
  stop_cv.notify_all();
  for (auto& worker : workers) worker.join();
  return result;
}

/// A wait group for fibers: add() up front, done() from any fiber, wait() parks the calling
/// fiber until the count reaches zero. The count is one atomic (like Go's WaitGroup state word);
/// only the done() that reaches zero and the waiter touch the mutex.
///
/// Memory ordering: acq_rel on the decrement, so the fiber reaching zero has seen every other
/// fiber's work; the mutex hand-off then carries it to the waiter.
class fiber_wait_group {
 public:
  void add(std::int64_t n) { count_.fetch_add(n, std::memory_order_relaxed); }

  void done() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<boost::fibers::mutex> lock(mutex_);
      zero_ = true;
      cv_.notify_all();
    }
  }

  void wait() {
    std::unique_lock<boost::fibers::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return zero_; });
  }

 private:
  std::atomic<std::int64_t> count_{0};
  boost::fibers::mutex mutex_;
  boost::fibers::condition_variable cv_;
  bool zero_ = false;  // guarded by mutex_; set once, by the done() that reaches zero
};

}  // namespace bench
