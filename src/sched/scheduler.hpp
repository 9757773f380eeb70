// sched/scheduler.hpp — the runtime instance: processors, machines, queues and their protocols.
//
// Glossary (Go's letters): G = goroutine (goroutine.hpp), M = machine, an OS thread
// (machine.hpp), P = processor, the right to run goroutines (processor.hpp). GOMAXPROCS Ps exist;
// an M must hold a P to run a G. docs/design.md explains the whole scheduler.
//
// Lock order (docs/lock-order.md): scheduler::lock -> gfree_lock; stack_pool's lock and wait-queue
// spinlocks are leaves. No scheduler lock is held while a goroutine runs or while a thread sleeps.
//
// The spinning protocol (Go's, proc.go header) — why work is never stranded:
//  1. A submitter puts a goroutine in a run queue, then (wakep) wakes an idle P's machine only if
//     there is an idle P and no machine is spinning; a spinning machine will find the work.
//  2. A spinning machine that finds work stops spinning and, if it was the last spinner, calls
//     wakep itself (reset_spinning), so the chain continues while work remains.
//  3. A spinning machine that finds nothing releases its P, *then* decrements nmspinning, *then*
//     re-checks every run queue and the global queue. Steps 1 and 3 each need StoreLoad ordering
//     (seq_cst): either the submitter sees the spinner, or the spinner's re-check sees the work.
//  Work in a P's own local queue is never stranded regardless: that P's machine is running and
//  will reach it; a missed wake-up there only costs parallelism, which is why the submitter's
//  local-queue path uses cheaper orderings (see wakep).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

#include "gort/detail/dcheck.hpp"
#include "gort/runtime.hpp"
#include "netpoll/netpoll.hpp"
#include "sched/global_queue.hpp"
#include "sched/goroutine.hpp"
#include "sched/labels.hpp"
#include "sched/machine.hpp"
#include "sched/processor.hpp"
#include "sched/sanitizer.hpp"
#include "sched/steal_order.hpp"
#include "stack/stack_pool.hpp"
#include "sys/cpu_quota.hpp"
#include "sys/debug_settings.hpp"
#include "sys/futex.hpp"
#include "trace/instrument.hpp"

namespace gort::sched {

inline constexpr std::int64_t k_forcepreempt_ns = 10'000'000;  // Go's forcePreemptNS
inline constexpr int k_steal_tries = 4;                        // Go's stealTries
inline constexpr std::uint32_t k_global_fairness = 61;         // check global every 61st tick
inline constexpr std::size_t k_slab_records = 128;             // goroutine records per slab
// A machine parked this long for want of work leaves (its thread ends), so that a burst of
// blocking calls, which needs a machine per call, leaves no threads behind. M0 (the thread that
// called run) never leaves. Go keeps its idle Ms forever.
inline constexpr std::int64_t k_idle_machine_exit_ns = 1'000'000'000;

struct resize_request;  // resize.cpp

struct runtime_config {
  int maxprocs = 1;
  int max_threads = 10'000;  // gort::options::max_threads (Go's sched.maxmcount)
  bool maxprocs_explicit = false;  // set by options or GORTMAXPROCS: sysmon does not follow the CPUs
  std::size_t slot_size = 0;  // stack slot bytes (guard zone included)
  std::function<void(const goroutine_exception&)> on_exception;
  sys::debug_settings debug;
  bool implicit = false;  // started by gort::go from a plain thread, not by run()
  bool sigquit_dump = false;    // options::sigquit_dump or GORTDEBUG=sigquit
  bool crash_report = true;     // options::crash_report
  bool detect_deadlock = true;  // options::detect_deadlock or GORTDEBUG=deadlock (never implicit)
};

/// Every processor the runtime has created, by id: the first gomaxprocs are current, the rest were
/// dropped by a resize (status dead, empty queues and timer heap; their counters still count).
/// Records are created by a resize or the constructor and never freed before the runtime, so any
/// thread may walk begin()..end() without a lock; size() only grows (acquire: pairs with the
/// release in add(), so a walker sees the new record complete).
class processor_table {
 public:
  std::size_t size() const noexcept { return n_.load(std::memory_order_acquire); }
  std::unique_ptr<processor>& operator[](std::size_t i) noexcept { return slots_[i]; }
  std::unique_ptr<processor>* begin() noexcept { return slots_.get(); }
  std::unique_ptr<processor>* end() noexcept { return slots_.get() + size(); }
  /// Appends a record. The constructor, or the resizer with the world stopped.
  void add(std::unique_ptr<processor> p) {
    const std::size_t n = n_.load(std::memory_order_relaxed);
    slots_[n] = std::move(p);
    n_.store(n + 1, std::memory_order_release);
  }

