// sysmon/sysmon.cpp — the system monitor thread (Go's sysmon), one per runtime, holding no P.
//
// Loop (Go's proc.go sysmon):
//  1. Sleep 20 µs; after 50 consecutive rounds without a retake, double the sleep each round up
//     to 10 ms.
//  2. If every processor is idle and schedtrace is off, sleep until a processor leaves the idle
//     list (pidleget wakes us) — an idle runtime costs no CPU. If idle stacks wait to be
//     scavenged, wake once when they become due.
//  3. Poll the network if goroutines wait on I/O and nobody has polled for 10 ms.
//  4. Retake: a processor whose schedtick has not moved for 10 ms runs one goroutine too long;
//     ask it to yield at its next preemption point (cooperative: gort cannot interrupt C++ code).
//     If the goroutine is outside the runtime (its own code), take the processor and hand it to
//     another machine while the goroutine runs on (take_runaway). A processor left in a blocking
//     call (blocking.cpp) is taken and handed to another machine.
//  5. Every second, return the pages of stacks idle for a second to the OS.
//  6. Print schedtrace when due.
//  7. Perform queued set_maxprocs resizes, and follow the CPU limit about once a second unless
//     the count was set explicitly (resize.cpp). A queued resize keeps sysmon out of deep sleep.
// Runs on its own thread; reads processor state as relaxed snapshots.
#include <pthread.h>

#include <algorithm>

#include "sched/scheduler.hpp"
#include "sys/clock.hpp"
#include "sys/membarrier.hpp"
#include "trace/dump.hpp"

