// time/timers.cpp — arming and running timers, the timer sleeper, and the public time API.
//
// Where timers run (Go's checkTimers / stealWork / netpoll(delay) roles):
//  1. find_runnable first runs its own processor's due timers (free when none is due: one atomic
//     load of the heap's `earliest`).
//  2. In its last steal round a thief runs the due timers of every other processor, idle ones
//     included, so timers of an idle processor or of one stuck in a long goroutine still fire.
//  3. A machine about to park for want of work, with timers pending anywhere (or goroutines
//     waiting on I/O), becomes the *poller* (at most one): it blocks in epoll_wait until the
//     earliest timer (poll_as_poller), then takes an idle processor and looks for work as a
//     spinning machine (which runs the due timers, step 2). Other idle machines park
//     indefinitely: an idle runtime with pending timers wakes exactly when one is due.
//  4. sysmon starts a machine if a timer is overdue and nobody is spinning.
//
// The arming hand-shake (why no timer is slept through):
//  arming thread: push into a heap (seq_cst store of its `earliest`), then read poller and
//                 poll_until (seq_cst): break the poller's epoll_wait if the new timer is earlier
//                 (poll_break), or wakep() when there is no poller;
//  poller:        publish poller and poll_until (seq_cst), then re-read every heap's `earliest`
//                 (seq_cst) and shorten its deadline if needed, then block in epoll_wait. A break
//                 sent before the poller blocks stays pending in the eventfd, so it is not lost.
//  In the single total order either the arming thread sees the published deadline, or the sleeper
//  sees the new timer.
#include <time.h>

#include <cerrno>

#include "gort/go.hpp"
#include "gort/time.hpp"
#include "sched/scheduler.hpp"
#include "sys/clock.hpp"

namespace gort::sched {

std::int64_t earliest_timer(scheduler& s) noexcept {
  std::int64_t next = k_never;
  for (auto& p : s.allp) next = std::min(next, p->timers.earliest());
  return next;
}

void run_due_timers(processor* p) noexcept {
  const std::int64_t next = p->timers.earliest();
  if (next == k_never) return;
  const std::int64_t now = sys::nanotime();
  if (next <= now) p->timers.run(now);
}

void timer_poke(scheduler& s, std::int64_t when) noexcept {
  if (s.poller.load(std::memory_order_seq_cst) != nullptr) {
    if (when < s.poll_until.load(std::memory_order_seq_cst)) poll_break(s);
    return;
  }
  wakep(s);  // no poller: an idle processor's machine becomes it (Go's wakeNetPoller)
}

void poll_as_poller(scheduler& s, machine* m, std::int64_t next, std::vector<goroutine*>& out) {
  check_not_forked();  // in a fork child no other machine would take over
  s.poll_until.store(next, std::memory_order_seq_cst);
  const std::int64_t again = earliest_timer(s);  // a timer armed before we published
  if (again < next) {
    next = again;
    s.poll_until.store(next, std::memory_order_seq_cst);
  }
  if (!s.shutting_down.load(std::memory_order_acquire)) {
    std::int64_t wait = -1;  // no timer: until I/O or a break
    if (next != k_never) {
      wait = next - sys::nanotime();
      if (wait < 0) wait = 0;
    }
    // 0 while we block (Go's lastpoll): sysmon leaves the polling to us. relaxed: a hint.
    s.poll.last_poll.store(0, std::memory_order_relaxed);
    m->blocked.store(true, std::memory_order_relaxed);
    poll(s, wait, out);
    m->blocked.store(false, std::memory_order_relaxed);
    s.poll.last_poll.store(sys::nanotime(), std::memory_order_relaxed);
  }
  s.poll_until.store(k_never, std::memory_order_seq_cst);
  s.poller.store(nullptr, std::memory_order_seq_cst);
}

void clear_timers(scheduler& s) noexcept {
  // Under each heap's lock: a plain thread may be stopping one of these timers (runtime.cpp's gate
  // lets timer stops in while the runtime retires).
  for (auto& p : s.allp) {
    p->timers.lock.lock();
    p->timers.clear_for_shutdown();
    p->timers.lock.unlock();
  }
}

namespace {

// Takes the heap of the caller's processor, or a random one of the current processors from a
// plain thread (which may be retired by a resize before the caller locks it: timer_start then
// picks again).
timer_heap& heap_for_caller(scheduler& s) {
  machine* m = current_machine();
  if (m != nullptr && m->p != nullptr) return m->p->timers;
  const auto n = static_cast<std::uint32_t>(s.gomaxprocs.load(std::memory_order_acquire));
  return s.allp[detail::fastrand() % n]->timers;
}

// Requires t->mu.
bool stop_locked(detail::timer_node* t) noexcept {
  for (;;) {
    // acquire: pairs with the heap's release store when it took the node.
    auto* h = static_cast<timer_heap*>(t->heap.load(std::memory_order_acquire));
    if (h == nullptr) {
      sanitizer::acquire(t);  // ordered after a callback that already ran (timer_heap::run)
      return false;
    }
    h->lock.lock();
    if (t->heap.load(std::memory_order_relaxed) == h) {
      h->erase_locked(t);
      h->lock.unlock();
      return true;
    }
    h->lock.unlock();  // it fired (or moved) meanwhile; look again
  }
}

}  // namespace

}  // namespace gort::sched

