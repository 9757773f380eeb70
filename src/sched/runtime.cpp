// sched/runtime.cpp — starting and stopping a runtime: gort::run, the implicit runtime, shutdown,
// and the gate that keeps plain threads off a runtime being freed.
//
// Lifecycle (one runtime per process at a time; g_start_lock serializes transitions):
//  1. start: validate options, build processors, promise main's stack, make the caller M0 holding
//     P0 (run) or leave every processor idle with one parked machine (implicit start from a plain
//     thread), publish g_sched, start sysmon (and, implicitly, the first machine), then open the
//     gate. A thread that cannot be created undoes every step (nothing stays registered) and the
//     error names the thread.
//  2. run: M0 runs the scheduler loop like any machine.
//  3. main returns -> begin_shutdown: the gate closes (plain threads are refused from now on), no
//     new machines; idle machines are woken and leave; running goroutines are asked to yield and
//     their machines leave at the next scheduling point.
//  4. M0 leaves its loop, waits for every machine to exit, joins the threads, stops sysmon, then
//     retires the runtime (retire): waits for plain threads still inside the gate, detaches every
//     timer, waits again for late timer stops, destroys the closures of never-started goroutines,
//     returns the goroutine records to the type-stable slab cache and frees the rest. Goroutines
//     that had started and were still alive are abandoned (Go exits without running them); see
//     include/gort/runtime.hpp.
//
// The gate (Go has no equivalent: its process ends with main). One 32-bit word:
//   bit 31 closed   — no runtime accepts plain threads (none running, or shutting down)
//   bit 30 cleared  — the retiring runtime's timers are detached from their nodes
//   bits 0-29       — plain threads inside
// Protocol:
//  1. enter (gate_enter): if a relaxed load shows `closed`, refuse without touching the count (so
//     that once the gate is closed only threads that saw it open can still enter: the drain below
//     ends). Else fetch_add(1, acquire); if that returned `closed`, leave and refuse.
//  2. leave: fetch_sub(1, release); the thread that brings the count to 0 of a closed gate wakes
//     the drainer (futex on the word).
//  3. close (begin_shutdown): fetch_or(closed). drain: wait (acquire loads) until the count is 0.
//     One location, so its modification order decides: an enter before the close is counted by
//     the drain, an enter after it sees `closed`. Release/acquire on the count orders everything
//     the plain thread did inside before the frees that follow the drain.
//  4. open (start, under g_start_lock, after g_sched is published): fetch_and(count bits, release);
//     an entering thread's acquire RMW reads from this release sequence and sees g_sched.
//  5. timer stops (gate_enter_always) enter whatever `closed` says, unless `cleared` is set:
//     retire sets `cleared` with a release RMW after detaching every timer, so a stop that sees it
//     (acquire) also sees its node's heap pointer cleared and touches no heap; a stop that entered
//     before it is waited for by the second drain.
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "gort/detail/wait_list.hpp"
#include "gort/error.hpp"
#include "gort/go.hpp"
#include "gort/log.hpp"
#include "gort/runtime.hpp"
#include "gort/detail/pool_core.hpp"
#include "gort/stats.hpp"
#include "sched/scheduler.hpp"
#include "sys/clock.hpp"
#include "sys/cpu_quota.hpp"
#include "sys/futex.hpp"
#include "sys/random.hpp"
#include "trace/dump.hpp"

