// sched/blocking.cpp — gort::blocking: a goroutine runs a blocking call on its machine while its
// processor goes on without it (Go's entersyscall / exitsyscall, proc.go).
//
// Protocol (the processor's status is the only thing the parties race on):
//  1. enter (the goroutine, holding P): the goroutine's status becomes syscall; the machine
//     releases P (m->p = null, m->oldp = P) and stores P's status `syscall` (release). From then
//     on P is free for the taking: whoever CASes its status away from `syscall` owns it.
//     blocking_long instead hands P off at once (Go's entersyscallblock: handoffp).
//  2. sysmon (sysmon.cpp, retake) CASes syscall -> idle when the same call was seen on two of its
//     rounds (≥ 20 µs) — unless P's queue is empty, some machine spins or some processor is idle,
//     and the call is younger than 10 ms — and hands P to another machine (handoffp).
//  3. exit (the goroutine, on the same machine — it did not switch during the call):
//     a. CAS P's status syscall -> running (acquire): P was not taken; carry on with it;
//     b. else take an idle processor;
//     c. else switch to g0 (exit_blocking_on_g0): take an idle processor if one appeared
//        meanwhile, else put the goroutine on the global queue and park the machine (stopm).
//     The end of a blocking call is a preemption point.
// The processor a machine takes back in 3a may have been retaken and have entered another
// blocking call on another machine since: taking it is still right — nobody holds a processor
// in status syscall (Go behaves the same).
//
// Inside the call the goroutine holds no processor: it may spawn, ready goroutines and use
// timers and non-blocking channel operations (those take the paths of a plain thread), but an
// operation that would switch goroutines is a fatal error (context_switch.cpp).
#include "gort/blocking.hpp"

#include "sched/scheduler.hpp"
#include "trace/instrument.hpp"

namespace gort::sched {

bool exit_blocking_on_g0(scheduler& s, machine* m, goroutine* g) {
  GORT_DCHECK(m->p == nullptr);
  if (acquire_idle_p(s, m)) {
    s.exits_idle.fetch_add(1, std::memory_order_relaxed);
    return true;  // execute() runs g again at once on it
  }
  s.exits_queued.fetch_add(1, std::memory_order_relaxed);
  g->status.store(g_status::runnable, std::memory_order_relaxed);
  // release (sanitizer and lock): g's state is visible to whoever runs it. A locked goroutine
  // waits for a processor on its own machine (locked.cpp, finish_locked).
  if (g->kind == g_kind::locked) {
    ready_locked(s, g);
  } else {
    global_put(s, g);
  }
  return false;  // schedule() parks m until a processor is handed to it
}

}  // namespace gort::sched

namespace gort::detail {

using namespace gort::sched;

bool blocking_enter(bool hand_off) noexcept {
  machine* m = current_machine();
  if (m == nullptr) return false;  // a plain thread: nothing to release
  goroutine* g = m->curg;
  if (g == nullptr) return false;  // a scheduler context (a timer callback): run it as is
  processor* p = own_p(m);         // a runtime section (scheduler.hpp) until P is released
  if (p == nullptr) {
    // Already inside a blocking call, or sysmon took the processor from this goroutine (it gets
    // one back at its next switch): nothing to release.
    disown_p(m);
    return false;
  }
  scheduler& s = *g_sched.load(std::memory_order_acquire);  // a machine's runtime is running
  bump(p->blocking_calls);
  s.nblocking.fetch_add(1, std::memory_order_relaxed);
  if (instrumenting()) [[unlikely]] trace_blocking(true);
  g->status.store(g_status::syscall, std::memory_order_relaxed);
  // sysmon's preemption request and shutdown's look for the goroutine here; it runs on without P.
  p->curg.store(nullptr, std::memory_order_relaxed);
  m->p = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);
  if (hand_off) {
    s.handoffs.fetch_add(1, std::memory_order_relaxed);
    handoffp(s, p);  // the lock inside publishes P's state to the machine that takes it
    disown_p(m);
    return true;
  }
  m->oldp = p;
  // release: P's state as this machine left it is visible to whoever takes P (the acquire CAS of
  // sysmon's retake, or of a returning blocking call).
  p->status.store(p_status::syscall, std::memory_order_release);
  disown_p(m);
  return true;
}

void blocking_exit() noexcept {
  machine* m = current_machine();  // the same machine as at enter: the call did not switch
  goroutine* g = m->curg;
  own_p(m);  // a runtime section while taking a processor (own_p returns null: none is held)
  scheduler& s = *g_sched.load(std::memory_order_acquire);
  s.nblocking.fetch_sub(1, std::memory_order_relaxed);
  if (instrumenting()) [[unlikely]] trace_blocking(false);
  processor* p = m->oldp;
  m->oldp = nullptr;
  p_status expected = p_status::syscall;
  if (p != nullptr && p->status.load(std::memory_order_relaxed) == p_status::syscall &&
      p->status.compare_exchange_strong(expected, p_status::running, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
    // 3a. acquire: pairs with the release store of whoever put P in status syscall.
    m->p = p;
    p->m.store(m, std::memory_order_release);  // as acquirep's (scheduler.cpp)
    s.exits_own.fetch_add(1, std::memory_order_relaxed);
  } else if (acquire_idle_p(s, m)) {
    s.exits_idle.fetch_add(1, std::memory_order_relaxed);  // 3b.
  } else {
    // 3c. Resumes holding a processor, perhaps on another machine.
    disown_p(m);  // the switch opens its own section
    switch_to_scheduler(g, after_switch::exit_blocking);
    return;
  }
  processor* held = m->p;
  bump(held->syscalltick);
  g->status.store(g_status::running, std::memory_order_relaxed);
  held->curg.store(g, std::memory_order_release);  // as prepare_run: sysmon reads the record
  disown_p(m);
  // A preemption point. Shutdown flags only goroutines that held a processor when it began.
  if (g->preempt.load(std::memory_order_relaxed) ||
      s.shutting_down.load(std::memory_order_relaxed)) {
    switch_to_scheduler(g, after_switch::preempt);
  }
}

}  // namespace gort::detail