 private:
  std::unique_ptr<std::unique_ptr<processor>[]> slots_{
      new std::unique_ptr<processor>[sys::k_max_procs]};
  std::atomic<std::size_t> n_{0};
};

struct scheduler {
  explicit scheduler(runtime_config c);
  ~scheduler();

  runtime_config cfg;
  // Current processor count. Written only by the resizer with the world stopped (release, after
  // the new processors exist); read by anyone (acquire where it bounds a walk of allp).
  std::atomic<int> gomaxprocs;
  processor_table allp;
  steal_order order;  // over the current processors; reset only with the world stopped

  // ---- guarded by `lock` ----
  std::mutex lock;
  global_queue runq;
  processor* pidle = nullptr;
  machine* midle = nullptr;
  std::vector<std::unique_ptr<machine>> allm;
  // A machine that left for idleness (stopm), or whose locked goroutine ended (locked.cpp), moves
  // its record here; the next one to leave joins it (so at most one waits to be joined), and
  // shutdown joins what remains.
  std::vector<std::unique_ptr<machine>> zombies;
  // Zombies joined: their records are freed by sysmon at the top of its next round
  // (free_reaped_machines), because sysmon alone uses a machine through a processor's `m` without
  // this lock (take_runaway), and it holds no such pointer between rounds. A machine whose locked
  // goroutine ended leaves right after giving its processor up, so sysmon may still be looking
  // at it when the next leaver joins it.
  std::vector<std::unique_ptr<machine>> reaped;
  bool stopping = false;  // shutdown started: no new machines, machines exit their loops
  // Stop-the-world for a resize (resize.cpp): machines give their processors up at their next
  // schedule, and no idle processor is handed out, while `stw` is set.
  bool stw = false;
  int stw_stopped = 0;  // processors stopped (status gcstop) since stw was set
  std::vector<resize_request*> resize_requests;  // set_maxprocs callers waiting, oldest first
  // Locked goroutines made runnable while no processor was idle (locked.cpp, step 3), oldest
  // first. Never in a run queue: a machine takes one at the top of find_runnable (`barrier` is
  // set while this is non-empty; a yielded one only when its local queue is empty or on the
  // 61-tick fairness check) or as it would make a processor idle (pidleput), and hands its
  // processor to the goroutine's machine. Invariant: non-empty only while no processor is idle
  // (outside a stopped world).
  struct locked_waiter {
    goroutine* g;
    bool urgent;  // readied (Go's ready puts it next); false: it yielded (Go's global-queue tail)
  };
  std::deque<locked_waiter> lockedq;

  // ---- atomics read without the lock ----
  std::atomic<std::int32_t> npidle{0};      // idle Ps; written under lock (seq_cst, see wakep)
  std::atomic<std::int32_t> nmspinning{0};  // spinning Ms (seq_cst, the hand-shake above)
  std::atomic<std::int32_t> nmidle{0};      // parked Ms; written under lock
  // Locked machines asleep (stop_locked, Go's nmidlelocked); written under lock.
  std::atomic<std::int32_t> nmidlelocked{0};
  // Machines locked to a goroutine now (gort::lock_os_thread). relaxed: statistics.
  std::atomic<std::int32_t> nlocked{0};
  std::atomic<std::int32_t> mcount{0};      // Ms started and not exited (sysmon included)
  std::atomic<bool> shutting_down{false};   // mirrors `stopping` for lock-free checks
  // Set while shutdown runs, the world stops or `lockedq` holds a goroutine: no direct hand-off
  // between goroutines, and a machine entering find_runnable looks at why (one load on the switch
  // path for every reason). Written under `lock` (update_barrier).
  std::atomic<bool> barrier{false};
  std::atomic<bool> maxprocs_explicit{false};  // sysmon does not follow the CPU limit (resize.cpp)
  // resize_requests.size(), readable without the lock: sysmon does not sleep deeply while it is
  // non-zero (seq_cst: set_maxprocs increments it, then wakes sysmon; sysmon clears its note,
  // then reads it).
  std::atomic<std::int32_t> resize_pending{0};
  sys::note stw_note;  // wakes the resizer as machines stop
  std::atomic<std::int64_t> next_mid{0};

  // ---- goroutine records (gfree_lock) ----
  std::mutex gfree_lock;
  std::vector<goroutine*> gfree;
  std::atomic<std::int64_t> gfree_count{0};  // gfree.size(), written under gfree_lock; a hint
  std::vector<goroutine*> slabs;  // k_slab_records records each (spawn.cpp: type-stable memory)