namespace gort::detail {

using namespace gort::sched;

std::int64_t nanotime() noexcept { return sys::nanotime(); }

namespace {

// Holds the gate (runtime.cpp) for a plain thread arming a timer; starts the implicit runtime
// where allowed.
struct arming_access {
  scheduler* s;
  bool plain;
  arming_access() : plain(current_machine() == nullptr) {
    s = plain ? &gate_enter_or_start("gort timer") : g_sched.load(std::memory_order_acquire);
  }
  ~arming_access() {
    if (plain) gate_leave();
  }
};

}  // namespace

void timer_start(timer_node* t, std::int64_t when) {
  arming_access access;
  scheduler& s = *access.s;
  t->mu.lock();
  stop_locked(t);
  t->when = when;
  for (;;) {
    timer_heap& h = heap_for_caller(s);
    h.lock.lock();
    if (h.retired_locked()) {  // a plain thread's pick, dropped by a resize meanwhile
      h.lock.unlock();
      continue;
    }
    if (!h.try_push_locked(t)) {
      h.lock.unlock();
      try {
        h.grow();
      } catch (...) {
        t->mu.unlock();
        throw;
      }
      continue;
    }
    // The node's lock is released while the heap lock still keeps the node from firing: once
    // the heap lock is released the node may fire on another machine and its owner may free it
    // at once (a sleeping goroutine returns from sleep, after() deletes its node, a deadline
    // context drops its last reference), so nothing here touches `t` after that point.
    t->mu.unlock();
    h.lock.unlock();
    break;
  }
  timer_poke(s, when);
}

bool timer_stop(timer_node* t) noexcept {
  // A plain thread may stop a timer while its runtime retires: the gate keeps the heap alive, or
  // says the node has been detached from it already (runtime.cpp, protocol step 5).
  const bool entered = current_machine() == nullptr && gate_enter_always();
  t->mu.lock();
  const bool stopped = stop_locked(t);
  t->mu.unlock();
  if (entered) gate_leave();
  return stopped;
}

void sleep_until_ns(std::int64_t when) {
  if (on_goroutine() && when <= nanotime()) return;  // a plain thread's clock_nanosleep returns
  sleep_until_ahead_ns(when);
}

void sleep_until_ahead_ns(std::int64_t when) {
  if (!on_goroutine()) {
    timespec ts{static_cast<time_t>(when / 1'000'000'000), static_cast<long>(when % 1'000'000'000)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    return;
  }
  struct sleeper : timer_node {
    goroutine* g = nullptr;
  } t;
  t.g = current();
  t.fire = [](timer_node* n, std::int64_t) noexcept { ready(static_cast<sleeper*>(n)->g); };
  // Armed from the unlock callback, after the goroutine has left its stack: the timer cannot fire
  // (and ready it) before it is parked.
  park(wait_reason::sleep, [&] { timer_start(&t, when); });
}

}  // namespace gort::detail

namespace gort {

namespace {

// Sends `now` on the node's channel without blocking (a full channel keeps its older value: Go's
// drop for slow receivers). The channel is receive-only in spirit; if a user closed it anyway,
// the send is dropped rather than thrown from a timer callback.
void send_time(const chan<clock::time_point>& c, std::int64_t now) noexcept {
  chan<clock::time_point> ch = c;
  try {
    (void)ch.try_send(detail::to_time_point(now));
  } catch (const panic_error&) {
  }
}

}  // namespace

chan<clock::time_point> after(clock::duration d) {
  struct after_node : detail::timer_node {
    chan<clock::time_point> c;
    // The node may hold the channel's last reference (a select that took another case dropped
    // the caller's): for TSan that free is gort's alone (sanitizer::ignore_accesses).
    static void destroy(detail::timer_node* t) noexcept {
      sched::sanitizer::ignore_accesses exclusive;
      delete static_cast<after_node*>(t);
    }
  };
  chan<clock::time_point> c(1);
  auto* n = new after_node;
  n->c = c;
  n->fire = [](detail::timer_node* t, std::int64_t now) noexcept {
    send_time(static_cast<after_node*>(t)->c, now);
    after_node::destroy(t);  // one-shot: already out of the heap
  };
  n->drop = &after_node::destroy;
  try {
    detail::timer_start(n, detail::deadline_after(detail::to_ns(d)));
  } catch (...) {
    delete n;
    throw;
  }
  return c;
}

timer::timer(clock::duration d) : c_(1) {
  node_.stoppable = true;
  node_.c = c_;
  node_.fire = [](detail::timer_node* t, std::int64_t now) noexcept {
    send_time(static_cast<node*>(t)->c, now);
  };
  detail::timer_start(&node_, detail::deadline_after(detail::to_ns(d)));
}

timer::timer(clock::duration d, std::function<void()> f, gort::source_location where) {
  node_.stoppable = true;
  node_.f = std::move(f);
  node_.where = where;
  node_.fire = [](detail::timer_node* t, std::int64_t) noexcept {
    // Go's AfterFunc: the function runs on its own goroutine, never on the scheduler context;
    // its creation site is the timer's constructor's caller.
    auto* n = static_cast<node*>(t);
    detail::spawn(n->where, n->f);
  };
  detail::timer_start(&node_, detail::deadline_after(detail::to_ns(d)));
}

namespace {

// Takes a timer's or ticker's calls_ lock; called by their stop() and reset(). The holder passes
// a scheduling point while holding it (discarding a fired value is a channel operation, which may
// preempt the goroutine or, under GORTDEBUG=shuffle, yield it), so a waiter yields between
// attempts instead of spinning: waiters spinning on every machine would keep a preempted holder
// from ever running again. try_lock acquires (pairs with the holder's unlock, a release).
void lock_calls(detail::spinlock& l) GORT_ACQUIRE(l) GORT_NO_THREAD_SAFETY_ANALYSIS {
  while (!l.try_lock()) gort::yield();
}

}  // namespace

timer::~timer() { detail::timer_stop(&node_); }

bool timer::stop_locked() {
  const bool stopped = detail::timer_stop(&node_);
  // Go 1.23: a fired value that nobody received counts as not yet delivered; discard it.
  const bool discarded = c_ && c_.try_recv().status == recv_status::value;
  return stopped || discarded;
}

bool timer::stop() {
  lock_calls(calls_);
  const bool was_active = stop_locked();
  calls_.unlock();
  return was_active;
}

bool timer::reset(clock::duration d) {
  // One step under calls_, as Go's Timer.Reset is one step under the timer's lock: a concurrent
  // reset or stop sees the arming before or after, never between the stop and the start (where
  // it would report nothing pending and the start would silently replace its own arming).
  lock_calls(calls_);
  const bool was_active = stop_locked();
  try {
    detail::timer_start(&node_, detail::deadline_after(detail::to_ns(d)));
  } catch (...) {
    calls_.unlock();
    throw;
  }
  calls_.unlock();
  return was_active;
}

ticker::ticker(clock::duration period) : c_(1) {
  const std::int64_t ns = detail::to_ns(period);
  if (ns <= 0) throw panic_error("non-positive interval for NewTicker");
  node_.stoppable = true;
  node_.c = c_;
  node_.period = ns;
  node_.fire = [](detail::timer_node* t, std::int64_t now) noexcept {
    send_time(static_cast<node*>(t)->c, now);
  };
  detail::timer_start(&node_, detail::deadline_after(ns));
}

ticker::~ticker() { detail::timer_stop(&node_); }

void ticker::stop_locked() {
  detail::timer_stop(&node_);
  (void)c_.try_recv();  // no stale tick after stop (Go 1.23)
}

void ticker::stop() {
  lock_calls(calls_);
  stop_locked();
  calls_.unlock();
}

void ticker::reset(clock::duration period) {
  const std::int64_t ns = detail::to_ns(period);
  if (ns <= 0) throw panic_error("non-positive interval for Ticker.Reset");
  // Under calls_ (see timer::reset): the node is out of every heap between the stop and the start,
  // so no heap reads `period` while it changes.
  lock_calls(calls_);
  stop_locked();
  node_.period = ns;
  try {
    detail::timer_start(&node_, detail::deadline_after(ns));
  } catch (...) {
    calls_.unlock();
    throw;
  }
  calls_.unlock();
}

}  // namespace gort
