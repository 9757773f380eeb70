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
#include "sched/sanitizer.hpp"
#include "sys/clock.hpp"
#include "sys/random.hpp"

namespace gort::sched {

std::atomic<scheduler*> g_sched{nullptr};

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

scheduler::scheduler(runtime_config c)
    : cfg(std::move(c)),
      gomaxprocs(cfg.maxprocs),
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
  GORT_DCHECK(s.npidle.load(std::memory_order_relaxed) <
              s.gomaxprocs.load(std::memory_order_relaxed));
  p->status.store(p_status::idle, std::memory_order_relaxed);
  p->m = nullptr;
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
  // A processor leaves the idle set: sysmon must watch it again.
  if (s.sysmon_sleeping.load(std::memory_order_relaxed)) sysmon_wake(s);
  return p;
}

namespace {

// Machine's own thread, or a thread handing `p` to `m` before waking it.
void acquirep(machine* m, processor* p) {
  m->p = p;
  p->m = m;
  p->status.store(p_status::running, std::memory_order_relaxed);
}

processor* releasep(machine* m) {
  processor* p = m->p;
  m->p = nullptr;
  p->m = nullptr;
  return p;
}

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

void stopm(scheduler& s, machine* m);

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
      stop_for_resize(s, m);  // returns holding a processor, or none at shutdown
      continue;
    }
    processor* p = m->p;
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
    // 15. Park until startm hands us a processor (or shutdown).
    stopm(s, m);
  }
}

// Go's stopm: park an idle machine; startm wakes it with m->nextp set. m's thread only, holding
// no processor.
void stopm(scheduler& s, machine* m) {
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (s.stopping) return;
    m->park.clear();
    m->idle_link = s.midle;
    s.midle = m;
    s.nmidle.fetch_add(1, std::memory_order_relaxed);
  }
  check_not_forked();  // in a fork child nothing would ever wake us
  m->blocked.store(true, std::memory_order_relaxed);
  for (;;) {
    m->park.sleep();  // acquire: pairs with startm's wakeup, so nextp is visible
    // A stale wake-up (a timer poke meant for this machine when it was the timer sleeper) finds
    // no processor handed over: sleep again, re-checking under the lock so a startm racing with
    // the clear is not missed.
    std::lock_guard<std::mutex> l(s.lock);
    if (m->nextp != nullptr || s.stopping) break;
    m->park.clear();
  }
  m->blocked.store(false, std::memory_order_relaxed);
  if (m->nextp != nullptr) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
}

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

void stop_for_resize(scheduler& s, machine* m) {
  if (m->spinning) {
    m->spinning = false;
    // seq_cst: as every nmspinning change (the spinning protocol above).
    if (s.nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) fatal("negative nmspinning");
  }
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (!s.stw) return;  // the resize is over (or shutdown set the barrier): keep the processor
    pidleput(s, releasep(m));  // counted as stopped (resize.cpp, step 2)
  }
  stopm(s, m);  // until the resizer's wakep chain hands it a processor, or shutdown
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
  // release: everything this machine did is visible to the thread that waits for all exits.
  s.mexited.fetch_add(1, std::memory_order_release);
  s.exit_note.wakeup();  // the shutdown waiter (runtime.cpp, wait_for_machines)
}

bool startm(scheduler& s, processor* p, bool spinning, std::error_code* thread_error) {
  machine* m = nullptr;
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
      try {
        m->thread = std::thread(mstart, &s, m);
      } catch (const std::system_error& e) {
        // Thread exhaustion: keep running on the machines we have. The work stays queued and
        // the existing machines reach it; only parallelism is lost.
        // (A caller that asked for the error reports it itself.)
        static std::atomic<bool> warned{false};
        if (thread_error == nullptr && !warned.exchange(true, std::memory_order_relaxed)) {
          std::fprintf(stderr,
                       "gort: cannot start another OS thread (%d running): %s; continuing with "
                       "the threads it has\n",
                       s.mcount.load(std::memory_order_relaxed), e.what());
        }
        pidleput(s, p);
        if (spinning) s.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
        if (thread_error != nullptr) *thread_error = e.code();
        return false;
      }
      s.allm.push_back(std::move(owned));
      s.mcount.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  m->park.wakeup();  // release: nextp and spinning are visible to the woken machine
  return true;
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
    m->p->curg.store(nullptr, std::memory_order_relaxed);
    if (!finish_request(s, m, g)) return;
    inherit_time = true;  // park vetoed: resume at once in the same slice
  }
}

}  // namespace gort::sched