namespace gort::sched {

void install_overflow_handler();           // overflow.cpp
void release_record_slab(goroutine* base) noexcept;  // spawn.cpp

std::atomic<bool> g_forked{false};

namespace {

std::mutex g_start_lock;
bool g_run_used = false;        // guarded by g_start_lock: gort::run was called in this process
bool g_exit_shutdown = false;   // guarded by g_start_lock: the implicit runtime's exit handler ran

constexpr std::uint32_t k_gate_closed = 1u << 31;
constexpr std::uint32_t k_gate_cleared = 1u << 30;
constexpr std::uint32_t k_gate_count = k_gate_cleared - 1;

std::atomic<std::uint32_t> g_gate{k_gate_closed};

// Start paths, under g_start_lock, after g_sched is published (protocol step 4).
void gate_open() noexcept {
  // release: publishes g_sched (stored before) to every thread whose enter reads from this RMW.
  g_gate.fetch_and(k_gate_count, std::memory_order_release);
}

// acq_rel: the gate is one location, so enters and the drain order themselves by its modification
// order (protocol step 3); acquire/release here only orders this thread's own shutdown steps.
void gate_close() noexcept { g_gate.fetch_or(k_gate_closed, std::memory_order_acq_rel); }

// Waits until no plain thread is inside. The gate must be closed. Any thread outside the gate.
void gate_drain() noexcept {
  for (;;) {
    // acquire: pairs with gate_leave's release; what the leaver did inside happens-before us.
    const std::uint32_t v = g_gate.load(std::memory_order_acquire);
    if ((v & k_gate_count) == 0) return;
    sys::futex_wait(g_gate, v);
  }
}

// retire only, after clear_timers (protocol step 5).
void gate_mark_cleared() noexcept {
  // release: pairs with gate_enter_always's acquire load (protocol step 5).
  g_gate.fetch_or(k_gate_cleared, std::memory_order_release);
}

// ---- fork ----

void atfork_prepare() { g_start_lock.lock(); }
void atfork_parent() { g_start_lock.unlock(); }
void atfork_child() {
  g_start_lock.unlock();  // the forking thread held it; it is the child's only thread
  // relaxed throughout: the child has one thread until it creates more, after these stores.
  if (g_sched.load(std::memory_order_relaxed) != nullptr) {
    g_forked.store(true, std::memory_order_relaxed);
    // No plain thread of the child may enter: the count copied from the parent counts threads
    // the child does not have.
    g_gate.store(k_gate_closed, std::memory_order_relaxed);
  }
}

void register_atfork_once() {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(atfork_prepare, atfork_parent, atfork_child); });
}

constexpr const char* k_fork_message =
    "fork() without exec() in a process whose gort runtime was running: the child has none of the "
    "runtime's threads (only exec is supported after fork, as in Go)";

// ---- configuration ----

constexpr std::size_t k_min_stack = 16 * 1024;
constexpr std::size_t k_max_stack = std::size_t{1} << 30;

// Reports a configuration problem once per runtime start (starts are rare in a service).
void warn(const std::string& msg) { gort::log(msg); }

int default_procs(bool report, bool* from_env = nullptr) {
  const sys::maxprocs_env env = sys::parse_maxprocs_env(std::getenv("GORTMAXPROCS"));
  if (from_env != nullptr) *from_env = env.set && env.valid;
  if (env.set && env.valid) return env.value;
  if (env.set && report) warn(env.error + "; using the default");
  int cpus = 0;
  const sys::cpu_quota q = read_cpu_limit(&cpus);
  if (q.state == sys::cpu_quota::status::error && report) {
    warn("ignoring the cgroup CPU limit: " + q.error);
  }
  return sys::default_maxprocs(cpus, q);
}

runtime_config make_config(const options& o, bool implicit) {
  runtime_config c;
  if (o.maxprocs < 0 || o.maxprocs > sys::k_max_procs) {
    throw config_error("gort::options::maxprocs = " + std::to_string(o.maxprocs) +
                       ": want 0 (automatic) or 1.." + std::to_string(sys::k_max_procs));
  }
  bool from_env = false;
  c.maxprocs = o.maxprocs != 0 ? o.maxprocs : default_procs(true, &from_env);
  c.maxprocs_explicit = o.maxprocs != 0 || from_env;
  if (o.max_threads < 2) {
    throw config_error("gort::options::max_threads = " + std::to_string(o.max_threads) +
                       ": want at least 2 (a machine and sysmon)");
  }
  c.max_threads = o.max_threads;
  if (o.stack_size < k_min_stack || o.stack_size > k_max_stack) {
    throw config_error("gort::options::stack_size = " + std::to_string(o.stack_size) +
                       ": want 16384..1073741824 bytes");
  }
  const std::size_t page = stack_pool::page_size();
  c.slot_size = (o.stack_size + page - 1) / page * page;
  const char* env = std::getenv("GORTDEBUG");
  c.debug = sys::parse_debug_settings(!o.debug.empty() ? o.debug : (env != nullptr ? env : ""));
  for (const std::string& e : c.debug.errors) warn(e);
  c.on_exception = o.on_exception;
  c.implicit = implicit;
  c.sigquit_dump = c.debug.sigquit >= 0 ? c.debug.sigquit == 1 : o.sigquit_dump;
  c.crash_report = o.crash_report;
  // The implicit runtime belongs to plain threads, which may always call in later.
  c.detect_deadlock = !implicit && (c.debug.deadlock >= 0 ? c.debug.deadlock == 1 : o.detect_deadlock);
  return c;
}