  std::atomic<std::uint64_t> goid_gen{1};        // next goroutine id batch start
  std::atomic<std::uint64_t> thread_spawned{0};  // spawns by plain threads (no P)
  std::atomic<std::uint64_t> preemptions{0};
  // Parks by goroutines whose machine holds no processor (a runaway whose processor sysmon took,
  // a locked goroutine waiting for one): no processor's `parks` counts them. relaxed: a statistic,
  // summed with the processors' counters by stats().
  std::atomic<std::uint64_t> parks_without_p{0};
  // gort::blocking (blocking.cpp). nblocking: goroutines inside a blocking call now (a goroutine
  // dump or a deadlock check counts them as neither running nor parked); retakes: processors
  // sysmon took from a blocking call; handoffs: processors given up at once by blocking_long.
  // relaxed: statistics.
  std::atomic<std::int64_t> nblocking{0};
  std::atomic<std::uint64_t> retakes{0};
  std::atomic<std::uint64_t> handoffs{0};
  // Processors taken from runaway goroutines (sysmon.cpp, take_runaway). relaxed: statistics.
  std::atomic<std::uint64_t> runaway_handoffs{0};
  // How blocking calls found a processor on return: their own back, an idle one, or none
  // (queued globally). relaxed: statistics (tests read them).
  std::atomic<std::uint64_t> exits_own{0};
  std::atomic<std::uint64_t> exits_idle{0};
  std::atomic<std::uint64_t> exits_queued{0};

  // Unique among the runtimes of this process (spawn.cpp: a plain thread's spawn cache names the
  // runtime its contents belong to; an address could be reused by the next runtime).
  const std::uint64_t serial;
  const std::uint64_t seed;  // from the OS (sys/random.hpp): machines' fastrand states derive from it
  const int stack_credit_batch;  // stack promises a processor takes at once (processor.hpp)
  const int stack_credit_max;    // and keeps at most: two batches

  stack_pool stacks;

  // ---- main goroutine and run() ----
  goroutine* main_g = nullptr;
  std::exception_ptr main_exception;  // set by the main goroutine, rethrown by run()
  machine* m0 = nullptr;                 // the run() caller's machine (null when implicit)
  std::atomic<std::int32_t> mexited{0};  // machines that left their loop
  sys::note exit_note;                   // woken by each machine leaving its loop

  // ---- the poller (netpoll/netpoll.hpp) and the timers' sleeper (timers.cpp) ----
  // The machine blocked in epoll_wait until the earliest timer (Go's "lastpoll == 0"): at most
  // one, holding no processor. seq_cst: the arming hand-shake in timers.cpp.
  std::atomic<machine*> poller{nullptr};
  std::atomic<std::int64_t> poll_until{INT64_MAX};
  poll_state poll;

  // ---- sysmon ----
  std::thread sysmon_thread;
  sys::note sysmon_note;                   // wakes sysmon (deep sleep, shutdown)
  std::atomic<bool> sysmon_sleeping{false};  // in deep sleep; pidleget wakes it
  std::atomic<bool> sysmon_stop{false};
  std::int64_t trace_start = 0;  // sysmon only: time of the first schedtrace line
  trace_buffer sysmon_trace;     // execution trace: sysmon's events (run-queue counters)
  std::int64_t sysmon_trace_last = 0;  // sysmon only: time of its last counter events
  std::int64_t follow_last = 0;  // sysmon only: when it last compared the count with the CPUs
};

/// The running runtime or null. Set by start, cleared by shutdown. acquire/release. Machines may
/// read it freely (a runtime outlives its machines); plain threads only inside the gate below.
extern std::atomic<scheduler*> g_sched;

// ---- the plain-thread gate (runtime.cpp; protocol in docs/design.md, "Lifecycle") ----
// A plain thread (no machine) touches a runtime's memory only between gate_enter() and
// gate_leave(). Shutdown closes the gate, waits until every thread inside has left, and only then
// frees anything; a thread that finds the gate closed gets a clean refusal instead.

/// Enters if a runtime is running and open to plain threads; returns it, or null (nothing to
/// leave). Plain threads.
scheduler* gate_enter() noexcept;
/// gate_enter(), else starts the implicit runtime where that is allowed, else throws
/// gort::shutdown_error starting with `what` (or std::system_error if its threads cannot start).
/// Plain threads.
scheduler& gate_enter_or_start(const char* what);
/// Enters whatever the gate's state, for an operation that must complete on objects that may
/// outlive the runtime (stopping a timer). False: the runtime's timers are already detached (no
/// timer heap is reachable from any node) and the caller did not enter. Plain threads.
bool gate_enter_always() noexcept;
/// Leaves after a successful enter. Plain threads.
void gate_leave() noexcept;

