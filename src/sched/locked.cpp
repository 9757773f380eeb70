// sched/locked.cpp — gort::lock_os_thread: a goroutine wired to its machine's thread (Go's
// LockOSThread, proc.go: dolockOSThread, stoplockedm, startlockedm, goexit0).
//
// While a goroutine g is locked to machine m, m runs g and nothing else, and g runs on m only.
// The protocol (docs/design.md, "Locked goroutines"):
//  1. lock (g on m, count 0 -> 1): m->lockedg = g, g's kind becomes `locked`, and m's revoke word
//     gets k_revoke_locked. From then on every switch of g away from m takes the slow path
//     (switch_to_scheduler: the word is non-zero) and goes to m's g0 as after_switch::locked —
//     never a direct hand-off, so no other goroutine starts on m's thread. Nesting counts
//     (m->locked_count, Go's lockedExt); the last unlock undoes the three stores.
//  2. g parks, yields or returns from a blocking call with no processor free (finish_locked, on
//     g0): m hands its processor on (handoffp, Go's stoplockedm) and sleeps in stop_locked,
//     counted in nmidlelocked (idle for the deadlock check), off the idle-machine list.
//  3. Whoever makes g runnable (ready, the poller, a timer, or m itself for a yield) calls
//     ready_locked: under the scheduler lock it hands an idle processor to m and wakes it
//     (start_locked); with none idle it appends g to lockedq and sets `barrier`. g is never in a
//     run queue, so neither a thief nor a direct hand-off can start it elsewhere.
//  4. With g in lockedq, the next machine that reaches the top of find_runnable (the barrier sends
//     it there: no direct hand-off meanwhile) or would make its processor idle (pidleput) hands
//     its processor to m instead (Go's startlockedm) and parks itself. A g that yielded waits
//     like a yield in Go (the global queue's tail): a machine at the barrier takes it only when
//     its own local queue is empty or on the 61-tick fairness check; an idle processor at once.
//  5. m wakes holding the processor (acquirep of nextp) and runs g again.
//  6. g ends locked (Go's goexit0): its record is recycled as usual, then m gives its processor
//     up and leaves its loop: the thread ends (a thread that state was left on is not reused).
//     M0, the thread that called gort::run, must return from run(): it runs no goroutine again
//     and sleeps until shutdown (counted as a locked idle machine), then returns as usual.
//  7. Shutdown wakes every machine sleeping in stop_locked (begin_shutdown); it leaves its loop,
//     and g is abandoned like every goroutine alive at shutdown.
// sysmon never takes a locked machine's processor from a runaway goroutine (its request is a CAS
// from 0, which the locked bit fails): a locked goroutine is only asked to yield, and keeps its
// thread either way. A resize stops a locked machine's processor when its goroutine parks or
// yields (step 2 gives it up through pidleput, which counts it as stopped); a locked machine
// asleep holds none, so the stopped world never waits for it.
#include "gort/runtime.hpp"
#include "sched/scheduler.hpp"
#include "trace/dump.hpp"

