// sched/scheduler.cpp — find-runnable, the spinning protocol, machine start/stop, execute.
//
// Follows Go 1.19's proc.go (schedule, findrunnable, stealWork, wakep, startm, stopm,
// resetspinning, globrunqget), minus what gort does not have (GC); timers are in
// src/time/timers.cpp and the poller in src/netpoll/, and slot in where Go checks them. The numbered steps in find_runnable are
// Go's. Who may call each function is stated at its declaration in scheduler.hpp or above its
// definition here.
#include "sched/scheduler.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "gort/detail/dcheck.hpp"
#include "gort/log.hpp"
#include "sched/sanitizer.hpp"
#include "sys/clock.hpp"
#include "sys/random.hpp"
#include "trace/dump.hpp"

namespace gort::sched {

std::atomic<scheduler*> g_sched{nullptr};
std::atomic<std::int64_t> g_coarse_now{0};

namespace {
// initial-exec: the library is built position-independent, and the default (global-dynamic) model
// would call __tls_get_addr on every access. gort is linked into executables or into shared
// libraries loaded at startup, which is what initial-exec requires.
[[gnu::tls_model("initial-exec")]] thread_local machine* tls_machine = nullptr;
}  // namespace

// The asm statements make each call an opaque side effect, so no caller may reuse a value read
// before a switch (after which the goroutine may be on another thread).
[[gnu::noinline]] machine* current_machine() noexcept {
  asm volatile("" ::: "memory");
  return tls_machine;
}

[[gnu::noinline]] void set_current_machine(machine* m) noexcept {
  tls_machine = m;
  asm volatile("" ::: "memory");
}

void fatal(const char* msg) noexcept {
  std::fprintf(stderr, "fatal error: %s\n", msg);
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (s != nullptr && s->cfg.debug.shuffle != 0) {
    std::fprintf(stderr, "(scheduled with GORTDEBUG=shuffle=%llu: the same seed replays it)\n",
                 static_cast<unsigned long long>(s->cfg.debug.shuffle));
  }
  std::fflush(stderr);
  std::abort();
}

namespace {
// relaxed: only uniqueness matters, which the RMW gives.
std::atomic<std::uint64_t> g_runtime_serial{0};
}  // namespace

scheduler::scheduler(runtime_config c)
    : cfg(std::move(c)),
      gomaxprocs(cfg.maxprocs),
      serial(g_runtime_serial.fetch_add(1, std::memory_order_relaxed) + 1),
      // GORTDEBUG=shuffle: the seed replaces the OS's, so every machine's random stream (steal
      // order, select's choice, the shuffle's own draws) is the same in every run.
      seed(cfg.debug.shuffle != 0 ? cfg.debug.shuffle : sys::random_seed()),
      stack_credit_batch(static_cast<int>(std::clamp<std::size_t>(
          k_stack_credit_bytes / cfg.slot_size, 1, std::size_t{k_stack_credit_batch_max}))),
      stack_credit_max(2 * stack_credit_batch),
      stacks(cfg.slot_size, cfg.debug.stackguard == 0   ? stack_pool::guard_policy::none
                            : cfg.debug.stackguard == 2 ? stack_pool::guard_policy::mprotect_only
                                                        : stack_pool::guard_policy::automatic) {
  for (int i = 0; i < cfg.maxprocs; ++i) {
    auto p = std::make_unique<processor>();
    p->id = i;
    allp.add(std::move(p));
  }
  order.reset(static_cast<std::uint32_t>(cfg.maxprocs));
  maxprocs_explicit.store(cfg.maxprocs_explicit, std::memory_order_relaxed);
  poll_init(poll);  // throws std::system_error: the runtime does not start
}

scheduler::~scheduler() { poll_close(poll); }

// ---- processors (the idle list requires s.lock) ----

void pidleput(scheduler& s, processor* p) {
  if (s.stw) {
    // The world is stopping for a resize (resize.cpp, step 2): a processor given up now is
    // counted as stopped instead (its local queue, if any, is the resizer's to place).
    p->status.store(p_status::gcstop, std::memory_order_relaxed);
    p->m = nullptr;
    ++s.stw_stopped;
    s.stw_note.wakeup();
    return;
  }
  // An idle processor has an empty local queue (Go's pidleput), except when shutdown abandons
  // what was queued.
  GORT_DCHECK(p->runq.empty() || s.stopping);
  if (!s.lockedq.empty() && !s.stopping) [[unlikely]] {
    // A locked goroutine waits for a processor (locked.cpp, step 4): this one goes to its machine
    // instead of idling (lockedq is non-empty only while no processor is idle).
    p->m.store(nullptr, std::memory_order_relaxed);
    start_locked(s, take_locked_waiter(s, true), p);
    return;
  }
  GORT_DCHECK(s.npidle.load(std::memory_order_relaxed) <
              s.gomaxprocs.load(std::memory_order_relaxed));
  p->status.store(p_status::idle, std::memory_order_relaxed);
  p->m.store(nullptr, std::memory_order_relaxed);
  p->idle_link = s.pidle;
  s.pidle = p;
  // seq_cst: wakep's npidle load must see this before a submitter decides nobody is idle.
  s.npidle.fetch_add(1, std::memory_order_seq_cst);
}

processor* pidleget(scheduler& s) {
  processor* p = s.pidle;
  if (p == nullptr || s.stw) return nullptr;  // a stopped world hands out no processor
  s.pidle = p->idle_link;
  p->idle_link = nullptr;
  s.npidle.fetch_sub(1, std::memory_order_seq_cst);
  // A processor leaves the idle set: sysmon must watch it again. Its coarse clock stood still
  // while it slept: refresh it before a goroutine parks with a stale stamp.
  if (s.sysmon_sleeping.load(std::memory_order_relaxed)) {
    g_coarse_now.store(sys::nanotime(), std::memory_order_relaxed);  // relaxed: a display hint
    sysmon_wake(s);
  }
  return p;
}

void acquirep(machine* m, processor* p) {
  m->p = p;
  // release: pairs with sysmon's acquire load in take_runaway, which then uses the machine
  // (constructed by whoever started it) through this pointer.
  p->m.store(m, std::memory_order_release);
  p->status.store(p_status::running, std::memory_order_relaxed);
}

bool wake_with_nextp(machine* m) {
  m->blocked.store(false, std::memory_order_relaxed);
  if (m->nextp == nullptr) return false;
  acquirep(m, m->nextp);
  m->nextp = nullptr;
  return true;
}

processor* releasep(machine* m) {
  processor* p = m->p;
  m->p = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);
  return p;
}