/// The runtime as seen by the calling thread for the scope of this object: on a machine the
/// running one; on a plain thread the one whose gate it entered (left at scope exit), or null.
class runtime_access {
 public:
  runtime_access() noexcept;
  ~runtime_access();
  runtime_access(const runtime_access&) = delete;
  runtime_access& operator=(const runtime_access&) = delete;
  scheduler* get() const noexcept { return s_; }

 private:
  scheduler* s_ = nullptr;
  bool entered_ = false;
};

/// Set in the child of a fork() taken while a runtime existed (pthread_atfork): the child has none
/// of its threads. Read on paths that would otherwise wait for them forever.
extern std::atomic<bool> g_forked;
/// Reports fork-without-exec and aborts. Any thread.
[[noreturn]] void fatal_forked() noexcept;
/// Cheap check on paths about to wait for other runtime threads.
inline void check_not_forked() noexcept {
  if (g_forked.load(std::memory_order_relaxed)) fatal_forked();
}

// ---- thread-local accessors (never inlined: a goroutine may resume on another thread, and a
// compiler may otherwise keep the address of the old thread's variable; see docs/design.md) ----

/// The machine of the calling thread, or null on a plain thread. Any thread.
machine* current_machine() noexcept;
void set_current_machine(machine* m) noexcept;

// ---- scheduler protocols (scheduler.cpp) ----

/// The loop of every machine: find a goroutine, run it, repeat, until shutdown. M thread only,
/// holding its P (or with m->nextp set).
void schedule(scheduler& s, machine* m);

/// Starts a machine thread with processor `p` (or an idle P when null). Go's startm. Any thread.
/// Returns false when no P or no thread could be had; `*thread_error` (if given) then receives
/// the error of a failed thread creation (left alone otherwise).
bool startm(scheduler& s, processor* p, bool spinning, std::error_code* thread_error = nullptr);

// ---- goroutines locked to their thread (locked.cpp; protocol in docs/design.md) ----

/// Makes the parked or switched-away locked goroutine g (kind locked, claimed runnable) run again
/// on its machine: hands it an idle processor and wakes it, or queues g in lockedq for the next
/// machine that reaches a scheduling point (`urgent`: readied, taken first; else it yielded).
/// Shutdown begun: g is abandoned. Any thread without the scheduler lock (a plain thread inside
/// the gate).
void ready_locked(scheduler& s, goroutine* g, bool urgent = true);
/// Takes the locked goroutine that p should be handed to, if any: an urgent one first, else a
/// yielded one when `any` (p would be idle, or its holder's local queue is empty, or the 61-tick
/// fairness check is due). Requires s.lock.
goroutine* take_locked_waiter(scheduler& s, bool any);
/// Hands processor p (held by nobody) to g's machine, asleep in stop_locked, and wakes it. Requires
/// s.lock.
void start_locked(scheduler& s, goroutine* g, processor* p);
/// barrier = stopping || stw || !lockedq.empty(). Requires s.lock.
void update_barrier(scheduler& s);
/// g0's side of a switch by m's locked goroutine g (after_switch::locked): performs its request,
/// gives m's processor away and sleeps until g may run again. True: run g at once (m holds a
/// processor); false: m leaves its loop or waits as schedule() decides (m holds none). m's thread
/// on g0.
bool finish_locked(scheduler& s, machine* m, goroutine* g);

/// Go's handoffp: finds a machine for processor `p`, which nobody holds (taken from a blocking
/// call by sysmon, or released by blocking_long), or puts it on the idle list. Any thread without
/// the scheduler lock.
void handoffp(scheduler& s, processor* p);

/// Makes m the holder of p (publishing m to sysmon). m's own thread, or a thread handing p to m
/// before waking it.
void acquirep(machine* m, processor* p);
/// The end of a machine's sleep (stopm, stop_locked): takes the processor handed over in nextp
/// (true), or returns false when none was. m's thread, after reading nextp under s.lock.
bool wake_with_nextp(machine* m);
/// Drops m's processor (which m holds) and returns it. m's thread.
processor* releasep(machine* m);

/// Takes an idle processor for m (which holds none), or returns false. Any machine's thread
/// without the scheduler lock.
bool acquire_idle_p(scheduler& s, machine* m);

/// Reports that creating one more machine would exceed options::max_threads and aborts (Go's
/// checkmcount). Requires s.lock.
[[noreturn]] void thread_limit_exceeded(scheduler& s);

/// wakep's slow path: claims the spinning slot and starts (or wakes) a machine. Only wakep().
void wakep_slow(scheduler& s);

