// sync/chan.cpp — the compiled parts of channels and select (gort/detail/chan_core.hpp keeps the
// inline send and receive, blocking tail included): close and Go's selectgo.
//
// Built only on the waist and the wait helper. Lock order: channel locks in address order
// (select), each otherwise a leaf; ready() always after the locks are released.
#include <cstdint>
#include <memory>
#include <type_traits>

#include "gort/detail/chan_core.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/error.hpp"

namespace gort::detail {

void block_forever(wait_reason why) {
  for (;;) park(why, [] {});
}

void throw_send_on_closed() { throw panic_error("send on closed channel"); }

void chan_close(chan_base* c) {
  if (c == nullptr) throw panic_error("close of nil channel");
  c->lock.lock();
  if (c->closed()) {
    c->lock.unlock();
    throw panic_error("close of closed channel");
  }
  c->mark_closed();
  chan_wake_closed(c);
}

void chan_wake_closed(chan_base* c) noexcept {
  // Batches bound the stack this takes (2 KiB) and the time the lock is held; between them the
  // lock is free, which nothing can use to wait on the closed channel.
  constexpr std::size_t k_batch = 256;
  constexpr std::size_t k_ahead = 8;  // goroutine records fetched ahead of ready()
  close_slot batch[k_batch];
  goroutine* me = nullptr;  // the waker's record
  for (;;) {
    bool more = false;
    const std::size_t n = c->dequeue_closed(batch, k_batch, &more);
    c->lock.unlock();
    if (n > 0 && me == nullptr) me = current();
    for (std::size_t i = 0; i < n && i < k_ahead; ++i) __builtin_prefetch(batch[i].g, 1);
    for (std::size_t i = 0; i < n; ++i) {
      if (i + k_ahead < n) __builtin_prefetch(batch[i + k_ahead].g, 1);  // ready() CASes status
      ready(me, batch[i].g);
    }
    if (!more) return;
    c->lock.lock();
  }
}

// ---- select ----

namespace {

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

struct select_try {
  enum kind : std::uint8_t { not_ready, fired, closed_send } outcome = not_ready;
  goroutine* wake = nullptr;  // a waiter to ready once the locks are released
};

/// Performs case `cs` on its channel c (== cs.c) if it can proceed now. Requires c's lock.
select_try select_try_locked(chan_base* c, select_slot& cs) noexcept GORT_REQUIRES(c->lock) {
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

}  // namespace

// Not analysed: the locks of steps 3-6 are an array taken in address order, which the analysis
// cannot follow; each step says which locks it holds.
std::size_t select_impl(select_slot* cases, std::size_t n, bool has_default)
    GORT_NO_THREAD_SAFETY_ANALYSIS {
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
    const select_try r = select_try_locked(c, cs);
    c->lock.unlock();
    if (r.outcome == select_try::closed_send) throw_send_on_closed();
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
  auto lock_all = [&]() GORT_NO_THREAD_SAFETY_ANALYSIS {
    for (std::size_t i = 0; i < nlocks; ++i) locks[i]->lock.lock();
  };
  auto unlock_all = [&]() GORT_NO_THREAD_SAFETY_ANALYSIS {
    for (std::size_t i = nlocks; i-- > 0;) locks[i]->lock.unlock();
  };

  // Step 5's waiters beyond the frame's, allocated before any lock is taken: an allocation
  // failure then throws with no channel locked.
  std::unique_ptr<chan_waiter[]> heap_waiters;
  if (!has_default && n > k_select_inline_cases) heap_waiters = std::make_unique<chan_waiter[]>(n);

  // 4. Under all the locks, the first ready case in poll order wins; none ready means none.
  lock_all();
  for (std::size_t k = 0; k < live; ++k) {
    const std::size_t i = order[k];
    const select_try r = select_try_locked(cases[i].c, cases[i]);
    if (r.outcome == select_try::closed_send) {
      unlock_all();
      throw_send_on_closed();
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
  chan_waiter inline_waiters[k_select_inline_cases];
  chan_waiter* const waiters = heap_waiters != nullptr ? heap_waiters.get() : inline_waiters;
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
    chan_base::prefetch_withdraw(&waiters[i]);  // the lock is then held for less than a miss
    cs.c->lock.lock();
    cs.c->withdraw(&waiters[i]);
    cs.c->lock.unlock();
  }
  if (!waiters[fired].success) {
    if (cases[fired].k == select_slot::kind::send) throw_send_on_closed();
    cases[fired].c->clear(cases[fired].elem);  // woken by close: no value
  }
  return fired;
}

}  // namespace gort::detail
