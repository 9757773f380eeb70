// sched/run_queue.hpp — a processor's local run queue: Go's runq ring plus the runnext slot.
//
// Invariants
//  * Single producer: only the owner P pushes (put) and writes `tail_` and non-null `runnext_`.
//  * Many consumers: the owner (get) and thieves (steal_into from another P) advance `head_` by
//    CAS; any consumer may CAS `runnext_` to null.
//  * 0 <= tail_ - head_ <= Capacity, counted in wrapping uint32 arithmetic.
//  * An element is in exactly one place: a ring slot in [head_, tail_), runnext_, or handed out.
//
// T is any type (elements are T*). Capacity is a power of two; the runtime uses Go's 256, tests
// also run it at 4.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "gort/detail/dcheck.hpp"

namespace gort::sched {

template <class T, std::uint32_t Capacity = 256>
class run_queue {
  static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "power of two");

 public:
  static constexpr std::uint32_t capacity = Capacity;

  /// Go's runqput. Owner only. With `next`, `g` takes the runnext slot and the previous occupant
  /// (if any) is kicked to the tail. When the ring is full, half of it plus the new element are
  /// handed to `overflow(T* const* batch, std::size_t n)` in order — Go's runqputslow to the
  /// global queue; nothing is ever dropped.
  template <class Overflow>
  void put(T* g, bool next, Overflow&& overflow) {
    if (next) {
      g = swap_runnext(g);  // the previous occupant, if any, goes to the tail
      if (g == nullptr) return;
    }
    for (;;) {
      // acquire: pairs with consumers' CAS on head_, so their reads of the slots we are about to
      // overwrite happened before.
      const std::uint32_t h = head_.load(std::memory_order_acquire);
      const std::uint32_t t = tail_.load(std::memory_order_relaxed);  // owner's own variable
      GORT_DCHECK(t - h <= Capacity);  // 0 <= tail - head <= Capacity
      GORT_DCHECK(g != nullptr);
      if (t - h < Capacity) {
        slots_[t % Capacity].store(g, std::memory_order_relaxed);
        // release: publishes the slot (and g's fields) to consumers' acquire loads of tail_.
        tail_.store(t + 1, std::memory_order_release);
        return;
      }
      if (put_slow(g, h, t, overflow)) return;
      // A consumer moved head_ meanwhile: the ring has room again.
    }
  }

  /// put(g, true) without the ring: `g` takes the runnext slot and the previous occupant (or
  /// null) is returned for the caller to put(old, false). Owner only.
  T* swap_runnext(T* g) noexcept {
    // release: g's fields are visible to a thief that takes runnext with acquire. The exchange
    // also wins against a thief's CAS to null: whatever occupant it swaps out is ours to requeue.
    return runnext_.exchange(g, std::memory_order_release);
  }

