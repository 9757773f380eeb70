// gort/detail/chan_core.hpp — the type-erased channel core shared by chan<T> and select.
//
// Go's hchan and sudog, on the park/ready waist:
//  * chan_base: a lock, a ring buffer of `cap` elements, the closed flag and two FIFO wait
//    queues (receivers, senders: the wait list of detail/wait_list.hpp). Everything below `lock`
//    is guarded by it. The queues are validated (wait_list.hpp's epoch) by the methods that
//    follow or link a node, not by every holder of the lock: a send into the buffer, which finds
//    no receiver queued, pays nothing for it.
//  * chan_waiter: one blocked operation (a detail/wait.hpp waiter), living on the blocked
//    goroutine's stack while it waits. `elem` points at the value to send (T*) or at the
//    receiver's destination (std::optional<T>*). The waiters of one select share the select's
//    claim; whoever dequeues a waiter must win its claim (the case it fires) to wake it,
//    otherwise it is stale (another case of that select fired) and is discarded.
//  * Values move directly from a sender to a waiting receiver (or into the buffer), always under
//    the channel lock; wakers release the lock before ready().
// Element moves run under the channel lock, so element types must be nothrow-move-constructible
// (chan<T> checks it).
//
// Who may call: any thread (goroutine or plain thread); the functions park through the waist.
// Lock order: channel locks are taken in address order (select); a channel lock is a leaf
// otherwise — nothing else is locked while holding it, and ready() runs after it is released.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/error.hpp"

namespace gort::detail {

struct chan_waiter : waiter {
  chan_waiter() noexcept : waiter(nullptr) {}  // a select's: init() before use
  explicit chan_waiter(goroutine* self) noexcept : waiter(self) {}
  void* elem = nullptr;
  // A select's waiter: the select's claim, which a waker must win with `fires` (k_claim_first_case
  // + the case). Null for a plain send or receive, which only its channel's waker can end (so
  // that waker neither claims nor waits for anyone).
  wake_claim* shared = nullptr;
  std::uint32_t fires;
  bool success = false;  // set by the waker: a value moved (false: woken by close)
};

inline constexpr std::size_t k_recvq = 0;
inline constexpr std::size_t k_sendq = 1;

/// Per-element-type operations, all noexcept (elements are nothrow-movable).
struct chan_ops {
  void (*give)(void* dst_opt, void* src) noexcept;      // dst->emplace(std::move(*src))
  void (*put)(void* slot, void* src) noexcept;          // new (slot) T(std::move(*src))
  void (*take)(void* dst_opt, void* slot) noexcept;     // dst->emplace(std::move(*slot)); ~T()
  void (*destroy)(void* slot) noexcept;                 // ~T()
  void (*clear)(void* dst_opt) noexcept;                // dst->reset()
  std::size_t size;
};

template <class T>
inline constexpr chan_ops chan_ops_for{
    [](void* dst, void* src) noexcept {
      static_cast<std::optional<T>*>(dst)->emplace(std::move(*static_cast<T*>(src)));
    },
    [](void* slot, void* src) noexcept { ::new (slot) T(std::move(*static_cast<T*>(src))); },
    [](void* dst, void* slot) noexcept {
      T* t = std::launder(static_cast<T*>(slot));
      static_cast<std::optional<T>*>(dst)->emplace(std::move(*t));
      t->~T();
    },
    [](void* slot) noexcept { std::launder(static_cast<T*>(slot))->~T(); },
    [](void* dst) noexcept { static_cast<std::optional<T>*>(dst)->reset(); },
    sizeof(T)};

// Layout: everything an unbuffered operation touches — the lock, the closed flag, the capacity
// and count, the queues' epoch stamp, the element operations and both wait queues — shares the
// first cache line; the buffer's address and head index (buffered channels only) follow on the
// second. Measured on `threadring` (one hand-off per hop touches one channel line instead of two).
class alignas(64) chan_base {
 public:
  using queues = basic_wait_queues<chan_waiter, 2>;

  chan_base(const chan_ops* ops, std::size_t cap, unsigned char* buf) noexcept
      : cap_(static_cast<std::uint32_t>(cap)), ops_(ops), buf_(buf) {}
  chan_base(const chan_base&) = delete;
  chan_base& operator=(const chan_base&) = delete;

