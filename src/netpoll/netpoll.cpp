// netpoll/netpoll.cpp — the epoll poller and the poll descriptors (see netpoll.hpp).
//
// The wait on a descriptor slot, in steps (poll_desc_wait), with the descriptor's lock held:
//  1. look: closing -> closed; deadline passed -> timeout; readiness recorded -> consume it,
//     ready; context done -> canceled;
//  2. register the fd with the running runtime's epoll if it is not yet (edge-triggered, read and
//     write, once per fd and runtime: epoll reports an fd that is ready when it is added, so
//     readiness from before the registration is not lost);
//  3. queue a waiter on the slot and count it in g_io_waiters; a plain thread makes sure some
//     machine polls (poll_poke);
//  4. wait_for (gort/detail/wait.hpp) parks with the context and the deadline armed and releases
//     the lock;
//  5. on waking: a waiter that was not claimed by the slot's side removes itself; then back to 1
//     (a grant means "look again": the poller recorded readiness, or close or a deadline change
//     happened), except after a cancellation.
// Every party that wakes slot waiters (poll, evict, set_deadline) pops them all under the lock
// and claims each; only the claims it wins are readied, after the lock is released.
#include "netpoll/netpoll.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <mutex>
#include <new>
#include <system_error>

#include "gort/detail/context_node.hpp"
#include "gort/error.hpp"
#include "sched/scheduler.hpp"
#include "sys/clock.hpp"

