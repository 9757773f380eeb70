// sched/goroutine.hpp — the G record.
//
// A goroutine is a closure plus, once it first runs, a stack and a saved Boost.Context register
// frame. Records are carved from slabs, never freed before the runtime shuts down, and recycled
// through per-P free lists (Go's gfree), so a pointer to a record stays dereferenceable for the
// life of the runtime; `generation` tells incarnations apart.
//
// Stacks are attached lazily: a goroutine that has not started yet owns no stack, and the stack
// of an exited goroutine goes straight back to its processor's cache. A burst of short-lived
// goroutines therefore needs only as many stacks as run at once, not as many as were spawned.
//
// Field ownership:
//  * status, preempt: atomics, any thread (orders below).
//  * ctx, m, stack (and the execution state kept in the stack slot): the machine currently
//    running the goroutine, or the machine that switched away from it until it is readied again
//    (park hands ownership through the wait queue lock and ready()'s run-queue publication).
//  * closure, id, created_at: written before the goroutine is published to a run queue,
//    read-only afterwards.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include "gort/source_location.hpp"

#include "gort/detail/waist.hpp"

namespace gort::sched {

struct machine;
struct stack_slot;

/// Go's G statuses (runtime2.go values, so scheddetail prints what Go prints).
enum class g_status : std::uint32_t {
  idle = 0,      // record allocated, not yet published
  runnable = 1,  // in a run queue
  running = 2,   // executing on a machine
  syscall = 3,   // in gort::blocking (reserved)
  waiting = 4,   // parked
  dead = 6,      // exited; record in a free list
};

enum class g_kind : std::uint8_t {
  goroutine,  // a real goroutine with its own stack
  thread,     // a plain OS thread's stand-in (park blocks the thread on `wake_word`)
};

inline constexpr std::size_t k_inline_closure = 48;
inline constexpr std::size_t k_inline_closure_align = 8;

}  // namespace gort::sched

namespace gort::detail {

// Three cache lines: the first holds everything the scheduler touches on the hot path, the second
// the id and the inline closure (written by every spawn), the third the creation site, which only
// reports read. Per-execution state (saved exception globals, sanitizer fiber
// handles) lives in the stack slot, which only a started goroutine has.
struct alignas(64) goroutine {
  using g_status = sched::g_status;

  // ---- line 0: scheduling ----
  void* ctx = nullptr;                 // Boost.Context fcontext_t of the suspended goroutine
  sched::machine* m = nullptr;         // machine running it (valid while running)
  sched::stack_slot* stack = nullptr;  // null until the goroutine first runs
  void (*run_fn)(void*) = nullptr;
  void (*destroy_fn)(void*) noexcept = nullptr;
  void* closure = nullptr;  // points into inline_closure or to a heap block
  std::atomic<g_status> status{g_status::idle};
  std::atomic<bool> preempt{false};  // sysmon asks it to yield at the next preemption point
  sched::g_kind kind = sched::g_kind::goroutine;
  wait_reason reason = wait_reason::zero;
  std::uint8_t flags = 0;  // k_main, k_heap_closure, k_overaligned_closure, k_unguarded_stack
  std::uint32_t generation = 0;              // bumped each time the record is reused
  std::atomic<std::uint32_t> wake_word{0};  // thread stand-in: 1 once readied

  // ---- line 1: identity and closure ----
  std::uint64_t id = 0;
  alignas(sched::k_inline_closure_align) unsigned char inline_closure[sched::k_inline_closure];

  // ---- line 2: where it was created ----
  alignas(64) gort::source_location created_at;

  // ---- line 2, instrumentation (src/trace/instrument.hpp): written only while a recorder is on;
  // ownership as ctx/m (the readier writes before publishing the record, the runner after) ----
  std::int64_t runnable_since = 0;  // latency: ns it became runnable, k_latency_track, or 0
  std::uint64_t trace_flow = 0;     // trace: flow id of the ready that made it runnable, or 0

  static constexpr std::uint8_t k_main = 1;
  static constexpr std::uint8_t k_heap_closure = 2;
  static constexpr std::uint8_t k_overaligned_closure = 4;  // alignment stored in inline_closure
  static constexpr std::uint8_t k_unguarded_stack = 8;  // its stack has no guard page: canary checks
  bool is_main() const noexcept { return (flags & k_main) != 0; }
};

static_assert(sizeof(goroutine) == 192, "a goroutine record is three cache lines");

}  // namespace gort::detail

namespace gort::sched {
using goroutine = detail::goroutine;
}