namespace {

// Go's globrunqget: take a batch from the global queue into p's local queue, return one.
// Requires s.lock; p's owner only; p's local queue has room for 128 (it is empty, or max == 1).
goroutine* globrunqget(scheduler& s, processor* p, std::int64_t max) {
  std::int64_t n = s.runq.size();
  if (n == 0) return nullptr;
  n = std::min(n, n / s.gomaxprocs.load(std::memory_order_relaxed) + 1);
  if (max > 0 && n > max) n = max;
  n = std::min<std::int64_t>(n, run_queue<goroutine>::capacity / 2);
  goroutine* batch[run_queue<goroutine>::capacity / 2];
  const std::size_t got = s.runq.pop_batch(batch, static_cast<std::size_t>(n));
  for (std::size_t i = 1; i < got; ++i) {
    // The lock is already held: an overflow (impossible while the ring had room) goes straight
    // back to the global queue.
    p->runq.put(batch[i], false, [&s](goroutine* const* gs, std::size_t k) {
      s.runq.push_back_batch(gs, k);
    });
  }
  return got > 0 ? batch[0] : nullptr;
}

bool stopm(scheduler& s, machine* m);

// Go's stealWork: four rounds over all processors in random order; the victims' runnext only in
// the last round. Owner of p (m's thread) only.
goroutine* steal_work(scheduler& s, machine* m, processor* p) {
  for (int i = 0; i < k_steal_tries; ++i) {
    const bool last = i == k_steal_tries - 1;
    for (auto w = s.order.start(m->fastrand()); !w.done(); w.next()) {
      if (s.barrier.load(std::memory_order_relaxed)) return nullptr;  // shutdown or a resize
      processor* victim = s.allp[w.position()].get();
      if (victim == p) continue;
      if (last) {
        // Run the victim's due timers — also an idle victim's: nobody else would. What they
        // ready lands in our queue.
        run_timers(victim);
        bool inherit = false;
        if (goroutine* g = runq_get(m, p, inherit)) return g;
      }
      const p_status st = victim->status.load(std::memory_order_relaxed);
      if (st == p_status::idle) continue;  // idle processors have empty queues
      std::uint32_t taken = 0;
      constexpr std::uint32_t k_half = run_queue<goroutine>::capacity / 2;
      const std::uint32_t most =
          m->shuffle ? 1 + m->fastrand() % k_half : run_queue<goroutine>::capacity;
      goroutine* g = p->runq.steal_from(victim->runq, last,
                                        st == p_status::running ? &victim->switches : nullptr,
                                        &taken, most);
      if (g != nullptr) {
        bump(p->steals);
        bump(p->stolen, taken);
        if (instrumenting()) [[unlikely]] trace_steal(m, victim->id, taken);
        return g;
      }
    }
  }
  return nullptr;
}

// Go's resetspinning: a spinning machine found work. Its thread only.
void reset_spinning(scheduler& s, machine* m) {
  GORT_DCHECK(m->spinning);
  m->spinning = false;
  // seq_cst: step 2 of the spinning protocol (scheduler.hpp).
  if (s.nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) fatal("negative nmspinning");
  wakep(s);
}

// find_runnable's step 8: a non-blocking poll by m's thread holding p. Returns the first goroutine
// it readied (the rest are queued), or null.
goroutine* poll_now(scheduler& s, processor* p) {
  thread_local std::vector<goroutine*> readied;  // g0 only: never migrates
  readied.clear();
  if (poll(s, 0, readied) == 0) return nullptr;
  s.poll.last_poll.store(sys::nanotime(), std::memory_order_relaxed);  // relaxed: a hint
  inject_batch(s, p, readied.data() + 1, readied.size() - 1);
  return readied[0];
}

// Go's findrunnable: blocks until there is a goroutine to run, which it returns with m holding a
// processor. Returns null once shutdown began. m's thread on g0 only.
goroutine* find_runnable(scheduler& s, machine* m, bool& inherit_time) {
  for (;;) {
    if (s.barrier.load(std::memory_order_acquire)) [[unlikely]] {
      if (s.shutting_down.load(std::memory_order_acquire)) return nullptr;
      if (!stop_for_resize(s, m)) return nullptr;  // shutdown, or idle too long
      // Holding a processor (perhaps another one): look for work, whatever the barrier says now
      // (a machine that misses a new barrier meets it in steal_work or pidleput).
    }
    GORT_DCHECK(m->lockedg == nullptr);  // a locked machine runs only its goroutine (locked.cpp)
    processor* p = m->p;
    GORT_DCHECK(p != nullptr);  // every path back to the top holds a processor
    inherit_time = false;
    goroutine* g = nullptr;

    // 2. This processor's due timers (what they ready goes to our runnext).
    run_timers(p);

    // 4. Fairness: every 61st tick look at the global queue first, so goroutines respawning
    //    each other on a local queue cannot starve it.
    if (p->schedtick.load(std::memory_order_relaxed) % k_global_fairness == 0 &&
        s.runq.size() > 0) {
      std::lock_guard<std::mutex> l(s.lock);
      g = globrunqget(s, p, 1);
      if (g != nullptr) return g;
    }
    // 6. Local run queue, runnext first.
    g = runq_get(m, p, inherit_time);
    if (g != nullptr) return g;
    // 7. Global queue batch.
    if (s.runq.size() != 0) {
      std::lock_guard<std::mutex> l(s.lock);
      g = globrunqget(s, p, 0);
      if (g != nullptr) return g;
    }
    // 8. Goroutines waiting on I/O and nobody blocked in epoll_wait: a non-blocking poll; run
    //    the first goroutine it readied, queue the rest.
    if (g_io_waiters.load(std::memory_order_relaxed) > 0 &&
        s.poll.last_poll.load(std::memory_order_relaxed) != 0) {
      if (goroutine* first = poll_now(s, p)) return first;
    }
    // 9. Steal, but keep spinning machines at most half the busy processors.
    if (m->spinning || 2 * s.nmspinning.load(std::memory_order_relaxed) <
                           s.gomaxprocs.load(std::memory_order_relaxed) -
                               s.npidle.load(std::memory_order_relaxed)) {
      if (!m->spinning) {
        m->spinning = true;
        s.nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      GORT_DCHECK(m->p == p);  // a spinning machine holds its processor while it steals
      g = steal_work(s, m, p);
      if (g != nullptr) return g;
    }
    // 11. Nothing found: give the processor up, unless the global queue filled meanwhile.
    {
      std::lock_guard<std::mutex> l(s.lock);
      if (s.stopping) return nullptr;
      if (s.runq.size() != 0) {
        g = globrunqget(s, p, 0);
        if (g != nullptr) return g;
      }
      pidleput(s, releasep(m));
    }
    // 12. The delicate dance: stop spinning, then re-check every queue. A submitter that saw us
    //     spinning did not wake anyone; after the seq_cst decrement either it sees nmspinning == 0
    //     or we see its work.
    if (m->spinning) {
      m->spinning = false;
      if (s.nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) fatal("negative nmspinning");
      bool work = s.runq.size() != 0;
      for (std::size_t i = 0; !work && i < s.allp.size(); ++i) {
        work = !s.allp[i]->runq.empty();
      }
      if (work) {
        processor* p2 = nullptr;
        {
          std::lock_guard<std::mutex> l(s.lock);
          p2 = pidleget(s);
        }
        if (p2 != nullptr) {
          acquirep(m, p2);
          m->spinning = true;
          s.nmspinning.fetch_add(1, std::memory_order_seq_cst);
          continue;
        }
      }
    }
    // 13-14. Timers pending somewhere, or goroutines waiting on I/O: one machine becomes the
    //        poller and blocks in epoll_wait until the earliest timer (timers.cpp), then takes
    //        a processor: it runs the first goroutine the poll readied and queues the rest, or,
    //        with none, looks for work as a spinning machine (which runs the due timers). Other
    //        machines park as usual, but break the poller's wait if they know an earlier timer.
    //        seq_cst loads: after our pidleput (see poll_poke).
    const std::int64_t next = earliest_timer(s);
    if (next != k_never || g_io_waiters.load(std::memory_order_seq_cst) > 0) {
      machine* none = nullptr;
      if (s.poller.compare_exchange_strong(none, m, std::memory_order_seq_cst)) {
        thread_local std::vector<goroutine*> readied;  // g0 only: never migrates
        readied.clear();
        poll_as_poller(s, m, next, readied);
        processor* p2 = nullptr;
        {
          std::lock_guard<std::mutex> l(s.lock);
          if (!s.stopping) p2 = pidleget(s);
        }
        if (p2 != nullptr) {
          acquirep(m, p2);
          if (!readied.empty()) {
            inject_batch(s, p2, readied.data() + 1, readied.size() - 1);
            return readied[0];
          }
          m->spinning = true;
          s.nmspinning.fetch_add(1, std::memory_order_seq_cst);
          continue;
        }
        // Every processor is busy: their machines run the due timers themselves, and take
        // the readied goroutines from the global queue.
        inject_batch(s, nullptr, readied.data(), readied.size());
        if (s.shutting_down.load(std::memory_order_acquire)) return nullptr;
      } else {
        timer_poke(s, next);
      }
    }
    // 15. Park until startm hands us a processor (or shutdown, or long idleness).
    if (!stopm(s, m)) return nullptr;
  }
}

// Go's stopm: park an idle machine; startm wakes it with m->nextp set. Returns true holding that
// processor; false when m must leave its loop: shutdown began, or m stayed idle for
// k_idle_machine_exit_ns (m->idle_exit set; never M0, the thread that called run). m's thread
// only, holding no processor.
bool stopm(scheduler& s, machine* m) {
  {
    std::unique_lock<std::mutex> l(s.lock);
    if (s.stopping) return false;
    m->park.clear();
    m->idle_link = s.midle;
    s.midle = m;
    s.nmidle.fetch_add(1, std::memory_order_relaxed);
    // The last machine to go idle looks for a deadlock (Go's checkdead from mput).
    if (s.cfg.detect_deadlock) check_dead(s, l);
  }
  check_not_forked();  // in a fork child nothing would ever wake us
  m->blocked.store(true, std::memory_order_relaxed);
  const bool may_leave = m != s.m0;
  for (;;) {
    bool woken = true;
    if (may_leave) {
      woken = m->park.sleep_for(k_idle_machine_exit_ns, &sys::nanotime);
    } else {
      m->park.sleep();
    }
    // acquire (the note's): pairs with startm's wakeup, so nextp is visible.
    // A stale wake-up (a timer poke meant for this machine when it was the timer sleeper) finds
    // no processor handed over: sleep again, re-checking under the lock so a startm racing with
    // the clear is not missed.
    std::lock_guard<std::mutex> l(s.lock);
    if (m->nextp != nullptr || s.stopping) break;
    if (!woken) {
      // Idle for long: leave the idle list (startm takes machines from it only under the lock,
      // and nobody handed us a processor) and let the thread end.
      machine** link = &s.midle;
      while (*link != m) link = &(*link)->idle_link;
      *link = m->idle_link;
      m->idle_link = nullptr;
      s.nmidle.fetch_sub(1, std::memory_order_relaxed);
      m->idle_exit = true;
      break;
    }
    m->park.clear();
  }
  return wake_with_nextp(m);
}

// A machine that left for idleness (or after its locked goroutine ended): moves its record to the
// zombies and joins the previous ones (which have left their loops; the join waits at most for
// their last instructions), whose records sysmon then frees. Its thread, at the end of its loop.
void retire_idle_machine(scheduler& s, machine* m) {
  std::vector<std::unique_ptr<machine>> reap;
  {
    std::lock_guard<std::mutex> l(s.lock);
    reap.swap(s.zombies);
    auto it = std::find_if(s.allm.begin(), s.allm.end(),
                           [m](const std::unique_ptr<machine>& x) { return x.get() == m; });
    GORT_DCHECK(it != s.allm.end());
    s.zombies.push_back(std::move(*it));
    s.allm.erase(it);
  }
  for (auto& z : reap) {
    if (z->thread.joinable()) z->thread.join();
  }
  if (reap.empty()) return;
  std::lock_guard<std::mutex> l(s.lock);
  for (auto& z : reap) s.reaped.push_back(std::move(z));  // sysmon frees them (scheduler.hpp)
}

}  // namespace

void free_reaped_machines(scheduler& s) {
  std::vector<std::unique_ptr<machine>> gone;
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (s.reaped.empty()) return;
    gone.swap(s.reaped);
  }
}