  /// Go's runqget. Owner only. runnext first (sets inherit_time: the element shares the current
  /// time slice), then the ring head.
  T* get(bool& inherit_time) {
    T* next = runnext_.load(std::memory_order_relaxed);
    // Only the owner sets runnext non-null, so a failed CAS means a thief took it: no retry.
    // acquire: pairs with the release in put().
    if (next != nullptr && runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acquire,
                                                            std::memory_order_relaxed)) {
      inherit_time = true;
      return next;
    }
    inherit_time = false;
    return get_ring();
  }

  /// get()'s second half: the ring head, runnext left alone (GORTDEBUG=shuffle also calls it
  /// first, scheduler.hpp). Owner only.
  T* get_ring() {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      const std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      GORT_DCHECK(t - h <= Capacity);
      T* g = slots_[h % Capacity].load(std::memory_order_relaxed);
      // release: our read of the slot happens-before the owner's (our own) later overwrite; the
      // CAS also orders us against thieves advancing head_.
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release,
                                      std::memory_order_relaxed)) {
        return g;
      }
    }
  }

  /// Go's runqsteal. Called by the owner of `*this` (the thief, whose ring must be empty) to take
  /// half of `victim`'s ring (rounded up). With `steal_runnext`, an empty ring yields the victim's
  /// runnext instead. When the victim is running, `victim_progress` is a counter its owner bumps
  /// at every goroutine switch: the thief first backs off 3 µs so the victim gets a chance to run
  /// what it just readied, and leaves runnext alone if the counter moved meanwhile (the victim is
  /// handing off between goroutines and will run it; see run_queue::grab). Null: the victim is
  /// not running, no back-off. Returns one element to run now; the rest are in our ring.
  /// `most` caps the batch (GORTDEBUG=shuffle takes random sizes; otherwise half, Go's).
  T* steal_from(run_queue& victim, bool steal_runnext,
                const std::atomic<std::uint64_t>* victim_progress, std::uint32_t* taken,
                std::uint32_t most = Capacity) {
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    GORT_DCHECK(t == head_.load(std::memory_order_relaxed));  // the thief's ring is empty
    std::uint32_t n = victim.grab(*this, t, steal_runnext, victim_progress, most);
    if (taken != nullptr) *taken = n;
    GORT_DCHECK(n <= Capacity / 2 + 1);  // half, rounded up (or runnext alone)
    if (n == 0) return nullptr;
    --n;
    T* g = slots_[(t + n) % Capacity].load(std::memory_order_relaxed);
    if (n == 0) return g;
    // release: publishes the stolen slots to consumers of our ring.
    tail_.store(t + n, std::memory_order_release);
    return g;
  }

  /// Go's runqempty: never reports empty spuriously while an element is moving from runnext to
  /// the ring. Any thread.
  bool empty() const {
    for (;;) {
      const std::uint32_t h = head_.load(std::memory_order_acquire);
      const std::uint32_t t = tail_.load(std::memory_order_acquire);
      T* next = runnext_.load(std::memory_order_acquire);
      if (tail_.load(std::memory_order_acquire) == t) return h == t && next == nullptr;
    }
  }

  /// Ring length (runnext not counted), as schedtrace shows it. Any thread; a snapshot.
  std::uint32_t size() const {
    const std::uint32_t h = head_.load(std::memory_order_acquire);
    const std::uint32_t t = tail_.load(std::memory_order_acquire);
    const std::uint32_t n = t - h;
    return n > Capacity ? 0 : n;  // torn read: head moved past our tail snapshot
  }

  /// The next two elements get() would return (null where there are fewer), without taking them:
  /// a hint (prefetch_successor's), stale as soon as a thief moves. Every load is relaxed: nothing
  /// read through the result is relied on. Owner only.
  void peek2(T*& first, T*& second) const noexcept {
    const std::uint32_t h = head_.load(std::memory_order_relaxed);
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    const std::uint32_t n = t - h > Capacity ? 0 : t - h;
    T* ring0 = n > 0 ? slots_[h % Capacity].load(std::memory_order_relaxed) : nullptr;
    T* ring1 = n > 1 ? slots_[(h + 1) % Capacity].load(std::memory_order_relaxed) : nullptr;
    T* next = runnext_.load(std::memory_order_relaxed);
    if (next != nullptr) {
      first = next;
      second = ring0;
    } else {
      first = ring0;
      second = ring1;
    }
  }

  /// True when runnext holds an element. Any thread; a snapshot.
  bool has_runnext() const { return runnext_.load(std::memory_order_acquire) != nullptr; }

  /// Removes everything, ring tail first then runnext (Go's P destroy order), calling
  /// `sink(g)` for each. Owner only, with no concurrent thieves (the P is being torn down).
  template <class Sink>
  void drain(Sink&& sink) {
    for (;;) {
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      const std::uint32_t h = head_.load(std::memory_order_acquire);
      if (t == h) break;
      --t;
      sink(slots_[t % Capacity].load(std::memory_order_relaxed));
      tail_.store(t, std::memory_order_release);
    }
    if (T* next = runnext_.exchange(nullptr, std::memory_order_acq_rel)) sink(next);
  }

 private:
  // Moves half of a full ring plus g to the overflow sink. Owner only. False if a consumer raced
  // us (the ring is no longer full; the caller retries the fast path).
  template <class Overflow>
  bool put_slow(T* g, std::uint32_t h, std::uint32_t t, Overflow& overflow) {
    constexpr std::uint32_t half = Capacity / 2;
    if (t - h != Capacity) return false;
    T* batch[half + 1];
    for (std::uint32_t i = 0; i < half; ++i) {
      batch[i] = slots_[(h + i) % Capacity].load(std::memory_order_relaxed);
    }
    // release: our slot reads precede later overwrites of those slots.
    if (!head_.compare_exchange_strong(h, h + half, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return false;
    }
    batch[half] = g;
    overflow(static_cast<T* const*>(batch), std::size_t{half + 1});
    return true;
  }

  // Go's runqgrab: copies up to half of our ring (rounded up) into thief's ring starting at
  // thief_tail, without publishing them there. Any thread except our owner.
  //
  // Taking runnext from a running victim: like Go, the thief first sleeps 3 µs — usleep(3), which
  // Linux stretches to its timer slack (~50 µs), as it does for Go. Sleeping rather than spinning
  // matters: a spinning thief keeps re-reading the victim's queue lines, and every hand-off on
  // the victim (which rewrites runnext) then pays a cache miss (measured: `pingpong` 220 ns with a
  // 3 µs spin, 150 ns with the sleep, at 2 processors).
  // One deliberate difference: Go then takes runnext if it still holds the goroutine it saw. A
  // pair of goroutines handing a value back and forth refills runnext every ~100 ns with
  // alternating goroutines, so that CAS succeeds about half the time and the pair is split across
  // processors, after which every hand-off crosses cores. gort gives up when the victim switched
  // goroutines during the sleep: a victim that is scheduling will run its runnext itself; one
  // stuck in a long goroutine did not switch and is robbed as in Go.
  std::uint32_t grab(run_queue& thief, std::uint32_t thief_tail, bool steal_runnext,
                     const std::atomic<std::uint64_t>* victim_progress, std::uint32_t most) {
    for (;;) {
      // acquire (both): pair with other consumers' head_ CAS and the owner's tail_ release, so
      // the slots read below are the published ones.
      std::uint32_t h = head_.load(std::memory_order_acquire);
      const std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n -= n / 2;
      if (n > most) n = most;
      if (n == 0) {
        if (!steal_runnext) return 0;
        T* next = runnext_.load(std::memory_order_acquire);
        if (next == nullptr) return 0;
        if (victim_progress != nullptr) {
          // relaxed: a heuristic snapshot of the owner's counter; nothing is published through it.
          const std::uint64_t before = victim_progress->load(std::memory_order_relaxed);
          ::usleep(3);
          if (victim_progress->load(std::memory_order_relaxed) != before) return 0;
        }
        // acq_rel: acquire pairs with put()'s release of runnext.
        if (!runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
          continue;
        }
        thief.slots_[thief_tail % Capacity].store(next, std::memory_order_relaxed);
        return 1;
      }
      if (n > Capacity / 2) continue;  // h and t read at different times; retry
      for (std::uint32_t i = 0; i < n; ++i) {
        T* g = slots_[(h + i) % Capacity].load(std::memory_order_relaxed);
        thief.slots_[(thief_tail + i) % Capacity].store(g, std::memory_order_relaxed);
      }
      // acq_rel: release orders our slot reads before the owner's reuse of those slots.
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
        return n;
      }
    }
  }

  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<T*> runnext_{nullptr};
  std::atomic<T*> slots_[Capacity] = {};
};

}  // namespace gort::sched