// Creates a machine record for the calling thread (M0). Requires s.lock or no other thread.
machine* adopt_calling_thread(scheduler& s) {
  auto owned = std::make_unique<machine>();
  machine* m = owned.get();
  m->id = s.next_mid.fetch_add(1, std::memory_order_relaxed);
  m->rand_state = sys::xorshift_state(s.seed, static_cast<std::uint64_t>(m->id));
  m->shuffle = s.cfg.debug.shuffle != 0;
  s.allm.push_back(std::move(owned));
  s.mcount.fetch_add(1, std::memory_order_relaxed);
  return m;
}

// Throws std::system_error naming the thread when it cannot be created. Start paths only.
void start_sysmon(scheduler& s, const char* who) {
  try {
    s.sysmon_thread = std::thread(sysmon_main, std::ref(s));
  } catch (const std::system_error& e) {
    throw std::system_error(e.code(), std::string(who) + ": cannot start the runtime's sysmon thread");
  }
  s.mcount.fetch_add(1, std::memory_order_relaxed);  // sysmon is a thread; Go counts it too
}

void stop_sysmon(scheduler& s) {
  if (!s.sysmon_thread.joinable()) return;
  s.sysmon_stop.store(true, std::memory_order_release);
  s.sysmon_note.wakeup();
  s.sysmon_thread.join();
  s.mcount.fetch_sub(1, std::memory_order_relaxed);
  fail_resize_requests(s);  // set_maxprocs callers still waiting get the count as it stands
}

// Waits until every machine left its loop; false on timeout (timeout_ns < 0: no limit).
bool wait_for_machines(scheduler& s, std::int64_t timeout_ns) {
  const std::int64_t deadline = timeout_ns < 0 ? INT64_MAX : sys::nanotime() + timeout_ns;
  for (;;) {
    s.exit_note.clear();
    std::size_t total;
    {
      std::lock_guard<std::mutex> l(s.lock);
      total = s.allm.size();
    }
    // acquire: pairs with each machine's release increment on exit.
    if (static_cast<std::size_t>(s.mexited.load(std::memory_order_acquire)) >= total) return true;
    check_not_forked();  // a fork child would wait for threads it does not have
    const std::int64_t left = deadline - sys::nanotime();
    if (left <= 0) return false;
    s.exit_note.sleep_for(std::min<std::int64_t>(left, 100'000'000), &sys::nanotime);
  }
}

void join_machines(scheduler& s) {
  std::vector<std::thread*> threads;
  {
    std::lock_guard<std::mutex> l(s.lock);  // pairs with startm storing the thread under it
    for (auto& m : s.allm) threads.push_back(&m->thread);
    for (auto& m : s.zombies) threads.push_back(&m->thread);  // left for idleness, not joined
  }
  for (std::thread* t : threads) {
    if (t->joinable()) t->join();
  }
}