namespace {

std::size_t thread_stack_bounds(const void** bottom) {
  pthread_attr_t attr;
  void* addr = nullptr;
  std::size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
  }
  *bottom = addr;
  return size;
}

}  // namespace

void install_overflow_altstack(machine* m);
void remove_overflow_altstack(machine* m);

bool stop_for_resize(scheduler& s, machine* m) {
  if (m->spinning) {
    m->spinning = false;
    // seq_cst: as every nmspinning change (the spinning protocol above).
    if (s.nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) fatal("negative nmspinning");
  }
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (s.stw) {
      pidleput(s, releasep(m));  // counted as stopped (resize.cpp, step 2)
    } else if (goroutine* g = s.stopping ? nullptr
                                          : take_locked_waiter(
                                                s, m->p->runq.empty() ||
                                                       m->p->schedtick.load(
                                                           std::memory_order_relaxed) %
                                                               k_global_fairness ==
                                                           0)) {
      // Go's startlockedm: a locked goroutine gets this processor, on its own machine; m parks
      // (locked.cpp, step 4).
      start_locked(s, g, releasep(m));
    } else {
      // The resize is over, shutdown set the barrier, or only a yielded locked goroutine waits
      // and m has its own queue to run first: keep the processor.
      return true;
    }
  }
  // Until the resizer's wakep chain (or anyone's startm) hands it a processor; after a resize with
  // little work, m may stay idle until it leaves (stopm's idle exit).
  return stopm(s, m);
}