/// Go's wakep: wake an idle P's machine if none is spinning. Any thread. The two checks are
/// inline because every ready() and spawn makes them and, on a busy runtime, they end it.
inline void wakep(scheduler& s) {
  // The loads are seq_cst for the hand-shake with a machine that is dropping its processor (see
  // the file comment). On x86 they are plain loads, so a submitter whose run-queue store is still
  // buffered can miss a concurrent spinner's decrement; that only delays work in the submitter's
  // own local queue, which its running machine will reach.
  if (s.npidle.load(std::memory_order_seq_cst) == 0) return;
  if (s.nmspinning.load(std::memory_order_seq_cst) != 0) return;
  wakep_slow(s);
}

/// Appends to the global queue and wakes a machine. Any thread without the lock.
void global_put(scheduler& s, goroutine* g);

/// Go's runqput with overflow to the global queue. Owner of `p` only.
void runq_put(scheduler& s, processor* p, goroutine* g, bool next);

/// runq_put(s, p, g, true) with the common case inline: `g` takes runnext, and only a goroutine
/// it displaces goes through the ring (out of line). Owner of `p` only.
inline void runq_put_next(scheduler& s, processor* p, goroutine* g) {
  sanitizer::release(g);
  if (goroutine* old = p->runq.swap_runnext(g)) runq_put(s, p, old, false);
}

/// Begins shutdown (main returned): machines leave their loops. Any thread.
void begin_shutdown(scheduler& s);

/// Runs goroutine `g` on machine `m` (g0) until a goroutine switches back, then performs what it
/// asked for (park callback, yield, exit). M's thread on g0 only.
void execute(scheduler& s, machine* m, goroutine* g, bool inherit_time);
// prepare_run, finish_request and take_direct_successor are on every switch (execute on g0 and
// the direct hand-off in context_switch.cpp): defined inline at the end of this file.

// ---- goroutine records (spawn.cpp) ----
// gfget, gfput, next_goid: p's owner; p null: a thread without a processor, using its own cache
// (spawn.cpp, "Thread caches"), while the runtime cannot be freed (inside the gate, or a machine).
goroutine* gfget(scheduler& s, processor* p);
void gfput(scheduler& s, processor* p, goroutine* g);
std::uint64_t next_goid(scheduler& s, processor* p);
stack_slot* stack_get(scheduler& s, processor* p);
void stack_put(scheduler& s, processor* p, stack_slot* st);
/// Exit path on g0: recycle the stack and record. M thread on g0 only.
void goroutine_exited(scheduler& s, machine* m, goroutine* g);
/// Frees a heap-allocated closure block (without destroying the closure). Any thread.
void free_heap_closure(goroutine* g) noexcept;

// ---- labels and goroutine-local values (labels.cpp) ----
// retain_labels (one more reference; null: none) is inline in labels.hpp.
/// Drops a reference (null: none); the last one frees the set. Any thread.
void release_labels_slow(label_data* l) noexcept;
inline void release_labels(label_data* l) noexcept {
  if (l != nullptr) release_labels_slow(l);  // most goroutines have no labels: no call
}
/// Destroys g's goroutine_local values (in reverse order of creation) and frees its table. The
/// goroutine itself, at its end.
void destroy_locals(goroutine* g) noexcept;
/// Frees g's table and values' memory without running destructors (an abandoned goroutine at
/// shutdown: like the objects on its stack, they are not destroyed). The retiring thread.
void abandon_locals(goroutine* g) noexcept;

// ---- context switching (context_switch.cpp) ----
/// g0 -> g. Returns when g switches back. M thread on g0 only.
void switch_to_goroutine(machine* m, goroutine* g);
/// g -> g0 with the after-switch request already stored in g->m. Returns when g is resumed
/// (possibly on another machine). Only the goroutine itself.
void switch_to_scheduler(goroutine* g, after_switch what);
/// Prepares a never-run goroutine's context on its freshly attached stack. g0 only.
void make_goroutine_context(goroutine* g);
/// Releases per-goroutine sanitizer state of an exited goroutine. g0 only.
void destroy_goroutine_context(goroutine* g);
/// The calling thread's C++ exception globals (__cxa_get_globals). Any thread.
void* thread_eh_globals() noexcept;
/// Runs the goroutine body: closure, exception report, closure destruction. The goroutine only.
void run_goroutine_body(goroutine* g);

// ---- timers (timers.cpp) ----
/// Earliest pending timer over all processors, or k_never. Any thread.
std::int64_t earliest_timer(scheduler& s) noexcept;
/// Runs p's due timers. Holder of p (or a thief), on g0.
void run_due_timers(processor* p) noexcept;
/// Runs p's due timers if it has any pending: one load when it has none.
inline void run_timers(processor* p) noexcept {
  if (p->timers.earliest() != k_never) run_due_timers(p);
}
/// As the runtime's poller (the caller claimed scheduler::poller), blocks in epoll_wait until
/// `next` (the earliest timer, or k_never), I/O readiness, a poll_break (an earlier timer,
/// shutdown) — then gives the role up. Appends the goroutines made runnable to `out`. m holds no
/// processor. m's thread only.
void poll_as_poller(scheduler& s, machine* m, std::int64_t next, std::vector<goroutine*>& out);
/// Wakes the poller when a timer due at `when` is earlier than its deadline; wakep when there is
/// none. Any thread.
void timer_poke(scheduler& s, std::int64_t when) noexcept;
/// Empties every heap at shutdown. No machine runs.
void clear_timers(scheduler& s) noexcept;