// Frees a runtime none of whose threads runs any more (or never ran): protocol steps in the file
// comment. Called without g_start_lock; takes it to unpublish.
void retire(scheduler* s) {
  instrument_end(*s);  // writes a trace still running: every writer has stopped
  gate_close();  // begin_shutdown closed it already, unless the start failed
  gate_drain();
  // No goroutine of this runtime runs again: objects that outlive it forget the waiters on their
  // stacks (detail/wait_list.hpp), before those stacks are freed.
  detail::end_wait_epoch();
  capture_abandoned(*s);  // gort::testing's leak reports, while every stack is still there
  clear_timers(*s);  // before stacks go: sleeping goroutines' timers live on them
  poll_retire(*s);   // likewise the I/O waiters' nodes; plain threads waiting on I/O look again
  gate_mark_cleared();
  gate_drain();
  // Only this thread touches the records now: no machine runs, the gate is closed and empty.
  for (goroutine* slab : s->slabs) {
    for (std::size_t j = 0; j < k_slab_records; ++j) {
      goroutine* g = &slab[j];
      const g_status st = g->status.load(std::memory_order_relaxed);
      if (st == g_status::dead || st == g_status::idle) continue;
      if (g->stack == nullptr && g->destroy_fn != nullptr) {
        g->destroy_fn(g->closure);  // never started: Go would never run it; its closure dies here
      }
      free_heap_closure(g);
      release_labels(g->labels);
      g->labels = nullptr;
      abandon_locals(g);
      destroy_goroutine_context(g);
    }
  }
  std::lock_guard<std::mutex> start(g_start_lock);
  remove_sigquit(*s);
  for (goroutine* slab : s->slabs) release_record_slab(slab);
  s->slabs.clear();
  g_sched.store(nullptr, std::memory_order_release);
  delete s;
}

void main_trampoline(void* c) {
  auto* mc = static_cast<std::pair<void (*)(void*), void*>*>(c);
  mc->first(mc->second);
}

void no_destroy(void*) noexcept {}

void shutdown_implicit() {
  scheduler* s = nullptr;
  {
    std::lock_guard<std::mutex> start(g_start_lock);
    g_exit_shutdown = true;  // no implicit runtime may start while the process exits
    s = g_sched.load(std::memory_order_acquire);
    if (s == nullptr || !s->cfg.implicit || g_forked.load(std::memory_order_relaxed)) return;
    if (current_machine() != nullptr) return;  // exit() called from a goroutine: just leave
    begin_shutdown(*s);
  }
  if (!wait_for_machines(*s, 1'000'000'000)) {
    // A goroutine is stuck outside the scheduler (a blocking system call, an endless loop):
    // the process is exiting anyway, so leave the threads to it rather than hang.
    std::lock_guard<std::mutex> l(s->lock);
    for (auto& m : s->allm) {
      if (m->thread.joinable()) m->thread.detach();
    }
    return;
  }
  join_machines(*s);
  stop_sysmon(*s);
  retire(s);
}

// Starts the implicit runtime if none runs and one may start; returns when one is open (perhaps
// started by another thread meanwhile). Throws otherwise (see gate_enter_or_start). Plain threads
// outside the gate only (it takes g_start_lock).
void start_implicit(const char* what) {
  std::unique_lock<std::mutex> start(g_start_lock);
  if (g_forked.load(std::memory_order_relaxed)) {
    throw shutdown_error(std::string(what) + ": " + k_fork_message);
  }
  if (g_sched.load(std::memory_order_acquire) != nullptr) {
    // Under the lock a published runtime is either open (started meanwhile: enter again) or
    // shutting down.
    if ((g_gate.load(std::memory_order_relaxed) & k_gate_closed) == 0) return;
    throw shutdown_error(std::string(what) +
                         ": the runtime is shutting down (gort::run's main has returned)");
  }
  if (g_run_used) {
    throw shutdown_error(std::string(what) +
                         ": no runtime is running (gort::run has returned; an implicit runtime "
                         "starts only in a process that never called gort::run)");
  }
  if (g_exit_shutdown) {
    throw shutdown_error(std::string(what) + ": the process is exiting");
  }
  auto* s = new scheduler(make_config(options{}, true));
  {
    std::lock_guard<std::mutex> l(s->lock);
    for (int i = s->cfg.maxprocs - 1; i >= 0; --i) {
      processor* p = s->allp[static_cast<std::size_t>(i)].get();
      p->status.store(p_status::idle, std::memory_order_relaxed);
      p->idle_link = s->pidle;
      s->pidle = p;
    }
    s->npidle.store(s->cfg.maxprocs, std::memory_order_seq_cst);
  }
  install_overflow_handler();
  register_atfork_once();
  g_coarse_now.store(sys::nanotime(), std::memory_order_relaxed);  // waiting_since stamps
  g_sched.store(s, std::memory_order_release);
  install_sigquit(*s);  // GORTDEBUG=sigquit=1 (removed by retire)
  instrument_begin(*s);  // GORTDEBUG=trace,schedlatency: before any machine runs
  try {
    start_sysmon(*s, what);
  } catch (...) {
    start.unlock();
    retire(s);
    throw;
  }
  // One machine up front, so a failure to create threads is reported to the first spawner
  // instead of leaving its goroutine queued forever.
  std::error_code err = std::make_error_code(std::errc::resource_unavailable_try_again);
  if (!startm(*s, nullptr, false, &err)) {
    begin_shutdown(*s);
    start.unlock();
    stop_sysmon(*s);
    wait_for_machines(*s, -1);
    join_machines(*s);
    retire(s);
    throw std::system_error(err, std::string(what) + ": cannot start the runtime's first machine thread");
  }
  static std::once_flag registered;
  std::call_once(registered, [] { std::atexit(shutdown_implicit); });
  gate_open();
}

}  // namespace