// Body of every machine thread but M0. Its own thread.
void mstart(scheduler* s, machine* m) {
  set_current_machine(m);
  char name[16];
  std::snprintf(name, sizeof name, "gort-m%lld", static_cast<long long>(m->id));
  pthread_setname_np(pthread_self(), name);
  schedule(*s, m);
  set_current_machine(nullptr);
}

goroutine* runq_get_shuffled(machine* m, processor* p, bool& inherit_time) {
  if ((m->fastrand() & 1) != 0) {
    if (goroutine* g = p->runq.get_ring()) {
      inherit_time = false;
      return g;
    }
  }
  return p->runq.get(inherit_time);
}

void schedule(scheduler& s, machine* m) {
  install_overflow_altstack(m);
  m->eh_globals = thread_eh_globals();
  m->g0_tsan_fiber = sanitizer::tsan_current();
  m->g0_stack_size = thread_stack_bounds(&m->g0_stack_bottom);
  if (m->nextp != nullptr) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
  for (;;) {
    // Back from a blocking call with no processor free (exit_blocking_on_g0): wait for one. A
    // machine whose locked goroutine ended on it (idle_exit, locked.cpp) leaves instead.
    if (m->p == nullptr && (m->idle_exit || !stopm(s, m))) break;
    bool inherit_time = false;
    goroutine* g = find_runnable(s, m, inherit_time);
    if (g == nullptr) break;
    if (m->spinning) reset_spinning(s, m);
    execute(s, m, g, inherit_time);
  }
  if (m->spinning) {
    m->spinning = false;
    s.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
  }
  if (m->p != nullptr) {
    std::lock_guard<std::mutex> l(s.lock);
    pidleput(s, releasep(m));
  }
  remove_overflow_altstack(m);
  s.mcount.fetch_sub(1, std::memory_order_relaxed);
  if (m->idle_exit) {
    retire_idle_machine(s, m);
    return;
  }
  // release: everything this machine did is visible to the thread that waits for all exits.
  s.mexited.fetch_add(1, std::memory_order_release);
  s.exit_note.wakeup();  // the shutdown waiter (runtime.cpp, wait_for_machines)
}