// ---- sysmon and tracing ----
void sysmon_main(scheduler& s);
/// Frees the records of machines that left and were joined (scheduler::reaped). sysmon only, at
/// the top of a round.
void free_reaped_machines(scheduler& s);
void print_schedtrace(scheduler& s, bool detail, std::int64_t now);
/// The same lines, `ms` printed as the time, without touching sysmon's state: for a caller other
/// than sysmon (the test watchdog). Takes the scheduler lock and gfree_lock. Any thread.
void print_sched_state(scheduler& s, bool detail, std::int64_t ms);
void sysmon_wake(scheduler& s);
/// True when sysmon can take a runaway goroutine's processor here (membarrier with
/// PRIVATE_EXPEDITED is available and registered). Any thread.
bool runaway_handoff_supported() noexcept;

// ---- the coarse clock (waiting_since stamps) ----
/// nanotime() as of sysmon's last round (at most ~10 ms old while any processor runs; refreshed
/// when a processor leaves an all-idle runtime, see pidleget). Written by sysmon and the start.
extern std::atomic<std::int64_t> g_coarse_now;
/// One relaxed load: the cost a park pays for its waiting_since stamp. Any thread.
inline std::int64_t coarse_now() noexcept { return g_coarse_now.load(std::memory_order_relaxed); }

// ---- status changes out of `waiting` (park.cpp) ----
/// The slow path of a waiting -> `to` CAS that saw `seen` instead: waits while a dump holds the
/// scan bit (goroutine.hpp, k_g_scan), then claims; anything else is a fatal double ready. The
/// caller of the failed CAS.
void claim_scanned(goroutine* g, g_status to, g_status seen);
/// waiting -> runnable for a goroutine whose park was vetoed (its own machine resumes it); out of
/// line, so that the switch path that inlines finish_request stays small. Its machine.
void claim_vetoed(goroutine* g);

// ---- processor count at run time (resize.cpp) ----
/// Performs the set_maxprocs requests queued so far, then follows the CPU limit when due. sysmon
/// only.
void sysmon_resize(scheduler& s, std::int64_t now);
/// A machine found the barrier at the top of find_runnable: while the world stops, gives its
/// processor up and parks until the resizer hands it one; while a locked goroutine waits in
/// lockedq, hands its processor to that goroutine's machine and parks (Go's startlockedm).
/// Returns true holding a processor (the barrier was for neither); false holding none, when m
/// must leave its loop as after stopm (shutdown, or idle for k_idle_machine_exit_ns). m's thread
/// on g0, holding a processor.
bool stop_for_resize(scheduler& s, machine* m);
/// Answers set_maxprocs callers still waiting when sysmon has stopped. Shutdown only.
void fail_resize_requests(scheduler& s);
/// Where the runtime reads the CPU limit: the cgroup files under `sysroot` ("" = this machine's)
/// and the CPU count `cpus` (0 = the calling thread's affinity mask). Read at start (runtime.cpp,
/// default_procs) and by sysmon's following (resize.cpp, cpu_procs). Tests point it at a fixture
/// tree (tests/support/fixtures/cgroup) to drive the following; nothing else sets it. Any thread.
struct cpu_limit_source {
  std::string sysroot;
  int cpus = 0;
};
void set_cpu_limit_source(cpu_limit_source src);
/// The quota and CPU count the source gives now: what sys::default_maxprocs takes. Any thread.
sys::cpu_quota read_cpu_limit(int* cpus);
/// The processor lists of the idle set (scheduler.cpp). Require s.lock.
void pidleput(scheduler& s, processor* p);
processor* pidleget(scheduler& s);

/// Fatal runtime error: prints "fatal error: <msg>" and aborts. Any thread.
[[noreturn]] void fatal(const char* msg) noexcept;

// ---- the switch path (see above) ----

