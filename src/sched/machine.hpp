// sched/machine.hpp — the M: an OS thread running the scheduler loop.
//
// A machine runs goroutines from its scheduler context ("g0": the thread's own stack). Switching
// goroutine -> g0 -> goroutine keeps every scheduling decision, and every park callback, off the
// goroutines' stacks. Fields are owned by the machine's own thread unless noted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "sched/goroutine.hpp"
#include "sys/futex.hpp"
#include "trace/trace_buffer.hpp"

namespace gort::sched {

struct processor;

inline constexpr std::uint32_t k_revoke_requested = 1;  // sysmon looks at the machine's sections
inline constexpr std::uint32_t k_revoke_taken = 2;      // sysmon took the machine's processor
// The machine is locked to a goroutine (src/sched/locked.cpp): set and cleared by the locked
// goroutine inside a runtime section. It makes the word non-zero, so every runtime section and
// every switch of the locked goroutine takes the slow path (own_p_slow, switch_to_scheduler)
// without a test of its own on the paths of other goroutines; and sysmon, whose request is a CAS
// from 0, leaves the machine's processor alone.
inline constexpr std::uint32_t k_revoke_locked = 4;

/// What a goroutine asks its machine's scheduler context to do right after switching away.
enum class after_switch : std::uint8_t {
  none,
  park,     // run unlock(arg); if it returns false, resume the goroutine at once
  yield,    // Gosched: global queue tail
  preempt,  // as yield, counted as a preemption
  exit,     // the goroutine finished: recycle its stack and record
  exit_blocking,  // back from gort::blocking with no processor free: take one or queue globally
  locked,   // the machine's locked goroutine switched away; its request is in `locked_after`
};

struct machine {
  std::int64_t id = 0;
  processor* p = nullptr;      // held processor
  processor* nextp = nullptr;  // processor handed over by startm; written before wakeup
  // The processor released by a blocking call (status syscall while it is free for the taking);
  // the call's return tries to take it back (blocking.cpp). Own thread only.
  processor* oldp = nullptr;
  bool spinning = false;       // counted in scheduler::nmspinning
  // Left its loop before shutdown: idle for long (stopm), or its locked goroutine ended on it
  // (locked.cpp); its record goes to zombies.
  bool idle_exit = false;
  goroutine* curg = nullptr;   // goroutine running on this machine (null on g0)

  // The runaway hand-off (scheduler.hpp, own_p; sysmon.cpp). in_runtime: how many runtime
  // sections this thread is inside — at least 1 whenever g0 runs, 0 while a goroutine runs its own
  // code. Written by this thread only (plain load + store); read by sysmon. revoke: 0, or
  // k_revoke_requested / k_revoke_taken, set by sysmon; the thread clears it; plus the
  // k_revoke_locked bit, set and cleared by this thread (read-modify-writes, as sysmon CASes).
  std::atomic<std::uint32_t> in_runtime{1};
  std::atomic<std::uint32_t> revoke{0};

  // gort::lock_os_thread (src/sched/locked.cpp). lockedg: the goroutine locked to this machine, or
  // null; locked_count: its lock_os_thread calls not yet undone (Go's lockedExt). Written by the
  // locked goroutine on this thread, and by g0 at its end; read by this thread, and by the
  // scheduler-lock holders below only through `locked_sleeping`.
  goroutine* lockedg = nullptr;
  std::uint32_t locked_count = 0;
  after_switch locked_after = after_switch::none;  // the locked goroutine's real request
  // Sleeping in stop_locked (its locked goroutine is parked or queued, or it ended on M0): counted
  // in scheduler::nmidlelocked, woken by start_locked or shutdown. Scheduler lock.
  bool locked_sleeping = false;

  void* g0_ctx = nullptr;  // the scheduler context, saved while a goroutine runs

  // Set by the goroutine just before it switches to g0; consumed by g0.
  after_switch after = after_switch::none;
  bool (*after_unlock)(void*) = nullptr;
  void* after_arg = nullptr;
  goroutine* direct_from = nullptr;  // the goroutine that switched directly to m->curg

  sys::note park;                  // stopm sleeps here; startm wakes
  std::atomic<bool> blocked{false};  // parked in stopm (scheddetail)
  machine* idle_link = nullptr;      // idle list; scheduler lock
  std::thread thread;                // not joinable for M0 (the thread that called run())

  std::uint64_t rand_state = 0;  // steal-order randomness (xorshift)
  bool shuffle = false;          // GORTDEBUG=shuffle: randomized scheduling (scheduler.hpp)

  // Sanitizer bookkeeping for g0 (see sanitizer.hpp).
  void* g0_tsan_fiber = nullptr;
  void* g0_fake_stack = nullptr;
  const void* g0_stack_bottom = nullptr;
  std::size_t g0_stack_size = 0;

  void* eh_globals = nullptr;  // this thread's __cxa_eh_globals (context_switch.cpp)
  void* altstack = nullptr;  // sigaltstack for stack-overflow reports
  std::size_t altstack_size = 0;
  void* old_altstack_sp = nullptr;  // the thread's previous sigaltstack, restored on exit
  std::size_t old_altstack_size = 0;
  int old_altstack_flags = 0;

  trace_buffer trace;  // execution trace: this machine's events (trace/trace_buffer.hpp)

  std::uint32_t fastrand() noexcept {
    std::uint64_t x = rand_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rand_state = x;
    return static_cast<std::uint32_t>(x >> 32);
  }
};

}  // namespace gort::sched
