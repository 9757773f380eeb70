// sched/runtime.cpp — starting and stopping a runtime: gort::run, the implicit runtime, shutdown.
//
// Lifecycle (one runtime per process at a time; g_start_lock serializes transitions):
//  1. start: validate options, build processors, make the caller M0 holding P0 (run) or leave
//     every processor idle with one parked machine (implicit start from a plain thread), publish
//     g_sched, start sysmon.
//  2. run: M0 runs the scheduler loop like any machine.
//  3. main returns -> begin_shutdown: no new machines; idle machines are woken and leave; running
//     goroutines are asked to yield and their machines leave at the next scheduling point.
//  4. M0 leaves its loop, waits for every machine to exit, joins the threads, stops sysmon, then
//     tears down: closures of never-started goroutines are destroyed, records, stacks and
//     machines freed. Goroutines that had started and were still alive are abandoned (Go exits
//     without running them); see include/gort/runtime.hpp.
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
#include "gort/runtime.hpp"
#include "gort/stats.hpp"
#include "sched/scheduler.hpp"
#include "sys/clock.hpp"
#include "sys/cpu_quota.hpp"

namespace gort::sched {

void mstart(scheduler* s, machine* m);  // scheduler.cpp
void install_overflow_handler();        // overflow.cpp

namespace {

std::mutex g_start_lock;

constexpr std::size_t k_min_stack = 16 * 1024;
constexpr std::size_t k_max_stack = std::size_t{1} << 30;

// Reports a configuration problem once per runtime start (starts are rare in a service).
void warn(const std::string& msg) { std::fprintf(stderr, "gort: %s\n", msg.c_str()); }

int default_procs(bool report) {
  const sys::maxprocs_env env = sys::parse_maxprocs_env(std::getenv("GORTMAXPROCS"));
  if (env.set && env.valid) return env.value;
  if (env.set && report) warn(env.error + "; using the default");
  const sys::cpu_quota q = sys::read_cpu_quota();
  if (q.state == sys::cpu_quota::status::error && report) {
    warn("ignoring the cgroup CPU limit: " + q.error);
  }
  return sys::default_maxprocs(sys::affinity_cpu_count(), q);
}

runtime_config make_config(const options& o, bool implicit) {
  runtime_config c;
  if (o.maxprocs < 0 || o.maxprocs > sys::k_max_procs) {
    throw config_error("gort::options::maxprocs = " + std::to_string(o.maxprocs) +
                       ": want 0 (automatic) or 1.." + std::to_string(sys::k_max_procs));
  }
  c.maxprocs = o.maxprocs != 0 ? o.maxprocs : default_procs(true);
  if (o.stack_size < k_min_stack || o.stack_size > k_max_stack) {
    throw config_error("gort::options::stack_size = " + std::to_string(o.stack_size) +
                       ": want 16384..1073741824 bytes");
  }
  const std::size_t page = stack_pool::page_size();
  c.slot_size = (o.stack_size + page - 1) / page * page;
  const char* env = std::getenv("GORTDEBUG");
  c.debug = sys::parse_debug_settings(!o.debug.empty() ? o.debug : (env != nullptr ? env : ""));
  for (const std::string& e : c.debug.errors) std::fprintf(stderr, "gort: %s\n", e.c_str());
  c.on_exception = o.on_exception;
  c.implicit = implicit;
  return c;
}

// Creates a machine record for the calling thread (M0). Requires s.lock or no other thread.
machine* adopt_calling_thread(scheduler& s) {
  auto owned = std::make_unique<machine>();
  machine* m = owned.get();
  m->id = s.next_mid.fetch_add(1, std::memory_order_relaxed);
  m->rand_state = 0x9E3779B97F4A7C15ull | 1;
  s.allm.push_back(std::move(owned));
  s.mcount.fetch_add(1, std::memory_order_relaxed);
  return m;
}

void start_sysmon(scheduler& s) {
  s.mcount.fetch_add(1, std::memory_order_relaxed);  // sysmon is a thread; Go counts it too
  s.sysmon_thread = std::thread(sysmon_main, std::ref(s));
}

void stop_sysmon(scheduler& s) {
  s.sysmon_stop.store(true, std::memory_order_release);
  s.sysmon_note.wakeup();
  if (s.sysmon_thread.joinable()) s.sysmon_thread.join();
  s.mcount.fetch_sub(1, std::memory_order_relaxed);
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
  }
  for (std::thread* t : threads) {
    if (t->joinable()) t->join();
  }
}

// Frees everything. No machine runs; called with g_start_lock held.
void teardown(scheduler* s) {
  // No goroutine of this runtime runs again: objects that outlive it forget the waiters on their
  // stacks (detail/wait_list.hpp), before those stacks are freed.
  detail::end_wait_epoch();
  clear_timers(*s);  // before stacks go: sleeping goroutines' timers live on them
  {
    std::lock_guard<std::mutex> l(s->gfree_lock);
    for (auto& slab : s->slabs) {
      for (std::size_t j = 0; j < k_slab_records; ++j) {
        goroutine* g = &slab[j];
        const g_status st = g->status.load(std::memory_order_relaxed);
        if (st == g_status::dead || st == g_status::idle) continue;
        if (g->stack == nullptr && g->destroy_fn != nullptr) {
          g->destroy_fn(g->closure);  // never started: Go would never run it; its closure dies here
        }
        free_heap_closure(g);
        destroy_goroutine_context(g);
      }
    }
  }
  g_sched.store(nullptr, std::memory_order_release);
  delete s;
}

void main_trampoline(void* c) {
  auto* mc = static_cast<std::pair<void (*)(void*), void*>*>(c);
  mc->first(mc->second);
}

void no_destroy(void*) noexcept {}

void shutdown_implicit() {
  std::lock_guard<std::mutex> start(g_start_lock);
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (s == nullptr || !s->cfg.implicit) return;
  if (current_machine() != nullptr) return;  // exit() called from a goroutine: just leave
  begin_shutdown(*s);
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
  teardown(s);
}

}  // namespace

