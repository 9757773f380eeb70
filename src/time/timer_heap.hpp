// time/timer_heap.hpp — a processor's timers: a 4-ary min-heap by firing time (Go's per-P heap).
//
// Invariants
//  * A pending timer is in exactly one heap; its node's `heap` field points at that heap and, for
//    a stoppable node, `index` is its position. Both change only under the heap's lock.
//  * `earliest` is the firing time of the heap's top, or k_never; it is updated under the lock and
//    read without it (the scheduler's "anything due?" check, the timer sleeper's deadline).
//  * run() fires due timers under the lock; a periodic timer is re-armed first. A stoppable
//    one-shot timer keeps `heap` set until its callback returns, so timer_stop() on a firing
//    timer waits for the callback and an owner may free the node as soon as stop returns. Other
//    nodes (sleeps, after()) are unlinked before their callback, which may free them.
// Lock order: a node's `mu` before a heap lock; a heap lock before a channel lock, the scheduler
// lock and the free-G lock (fire callbacks ready goroutines, send on channels, spawn).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "gort/detail/spinlock.hpp"
#include "gort/time.hpp"
#include "sched/sanitizer.hpp"
#include "sys/advise.hpp"

namespace gort::sched {

inline constexpr std::int64_t k_never = INT64_MAX;

class timer_heap {
 public:
  using node = detail::timer_node;

  /// Firing time of the earliest pending timer, or k_never. Any thread.
  std::int64_t earliest() const noexcept {
    // seq_cst: the timer sleeper publishes its deadline and then re-reads every heap's earliest;
    // an arming thread updates earliest and then reads the sleeper's deadline (timers.cpp).
    return earliest_.load(std::memory_order_seq_cst);
  }

  /// Adds t (not pending anywhere) to fire at t->when and returns true, if the heap has room for
  /// it; returns false, adding nothing, when it has none: the caller releases the lock, calls
  /// grow() and tries again. Requires the lock.
  bool try_push_locked(node* t) noexcept GORT_REQUIRES(lock) {
    if (heap_.size() == heap_.capacity()) return false;
    heap_.push_back({t->when, t, t->stoppable});  // within capacity: cannot throw
    sift_up(heap_.size() - 1);
    // release: the node's fields are visible to whoever finds it through `heap`.
    t->heap.store(this, std::memory_order_release);
    publish();
    return true;
  }

  /// Gives the heap room for at least one more timer than it had when grow() looked. The new room
  /// (double the old) is allocated and its pages committed (sys::populate_large) without the
  /// lock, and the old room is freed without it: under the lock only the entries are copied, into
  /// resident memory, so a sleeping crowd's growth faults no page while others spin on the lock.
  /// Throws std::bad_alloc. Any thread not holding the lock.
  void grow() GORT_EXCLUDES(lock) {
    lock.lock();
    const std::size_t had = heap_.capacity();
    lock.unlock();
    std::vector<entry> room;
    room.reserve(std::max<std::size_t>(64, 2 * had));
    sys::populate_large(room.data(), room.capacity() * sizeof(entry));
    lock.lock();
    if (heap_.capacity() < room.capacity()) {  // nobody grew it more meanwhile
      room.assign(heap_.begin(), heap_.end());  // fits: size <= heap_.capacity() < room.capacity()
      heap_.swap(room);
    }
    lock.unlock();
  }

  /// Removes t, which is pending in this heap. Requires the lock. O(log n) for a stoppable node
  /// (its index is maintained), O(n) otherwise (only at top, or rare).
  void erase_locked(node* t) noexcept GORT_REQUIRES(lock) {
    remove_entry(t);
    t->heap.store(nullptr, std::memory_order_release);
    publish();
  }

  /// Fires every timer due at `now`. Returns how many fired. Any thread (a machine on its
  /// scheduler context: callbacks may ready goroutines into its processor).
  int run(std::int64_t now) {
    int fired = 0;
    lock.lock();
    while (!heap_.empty() && heap_[0].when <= now) {
      node* t = heap_[0].t;
      if (t->period > 0) {
        // Go's periodic re-arm: skip the periods that were missed entirely.
        t->when += t->period * (1 + (now - t->when) / t->period);
        heap_[0].when = t->when;
        sift_down(0);
        publish();
        t->fire(t, now);
      } else if (t->stoppable) {
        // The owner synchronizes with us through timer_stop, which reads `heap` and then takes
        // this lock: keep `heap` set until the callback is done, so a stop (and the owner's
        // destruction of the node) waits for it.
        remove_entry(t);
        publish();
        t->fire(t, now);
        sanitizer::release(t);  // for a stop that finds `heap` null (timers.cpp, stop_locked)
        t->heap.store(nullptr, std::memory_order_release);
      } else {
        // A sleep or after() node: firing may let its owner free it at once (the woken goroutine
        // returns; after() deletes itself), so it is unlinked first and never touched after.
        erase_locked(t);
        t->fire(t, now);
      }
      ++fired;
    }
    lock.unlock();
    return fired;
  }