// ---- runtime sections: the runaway hand-off's fast path ----
//
// sysmon takes the processor of a goroutine that has run 10 ms without a scheduling point, while
// the goroutine runs on (sysmon.cpp, take_runaway). It may do so only while the goroutine's thread
// is outside the runtime: goroutine-side code that touches its machine's processor (spawn, ready,
// the switch to the scheduler, blocking calls) does so inside a section:
//  1. own_p: in_runtime += 1 (a plain store), a compiler barrier, then load `revoke`. The
//     StoreLoad fence this pair needs is sysmon's: membarrier(PRIVATE_EXPEDITED) runs a full
//     barrier on every thread of the process between sysmon's store of k_revoke_requested and
//     its load of in_runtime, so either sysmon sees the section or the section sees the request.
//  2. A section that sees a request withdraws it (CAS requested -> 0) and keeps its processor; one
//     that sees k_revoke_taken has lost it: own_p_slow clears m->p and returns null, and the
//     caller goes on without a processor (as a plain thread would, or by taking an idle one at a
//     switch, as after a blocking call).
//  3. disown_p: in_runtime -= 1 (release: what the section did to the processor happens-before
//     sysmon's acquire load that finds 0).
// Sections nest (a ready() from a park's unlock callback). A goroutine's switch to the scheduler
// opens a section that the goroutine resumed next closes (resumed(), goroutine_entry()): g0 always
// runs inside one. The fast path costs two plain stores and a load; it never fences.

/// Loses m's processor to sysmon (own_p found a revoke word set): withdraws a request, or on
/// k_revoke_taken clears m->p. Returns m->p afterwards. m's thread only.
processor* own_p_slow(machine* m) noexcept;