bool startm(scheduler& s, processor* p, bool spinning, std::error_code* thread_error) {
  machine* m = nullptr;
  std::string report;  // logged after the lock is released (gort/log.hpp)
  bool failed = false;  // no thread for a new machine
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (s.stopping) {
      if (p != nullptr) pidleput(s, p);
      if (spinning) s.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
      return false;
    }
    if (p == nullptr) {
      p = pidleget(s);
      if (p == nullptr) {
        if (spinning) s.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
        return false;
      }
    }
    m = s.midle;
    if (m != nullptr) {
      s.midle = m->idle_link;
      m->idle_link = nullptr;
      s.nmidle.fetch_sub(1, std::memory_order_relaxed);
      m->spinning = spinning;
      m->nextp = p;
    } else {
      // Go's checkmcount: the thread limit is a fatal error, not a slowdown.
      if (s.mcount.load(std::memory_order_relaxed) >= s.cfg.max_threads) thread_limit_exceeded(s);
      // A new machine. Its thread is created and stored under the lock: shutdown reads allm
      // (and joins the threads) under it too, so it never sees a record whose thread is still
      // being assigned. Creating machines is rare: the lock is held a few tens of microseconds.
      auto owned = std::make_unique<machine>();
      m = owned.get();
      m->id = s.next_mid.fetch_add(1, std::memory_order_relaxed);
      m->rand_state = sys::xorshift_state(s.seed, static_cast<std::uint64_t>(m->id));
      m->shuffle = s.cfg.debug.shuffle != 0;
      m->spinning = spinning;
      m->nextp = p;
      bool started = false;
      try {
        m->thread = std::thread(mstart, &s, m);
        started = true;
      } catch (const std::system_error& e) {
        // Thread exhaustion: keep running on the machines we have. The work stays queued and
        // the existing machines reach it; only parallelism is lost.
        // (A caller that asked for the error reports it itself.)
        static std::atomic<bool> warned{false};
        if (thread_error == nullptr && !warned.exchange(true, std::memory_order_relaxed)) {
          report = "cannot start another OS thread (" +
                   std::to_string(s.mcount.load(std::memory_order_relaxed)) +
                   " running): " + e.what() + "; continuing with the threads it has";
        }
        // A processor handed over with work (handoffp) must not go idle holding it: thieves skip
        // idle processors. Its goroutines go to the global queue, which the running machines
        // reach.
        bool inherit = false;
        while (goroutine* g = p->runq.get(inherit)) s.runq.push_back(g);
        pidleput(s, p);
        if (spinning) s.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
        if (thread_error != nullptr) *thread_error = e.code();
        failed = true;
      }
      if (started) {
        s.allm.push_back(std::move(owned));
        s.mcount.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
    }
  }
  if (failed) {
    if (!report.empty()) gort::log(report);
    return false;
  }
  m->park.wakeup();  // release: nextp and spinning are visible to the woken machine
  return true;
}