scheduler& ensure_runtime_slow() {
  std::lock_guard<std::mutex> start(g_start_lock);
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (s != nullptr) return *s;
  s = new scheduler(make_config(options{}, true));
  {
    std::lock_guard<std::mutex> l(s->lock);
    for (int i = s->gomaxprocs - 1; i >= 0; --i) {
      processor* p = s->allp[static_cast<std::size_t>(i)].get();
      p->status.store(p_status::idle, std::memory_order_relaxed);
      p->idle_link = s->pidle;
      s->pidle = p;
    }
    s->npidle.store(s->gomaxprocs, std::memory_order_seq_cst);
  }
  install_overflow_handler();
  g_sched.store(s, std::memory_order_release);
  start_sysmon(*s);
  static std::once_flag registered;
  std::call_once(registered, [] { std::atexit(shutdown_implicit); });
  // One machine up front, so a failure to create threads is reported to the first spawner
  // instead of leaving its goroutine queued forever.
  if (!startm(*s, nullptr, false)) {
    throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                            "gort: cannot start the runtime's first thread");
  }
  return *s;
}

}  // namespace gort::sched

namespace gort::detail {

using namespace gort::sched;

scheduler& ensure_runtime() {
  scheduler* s = g_sched.load(std::memory_order_acquire);
  return s != nullptr ? *s : ensure_runtime_slow();
}

void run_main(void (*fn)(void*), void* arg, const options& opts) {
  std::unique_lock<std::mutex> start(g_start_lock);
  if (current_machine() != nullptr) {
    throw config_error("gort::run: called from a goroutine; the runtime is already running");
  }
  if (g_sched.load(std::memory_order_acquire) != nullptr) {
    throw config_error(
        "gort::run: a runtime is already running (another run(), or one started implicitly by "
        "gort::go from a plain thread)");
  }
  auto* s = new scheduler(make_config(opts, false));
  machine* m0 = adopt_calling_thread(*s);
  s->m0 = m0;
  {
    std::lock_guard<std::mutex> l(s->lock);
    for (int i = s->gomaxprocs - 1; i >= 1; --i) {
      processor* p = s->allp[static_cast<std::size_t>(i)].get();
      p->status.store(p_status::idle, std::memory_order_relaxed);
      p->idle_link = s->pidle;
      s->pidle = p;
    }
    s->npidle.store(s->gomaxprocs - 1, std::memory_order_seq_cst);
  }
  processor* p0 = s->allp[0].get();
  m0->nextp = p0;

  // Goroutine 1.
  std::pair<void (*)(void*), void*> main_closure{fn, arg};
  goroutine* g = gfget(*s, nullptr);
  g->id = 1;
  s->goid_gen.store(2, std::memory_order_relaxed);
  g->flags |= goroutine::k_main;
  g->closure = &main_closure;  // lives on this frame, which outlives the runtime
  g->run_fn = &main_trampoline;
  g->destroy_fn = &no_destroy;
  g->created_at = gort::source_location::current();
  g->status.store(g_status::runnable, std::memory_order_relaxed);
  s->main_g = g;
  bump(p0->spawned);
  // Into the ring, not runnext: main starts a fresh time slice (schedtick 1). Go's main.main
  // also runs with schedtick > 0 (runtime.main schedules helpers first); at tick 0 the 61-tick
  // fairness check would pick the global queue before main's first local goroutine.
  p0->runq.put(g, false, [](goroutine* const*, std::size_t) {});  // empty ring: no overflow

  install_overflow_handler();
  g_sched.store(s, std::memory_order_release);
  start_sysmon(*s);
  start.unlock();

  set_current_machine(m0);
  schedule(*s, m0);  // returns once main has returned and shutdown began
  set_current_machine(nullptr);

  wait_for_machines(*s, -1);
  join_machines(*s);
  stop_sysmon(*s);
  std::exception_ptr main_error = s->main_exception;
  start.lock();
  teardown(s);
  start.unlock();
  if (main_error) std::rethrow_exception(main_error);
}

}  // namespace gort::detail