/// Opens a runtime section; returns true when m's revoke word is non-zero (a request of sysmon's,
/// or the machine is locked: own_p_slow must look). m's thread only.
inline bool open_section(machine* m) noexcept {
  m->in_runtime.store(m->in_runtime.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the CPU's fence is sysmon's membarrier
  return m->revoke.load(std::memory_order_relaxed) != 0;
}

/// Opens a runtime section; returns the processor m holds, or null (a blocking call, or sysmon
/// took it). m's thread only.
inline processor* own_p(machine* m) noexcept {
  if (open_section(m)) [[unlikely]] return own_p_slow(m);
  return m->p;
}

/// Closes a runtime section. m's thread only.
inline void disown_p(machine* m) noexcept {
  GORT_DCHECK(m->in_runtime.load(std::memory_order_relaxed) > 0);
  // release: pairs with sysmon's acquire load of in_runtime (take_runaway).
  m->in_runtime.store(m->in_runtime.load(std::memory_order_relaxed) - 1,
                      std::memory_order_release);
}

/// Whether a goroutine that never ran would get, on p, a stack whose pages are in use: the top of
/// p's cache, left by a goroutine that ended here, so attaching it takes no page fault (the direct
/// hand-off's test, context_switch.cpp). p's owner.
inline bool next_stack_warm(const processor* p) noexcept {
  return p->stack_count.load(std::memory_order_relaxed) > p->stack_fresh;
}

/// Bytes of a parked goroutine's stack, from its saved context up, that prefetch_successor asks
/// for: the register frame and the runtime's frames it returns through (park, the primitive's
/// wait) on the way back to its own code.
inline constexpr std::uintptr_t k_resume_prefetch_bytes = 1024;

/// Starts loading what the goroutines next in p's run queue touch first as they run: the second
/// one's record, and the stack lines above the first one's saved context (its record having been
/// the second one's the time before). A goroutine that has been parked a while resumes into lines
/// no cache holds, a page no TLB maps (measured in docs/benchmarks.md: a mass wake of parked
/// goroutines); the loads now overlap the goroutine about to run. Only hints: the run queue's
/// thieves may take either meanwhile, and a prefetch neither faults nor commits a page (the lines
/// stop at the 4 KiB block holding the context, short of the slot above). p's owner, on m's
/// thread, as it picks the goroutine to run (prepare_run).
inline void prefetch_successor(const processor* p) noexcept {
  goroutine* first = nullptr;
  goroutine* second = nullptr;
  p->runq.peek2(first, second);
  if (second != nullptr) __builtin_prefetch(second, 1, 3);  // line 0: status, m, ctx
  if (first == nullptr) return;
  // relaxed: a hint (goroutine::ctx); null until the goroutine first runs.
  const auto ctx = reinterpret_cast<std::uintptr_t>(first->ctx.load(std::memory_order_relaxed));
  if (ctx == 0) return;
  constexpr std::uintptr_t line = 64;
  constexpr std::uintptr_t block = 4096;
  const std::uintptr_t from = ctx & ~(line - 1);
  const std::uintptr_t to = std::min(from + k_resume_prefetch_bytes, (ctx | (block - 1)) + 1);
  for (std::uintptr_t a = from; a < to; a += line) {
    __builtin_prefetch(reinterpret_cast<const void*>(a), 1, 3);  // written: the frames return
  }
}

/// Makes g m's current goroutine (schedtick, status, stack attach). `direct`: from the direct
/// hand-off, in the switch away from the goroutine m ran last. m's thread, before switching.
inline void prepare_run(scheduler& s, machine* m, goroutine* g, bool inherit_time,
                        bool direct = false) {
  processor* p = m->p;
  if (!inherit_time) {
    p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  g->status.store(g_status::running, std::memory_order_relaxed);
  g->preempt.store(false, std::memory_order_relaxed);
  g->m = m;
  m->curg = g;
  // release: publishes the record to sysmon and shutdown, which set its preempt flag.
  p->curg.store(g, std::memory_order_release);
  bump(p->switches);
  if (g->stack == nullptr) {
    g->stack = stack_get(s, p);
    make_goroutine_context(g);
  }
  prefetch_successor(p);
  if (instrumenting()) [[unlikely]] on_run(m, p, g, direct);
}

/// The slow end of a blocking call (blocking.cpp, Go's exitsyscall0): g returned from its call and
/// found no processor free. Takes one that became idle meanwhile (true: run g again at once), or
/// queues g globally and leaves m without a processor (false). m's thread on g0.
bool exit_blocking_on_g0(scheduler& s, machine* m, goroutine* g);

/// A park by a goroutine whose processor sysmon took (a runaway): runs the unlock callback; a
/// vetoed park queues g globally. Returns false (m has no processor to run g on). m's thread on g0.
bool park_without_p(scheduler& s, machine* m, goroutine* g);

/// Performs m->after for g, which has left its stack. True: a park was vetoed and g must run
/// again. m's thread, on g0 or on top of the next goroutine's stack.
inline bool finish_request(scheduler& s, machine* m, goroutine* g) {
  processor* p = m->p;
  switch (m->after) {
    case after_switch::park:
      GORT_DCHECK(g->status.load(std::memory_order_relaxed) == g_status::running);
      // release: the status is visible before unlock publishes g to a waker, who CASes it.
      g->status.store(g_status::waiting, std::memory_order_release);
      if (p == nullptr) [[unlikely]] return park_without_p(s, m, g);
      bump(p->parks);
      // Go's park_m: the unlock function may veto the park; g is then runnable again, once a dump
      // that caught it parked has let go of its stack.
      if (m->after_unlock(m->after_arg)) return false;
      claim_vetoed(g);
      return true;
    case after_switch::preempt:
      s.preemptions.fetch_add(1, std::memory_order_relaxed);
      [[fallthrough]];
    case after_switch::yield:
      g->status.store(g_status::runnable, std::memory_order_relaxed);
      if (instrumenting()) [[unlikely]] on_runnable(m, g, false);
      global_put(s, g);
      return false;
    case after_switch::exit:
      goroutine_exited(s, m, g);
      return false;
    case after_switch::exit_blocking:
      return exit_blocking_on_g0(s, m, g);
    case after_switch::locked:
      return finish_locked(s, m, g);
    case after_switch::none:
      break;
  }
  fatal("goroutine switched to the scheduler without a request");
}

/// GORTDEBUG=shuffle=SEED, randomized scheduling for tests (docs/hacking.md): the local queue
/// yields its ring head instead of runnext half the time (here and in take_direct_successor),
/// thieves take random batch sizes (from random victims, as always; steal_work), and every
/// blocking operation yields first one time in eight (enter_op, park.cpp). The seed replaces the
/// OS seed the machines' random states derive from, so with one processor a seed replays the same
/// schedule (timers and sysmon's preemption requests aside). m's thread, holding p.
goroutine* runq_get_shuffled(machine* m, processor* p, bool& inherit_time);

/// The next goroutine of m's processor's local queue (runnext first). m's thread, holding p.
inline goroutine* runq_get(machine* m, processor* p, bool& inherit_time) {
  if (m->shuffle) [[unlikely]] return runq_get_shuffled(m, p, inherit_time);
  return p->runq.get(inherit_time);
}

/// The goroutine to switch to directly when the current one parks or exits, or null when the
/// scheduler loop must decide (timers pending, fairness tick, empty local queue, shutdown).
/// m's thread, holding its P.
inline goroutine* take_direct_successor(scheduler& s, machine* m, bool& inherit_time) {
  if (s.barrier.load(std::memory_order_relaxed)) return nullptr;  // shutdown or a resize
  processor* p = m->p;
  // Leave to find_runnable whatever it must see first: due timers, the 61-tick global check.
  if (p->timers.earliest() != k_never) return nullptr;
  if (p->schedtick.load(std::memory_order_relaxed) % k_global_fairness == 0 && s.runq.size() > 0) {
    return nullptr;
  }
  return runq_get(m, p, inherit_time);
}

}  // namespace gort::sched