namespace gort::sched {

std::atomic<std::int32_t> g_io_waiters{0};

namespace {

// The eventfd's tag in epoll_event.data (a descriptor's tag is seq << 32 | index, and no index
// reaches 2^32 - 1).
constexpr std::uint64_t k_break_tag = ~std::uint64_t{0};
constexpr int k_events_per_poll = 128;

std::atomic<std::uint64_t> g_poll_generation{0};

}  // namespace

void poll_init(poll_state& ps) {
  ps.generation = g_poll_generation.fetch_add(1, std::memory_order_relaxed) + 1;
  ps.epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (ps.epfd < 0) throw std::system_error(errno, std::system_category(), "gort: epoll_create1");
  ps.evfd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ps.evfd < 0) {
    const int e = errno;
    ::close(ps.epfd);
    ps.epfd = -1;
    throw std::system_error(e, std::system_category(), "gort: eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: a pending break is seen until drained
  ev.data.u64 = k_break_tag;
  if (::epoll_ctl(ps.epfd, EPOLL_CTL_ADD, ps.evfd, &ev) != 0) {
    const int e = errno;
    poll_close(ps);
    throw std::system_error(e, std::system_category(), "gort: epoll_ctl");
  }
}

void poll_close(poll_state& ps) noexcept {
  if (ps.evfd >= 0) ::close(ps.evfd);
  if (ps.epfd >= 0) ::close(ps.epfd);
  ps.evfd = ps.epfd = -1;
}

void poll_break(scheduler& s) noexcept {
  // acq_rel: pairs with the poller's release store of false after it drained the eventfd; only
  // the caller that flips it to true writes, so a storm of wake-ups costs one write and one
  // epoll_wait return.
  if (s.poll.break_pending.exchange(true, std::memory_order_acq_rel)) return;
  const std::uint64_t one = 1;
  ssize_t r;
  do {
    r = ::write(s.poll.evfd, &one, sizeof one);
  } while (r < 0 && errno == EINTR);
  s.poll.breaks.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
}

void poll_poke(scheduler& s) noexcept {
  // seq_cst: after g_io_waiters' increment (the caller's); a machine that is about to decide
  // whether to become the poller reads the count after publishing its idleness — either it sees
  // our waiter, or we see no poller and an idle processor and start a machine.
  if (s.poller.load(std::memory_order_seq_cst) == nullptr) wakep(s);
}

}  // namespace gort::sched

namespace gort::detail {

using namespace gort::sched;

namespace {

// ---- the descriptor table: chunks never freed ----------------------------------------------

constexpr std::uint32_t k_chunk = 256;
constexpr std::uint32_t k_max_chunks = 1u << 16;  // 16 M descriptors

struct pd_table {
  spinlock lock;  // the free list and growth
  poll_desc* free GORT_GUARDED_BY(lock) = nullptr;
  std::uint32_t chunks GORT_GUARDED_BY(lock) = 0;
  // Published chunk pointers: written once under the lock (release), read by the poller without
  // it (acquire) for an index taken from an epoll event.
  std::atomic<poll_desc*> chunk[k_max_chunks] = {};
};

pd_table& table() {
  static pd_table* t = new pd_table;  // never destroyed: events may name it until exit
  return *t;
}

poll_desc* pd_at(std::uint32_t index) noexcept {
  const std::uint32_t c = index / k_chunk;
  if (c >= k_max_chunks) return nullptr;
  poll_desc* base = table().chunk[c].load(std::memory_order_acquire);  // pairs with the release
  return base == nullptr ? nullptr : base + index % k_chunk;
}

// Pops every waiter of `slot` and claims each for k_claim_granted; the winners are chained on
// `woken` (waiter::chain). Requires pd->lock.
void wake_slot(io_slot& slot, waiter*& woken) {
  std::int32_t popped = 0;
  while (waiter* w = slot.q.pop_front()) {
    ++popped;
    if (w->claim.claim(k_claim_granted)) {
      w->chain = woken;
      woken = w;
    }
  }
  // seq_cst: the count of queued waiters (netpoll.hpp).
  if (popped != 0) g_io_waiters.fetch_sub(popped, std::memory_order_seq_cst);
}

// Readies the claimed waiters, after the lock that queued them was released.
void ready_chain(waiter* w) {
  while (w != nullptr) {
    waiter* next = w->chain;  // w may be gone once readied
    ready(w->g);
    w = next;
  }
}

// Step 2. Requires pd->lock. False when the fd cannot be polled (errno set).
bool ensure_registered(poll_desc* pd, scheduler& s) GORT_REQUIRES(pd->lock) {
  if (pd->reg_generation == s.poll.generation) return true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = (std::uint64_t{pd->seq} << 32) | pd->index;
  // EEXIST (the file is registered through this fd number already) is a failure too: modifying
  // that registration would take its events from its owner.
  if (::epoll_ctl(s.poll.epfd, EPOLL_CTL_ADD, pd->fd, &ev) != 0) return false;
  pd->reg_generation = s.poll.generation;
  return true;
}

}  // namespace

poll_desc* poll_desc_alloc(int fd) {
  pd_table& t = table();
  t.lock.lock();
  if (t.free == nullptr) {
    if (t.chunks == k_max_chunks) {
      t.lock.unlock();
      throw std::bad_alloc();
    }
    poll_desc* base = new (std::nothrow) poll_desc[k_chunk];
    if (base == nullptr) {
      t.lock.unlock();
      throw std::bad_alloc();
    }
    const std::uint32_t c = t.chunks++;
    for (std::uint32_t i = k_chunk; i-- > 0;) {
      base[i].index = c * k_chunk + i;
      base[i].next_free = t.free;
      t.free = &base[i];
    }
    t.chunk[c].store(base, std::memory_order_release);  // pairs with pd_at's acquire
  }
  poll_desc* pd = t.free;
  t.free = pd->next_free;
  t.lock.unlock();
  pd->lock.lock();
  pd->fd = fd;
  pd->closing = false;
  pd->lock.unlock();
  return pd;
}

void poll_desc_free(poll_desc* pd) noexcept {
  pd->lock.lock();
  GORT_DCHECK(pd->slot[0].q.empty() && pd->slot[1].q.empty());
  if (pd->reg_generation != 0) {
    // The runtime that registered it may be gone (its epoll closed with it); only the running
    // one's registration is removed, before the caller closes the fd.
    runtime_access access;
    if (scheduler* s = access.get(); s != nullptr && s->poll.generation == pd->reg_generation) {
      ::epoll_ctl(s->poll.epfd, EPOLL_CTL_DEL, pd->fd, nullptr);
    }
  }
  ++pd->seq;  // events of this use, still in flight, no longer match
  pd->fd = -1;
  pd->reg_generation = 0;
  pd->closing = false;
  for (io_slot& sl : pd->slot) {
    sl.ready = false;
    sl.deadline.store(k_no_deadline, std::memory_order_relaxed);
  }
  pd->lock.unlock();
  pd_table& t = table();
  t.lock.lock();
  pd->next_free = t.free;
  t.free = pd;
  t.lock.unlock();
}

void poll_desc_evict(poll_desc* pd) {
  waiter* woken = nullptr;
  pd->lock.lock();
  pd->closing = true;
  for (io_slot& sl : pd->slot) {
    (void)sl.q.validate();
    wake_slot(sl, woken);
  }
  pd->lock.unlock();
  ready_chain(woken);
}

void poll_desc_set_deadline(poll_desc* pd, io_mode mode, std::int64_t deadline) {
  waiter* woken = nullptr;
  io_slot& sl = pd->slot[static_cast<int>(mode)];
  pd->lock.lock();
  sl.deadline.store(deadline, std::memory_order_relaxed);  // under the lock (see io_slot)
  (void)sl.q.validate();
  wake_slot(sl, woken);  // they look again: expired, or re-armed with the new deadline
  pd->lock.unlock();
  ready_chain(woken);
}

// Reads the slot's atomic deadline without the lock, by design (io_slot::deadline).
bool poll_desc_expired(const poll_desc* pd, io_mode mode) noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {
  const std::int64_t d =
      pd->slot[static_cast<int>(mode)].deadline.load(std::memory_order_relaxed);
  return d != k_no_deadline && d <= sys::nanotime();
}

io_wait_result poll_desc_wait(poll_desc* pd, io_mode mode, cancel_node* ctx) {
  goroutine* const self = enter_op();
  const bool plain = is_plain_thread(self);
  io_slot& sl = pd->slot[static_cast<int>(mode)];
  for (;;) {
    // A plain thread touches the runtime only inside its gate (scheduler.hpp), and leaves it
    // before it blocks.
    scheduler* s = plain ? &gate_enter_or_start("gort I/O wait")
                         : g_sched.load(std::memory_order_acquire);
    // Step 1.
    pd->lock.lock();
    (void)sl.q.validate();
    io_wait_result early = io_wait_result::ready;
    bool done = true;
    const std::int64_t dl = sl.deadline.load(std::memory_order_relaxed);
    if (pd->closing) {
      early = io_wait_result::closed;
    } else if (dl != k_no_deadline && dl <= sys::nanotime()) {
      early = io_wait_result::timeout;
    } else if (sl.ready) {
      sl.ready = false;
      early = io_wait_result::ready;
    } else if (ctx != nullptr && ctx->error_value() != 0) {
      early = io_wait_result::canceled;
    } else if (!ensure_registered(pd, *s)) {  // step 2
      const int e = errno;
      pd->lock.unlock();
      if (plain) gate_leave();
      throw std::system_error(e, std::system_category(), "gort: the descriptor cannot be polled");
    } else {
      done = false;
    }
    if (done) {
      pd->lock.unlock();
      if (plain) gate_leave();
      return early;
    }
    // Step 3.
    waiter w(self);
    sl.q.push_back(&w);
    g_io_waiters.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: see poll_poke
    if (plain) {
      poll_poke(*s);
      gate_leave();
    }
    // Step 4.
    const std::uint32_t won = wait_for(w, wait_reason::io_wait, pd->lock, ctx, dl);
    // Step 5.
    if (won != k_claim_granted) {
      pd->lock.lock();
      if (sl.q.remove_if_linked(&w)) g_io_waiters.fetch_sub(1, std::memory_order_seq_cst);
      pd->lock.unlock();
      if (won == k_claim_canceled) return io_wait_result::canceled;
    }
  }
}

}  // namespace gort::detail

namespace gort::sched {

using detail::io_slot;
using detail::poll_desc;
using detail::waiter;

std::size_t poll(scheduler& s, std::int64_t delay_ns, std::vector<goroutine*>& out) {
  epoll_event events[k_events_per_poll];
  int n;
  if (delay_ns == 0) {
    n = ::epoll_wait(s.poll.epfd, events, k_events_per_poll, 0);
  } else {
    timespec ts{};
    timespec* tsp = nullptr;
    if (delay_ns > 0) {
      ts.tv_sec = static_cast<time_t>(delay_ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(delay_ns % 1'000'000'000);
      tsp = &ts;
    }
    // epoll_pwait2: a nanosecond timeout, so the poller wakes when the earliest timer is due
    // rather than at the next millisecond.
    n = ::epoll_pwait2(s.poll.epfd, events, k_events_per_poll, tsp, nullptr);
    if (n < 0 && errno == ENOSYS) {
      const std::int64_t ms = delay_ns < 0 ? -1 : (delay_ns + 999'999) / 1'000'000;
      n = ::epoll_wait(s.poll.epfd, events, k_events_per_poll,
                       ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms));
    }
    s.poll.blocking_polls.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  }
  s.poll.polls.fetch_add(1, std::memory_order_relaxed);
  const std::size_t before = out.size();
  for (int i = 0; i < n; ++i) {
    const std::uint64_t tag = events[i].data.u64;
    if (tag == k_break_tag) {
      // Only a blocking poll drains a break (Go's netpoll): a non-blocking one, by another
      // machine, must leave it for the poller it was meant for.
      if (delay_ns == 0) continue;
      std::uint64_t v;
      while (::read(s.poll.evfd, &v, sizeof v) < 0 && errno == EINTR) {
      }
      // release: pairs with poll_break's exchange; a break after this writes again.
      s.poll.break_pending.store(false, std::memory_order_release);
      continue;
    }
    poll_desc* pd = detail::pd_at(static_cast<std::uint32_t>(tag));
    if (pd == nullptr) continue;
    const std::uint32_t ev = events[i].events;
    waiter* woken = nullptr;
    pd->lock.lock();
    if (pd->seq == static_cast<std::uint32_t>(tag >> 32) && pd->fd >= 0) {
      if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
        io_slot& sl = pd->slot[0];
        sl.ready = true;
        (void)sl.q.validate();
        detail::wake_slot(sl, woken);
      }
      if ((ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
        io_slot& sl = pd->slot[1];
        sl.ready = true;
        (void)sl.q.validate();
        detail::wake_slot(sl, woken);
      }
    }
    pd->lock.unlock();
    // The claims are ours: each waiter stays parked until readied here.
    while (woken != nullptr) {
      waiter* next = woken->chain;
      goroutine* g = woken->g;
      if (make_runnable(g)) out.push_back(g);
      woken = next;
    }
  }
  if (out.size() != before && instrumenting()) [[unlikely]] {
    trace_netpoll(current_machine(), out.size() - before);  // null: sysmon
  }
  return out.size() - before;
}

void inject_batch(scheduler& s, processor* p, goroutine** gs, std::size_t n) {
  if (n == 0) return;
  std::size_t to_global = n;
  if (p != nullptr) {
    const std::int32_t idle = s.npidle.load(std::memory_order_seq_cst);
    to_global = idle > 0 ? std::min<std::size_t>(n, static_cast<std::size_t>(idle)) : 0;
  }
  if (to_global > 0) {
    for (std::size_t i = 0; i < to_global; ++i) sanitizer::release(gs[i]);
    {
      std::lock_guard<std::mutex> l(s.lock);
      s.runq.push_back_batch(gs, to_global);
    }
    // One machine for each idle processor, up to one per goroutine (Go's injectglist).
    for (std::size_t i = 0; i < to_global; ++i) {
      if (s.npidle.load(std::memory_order_seq_cst) == 0) break;
      if (!startm(s, nullptr, false)) break;
    }
  }
  for (std::size_t i = to_global; i < n; ++i) runq_put(s, p, gs[i], false);
}

void poll_retire(scheduler& s) noexcept {
  (void)s;
  // No machine runs and the gate is closed and drained: only this thread touches descriptors'
  // slots, apart from plain threads that resume and lock them.
  detail::pd_table& t = detail::table();
  t.lock.lock();
  const std::uint32_t chunks = t.chunks;
  t.lock.unlock();
  for (std::uint32_t c = 0; c < chunks; ++c) {
    poll_desc* base = t.chunk[c].load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < detail::k_chunk; ++i) {
      poll_desc* pd = &base[i];
      waiter* threads = nullptr;
      pd->lock.lock();
      for (io_slot& sl : pd->slot) {
        std::int32_t popped = 0;
        // The goroutines' stacks, where their nodes live, are still mapped: reading is safe.
        while (waiter* w = sl.q.pop_front()) {
          ++popped;
          if (w->thread && w->claim.claim(detail::k_claim_granted)) {
            w->chain = threads;
            threads = w;
          }
        }
        if (popped != 0) g_io_waiters.fetch_sub(popped, std::memory_order_seq_cst);
      }
      pd->lock.unlock();
      detail::ready_chain(threads);  // plain threads only: woken directly, they look again
    }
  }
}

}  // namespace gort::sched