namespace gort {

using namespace gort::sched;

int maxprocs() noexcept {
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (s != nullptr) return s->gomaxprocs;
  try {
    return default_procs(false);
  } catch (...) {
    return 1;
  }
}

runtime_stats stats() {
  runtime_stats r;
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (s == nullptr) return r;
  r.gomaxprocs = s->gomaxprocs;
  r.idleprocs = s->npidle.load(std::memory_order_relaxed);
  r.threads = s->mcount.load(std::memory_order_relaxed);
  r.spinningthreads = s->nmspinning.load(std::memory_order_relaxed);
  r.idlethreads = s->nmidle.load(std::memory_order_relaxed);
  r.runqueue = s->runq.size();
  r.goroutines = num_goroutines();
  r.spawned = s->thread_spawned.load(std::memory_order_relaxed);
  std::uint64_t cached_stacks = 0;
  for (auto& p : s->allp) {
    r.local_runq.push_back(p->runq.size());
    r.spawned += p->spawned.load(std::memory_order_relaxed);
    r.parks += p->parks.load(std::memory_order_relaxed);
    r.context_switches += p->switches.load(std::memory_order_relaxed);
    r.steals += p->steals.load(std::memory_order_relaxed);
    r.stolen += p->stolen.load(std::memory_order_relaxed);
    cached_stacks += static_cast<std::uint64_t>(p->stack_count.load(std::memory_order_relaxed));
  }
  r.preemptions = s->preemptions.load(std::memory_order_relaxed);
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
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (s != nullptr) s->stacks.scavenge(sys::nanotime(), 0);
}

}  // namespace gort