void handoffp(scheduler& s, processor* p) {
  // Go's handoffp, in its order.
  // 1. Work in its local queue or the global queue: a machine runs it.
  if (!p->runq.empty() || s.runq.size() != 0) {
    startm(s, p, false);
    return;
  }
  // 3. Nobody spinning and no idle processor: this one must look for work (seq_cst: the
  //    spinning hand-shake, scheduler.hpp).
  if (s.nmspinning.load(std::memory_order_seq_cst) + s.npidle.load(std::memory_order_seq_cst) ==
      0) {
    std::int32_t zero = 0;
    if (s.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
      startm(s, p, true);
      return;
    }
  }
  bool start = false;
  {
    std::lock_guard<std::mutex> l(s.lock);
    // 5. The global queue filled meanwhile.
    // 6. The last processor that could run, and nobody blocked in epoll_wait: someone must poll.
    start = s.runq.size() != 0 ||
            (s.npidle.load(std::memory_order_relaxed) == s.gomaxprocs - 1 &&
             s.poll.last_poll.load(std::memory_order_relaxed) != 0 &&
             g_io_waiters.load(std::memory_order_relaxed) > 0);
    if (!start) pidleput(s, p);
  }
  if (start) {
    startm(s, p, false);
    return;
  }
  // 7. Idle with timers pending: make sure some machine sleeps until the earliest (Go's
  //    wakeNetPoller).
  const std::int64_t when = p->timers.earliest();
  if (when != k_never) timer_poke(s, when);
}

