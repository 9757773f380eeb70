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
//  5. Every second, return the pages of stacks idle for a second to the OS.
//  6. Print schedtrace when due.
//  7. Perform queued set_maxprocs resizes, and follow the CPU limit about once a second unless
//     the count was set explicitly (resize.cpp). A queued resize keeps sysmon out of deep sleep.
// Runs on its own thread; reads processor state as relaxed snapshots.
#include <pthread.h>

#include <algorithm>

#include "sched/scheduler.hpp"
#include "sys/clock.hpp"

namespace gort::sched {

namespace {

constexpr std::int64_t k_scavenge_period = 1'000'000'000;
constexpr std::int64_t k_sysmon_poll_ns = 10'000'000;  // Go's sysmon: poll if none for 10 ms

void retake(scheduler& s, std::int64_t now) {
  for (auto& pp : s.allp) {
    processor* p = pp.get();
    if (p->status.load(std::memory_order_relaxed) != p_status::running) continue;
    const std::uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
    if (p->sysmon_tick != tick) {
      p->sysmon_tick = tick;
      p->sysmon_when = now;
    } else if (p->sysmon_when + k_forcepreempt_ns <= now) {
      // acquire: pairs with execute()'s release store; the record is fully built.
      if (goroutine* g = p->curg.load(std::memory_order_acquire)) {
        g->preempt.store(true, std::memory_order_relaxed);
      }
    }
  }
}

bool all_idle(scheduler& s) {
  return s.npidle.load(std::memory_order_seq_cst) == s.gomaxprocs.load(std::memory_order_relaxed);
}

}  // namespace

void sysmon_wake(scheduler& s) { s.sysmon_note.wakeup(); }

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
    std::int64_t now = sys::nanotime();

    if (trace_ns == 0 && all_idle(s)) {
      s.sysmon_note.clear();
      // seq_cst: pairs with pidleget's npidle decrement then sysmon_sleeping load — either it
      // sees us asleep and wakes us, or we see a busy processor here.
      s.sysmon_sleeping.store(true, std::memory_order_seq_cst);
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
    retake(s, now);
    sysmon_resize(s, now);  // set_maxprocs requests; following the CPU limit (resize.cpp)
    if (instrumenting()) [[unlikely]] trace_counters(s, now);
    // A timer overdue with nobody to run it (every machine busy or parked): start one.
    if (earliest_timer(s) < now) wakep(s);
    ++idle;  // gort has no syscall hand-off yet, so a round never counts as a retake

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