[[noreturn]] void fatal_forked() noexcept { fatal(k_fork_message); }

scheduler* gate_enter() noexcept {
  if ((g_gate.load(std::memory_order_relaxed) & k_gate_closed) != 0) return nullptr;
  // acquire: pairs with gate_open's release (g_sched is published).
  if ((g_gate.fetch_add(1, std::memory_order_acquire) & k_gate_closed) != 0) {
    gate_leave();
    return nullptr;
  }
  return g_sched.load(std::memory_order_relaxed);
}

bool gate_enter_always() noexcept {
  // acquire: pairs with gate_mark_cleared's release (protocol step 5).
  if ((g_gate.load(std::memory_order_acquire) & k_gate_cleared) != 0) return false;
  g_gate.fetch_add(1, std::memory_order_acquire);
  return true;
}

void gate_leave() noexcept {
  // release: pairs with gate_drain's acquire load.
  const std::uint32_t v = g_gate.fetch_sub(1, std::memory_order_release);
  if ((v & k_gate_closed) != 0 && (v & k_gate_count) == 1) sys::futex_wake(g_gate, 1);
}

scheduler& gate_enter_or_start(const char* what) {
  for (;;) {
    if (scheduler* s = gate_enter()) return *s;
    start_implicit(what);
  }
}

runtime_access::runtime_access() noexcept {
  if (current_machine() != nullptr) {
    s_ = g_sched.load(std::memory_order_acquire);  // pairs with the start's release store
  } else {
    s_ = gate_enter();
    entered_ = s_ != nullptr;
  }
}

runtime_access::~runtime_access() {
  if (entered_) gate_leave();
}

void begin_shutdown(scheduler& s) {
  gate_close();  // plain threads are refused from here on (protocol step 3)
  machine* idle = nullptr;
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (s.stopping) return;
    s.stopping = true;
    s.shutting_down.store(true, std::memory_order_release);
    s.barrier.store(true, std::memory_order_release);
    idle = s.midle;
    s.midle = nullptr;
    s.nmidle.store(0, std::memory_order_relaxed);
    // Locked machines asleep (locked.cpp, step 7) are on no list: chain them like the idle ones
    // (their idle_link is free). They see `stopping` under the lock and leave.
    for (auto& m : s.allm) {
      if (m->locked_sleeping) {
        m->idle_link = idle;
        idle = m.get();
      }
    }
  }
  while (idle != nullptr) {
    machine* next = idle->idle_link;
    idle->idle_link = nullptr;
    idle->park.wakeup();
    idle = next;
  }
  // Unconditionally: a machine that is about to block in epoll_wait may not see shutting_down
  // yet, and we may not see it as the poller yet; a pending break ends its wait whenever it blocks.
  poll_break(s);
  // Goroutines still executing elsewhere give up their machines at the next preemption point.
  for (auto& p : s.allp) {
    if (goroutine* g = p->curg.load(std::memory_order_acquire)) {  // pairs with execute()
      g->preempt.store(true, std::memory_order_relaxed);
    }
  }
}

}  // namespace gort::sched

