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

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "gort/detail/dcheck.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/thread_annotations.hpp"
#include "gort/detail/tsan_hooks.hpp"
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

/// One entry of close's batch (chan_base::dequeue_closed): a dequeued waiter until its claim is
/// settled, then the goroutine to ready.
union close_slot {
  chan_waiter* w;
  goroutine* g;
};

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
  // (Read without the lock on purpose: relaxed atomics, hence no analysis.)
  bool recv_looks_ready() const noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {
    return count_.load(std::memory_order_relaxed) > 0 || closed_.load(std::memory_order_relaxed) ||
           q_.waiting_hint(k_sendq);
  }
  bool send_looks_ready() const noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {
    return closed_.load(std::memory_order_relaxed) || q_.waiting_hint(k_recvq) ||
           count_.load(std::memory_order_relaxed) < cap_;
  }

  spinlock lock;

 private:
  std::atomic<bool> closed_{false};  // written under lock; relaxed reads are hints
  const std::uint32_t cap_;           // chan<T> limits capacity to INT32_MAX
  std::atomic<std::uint32_t> count_{0};  // written under lock; relaxed reads are hints
  std::uint32_t stamp_ GORT_GUARDED_BY(lock) = 0;  // q_'s waiter epoch
  const chan_ops* ops_;
  queues q_ GORT_GUARDED_BY(lock);  // [k_recvq] receivers, [k_sendq] senders

 public:
  // ---- everything below requires `lock` ----
  bool closed() const noexcept GORT_REQUIRES(lock) {
    return closed_.load(std::memory_order_relaxed);
  }
  std::size_t count() const noexcept GORT_REQUIRES(lock) {
    return count_.load(std::memory_order_relaxed);
  }

  // The three ways to touch a node: each validates the queues first (nothing else of a channel
  // counts its waiters, so a rebuild needs no other repair). An empty queue needs no validation
  // to be found empty.

  /// Links w into queue q (k_recvq / k_sendq).
  void enqueue(chan_waiter* w, std::size_t q) noexcept GORT_REQUIRES(lock) {
    (void)q_.validate(stamp_);
    q_.push_back(w, q);
  }
  /// Before withdraw(w), without the lock: starts fetching the neighbouring waiters that the
  /// unlink writes (basic_wait_queues::prefetch_neighbours). Any thread.
  static void prefetch_withdraw(chan_waiter* w) noexcept { queues::prefetch_neighbours(w); }
  /// Unlinks w if a waker has not already.
  void withdraw(chan_waiter* w) noexcept GORT_REQUIRES(lock) {
    (void)q_.validate(stamp_);
    q_.remove_if_linked(w);
  }

  /// Pops the first waiter of queue q that can still be woken, having claimed it (Go's
  /// waitq.dequeue). Stale select waiters (their select fired elsewhere) are unlinked and skipped.
  chan_waiter* dequeue(std::size_t q) noexcept GORT_REQUIRES(lock) {
    for (;;) {
      chan_waiter* w = q_.validate_and_pop_front(q, stamp_);
      if (w == nullptr || wins(w)) return w;
    }
  }

  /// Whether the caller, having dequeued w, may wake it: a plain waiter, or a select waiter whose
  /// claim this call won with w's case (a lost claim: the select fired elsewhere, skip it).
  static bool wins(chan_waiter* w) noexcept {
    return w->shared == nullptr || w->shared->claim(w->fires);
  }

  /// Close's dequeue (chan_wake_closed): pops up to `max` waiters, receivers first, and settles
  /// the claims of the select waiters among them after the walk. Every waiter record lies in its
  /// goroutine's cold frame, a miss to memory, and a list walk takes those one after another: so
  /// the walk pops from both ends of a queue in turn (two chains of misses in flight; close wakes
  /// everyone, in no promised order), and a select's claim, a line of its own, is fetched during
  /// the walk and claimed after it. Marks each waiter it won as woken by close and leaves its
  /// goroutine in out[0, returned count). *more: the queues may hold more.
  std::size_t dequeue_closed(close_slot* out, std::size_t max, bool* more) noexcept
      GORT_REQUIRES(lock) {
    GORT_DCHECK(closed());  // nothing enqueues on a closed channel: the walk ends
    std::size_t popped = 0;
    auto take = [&](chan_waiter* w) {
      if (w->shared != nullptr) __builtin_prefetch(w->shared, 1);
      out[popped++].w = w;
    };
    for (std::size_t q : {k_recvq, k_sendq}) {
      while (popped < max) {
        chan_waiter* w = q_.validate_and_pop_front(q, stamp_);  // validated: pop_back may follow
        if (w == nullptr) break;
        take(w);
        if (popped == max) break;
        chan_waiter* b = q_.pop_back(q);
        if (b == nullptr) break;
        take(b);
      }
    }
    std::size_t won = 0;
    for (std::size_t i = 0; i < popped; ++i) {
      chan_waiter* w = out[i].w;
      if (wins(w)) {
        w->success = false;  // a receiver gets no value; a sender throws when it resumes
        out[won++].g = w->g;  // won <= i: entries not read yet stay intact
      }
    }
    *more = popped == max;
    return won;
  }

  void buffer_push(void* src) noexcept GORT_REQUIRES(lock) {
    const std::size_t n = count();
    GORT_DCHECK(n < cap_);  // senders queue, rather than push, while the buffer is full
    ops_->put(slot((head_ + n) % cap_), src);
    count_.store(static_cast<std::uint32_t>(n + 1), std::memory_order_relaxed);
  }
  void buffer_pop(void* dst_opt) noexcept GORT_REQUIRES(lock) {
    GORT_DCHECK(count() > 0);
    ops_->take(dst_opt, slot(head_));
    head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
    count_.store(static_cast<std::uint32_t>(count() - 1), std::memory_order_relaxed);
  }
  /// Buffer full and a sender waits: the receiver takes the head and the sender's value goes to
  /// the tail, which is the same slot (Go's recv on a full buffered channel).
  void buffer_rotate(void* dst_opt, void* src) noexcept GORT_REQUIRES(lock) {
    ops_->take(dst_opt, slot(head_));
    ops_->put(slot(head_), src);
    head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
  }
  void give(void* dst_opt, void* src) noexcept GORT_REQUIRES(lock) { ops_->give(dst_opt, src); }
  /// A receive that found the channel closed yields no value (Go's zero value, ok=false). Touches
  /// only the receiver's destination: no lock needed.
  void clear(void* dst_opt) noexcept { ops_->clear(dst_opt); }
  void mark_closed() noexcept GORT_REQUIRES(lock) { closed_.store(true, std::memory_order_relaxed); }

 protected:
  ~chan_base() = default;
  // The last handle is gone: nobody else can hold the lock (hence no analysis).
  void destroy_buffered() noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {
    for (std::size_t i = 0; i < count(); ++i) ops_->destroy(slot((head_ + i) % cap_));
    count_.store(0, std::memory_order_relaxed);
  }

 private:
  void* slot(std::size_t i) noexcept { return buf_ + i * ops_->size; }

  // ---- second line: the buffer (buffered channels only) and the handles' reference count ----
  alignas(64) unsigned char* buf_;
  std::size_t head_ GORT_GUARDED_BY(lock) = 0;
  std::atomic<std::uint32_t> refs_{1};

 public:
  /// A chan<T> handle's reference count (a copy retains, the last release frees). Any thread.
  void retain() noexcept {
    // relaxed: the caller already holds a reference; nothing is published by taking another.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  /// True when this was the last reference (the caller then deletes the channel).
  bool release() noexcept {
    return drop_reference(refs_);
  }
};