  std::size_t capacity() const noexcept { return cap_; }

  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

  // ---- lock-free hints (written under `lock`, read without it): may be stale; used only to
  // decide which channel to lock first, never to decide that nothing is ready ----
  bool recv_looks_ready() const noexcept {
    return count_.load(std::memory_order_relaxed) > 0 || closed_.load(std::memory_order_relaxed) ||
           q_.waiting_hint(k_sendq);
  }
  bool send_looks_ready() const noexcept {
    return closed_.load(std::memory_order_relaxed) || q_.waiting_hint(k_recvq) ||
           count_.load(std::memory_order_relaxed) < cap_;
  }

  spinlock lock;

 private:
  std::atomic<bool> closed_{false};  // written under lock; relaxed reads are hints
  const std::uint32_t cap_;           // chan<T> limits capacity to INT32_MAX
  std::atomic<std::uint32_t> count_{0};  // written under lock; relaxed reads are hints
  std::uint32_t stamp_ = 0;              // q_'s waiter epoch; lock
  const chan_ops* ops_;
  queues q_;  // [k_recvq] receivers, [k_sendq] senders; lock

 public:
  // ---- everything below requires `lock` ----
  bool closed() const noexcept { return closed_.load(std::memory_order_relaxed); }
  std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  // The three ways to touch a node: each validates the queues first (nothing else of a channel
  // counts its waiters, so a rebuild needs no other repair). An empty queue needs no validation
  // to be found empty.

  /// Links w into queue q (k_recvq / k_sendq).
  void enqueue(chan_waiter* w, std::size_t q) noexcept {
    (void)q_.validate(stamp_);
    q_.push_back(w, q);
  }
  /// Unlinks w if a waker has not already.
  void withdraw(chan_waiter* w) noexcept {
    (void)q_.validate(stamp_);
    q_.remove_if_linked(w);
  }

  /// Pops the first waiter of queue q that can still be woken, having claimed it (Go's
  /// waitq.dequeue). Stale select waiters (their select fired elsewhere) are unlinked and skipped.
  chan_waiter* dequeue(std::size_t q) noexcept {
    for (;;) {
      chan_waiter* w = q_.validate_and_pop_front(q, stamp_);
      if (w == nullptr || w->shared == nullptr || w->shared->claim(w->fires)) return w;
    }
  }

  void buffer_push(void* src) noexcept {
    const std::size_t n = count();
    ops_->put(slot((head_ + n) % cap_), src);
    count_.store(static_cast<std::uint32_t>(n + 1), std::memory_order_relaxed);
  }
  void buffer_pop(void* dst_opt) noexcept {
    ops_->take(dst_opt, slot(head_));
    head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
    count_.store(static_cast<std::uint32_t>(count() - 1), std::memory_order_relaxed);
  }
  /// Buffer full and a sender waits: the receiver takes the head and the sender's value goes to
  /// the tail, which is the same slot (Go's recv on a full buffered channel).
  void buffer_rotate(void* dst_opt, void* src) noexcept {
    ops_->take(dst_opt, slot(head_));
    ops_->put(slot(head_), src);
    head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
  }
  void give(void* dst_opt, void* src) noexcept { ops_->give(dst_opt, src); }
  /// A receive that found the channel closed yields no value (Go's zero value, ok=false).
  void clear(void* dst_opt) noexcept { ops_->clear(dst_opt); }
  void mark_closed() noexcept { closed_.store(true, std::memory_order_relaxed); }

 protected:
  ~chan_base() = default;
  void destroy_buffered() noexcept {
    for (std::size_t i = 0; i < count(); ++i) ops_->destroy(slot((head_ + i) % cap_));
    count_.store(0, std::memory_order_relaxed);
  }

 private:
  void* slot(std::size_t i) noexcept { return buf_ + i * ops_->size; }