 private:
  void remove_entry(node* t) noexcept GORT_REQUIRES(lock) {
    const std::size_t i = (!heap_.empty() && heap_[0].t == t) ? 0 : t->stoppable ? t->index : find(t);
    const entry last = heap_.back();
    heap_.pop_back();
    if (i < heap_.size()) {
      heap_[i] = last;
      if (sift_down(i) == i) sift_up(i);  // an entry that moved down never needs to move up
    }
  }

 public:
  /// Pending timers. Requires the lock (or a quiescent runtime).
  std::size_t size_locked() const noexcept GORT_REQUIRES(lock) { return heap_.size(); }

  /// Pending timers, as of the last change. Any thread (schedtrace), without the lock: a snapshot.
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// Empties the heap at shutdown: pending nodes are unlinked and the runtime-owned ones dropped.
  /// No other thread runs.
  void clear_for_shutdown() noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {
    for (const entry& e : heap_) {
      node* t = e.t;
      t->heap.store(nullptr, std::memory_order_relaxed);
      if (t->drop != nullptr) t->drop(t);
    }
    heap_.clear();
    publish();
  }

  /// Moves every pending timer into `to`, keeping its firing time (a processor dropped by a
  /// resize hands its timers on; resize.cpp). A timer_stop waiting for this heap's lock finds the
  /// node's `heap` changed and looks again (timers.cpp, stop_locked). Requires both locks.
  void move_all_locked(timer_heap& to) noexcept GORT_REQUIRES(lock, to.lock) {
    for (const entry& e : heap_) {
      to.heap_.push_back(e);
      to.sift_up(to.heap_.size() - 1);
      // release: as push_locked.
      e.t->heap.store(&to, std::memory_order_release);
    }
    heap_.clear();
    publish();
    to.publish();
  }

  /// A retired heap (its processor was dropped by a resize) takes no timers: timer_start picks
  /// another. Requires the lock.
  bool retired_locked() const noexcept GORT_REQUIRES(lock) { return retired_; }
  void set_retired_locked(bool r) noexcept GORT_REQUIRES(lock) { retired_ = r; }

  detail::spinlock lock;

 private:
  void publish() noexcept GORT_REQUIRES(lock) {
    earliest_.store(heap_.empty() ? k_never : heap_[0].when, std::memory_order_seq_cst);
    // relaxed: a statistic (schedtrace's timerslen), written under the lock.
    count_.store(static_cast<std::uint32_t>(heap_.size()), std::memory_order_relaxed);
  }

  // Records an entry's position in its node — only for stoppable timers: the nodes of sleeps and
  // after() live on many cold goroutine stacks, and writing each moved node's index cost a cache
  // miss per heap level (measured on the sleepers workload).
  void note_index(std::size_t i) noexcept GORT_REQUIRES(lock) {
    if (heap_[i].stoppable) heap_[i].t->index = static_cast<std::uint32_t>(i);
  }

  std::size_t find(node* t) const noexcept GORT_REQUIRES(lock) {
    for (std::size_t i = 0; i < heap_.size(); ++i) {
      if (heap_[i].t == t) return i;
    }
    return heap_.size() - 1;
  }

  void sift_up(std::size_t i) noexcept GORT_REQUIRES(lock) {
    const entry e = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (heap_[parent].when <= e.when) break;
      heap_[i] = heap_[parent];
      note_index(i);
      i = parent;
    }
    heap_[i] = e;
    note_index(i);
  }

  // Returns the entry's final position.
  std::size_t sift_down(std::size_t i) noexcept GORT_REQUIRES(lock) {
    const std::size_t n = heap_.size();
    const entry e = heap_[i];
    for (;;) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      for (std::size_t c = first + 1; c < first + 4 && c < n; ++c) {
        if (heap_[c].when < heap_[best].when) best = c;
      }
      if (heap_[best].when >= e.when) break;
      heap_[i] = heap_[best];
      note_index(i);
      i = best;
    }
    heap_[i] = e;
    note_index(i);
    return i;
  }

  // The firing time is kept next to the pointer (Go 1.23's timerWhen): sifting compares without
  // touching the nodes, which live on many different goroutine stacks (measured: 30 % of the
  // sleepers workload was cache misses in the sift loops before).
  struct entry {
    std::int64_t when;
    node* t;
    bool stoppable;
  };
  std::vector<entry> heap_ GORT_GUARDED_BY(lock);
  bool retired_ GORT_GUARDED_BY(lock) = false;
  std::atomic<std::int64_t> earliest_{k_never};
  std::atomic<std::uint32_t> count_{0};  // heap_.size(), published with earliest_
};

}  // namespace gort::sched