static_assert(sizeof(chan_base::queues) == 40 && sizeof(chan_base) == 128,
              "chan_base: the first line holds the lock, flags, capacity, count, stamp, ops and "
              "both queues");

// ---- out of line (src/sync/chan.cpp) ----

/// Parks the caller for good (an operation on a nil channel, an empty select). Any thread.
[[noreturn]] void block_forever(wait_reason why);

/// Throws panic_error("send on closed channel").
[[noreturn]] void throw_send_on_closed();

/// The blocking tail of chan_send and chan_recv: queues the caller (`me`) on c's queue `q`
/// (k_sendq with the value at `elem`, or k_recvq with the destination) while holding c's lock,
/// and parks until a partner moves the value or c is closed. True when the value moved; false
/// when c was closed (a receiver's `elem` is then empty; a sender throws). Inline like the fast
/// paths: compiled out of line, it cost `chan` 1,1,0 4-5 ns per message (docs/benchmarks.md).
/// The lock is released by park's unlock callback (wait_for): not analysed.
inline bool chan_block(chan_base* c, void* elem, goroutine* me, std::size_t q)
    GORT_RELEASE(c->lock) GORT_NO_THREAD_SAFETY_ANALYSIS {
  chan_waiter self(me);
  self.elem = elem;
  c->enqueue(&self, q);
  // Only a partner or close wakes it.
  (void)wait_for(self, q == k_sendq ? wait_reason::chan_send : wait_reason::chan_receive, c->lock);
  if (!self.success && q == k_recvq) c->clear(elem);
  return self.success;
}

/// Go's closechan: wakes every waiting receiver (empty-handed) and sender (they throw). Throws
/// panic_error on a nil or closed channel.
void chan_close(chan_base* c);

/// Close's wake-up, shared by chan_close and the contexts' done channels: the caller holds c's
/// lock and has just marked c closed; wakes every waiter, in batches (the lock is released before
/// each batch is readied and retaken for the next), and returns with the lock released.
void chan_wake_closed(chan_base* c) noexcept GORT_RELEASE(c->lock);

// ---- inline fast paths ----

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
    throw_send_on_closed();
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
  if (!chan_block(c, src, me, k_sendq)) throw_send_on_closed();
  return true;
}

struct recv_outcome {
  bool selected;  // the operation completed (false: !block and not ready)
  bool received;  // a value was received (false: the channel is closed and drained)
};

/// Takes a value from a sender waiting on c into dst (unbuffered: directly; buffered and full:
/// the head, the sender's value going to the tail). Requires c's lock; returns the sender to ready.
inline goroutine* chan_recv_from_sender(chan_base* c, chan_waiter* w, void* dst) noexcept
    GORT_REQUIRES(c->lock) {
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
  return {true, chan_block(c, dst, me, k_recvq)};
}

// ---- select ----

struct select_slot {
  enum class kind : std::uint8_t { recv, send };
  chan_base* c = nullptr;  // null: a nil channel, never ready
  kind k = kind::recv;
  void* elem = nullptr;  // send: T* (moved from only if this case fires); recv: std::optional<T>*
};

inline constexpr std::size_t k_max_select_cases = 65536;
inline constexpr std::size_t k_select_inline_cases = 8;

/// Go's selectgo over `n` cases. Returns the index of the case that fired; `n` when none is
/// ready and `has_default`. A recv case's destination holds the value, or stays empty when the
/// case fired because its channel is closed. Throws panic_error if a send case's channel is (or
/// gets) closed. With no non-nil case and no default, blocks forever. Compiled in the library
/// (src/sync/chan.cpp); its first steps need no lock beyond one channel's, its last parks.
std::size_t select_impl(select_slot* cases, std::size_t n, bool has_default);

}  // namespace gort::detail