  // ---- second line: the buffer (buffered channels only) ----
  alignas(64) unsigned char* buf_;
  std::size_t head_ = 0;
};

static_assert(sizeof(chan_base::queues) == 40 && sizeof(chan_base) == 128,
              "chan_base: the first line holds the lock, flags, capacity, count, stamp, ops and "
              "both queues");

/// Parks the caller for good (an operation on a nil channel, an empty select). Any thread.
[[noreturn]] inline void block_forever(wait_reason why) {
  for (;;) park(why, [] {});
}

/// Go's chansend. Returns true once the value was handed over (to a receiver or the buffer);
/// false only when !block and the channel is not ready. Throws panic_error on a closed channel
/// (also when it is closed while this sender waits). `src` is moved from only on success.
inline bool chan_send(chan_base* c, void* src, bool block) {
  if (c == nullptr) {
    if (!block) return false;
    block_forever(wait_reason::chan_send_nil);
  }
  goroutine* const me = enter_op();
  c->lock.lock();
  if (c->closed()) {
    c->lock.unlock();
    throw panic_error("send on closed channel");
  }
  if (chan_waiter* w = c->dequeue(k_recvq)) {
    c->give(w->elem, src);
    w->success = true;
    goroutine* g = w->g;
    c->lock.unlock();
    ready(me, g);
    return true;
  }
  if (c->count() < c->capacity()) {
    c->buffer_push(src);
    c->lock.unlock();
    return true;
  }
  if (!block) {
    c->lock.unlock();
    return false;
  }
  chan_waiter self(me);
  self.elem = src;
  c->enqueue(&self, k_sendq);
  (void)wait_for(self, wait_reason::chan_send, c->lock);  // only a receiver or close wakes it
  if (!self.success) throw panic_error("send on closed channel");
  return true;
}

struct recv_outcome {
  bool selected;  // the operation completed (false: !block and not ready)
  bool received;  // a value was received (false: the channel is closed and drained)
};

/// Takes a value from a sender waiting on c into dst (unbuffered: directly; buffered and full:
/// the head, the sender's value going to the tail). Requires c's lock; returns the sender to ready.
inline goroutine* chan_recv_from_sender(chan_base* c, chan_waiter* w, void* dst) noexcept {
  if (c->capacity() == 0) {
    c->give(dst, w->elem);
  } else {
    c->buffer_rotate(dst, w->elem);
  }
  w->success = true;
  return w->g;
}

/// Go's chanrecv into `dst` (a std::optional<T>*, left empty when the channel is closed).
inline recv_outcome chan_recv(chan_base* c, void* dst, bool block) {
  if (c == nullptr) {
    if (!block) return {false, false};
    block_forever(wait_reason::chan_receive_nil);
  }
  goroutine* const me = enter_op();
  c->lock.lock();
  if (c->closed() && c->count() == 0) {
    c->lock.unlock();
    c->clear(dst);
    return {true, false};
  }
  if (chan_waiter* w = c->dequeue(k_sendq)) {
    goroutine* g = chan_recv_from_sender(c, w, dst);
    c->lock.unlock();
    ready(me, g);
    return {true, true};
  }
  if (c->count() > 0) {
    c->buffer_pop(dst);
    c->lock.unlock();
    return {true, true};
  }
  if (!block) {
    c->lock.unlock();
    return {false, false};
  }
  chan_waiter self(me);
  self.elem = dst;
  c->enqueue(&self, k_recvq);
  (void)wait_for(self, wait_reason::chan_receive, c->lock);  // only a sender or close wakes it
  if (!self.success) c->clear(dst);
  return {true, self.success};
}

/// Go's closechan: wakes every waiting receiver (empty-handed) and sender (they throw).
inline void chan_close(chan_base* c) {
  if (c == nullptr) throw panic_error("close of nil channel");
  c->lock.lock();
  if (c->closed()) {
    c->lock.unlock();
    throw panic_error("close of closed channel");
  }
  c->mark_closed();
  waiter* woken = nullptr;  // chained through `chain` once dequeued
  for (std::size_t q : {k_recvq, k_sendq}) {
    while (chan_waiter* w = c->dequeue(q)) {
      w->success = false;
      w->chain = woken;
      woken = w;
    }
  }
  c->lock.unlock();
  goroutine* const me = woken != nullptr ? current() : nullptr;  // the waker's record
  while (woken != nullptr) {
    waiter* w = woken;
    woken = w->chain;  // read before ready(): the waiter lives on the woken goroutine's stack
    ready(me, w->g);
  }
}

// ---- select ----

struct select_slot {
  enum class kind : std::uint8_t { recv, send };
  chan_base* c = nullptr;  // null: a nil channel, never ready
  kind k = kind::recv;
  void* elem = nullptr;  // send: T* (moved from only if this case fires); recv: std::optional<T>*
};

/// Scratch space on the stack for the common case (no initialization), the heap beyond it.
template <class T, std::size_t N = 8>
class small_array {
 public:
  explicit small_array(std::size_t n) {
    if (n > N) {
      heap_ = std::make_unique<T[]>(n);
      data_ = heap_.get();
    } else {
      data_ = reinterpret_cast<T*>(inline_);
    }
  }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  T* data() noexcept { return data_; }