bool acquire_idle_p(scheduler& s, machine* m) {
  if (s.npidle.load(std::memory_order_relaxed) == 0) return false;  // a hint; the lock decides
  processor* p = nullptr;
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (s.stopping) return false;
    p = pidleget(s);
  }
  if (p == nullptr) return false;
  acquirep(m, p);
  return true;
}

processor* own_p_slow(machine* m) noexcept {
  // acquire: a k_revoke_taken read pairs with sysmon's release CAS, so its hand-off happens-before
  // us. The word may also hold k_revoke_locked (the machine is locked: every section comes here),
  // alone or with a request that sysmon could not withdraw (take_runaway's CAS back to 0 fails
  // when the bit was set meanwhile).
  std::uint32_t r = m->revoke.load(std::memory_order_acquire);
  while ((r & k_revoke_requested) != 0) {
    // acq_rel: withdrawing orders this section after sysmon's request; on failure (acquire) r is
    // reread, and a k_revoke_taken found there pairs as above.
    if (m->revoke.compare_exchange_weak(r, r & ~k_revoke_requested, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
      r &= ~k_revoke_requested;
    }
  }
  if ((r & k_revoke_taken) == 0) return m->p;  // nothing taken (a request withdrawn, or locked)
  // sysmon takes only from a word that was exactly k_revoke_requested, and the locked bit is set
  // only inside a section, which would have withdrawn the request first.
  GORT_DCHECK(r == k_revoke_taken);
  // sysmon owns m->p now (and has handed it on); only this thread writes the revoke word from
  // here until m holds a processor again.
  GORT_DCHECK(m->curg != nullptr);  // g0 always runs inside a section: never revoked under it
  m->p = nullptr;
  m->revoke.store(0, std::memory_order_relaxed);
  return nullptr;
}

bool park_without_p(scheduler& s, machine* m, goroutine* g) {
  s.parks_without_p.fetch_add(1, std::memory_order_relaxed);  // before unlock, as finish_request
  if (m->after_unlock(m->after_arg)) return false;
  g->status.store(g_status::runnable, std::memory_order_relaxed);  // vetoed: runnable at once
  global_put(s, g);
  return false;
}

void thread_limit_exceeded(scheduler& s) {
  std::fprintf(stderr, "gort: program exceeds %d-thread limit (gort::options::max_threads)\n",
               s.cfg.max_threads);
  fatal("thread exhaustion");
}

void wakep_slow(scheduler& s) {
  // Go 1.19's wakep after its two checks (inline in scheduler.hpp).
  std::int32_t expected = 0;
  if (!s.nmspinning.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) return;
  startm(s, nullptr, true);
}

void global_put(scheduler& s, goroutine* g) {
  sanitizer::release(g);
  {
    std::lock_guard<std::mutex> l(s.lock);
    s.runq.push_back(g);
  }
  wakep(s);
}

void runq_put(scheduler& s, processor* p, goroutine* g, bool next) {
  sanitizer::release(g);
  p->runq.put(g, next, [&s](goroutine* const* gs, std::size_t n) {
    std::lock_guard<std::mutex> l(s.lock);
    s.runq.push_back_batch(gs, n);
  });
}

void execute(scheduler& s, machine* m, goroutine* g, bool inherit_time) {
  for (;;) {
    prepare_run(s, m, g, inherit_time);
    switch_to_goroutine(m, g);
    // Back on g0. The goroutine that switched here may not be g: goroutines hand the machine
    // to each other directly (switch_to_scheduler); m->curg is the one that came back.
    g = m->curg;
    m->curg = nullptr;
    // A goroutine back from a blocking call gave its processor up (exit_blocking).
    if (m->p != nullptr) m->p->curg.store(nullptr, std::memory_order_relaxed);
    if (!finish_request(s, m, g)) return;
    inherit_time = true;  // park vetoed: resume at once in the same slice
  }
}

}  // namespace gort::sched