namespace gort::detail {

using namespace gort::sched;

void run_main(void (*fn)(void*), void* arg, const options& opts) {
  std::unique_lock<std::mutex> start(g_start_lock);
  if (g_forked.load(std::memory_order_relaxed)) {
    throw config_error(std::string("gort::run: ") + k_fork_message);
  }
  if (current_machine() != nullptr) {
    throw config_error("gort::run: called from a goroutine; the runtime is already running");
  }
  if (g_sched.load(std::memory_order_acquire) != nullptr) {
    throw config_error(
        "gort::run: a runtime is already running: another gort::run, or the implicit runtime, "
        "which starts when gort::go, a timer, a context deadline or a gort::pool is first used "
        "from a plain thread before any gort::run (it lives until the process exits; call "
        "gort::run first)");
  }
  g_run_used = true;
  auto* s = new scheduler(make_config(opts, false));
  if (s->stacks.promise(1) == 0) {  // main's stack
    delete s;
    throw std::bad_alloc();
  }
  machine* m0 = adopt_calling_thread(*s);
  s->m0 = m0;
  {
    std::lock_guard<std::mutex> l(s->lock);
    for (int i = s->cfg.maxprocs - 1; i >= 1; --i) {
      processor* p = s->allp[static_cast<std::size_t>(i)].get();
      p->status.store(p_status::idle, std::memory_order_relaxed);
      p->idle_link = s->pidle;
      s->pidle = p;
    }
    s->npidle.store(s->cfg.maxprocs - 1, std::memory_order_seq_cst);
  }
  processor* p0 = s->allp[0].get();
  m0->nextp = p0;

  // Goroutine 1.
  std::pair<void (*)(void*), void*> main_closure{fn, arg};
  goroutine* g = nullptr;
  try {
    g = gfget(*s, nullptr);
  } catch (...) {
    delete s;
    throw;
  }
  g->id = 1;
  s->goid_gen.store(2, std::memory_order_relaxed);
  g->flags |= goroutine::k_main;
  g->closure = &main_closure;  // lives on this frame, which outlives the runtime
  g->run_fn = &main_trampoline;
  g->destroy_fn = &no_destroy;
  g->created_at = gort::source_location::current();
  g->created_pc = nullptr;  // main: no "created by" line in dumps, as in Go
  g->parent_id = 0;
  g->labels = nullptr;
  g->locals = nullptr;
  g->status.store(g_status::runnable, std::memory_order_relaxed);
  s->main_g = g;
  bump(p0->spawned);
  // Into the ring, not runnext: main starts a fresh time slice (schedtick 1). Go's main.main
  // also runs with schedtick > 0 (runtime.main schedules helpers first); at tick 0 the 61-tick
  // fairness check would pick the global queue before main's first local goroutine.
  p0->runq.put(g, false, [](goroutine* const*, std::size_t) {});  // empty ring: no overflow

  install_overflow_handler();
  register_atfork_once();
  g_coarse_now.store(sys::nanotime(), std::memory_order_relaxed);  // waiting_since stamps
  g_sched.store(s, std::memory_order_release);
  install_sigquit(*s);  // options::sigquit_dump (removed by retire)
  instrument_begin(*s);  // GORTDEBUG=trace,schedlatency: before any machine runs
  try {
    start_sysmon(*s, "gort::run");
  } catch (...) {
    start.unlock();
    retire(s);  // main never ran: its closure is ours (no_destroy)
    throw;
  }
  gate_open();
  start.unlock();

  set_current_machine(m0);
  schedule(*s, m0);  // returns once main has returned and shutdown began
  set_current_machine(nullptr);

  wait_for_machines(*s, -1);
  join_machines(*s);
  stop_sysmon(*s);
  std::exception_ptr main_error = s->main_exception;
  retire(s);
  if (main_error) std::rethrow_exception(main_error);
}

}  // namespace gort::detail