 private:
  static_assert(std::is_trivially_default_constructible_v<T> && std::is_trivially_destructible_v<T>);
  alignas(T) unsigned char inline_[N * sizeof(T)];
  std::unique_ptr<T[]> heap_;
  T* data_;
};

/// xorshift from one seed: the random draws of one select without a call per case.
struct select_rng {
  std::uint32_t x;
  std::uint32_t next_below(std::uint32_t bound) noexcept {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(x) * bound) >> 32);
  }
};

inline constexpr std::size_t k_max_select_cases = 65536;

struct select_try {
  enum kind : std::uint8_t { not_ready, fired, closed_send } outcome = not_ready;
  goroutine* wake = nullptr;  // a waiter to ready once the locks are released
};

/// Performs case `cs` if it can proceed now. Requires cs.c's lock.
inline select_try select_try_locked(select_slot& cs) noexcept {
  chan_base* c = cs.c;
  if (cs.k == select_slot::kind::recv) {
    if (chan_waiter* w = c->dequeue(k_sendq)) {
      return {select_try::fired, chan_recv_from_sender(c, w, cs.elem)};
    }
    if (c->count() > 0) {
      c->buffer_pop(cs.elem);
      return {select_try::fired, nullptr};
    }
    if (c->closed()) {
      c->clear(cs.elem);
      return {select_try::fired, nullptr};
    }
    return {};
  }
  if (c->closed()) return {select_try::closed_send, nullptr};
  if (chan_waiter* w = c->dequeue(k_recvq)) {
    c->give(w->elem, cs.elem);
    w->success = true;
    return {select_try::fired, w->g};
  }
  if (c->count() < c->capacity()) {
    c->buffer_push(cs.elem);
    return {select_try::fired, nullptr};
  }
  return {};
}