namespace gort::sched {

namespace {

constexpr std::int64_t k_scavenge_period = 1'000'000'000;
constexpr std::int64_t k_sysmon_poll_ns = 10'000'000;  // Go's sysmon: poll if none for 10 ms

// ---- the runaway hand-off (sysmon's side of scheduler.hpp's runtime sections) ----

// Takes processor p from its machine, whose goroutine g has run 10 ms without a scheduling point,
// and hands it to another machine (handoffp); the goroutine runs on without it and takes one
// back at its next switch (context_switch.cpp, switch_without_p). Steps (scheduler.hpp):
//  1. CAS the machine's revoke word 0 -> requested;
//  2. membarrier: every thread of the process runs a full barrier, so the machine's section word
//     is current and a section it opens from now on sees the request;
//  3. in a section (or p changed hands, or another goroutine runs): withdraw the request;
//  4. else CAS requested -> taken (the machine cannot have opened a section since: it would have
//     withdrawn the request), and p is sysmon's.
// Returns true when p was taken. sysmon only.
bool take_runaway(scheduler& s, processor* p, goroutine* g) {
  if (s.cfg.debug.asyncpreemptoff || !sys::membarrier_ready()) return false;
  // acquire: pairs with acquirep's release store (scheduler.cpp): the machine's construction
  // happens-before the CAS on its revoke word below.
  machine* m = p->m.load(std::memory_order_acquire);
  if (m == nullptr) return false;
  std::uint32_t expected = 0;
  if (!m->revoke.compare_exchange_strong(expected, k_revoke_requested,
                                         std::memory_order_seq_cst)) {
    return false;
  }
  if (!sys::membarrier_all()) {
    m->revoke.compare_exchange_strong(expected = k_revoke_requested, 0);
    return false;
  }
  // acquire: pairs with disown_p's release store; what the machine did with p in its last section
  // happens-before what sysmon (and the machine it hands p to) does with it.
  const bool busy = m->in_runtime.load(std::memory_order_acquire) != 0 ||
                    p->m.load(std::memory_order_relaxed) != m ||
                    p->status.load(std::memory_order_relaxed) != p_status::running ||
                    p->curg.load(std::memory_order_relaxed) != g;
  expected = k_revoke_requested;
  if (busy) {
    m->revoke.compare_exchange_strong(expected, 0, std::memory_order_relaxed);  // or it withdrew
    return false;
  }
  // acq_rel: release pairs with own_p_slow's acquire (it then learns p is gone).
  if (!m->revoke.compare_exchange_strong(expected, k_revoke_taken, std::memory_order_acq_rel)) {
    return false;  // it opened a section and withdrew the request
  }
  p->curg.store(nullptr, std::memory_order_relaxed);
  p->m.store(nullptr, std::memory_order_relaxed);
  s.runaway_handoffs.fetch_add(1, std::memory_order_relaxed);
  handoffp(s, p);
  return true;
}

// Go's retake. Returns how many processors it took from blocking calls. sysmon only.
int retake(scheduler& s, std::int64_t now) {
  int n = 0;
  for (auto& pp : s.allp) {
    processor* p = pp.get();
    const p_status st = p->status.load(std::memory_order_relaxed);
    if (st == p_status::running) {
      const std::uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
      if (p->sysmon_tick != tick) {
        p->sysmon_tick = tick;
        p->sysmon_when = now;
      } else if (p->sysmon_when + k_forcepreempt_ns <= now) {
        // acquire: pairs with execute()'s release store; the record is fully built.
        if (goroutine* g = p->curg.load(std::memory_order_acquire)) {
          g->preempt.store(true, std::memory_order_relaxed);
          // The flag works at the goroutine's next gort call; a goroutine making none loses its
          // processor instead (Go preempts it with a signal).
          if (take_runaway(s, p, g)) ++n;
        }
      }
      continue;
    }
    if (st != p_status::syscall) continue;
    // A blocking call (blocking.cpp). Retake only a call seen on two rounds: at least one sysmon
    // period (≥ 20 µs) old.
    const std::uint32_t t = p->syscalltick.load(std::memory_order_relaxed);
    if (p->sysmon_syscalltick != t) {
      p->sysmon_syscalltick = t;
      p->sysmon_syscallwhen = now;
      continue;
    }
    // Nothing waits for this processor and another can take new work (someone spins or a
    // processor is idle): leave it to the call for up to 10 ms, so that short calls keep it.
    if (p->runq.empty() &&
        s.nmspinning.load(std::memory_order_relaxed) + s.npidle.load(std::memory_order_relaxed) >
            0 &&
        p->sysmon_syscallwhen + k_forcepreempt_ns > now) {
      continue;
    }
    p_status expected = p_status::syscall;
    // acq_rel: acquire pairs with blocking_enter's release store (P's state as its machine left
    // it); the returning call's CAS now fails, so sysmon owns P until handoffp passes it on.
    if (p->status.compare_exchange_strong(expected, p_status::idle, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
      bump(p->syscalltick);
      s.retakes.fetch_add(1, std::memory_order_relaxed);
      ++n;
      handoffp(s, p);
    }
  }
  return n;
}

bool all_idle(scheduler& s) {
  return s.npidle.load(std::memory_order_seq_cst) == s.gomaxprocs.load(std::memory_order_relaxed);
}

}  // namespace

void sysmon_wake(scheduler& s) { s.sysmon_note.wakeup(); }

bool runaway_handoff_supported() noexcept { return sys::membarrier_ready(); }

void sysmon_main(scheduler& s) {
  pthread_setname_np(pthread_self(), "gort-sysmon");
  const std::int64_t trace_ns = s.cfg.debug.schedtrace_ms * 1'000'000;
  std::int64_t delay_us = 20;
  int idle = 0;
  std::int64_t last_trace = 0;
  std::int64_t last_scavenge = sys::nanotime();
  bool first_trace = true;
  std::vector<goroutine*> readied;
  while (!s.sysmon_stop.load(std::memory_order_acquire)) {
    if (idle == 0) {
      delay_us = 20;
    } else if (idle > 50) {
      delay_us *= 2;
    }
    delay_us = std::min<std::int64_t>(delay_us, 10'000);
    s.sysmon_note.clear();
    if (s.sysmon_stop.load(std::memory_order_acquire)) break;
    s.sysmon_note.sleep_for(delay_us * 1000, &sys::nanotime);
    free_reaped_machines(s);  // no machine pointer of the last round is held any more
    std::int64_t now = sys::nanotime();
    g_coarse_now.store(now, std::memory_order_relaxed);  // relaxed: waiting_since is a display hint

    if (trace_ns == 0 && all_idle(s)) {
      s.sysmon_note.clear();
      // seq_cst: pairs with pidleget's npidle decrement then sysmon_sleeping load — either it
      // sees us asleep and wakes us, or we see a busy processor here.
      s.sysmon_sleeping.store(true, std::memory_order_seq_cst);
      // A SIGQUIT whose wake-up the clear above may have eaten (seq_cst: the handler's flag store
      // precedes its wake-up; either we see the flag here or the wake-up comes after the clear).
      sysmon_check_sigquit(s);
      if (all_idle(s) && !s.sysmon_stop.load(std::memory_order_acquire) &&
          s.resize_pending.load(std::memory_order_seq_cst) == 0) {
        if (s.stacks.snapshot().hot > 0) {  // stacks waiting for the scavenger
          s.sysmon_note.sleep_for(k_scavenge_period + 100'000'000, &sys::nanotime);
        } else {
          s.sysmon_note.sleep();
        }
      }
      s.sysmon_sleeping.store(false, std::memory_order_relaxed);
      idle = 0;
      now = sys::nanotime();
      g_coarse_now.store(now, std::memory_order_relaxed);
    }

    // Goroutines wait on I/O and nobody has polled for 10 ms (every machine busy running
    // goroutines): poll for them and queue what it readied (Go's sysmon netpoll).
    const std::int64_t last = s.poll.last_poll.load(std::memory_order_relaxed);
    if (g_io_waiters.load(std::memory_order_relaxed) > 0 && last != 0 &&
        last + k_sysmon_poll_ns < now) {
      s.poll.last_poll.store(now, std::memory_order_relaxed);  // relaxed: a hint
      readied.clear();
      poll(s, 0, readied);
      inject_batch(s, nullptr, readied.data(), readied.size());
    }
    const int retaken = retake(s, now);
    sysmon_resize(s, now);  // set_maxprocs requests; following the CPU limit (resize.cpp)
    if (instrumenting()) [[unlikely]] trace_counters(s, now);
    // A timer overdue with nobody to run it (every machine busy or parked): start one.
    if (earliest_timer(s) < now) wakep(s);
    idle = retaken != 0 ? 0 : idle + 1;  // Go: keep the short period while retakes happen

    sysmon_check_sigquit(s);  // options::sigquit_dump: the handler woke us
    if (now - last_scavenge >= k_scavenge_period) {
      s.stacks.scavenge(now, k_scavenge_period);
      last_scavenge = now;
    }
    if (trace_ns > 0 && (first_trace || now - last_trace >= trace_ns)) {
      print_schedtrace(s, s.cfg.debug.scheddetail, now);
      last_trace = now;
      first_trace = false;
    }
  }
}

}  // namespace gort::sched