namespace gort {

using namespace gort::sched;

int maxprocs() noexcept {
  {
    runtime_access rt;
    if (scheduler* s = rt.get()) return s->gomaxprocs.load(std::memory_order_acquire);
  }
  try {
    return default_procs(false);
  } catch (...) {
    return 1;
  }
}

runtime_stats stats() {
  runtime_stats r;
  runtime_access rt;
  scheduler* s = rt.get();
  if (s == nullptr) return r;
  r.gomaxprocs = s->gomaxprocs.load(std::memory_order_acquire);
  r.idleprocs = s->npidle.load(std::memory_order_relaxed);
  r.threads = s->mcount.load(std::memory_order_relaxed);
  r.spinningthreads = s->nmspinning.load(std::memory_order_relaxed);
  r.idlethreads = s->nmidle.load(std::memory_order_relaxed);
  r.locked_threads = s->nlocked.load(std::memory_order_relaxed);
  r.runqueue = s->runq.size();
  r.goroutines = num_goroutines();
  r.spawned = s->thread_spawned.load(std::memory_order_relaxed);
  std::uint64_t cached_stacks = 0;
  for (auto& p : s->allp) {
    if (p->id < r.gomaxprocs) r.local_runq.push_back(p->runq.size());
    r.spawned += p->spawned.load(std::memory_order_relaxed);
    r.parks += p->parks.load(std::memory_order_relaxed);
    r.context_switches += p->switches.load(std::memory_order_relaxed);
    r.steals += p->steals.load(std::memory_order_relaxed);
    r.stolen += p->stolen.load(std::memory_order_relaxed);
    cached_stacks += static_cast<std::uint64_t>(p->stack_count.load(std::memory_order_relaxed));
  }
  r.parks += s->parks_without_p.load(std::memory_order_relaxed);
  r.preemptions = s->preemptions.load(std::memory_order_relaxed);
  r.blocking = s->nblocking.load(std::memory_order_relaxed);
  for (auto& p : s->allp) r.blocking_calls += p->blocking_calls.load(std::memory_order_relaxed);
  r.retakes = s->retakes.load(std::memory_order_relaxed);
  r.handoffs = s->handoffs.load(std::memory_order_relaxed);
  r.runaway_handoffs = s->runaway_handoffs.load(std::memory_order_relaxed);
  for (auto& p : s->allp) r.timers += static_cast<std::int64_t>(p->timers.size());
  r.io_waiters = g_io_waiters.load(std::memory_order_relaxed);
  r.polls = s->poll.polls.load(std::memory_order_relaxed);
  r.blocking_polls = s->poll.blocking_polls.load(std::memory_order_relaxed);
  if ((g_instrument.load(std::memory_order_relaxed) & k_instr_latency) != 0) {
    static_assert(k_sched_latency_buckets == k_latency_buckets);
    r.sched_latency_counts.assign(k_latency_buckets, 0);
    for (auto& p : s->allp) {
      for (int i = 0; i < k_latency_buckets; ++i) {
        r.sched_latency_counts[static_cast<std::size_t>(i)] +=
            p->latency_counts[i].load(std::memory_order_relaxed);
      }
      r.sched_latency_sum_ns += p->latency_sum_ns.load(std::memory_order_relaxed);
    }
  }
  const detail::pool_totals pt = detail::pool_totals_now();
  r.pools = pt.pools;
  r.pool_workers = pt.sum.running;
  r.pool_busy = pt.sum.running - pt.sum.idle;
  r.pool_waiting = pt.sum.waiting;
  r.pool_submitted = pt.sum.submitted;
  r.pool_completed = pt.sum.completed;
  r.pool_failed = pt.sum.failed;
  r.pool_rejected = pt.sum.rejected;
  const stack_pool::counters c = s->stacks.snapshot();
  r.stack_size = s->stacks.slot_size();
  r.stacks_reserved = c.reserved;
  r.stacks_guarded = c.guarded;
  r.stack_bytes_released = c.released_bytes;
  const std::uint64_t idle = c.pooled + cached_stacks;
  r.stacks_in_use = c.reserved > idle ? c.reserved - idle : 0;
  return r;
}

void free_os_memory() noexcept {
  runtime_access rt;
  if (scheduler* s = rt.get()) s->stacks.scavenge(sys::nanotime(), 0);
}

}  // namespace gort
