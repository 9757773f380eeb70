// sched/global_queue.hpp — the global run queue: a FIFO of goroutine pointers under a lock.
//
// Go keeps a mutex-protected intrusive list here. gort keeps the lock (see below) but stores
// pointers in a growable ring (sys/ring.hpp) instead of linking the records: moving a batch (the
// 129 goroutines of a local-queue overflow, the batch a processor takes back) is then a copy of
// pointers that never touches the records themselves, which are cold in cache when the queue is
// long. Measured on the spawn workload, linking through the records cost a cache miss per
// goroutine per transfer.
//
// Why a lock rather than a lock-free MPMC queue (moodycamel's ConcurrentQueue was the candidate):
// the scheduler needs exact FIFO across all producers (yield and preemption rely on "tail of the
// global queue" for fairness), insertion at the head when processors are destroyed, an exact length
// for Go's batch formula and schedtrace, and it is touched at most once per 61 ticks or per 128
// overflowing spawns, so the lock is not a bottleneck.
//
// Invariants: every member function except size() requires the scheduler lock; size() is an
// atomic snapshot any thread may read without the lock.
#pragma once

#include <atomic>
#include <cstdint>

#include "gort/detail/dcheck.hpp"
#include "sched/goroutine.hpp"
#include "sys/ring.hpp"

namespace gort::sched {

class global_queue {
 public:
  /// Appends one goroutine. Requires the scheduler lock.
  void push_back(goroutine* g) { push_back_batch(&g, 1); }

  /// Appends n goroutines in order. Requires the scheduler lock.
  void push_back_batch(goroutine* const* gs, std::size_t n) {
    ring_.push_back_batch(gs, n);
    publish();
  }

  /// Inserts one goroutine at the head (processor destroy order). Requires the scheduler lock.
  void push_front(goroutine* g) {
    ring_.push_front(g);
    publish();
  }

  /// Removes up to n goroutines from the head into out; returns how many. Requires the lock.
  std::size_t pop_batch(goroutine** out, std::size_t n) noexcept {
    n = ring_.pop_front_batch(out, n);
    publish();
    return n;
  }

  /// Length; any thread, without the lock (a snapshot).
  std::int64_t size() const noexcept {
    // seq_cst: part of the spinning hand-shake — a machine dropping its processor re-checks the
    // global queue after decrementing nmspinning, and a submitter from a plain thread pushes here
    // before reading nmspinning; both sides need StoreLoad ordering (scheduler.cpp, wakep).
    return size_.load(std::memory_order_seq_cst);
  }

 private:
  void publish() noexcept {
    GORT_DCHECK(ring_.size() <= ring_.capacity());
    // Written under the lock only; seq_cst store for the hand-shake described in size().
    size_.store(static_cast<std::int64_t>(ring_.size()), std::memory_order_seq_cst);
  }

  sys::ring<goroutine*> ring_;
  std::atomic<std::int64_t> size_{0};
};

}  // namespace gort::sched