/// Go's selectgo over `n` cases. Returns the index of the case that fired; `n` when none is
/// ready and `has_default`. A recv case's destination holds the value, or stays empty when the
/// case fired because its channel is closed. Throws panic_error if a send case's channel is (or
/// gets) closed. With no non-nil case and no default, blocks forever.
inline std::size_t select_impl(select_slot* cases, std::size_t n, bool has_default) {
  if (n > k_max_select_cases) throw panic_error("select: too many cases");
  goroutine* const me = enter_op();

  // 1. Poll order: a uniformly random permutation of the non-nil cases (inside-out
  //    Fisher-Yates), so among ready cases each is equally likely to fire.
  small_array<std::uint32_t> order(n);
  select_rng rng{fastrand() | 1};
  std::size_t live = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (cases[i].c == nullptr) continue;
    const std::size_t j = rng.next_below(static_cast<std::uint32_t>(live + 1));
    order[live] = order[j];
    order[j] = static_cast<std::uint32_t>(i);
    ++live;
  }
  if (live == 0) {
    if (has_default) return n;
    block_forever(n == 0 ? wait_reason::select_no_cases : wait_reason::select);
  }

  // 2. Fast path: lock only the channel of the first case (in poll order) that looks ready.
  //    The hints are unsynchronized, so a case that looks ready may not be (then the next one is
  //    tried), and one that looks idle may be ready: nothing is concluded from them; "none is
  //    ready" is decided only under all the locks (step 4), as Go does.
  for (std::size_t k = 0; k < live; ++k) {
    const std::size_t i = order[k];
    select_slot& cs = cases[i];
    chan_base* c = cs.c;
    const bool looks_ready =
        cs.k == select_slot::kind::recv ? c->recv_looks_ready() : c->send_looks_ready();
    if (!looks_ready) continue;
    c->lock.lock();
    const select_try r = select_try_locked(cs);
    c->lock.unlock();
    if (r.outcome == select_try::closed_send) throw panic_error("send on closed channel");
    if (r.outcome == select_try::fired) {
      if (r.wake != nullptr) ready(me, r.wake);
      return i;
    }
  }

  // 3. Lock order: each distinct channel once, by address (insertion sort: n is small).
  small_array<chan_base*> locks(live);
  std::size_t nlocks = 0;
  for (std::size_t i = 0; i < n; ++i) {
    chan_base* c = cases[i].c;
    if (c == nullptr) continue;
    std::size_t k = nlocks;
    while (k > 0 && locks[k - 1] > c) --k;
    if (k > 0 && locks[k - 1] == c) continue;  // already listed
    for (std::size_t m = nlocks; m > k; --m) locks[m] = locks[m - 1];
    locks[k] = c;
    ++nlocks;
  }
  auto lock_all = [&] {
    for (std::size_t i = 0; i < nlocks; ++i) locks[i]->lock.lock();
  };
  auto unlock_all = [&] {
    for (std::size_t i = nlocks; i-- > 0;) locks[i]->lock.unlock();
  };

  // 4. Under all the locks, the first ready case in poll order wins; none ready means none.
  lock_all();
  for (std::size_t k = 0; k < live; ++k) {
    const std::size_t i = order[k];
    const select_try r = select_try_locked(cases[i]);
    if (r.outcome == select_try::closed_send) {
      unlock_all();
      throw panic_error("send on closed channel");
    }
    if (r.outcome == select_try::fired) {
      unlock_all();
      if (r.wake != nullptr) ready(me, r.wake);
      return i;
    }
  }
  if (has_default) {
    unlock_all();
    return n;
  }

  // 5. Nothing ready: wait on every case at once; the first to fire claims the select.
  wake_claim claim;  // shared by this select's waiters: the case that fires claims it
  claim.contest();
  chan_waiter inline_waiters[8];
  std::unique_ptr<chan_waiter[]> heap_waiters;
  chan_waiter* waiters = inline_waiters;
  if (n > 8) {
    heap_waiters = std::make_unique<chan_waiter[]>(n);
    waiters = heap_waiters.get();
  }
  // Enqueue in poll order, as Go does (its lock order is sorted from the poll order): two cases
  // on one channel then wait in random order, so neither is always served first.
  for (std::size_t k = 0; k < live; ++k) {
    const std::size_t i = order[k];
    select_slot& cs = cases[i];
    chan_waiter& w = waiters[i];
    w.init(me);
    w.elem = cs.elem;
    w.shared = &claim;
    w.fires = k_claim_first_case + static_cast<std::uint32_t>(i);
    cs.c->enqueue(&w, cs.k == select_slot::kind::recv ? k_recvq : k_sendq);
  }
  park(me, wait_reason::select, [&] { unlock_all(); });

  // 6. Woken by the case that fired (its waker dequeued it); withdraw from the others. Unlike
  //    Go, each removal holds only its own channel's lock (a removal needs nothing else: a
  //    concurrent dequeuer that meets one of our waiters loses the claim and unlinks it under
  //    that same lock), and the fired case's channel is not locked at all when no other case
  //    uses it — its waker already unlinked our only waiter there and touches it no more.
  //    Waking many selects on one channel (a context's done() closed under a million waiters)
  //    then does not make every one of them contend for the channel being closed.
  const std::size_t fired = claim.outcome() - k_claim_first_case;
  chan_base* const fired_chan = cases[fired].c;
  bool fired_chan_shared = false;
  for (std::size_t i = 0; i < n && !fired_chan_shared; ++i) {
    fired_chan_shared = i != fired && cases[i].c == fired_chan;
  }
  for (std::size_t i = 0; i < n; ++i) {
    select_slot& cs = cases[i];
    if (cs.c == nullptr || (i == fired && !fired_chan_shared)) continue;
    cs.c->lock.lock();
    cs.c->withdraw(&waiters[i]);
    cs.c->lock.unlock();
  }
  if (!waiters[fired].success) {
    if (cases[fired].k == select_slot::kind::send) throw panic_error("send on closed channel");
    cases[fired].c->clear(cases[fired].elem);  // woken by close: no value
  }
  return fired;
}

}  // namespace gort::detail