namespace gort::sched {

void update_barrier(scheduler& s) {
  // seq_cst as every barrier store (resize.cpp): a machine that misses it reaches pidleput under
  // the lock, which looks at lockedq itself.
  s.barrier.store(s.stopping || s.stw || !s.lockedq.empty(), std::memory_order_seq_cst);
}

void start_locked([[maybe_unused]] scheduler& s, goroutine* g, processor* p) {
  machine* lm = g->m;  // a locked goroutine's machine never changes (step 1)
  GORT_DCHECK(g->kind == g_kind::locked && lm->lockedg == g && lm->nextp == nullptr);
  lm->nextp = p;
  lm->park.wakeup();  // release (the note's): nextp is visible to stop_locked's acquire
}

void ready_locked(scheduler& s, goroutine* g, bool urgent) {
  sanitizer::release(g);  // as global_put: g's state is visible to its machine
  std::lock_guard<std::mutex> l(s.lock);
  if (s.stopping) return;  // abandoned, like every goroutine alive at shutdown
  if (processor* p = pidleget(s)) {
    start_locked(s, g, p);
    return;
  }
  s.lockedq.push_back({g, urgent});
  update_barrier(s);
}

goroutine* take_locked_waiter(scheduler& s, bool any) {
  auto it = s.lockedq.begin();
  while (it != s.lockedq.end() && !it->urgent) ++it;
  if (it == s.lockedq.end()) {
    if (!any || s.lockedq.empty()) return nullptr;
    it = s.lockedq.begin();
  }
  goroutine* g = it->g;
  s.lockedq.erase(it);
  update_barrier(s);
  return g;
}

namespace {

// Step 2's sleep: gives m's processor on (if it holds one) and waits until start_locked hands it
// one. True holding it; false at shutdown (m holds none). Also M0's wait after its locked
// goroutine ended (step 6): nobody hands it a processor, shutdown wakes it. m's thread on g0.
bool stop_locked(scheduler& s, machine* m) {
  if (m->p != nullptr) handoffp(s, releasep(m));  // Go's stoplockedm
  {
    std::unique_lock<std::mutex> l(s.lock);
    if (m->nextp == nullptr && !s.stopping) {
      m->locked_sleeping = true;
      s.nmidlelocked.fetch_add(1, std::memory_order_relaxed);
      if (s.cfg.detect_deadlock) check_dead(s, l);
    }
  }
  m->blocked.store(true, std::memory_order_relaxed);
  for (;;) {
    {
      std::lock_guard<std::mutex> l(s.lock);
      if (m->nextp != nullptr || s.stopping) {
        if (m->locked_sleeping) {
          m->locked_sleeping = false;
          s.nmidlelocked.fetch_sub(1, std::memory_order_relaxed);
        }
        if (s.stopping && m->nextp != nullptr) {
          pidleput(s, m->nextp);  // shutdown: the goroutine does not run again
          m->nextp = nullptr;
        }
        break;
      }
      // Cleared under the lock: start_locked stores nextp under it before waking us.
      m->park.clear();
    }
    check_not_forked();  // in a fork child nothing would ever wake us
    m->park.sleep();
  }
  if (!wake_with_nextp(m)) return false;
  // A new time slice (execute resumes g with inherited time): sysmon must not take a goroutine
  // that parks and wakes for one that runs on without a scheduling point.
  bump(m->p->schedtick);
  return true;
}

// Undoes step 1 for m and its goroutine g. m's thread (g itself, or g0 at g's end).
void unlock_machine(scheduler& s, machine* m, goroutine* g) {
  m->lockedg = nullptr;
  m->locked_count = 0;
  g->kind = g_kind::goroutine;
  // relaxed: only this thread reads the bit; sysmon's CAS from 0 sees the word change either way.
  m->revoke.fetch_and(~k_revoke_locked, std::memory_order_relaxed);
  s.nlocked.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace

bool finish_locked(scheduler& s, machine* m, goroutine* g) {
  GORT_DCHECK(m->lockedg == g);
  const after_switch what = m->locked_after;
  m->locked_after = after_switch::none;
  processor* p = m->p;
  switch (what) {
    case after_switch::park:
      GORT_DCHECK(g->status.load(std::memory_order_relaxed) == g_status::running);
      // release: as finish_request's — the status is visible before unlock publishes g.
      g->status.store(g_status::waiting, std::memory_order_release);
      if (p != nullptr) {
        bump(p->parks);
      } else {
        s.parks_without_p.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
      }
      if (m->after_unlock(m->after_arg)) return stop_locked(s, m);  // step 2; a waker readies g
      claim_vetoed(g);
      if (p != nullptr) return true;  // vetoed: run g again at once
      ready_locked(s, g);  // no processor (sysmon took it before g locked): wait for one
      return stop_locked(s, m);
    case after_switch::preempt:
      s.preemptions.fetch_add(1, std::memory_order_relaxed);
      [[fallthrough]];
    case after_switch::yield:
      g->status.store(g_status::runnable, std::memory_order_relaxed);
      if (p != nullptr) {
        // Nothing else could run here (no queued goroutine, no barrier: neither a resize, nor
        // shutdown, nor a locked goroutine waiting): g goes on, as a yield with nothing queued does.
        run_timers(p);
        if (p->runq.empty() && s.runq.size() == 0 && !s.barrier.load(std::memory_order_acquire)) {
          return true;
        }
        handoffp(s, releasep(m));
      }
      // Step 3 for ourselves, behind the work the processor was handed on for (usually it comes
      // straight back: it went idle).
      ready_locked(s, g, false);
      return stop_locked(s, m);
    case after_switch::exit_blocking:
      if (exit_blocking_on_g0(s, m, g)) return true;  // an idle processor: run g again
      return stop_locked(s, m);  // exit_blocking_on_g0 readied g through ready_locked
    case after_switch::exit:
      // Step 6. g held a processor to switch (switch_locked waited for one): recycle the record.
      GORT_DCHECK(p != nullptr);
      unlock_machine(s, m, g);
      goroutine_exited(s, m, g);
      handoffp(s, releasep(m));
      if (m != s.m0) {
        m->idle_exit = true;  // schedule() leaves its loop; the thread ends
        return false;
      }
      return stop_locked(s, m);  // M0: until shutdown (returns false: m holds no processor)
    case after_switch::none:
    case after_switch::locked:
      break;
  }
  fatal("locked goroutine switched to the scheduler without a request");
}

}  // namespace gort::sched

namespace gort {

using namespace gort::sched;

void lock_os_thread() noexcept {
  machine* m = current_machine();
  if (m == nullptr || m->curg == nullptr) return;  // a plain thread is its own thread already
  goroutine* g = m->curg;
  if (m->locked_count != 0) {
    if (m->locked_count == UINT32_MAX) fatal("gort::lock_os_thread: nesting overflow");
    ++m->locked_count;
    return;
  }
  // A runtime section (scheduler.hpp, own_p): a request of sysmon's is withdrawn (or the processor
  // is lost to it) before the locked bit makes its CAS from 0 fail.
  own_p(m);
  scheduler& s = *g_sched.load(std::memory_order_acquire);  // a machine's runtime is running
  m->locked_count = 1;
  m->lockedg = g;
  g->kind = g_kind::locked;
  // relaxed: read by this thread (own_p, switch_to_scheduler); sysmon's CAS sees the change.
  m->revoke.fetch_or(k_revoke_locked, std::memory_order_relaxed);
  s.nlocked.fetch_add(1, std::memory_order_relaxed);
  disown_p(m);
}

void unlock_os_thread() noexcept {
  machine* m = current_machine();
  if (m == nullptr || m->curg == nullptr || m->locked_count == 0) return;  // as Go: a no-op
  if (--m->locked_count != 0) return;
  unlock_machine(*g_sched.load(std::memory_order_acquire), m, m->curg);
  // A request of sysmon's that it could not withdraw while the bit was set (own_p_slow) would
  // stay and keep its next one out: a section withdraws it now.
  own_p(m);
  disown_p(m);
}

bool locked_to_os_thread() noexcept {
  machine* m = current_machine();
  return m != nullptr && m->curg != nullptr && m->lockedg == m->curg;
}

}  // namespace gort
