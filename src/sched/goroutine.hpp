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
//  * flags: the spawner before publication, then the machine running the goroutine (its first
//    run's stack attach, k_extras as it sets labels or creates locals, its end); dumps do not
//    read them.
//  * The observability block (line 2, see there): created_pc and parent_id like created_at;
//    waiting_since by the goroutine itself as it parks; labels by the goroutine itself (spawn
//    copies the spawner's); locals by the goroutine itself, freed at its exit or at shutdown.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include "gort/source_location.hpp"

#include "gort/detail/waist.hpp"

namespace gort::sched {

struct machine;
struct stack_slot;
struct local_table;   // labels.hpp: a goroutine's goroutine_local values

/// Go's G statuses (runtime2.go values, so scheddetail prints what Go prints).
enum class g_status : std::uint32_t {
  idle = 0,      // record allocated, not yet published
  runnable = 1,  // in a run queue
  running = 2,   // executing on a machine
  syscall = 3,   // in gort::blocking: runs on its machine, which holds no processor
  waiting = 4,   // parked
  dead = 6,      // exited; record in a free list
};

/// Go's _Gscan: or-ed into `waiting` while a goroutine dump reads the parked goroutine's stack
/// (trace/dump.cpp). A waker that finds it waits for the dump to let go (park.cpp, claim_parked);
/// nothing else changes a record from waiting, so its stack stays still while it is read.
inline constexpr std::uint32_t k_g_scan = 0x1000;

enum class g_kind : std::uint8_t {
  goroutine,  // a real goroutine with its own stack
  thread,     // a plain OS thread's stand-in (park blocks the thread on `wake_word`)
  // A goroutine locked to its machine's thread (gort::lock_os_thread; src/sched/locked.cpp): `m`
  // stays its machine while it is parked or runnable, and readying it wakes that machine instead
  // of queueing it. Written only by the goroutine itself (and by its machine at its end); a waker
  // reads it after claiming the parked record, whose park published it.
  locked,
};

inline constexpr std::size_t k_inline_closure = 56;  // line 1 less the id
inline constexpr std::size_t k_inline_closure_align = 8;

}  // namespace gort::sched

namespace gort::detail {

struct label_data;  // sched/labels.hpp: an immutable, reference-counted label set

// Four cache lines: the first holds everything the scheduler touches on the hot path, the second
// the id and the inline closure (written by every spawn), the third what dumps and reports read:
// the creation site and the observability block; the fourth what the scheduling-latency histogram
// and the execution trace write while they record (nothing otherwise). Per-execution state (saved exception globals, sanitizer fiber
// handles) lives in the stack slot, which only a started goroutine has.
struct alignas(64) goroutine {
  using g_status = sched::g_status;

  // ---- line 0: scheduling ----
  // Boost.Context fcontext_t of the suspended goroutine. Owned as m and stack are (the file
  // comment), so every access is relaxed: the ownership hand-over orders them. An atomic for the
  // one reader outside that ownership, prefetch_successor (scheduler.hpp), whose stale value is
  // harmless.
  std::atomic<void*> ctx{nullptr};
  sched::machine* m = nullptr;         // machine running it (valid while running)
  sched::stack_slot* stack = nullptr;  // null until the goroutine first runs
  void (*run_fn)(void*) = nullptr;
  void (*destroy_fn)(void*) noexcept = nullptr;
  void* closure = nullptr;  // points into inline_closure or to a heap block
  std::atomic<g_status> status{g_status::idle};
  std::atomic<bool> preempt{false};  // sysmon asks it to yield at the next preemption point
  sched::g_kind kind = sched::g_kind::goroutine;
  wait_reason reason = wait_reason::zero;
  std::uint8_t flags = 0;  // k_main, k_heap_closure, k_overaligned_closure, k_unguarded_stack,
                           // k_extras
  std::uint32_t generation = 0;              // bumped each time the record is reused
  std::atomic<std::uint32_t> wake_word{0};  // thread stand-in: 1 once readied

  // ---- line 1: identity and closure ----
  std::uint64_t id = 0;
  alignas(sched::k_inline_closure_align) unsigned char inline_closure[sched::k_inline_closure];

  // ---- line 2: where it was created, and the observability block ----
  alignas(64) gort::source_location created_at;

  // ---- observability block (goroutine dumps, crash reports, leak checks, labels, locals) ----
  // Kept together so that additions for introspection stay in one place. Spawn writes
  // created_pc, parent_id and labels (three stores and, only when the spawner has labels, one
  // reference count); nothing here is read on a scheduling path.
  std::int64_t waiting_since = 0;  // coarse nanotime of the last park (sys/clock.hpp coarse_now)
  const void* created_pc = nullptr;  // return address in the function that called gort::go
  std::uint64_t parent_id = 0;       // id of the spawning goroutine; 0 from a plain thread
  label_data* labels = nullptr;       // inherited from the spawner (Go's pprof labels)
  sched::local_table* locals = nullptr;  // goroutine_local values, created on first use

  // ---- line 3, instrumentation (src/trace/instrument.hpp): written only while a recorder is on;
  // ownership as ctx/m (the readier writes before publishing the record, the runner after) ----
  // latency: ns it became runnable, k_latency_track, or 0
  alignas(64) std::int64_t runnable_since = 0;
  std::uint64_t trace_flow = 0;  // trace: flow id of the ready that made it runnable, or 0

  static constexpr std::uint8_t k_main = 1;
  static constexpr std::uint8_t k_heap_closure = 2;
  static constexpr std::uint8_t k_overaligned_closure = 4;  // alignment stored in inline_closure
  static constexpr std::uint8_t k_unguarded_stack = 8;  // its stack has no guard page: canary checks
  // labels or locals may be non-null. Without it a goroutine's end reads only lines 0 and 1: line
  // 2 stays in the spawner's cache when another processor ran the goroutine.
  static constexpr std::uint8_t k_extras = 16;
  bool is_main() const noexcept { return (flags & k_main) != 0; }
};

static_assert(sizeof(goroutine) == 256, "a goroutine record is four cache lines");

}  // namespace gort::detail

namespace gort::sched {
using goroutine = detail::goroutine;
}
