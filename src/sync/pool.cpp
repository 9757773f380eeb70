// sync/pool.cpp — the engine of gort::pool (gort/detail/pool_core.hpp has the glossary,
// invariants, protocols and lock order; pool.hpp the semantics).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "gort/chan.hpp"
#include "gort/context.hpp"
#include "gort/detail/dcheck.hpp"
#include "gort/log.hpp"
#include "gort/detail/pool_core.hpp"
#include "sync/pool_workers.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/go.hpp"
#include "gort/log.hpp"
#include "gort/pool.hpp"
#include "gort/select.hpp"
#include "gort/time.hpp"

#ifndef GORT_POOL_SPAWN_YIELD_THRESHOLD
#error "GORT_POOL_SPAWN_YIELD_THRESHOLD is a library build setting (CMakeLists.txt)"
#endif

namespace gort::detail {

namespace {

/// The default logger: the runtime's log sink (gort/log.hpp), "gort: pool: <message>" on stderr
/// unless the service set one.
void pool_default_log(std::string_view message) noexcept {
  std::string line = "pool: ";
  line.append(message);
  gort::log(line);
}

}  // namespace

class pool_core {
 public:
  pool_core(pool_config cfg, const pool_payload_ops* ops, pool_runner run)
      : cfg_(std::move(cfg)),
        ops_(ops),
        move_into_empty_(ops->move_into_empty),
        run_(std::move(run)),
        fifo_(cfg_.pre_alloc),
        ring_(cfg_.pre_alloc ? static_cast<std::size_t>(cfg_.capacity) : 0),
        all_done_(0) {
    // The hot line (see the state below): lock_ up to the end of stack_ within one line.
    GORT_DCHECK(reinterpret_cast<const char*>(&stack_) + sizeof stack_ -
                    reinterpret_cast<const char*>(&lock_) <= 64);
    capacity_.store(cfg_.capacity, std::memory_order_relaxed);
    // relaxed: a fresh pool belongs to the current epoch (its workers are not to be forgotten).
    stamp_.store(g_wait_epoch.load(std::memory_order_acquire), std::memory_order_relaxed);
    if (!cfg_.logger) cfg_.logger = &pool_default_log;
    purge_.core = this;
    purge_.stoppable = true;
    purge_.period = cfg_.expiry_ns > k_min_purge_period_ns ? cfg_.expiry_ns : k_min_purge_period_ns;
    purge_.fire = &purge_fire;
  }

  /// Starts min_workers and the purge timer; called once by the owner right after construction
  /// (kept out of the constructor: if it throws, workers may already reference the core, so the
  /// owner must shut it down with release() and orphan() rather than delete it). Any thread.
  void start() {
    start_min_workers();
    start_purge();
  }

  pool_core(const pool_core&) = delete;
  pool_core& operator=(const pool_core&) = delete;

  // ---- submission -------------------------------------------------------------------------

  /// Submits `p` (built in the caller's frame; moved from only when accepted). Any thread; a
  /// goroutine parks and a plain thread blocks while the pool is full (unless nonblocking).
  /// Throws std::bad_alloc when a worker cannot be spawned (the payload is then not accepted).
  // Not analysed: try_accept_locked releases lock_ or leaves it to wait_for (see there).
  submit_status submit(void* p) GORT_NO_THREAD_SAFETY_ANALYSIS {
    goroutine* self = enter_op();
    ensure_epoch();
    lock_.lock();
    std::optional<submit_status> fast = try_accept_locked(self, p);  // unlocks when engaged
    if (fast) return *fast;
    // 1. Wait: queue a waiter on this stack and park; the waker decides the outcome (W3, S, tune,
    //    release) and readies us exactly once.
    waiter w(self);
    w.payload = p;
    enqueue_locked(&w);
    (void)wait_for(w, wait_reason::pool_submit, lock_);
    return outcome(w);
  }

  /// submit() that gives up when ctx is done (protocol C): ctx.err() then, and the payload is not
  /// accepted. Any thread.
  std::error_code submit(void* p, const context& ctx, submit_status* status)
      GORT_NO_THREAD_SAFETY_ANALYSIS {  // as submit(p)
    *status = submit_status::ok;
    if (std::error_code e = ctx.err()) {
      count_rejected();
      return e;
    }
    if (context_access::canceller(ctx) == nullptr) {  // a context that cannot be cancelled
      *status = submit(p);
      return {};
    }
    goroutine* self = enter_op();
    ensure_epoch();
    lock_.lock();
    std::optional<submit_status> fast = try_accept_locked(self, p);
    if (fast) {
      *status = *fast;
      return {};
    }
    waiter w(self);
    w.payload = p;
    enqueue_locked(&w);
    if (wait_for(w, wait_reason::pool_submit, lock_, context_access::canceller(ctx)) !=
        k_claim_granted) {
      // The context won: no waker took the payload (they claim before they touch it).
      lock_.lock();
      if (waiters_.is_linked(&w)) unlink_locked(&w);
      ++rejected_;
      lock_.unlock();
      return ctx.err();
    }
    *status = outcome(w);
    return {};
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /// Closes the pool: idle workers stop, blocked submitters get `closed`, busy workers exit after
  /// their payload. False when it was already closed. Any thread.
  bool release() {
    ensure_epoch();
    worker* stopped = nullptr;
    waiter* woken = nullptr;
    chan<std::monostate> done;
    lock_.lock();
    if (closed_.load(std::memory_order_relaxed)) {
      lock_.unlock();
      return false;
    }
    closed_.store(true, std::memory_order_relaxed);
    // Called by the container under lock_, which the analysis cannot see through.
    auto stop = [&](worker* w) GORT_NO_THREAD_SAFETY_ANALYSIS {
      mark_stopping_locked(w, stopped);
    };
    if (fifo_) {
      ring_.reset(stop);
    } else {
      stack_.reset(stop);
    }
    while (waiter* s = pop_waiter_locked()) {
      s->out = outcome_kind::closed;
      ++rejected_;
      s->next_granted = woken;
      woken = s;
    }
    if (alive_ == 0) done = take_all_done_locked();
    lock_.unlock();
    stop_purge();
    wake_stopped(stopped);
    while (woken != nullptr) {
      waiter* s = woken;
      woken = s->next_granted;  // read before waking: the record lives on the waiter's stack
      wake(s);
    }
    if (done) done.close();
    return true;
  }

  /// The channel closed once every worker has exited after a release (a fresh one after
  /// reboot). Any thread.
  chan<std::monostate> all_done() {
    ensure_epoch();
    lock_.lock();
    chan<std::monostate> c = all_done_;
    lock_.unlock();
    return c;
  }

  /// Reopens a closed pool (no effect on an open one): purge restarts and min_workers are
  /// started again. Workers still finishing payloads from before rejoin the pool. Any thread.
  void reboot() {
    ensure_epoch();
    chan<std::monostate> fresh(0);  // allocated outside the lock; used if the old one was closed
    lock_.lock();
    if (!closed_.load(std::memory_order_relaxed)) {
      lock_.unlock();
      return;
    }
    closed_.store(false, std::memory_order_relaxed);
    if (all_done_closed_) {
      all_done_ = std::move(fresh);
      all_done_closed_ = false;
    }
    lock_.unlock();
    start_min_workers();
    start_purge();
  }

  /// ants' Tune: no effect on an unlimited or pre_alloc pool, for n <= 0 or n == cap(). Values
  /// below min_workers are raised to it. Growing serves blocked submitters at once (ants #205);
  /// shrinking stops surplus idle workers now and busy ones as they finish. Any thread.
  void tune(std::int64_t n) {
    if (n <= 0 || fifo_) return;
    if (n < cfg_.min_workers) n = cfg_.min_workers;
    waiter* granted = nullptr;
    worker* stopped = nullptr;
    ensure_epoch();
    if (n > capacity_.load(std::memory_order_relaxed)) {
      // Room for the workers growing may grant (allocated here, not under the lock). Out of
      // memory, the grant stops where the room does; the rest wait for workers that finish.
      try {
        grow_bookkeeping(static_cast<std::size_t>(n));
      } catch (const std::bad_alloc&) {
      }
    }
    lock_.lock();
    const std::int64_t old = capacity_.load(std::memory_order_relaxed);
    if (old < 0 || n == old) {
      lock_.unlock();
      return;
    }
    capacity_.store(n, std::memory_order_relaxed);
    if (n > old) {
      granted = grant_locked();
    } else {
      const std::int64_t surplus = workers_.load(std::memory_order_relaxed) - n;
      if (surplus > 0) stopped = stop_oldest_locked(static_cast<std::size_t>(surplus));
    }
    lock_.unlock();
    spawn_granted(granted);
    wake_stopped(stopped);
  }

  /// Frees the core once no worker is left: now if none is alive, else when the last one exits.
  /// Used by a pool destroyed where it cannot wait (on one of its own workers, or with no
  /// runtime). Requires a released pool.
  void orphan() noexcept {
    ensure_epoch();
    lock_.lock();
    if (alive_ == 0) {
      lock_.unlock();
      delete this;
      return;
    }
    orphaned_ = true;
    lock_.unlock();
  }

  /// Stops the purge timer for good (the owner is about to free the core). Any thread.
  void stop_timers() noexcept { halt_purge(); }

  /// Whether the caller is one of this pool's workers. Any thread.
  bool called_from_worker() {
    goroutine* self = current();
    ensure_epoch();
    lock_.lock();
    const bool member = members_.contains(self);
    lock_.unlock();
    return member;
  }

  // ---- observation (lock-free gauges are snapshots: relaxed loads, no ordering) -------------

  std::int64_t running() const noexcept { return workers_.load(std::memory_order_relaxed); }
  std::int64_t waiting() const noexcept { return waiting_.load(std::memory_order_relaxed); }
  std::int64_t cap() const noexcept { return capacity_.load(std::memory_order_relaxed); }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_relaxed); }

  /// A consistent snapshot of every counter (taken under the lock).
  pool_counts counts() {
    ensure_epoch();
    return counts_snapshot();
  }

  /// counts() without reconciling a runtime that ended (metrics' registry walk: no channel
  /// operation may happen under the registry lock). Any thread.
  pool_counts counts_snapshot() {
    pool_counts c;
    lock_.lock();
    c.submitted = submitted_;
    c.completed = completed_;
    c.failed = failed_;
    c.rejected = rejected_;
    c.inline_runs = inline_runs_;
    c.running = workers_.load(std::memory_order_relaxed);
    c.idle = static_cast<std::int64_t>(fifo_ ? ring_.len() : stack_.len());
    c.waiting = waiting_.load(std::memory_order_relaxed);
    lock_.unlock();
    return c;
  }

  /// Counts a submission refused before reaching the pool (a context already done).
  void count_rejected() noexcept {
    ensure_epoch();
    lock_.lock();
    ++rejected_;
    lock_.unlock();
  }

  const pool_config& config() const noexcept { return cfg_; }

 private:
  ~pool_core() {  // only through orphan() or pool_destroy()
    if (run_.destroy != nullptr) run_.destroy(run_.state);
  }
  friend void pool_destroy(pool_core* c) noexcept;

  // ---- outliving a runtime (invariant 6) ----------------------------------------------------

  /// The first thing every public entry point does (workers and the purge callback need not: they
  /// run under the current runtime). No lock held; any thread.
  void ensure_epoch() noexcept {
    // relaxed stamp: a hint re-checked under the lock; acquire: as the wait list's validate().
    if (stamp_.load(std::memory_order_relaxed) != g_wait_epoch.load(std::memory_order_acquire)) {
      forget_dead_runtime();
    }
  }

  [[gnu::cold]] [[gnu::noinline]] void forget_dead_runtime() noexcept {
    chan<std::monostate> done;
    lock_.lock();
    const std::uint32_t e = g_wait_epoch.load(std::memory_order_acquire);
    if (stamp_.load(std::memory_order_relaxed) != e) {
      (void)waiters_.validate();  // keeps the plain threads' waiters
      std::int64_t left = 0;
      for (waiter* w = waiters_.front(); w != nullptr; w = wait_queues<waiter>::next_of(w)) ++left;
      waiting_.store(left, std::memory_order_relaxed);
      auto forget = [](worker*) noexcept {};  // never read: its stack is gone
      if (fifo_) {
        ring_.reset(forget);
      } else {
        stack_.reset(forget);
      }
      members_.clear();
      workers_.store(0, std::memory_order_relaxed);
      alive_ = 0;
      if (closed_.load(std::memory_order_relaxed)) done = take_all_done_locked();
      purge_lost_.store(true, std::memory_order_relaxed);
      stamp_.store(e, std::memory_order_relaxed);
    }
    lock_.unlock();
    if (done) done.close();
  }

  /// The purge timer died with a runtime (its heap was cleared): arm it again, now that a worker
  /// (and so a runtime) exists. No lock held. Out of memory, it tries again with the next worker.
  void restart_lost_purge() noexcept {
    // relaxed: a flag; timer_gate_ orders the re-arming.
    if (!purge_lost_.load(std::memory_order_relaxed) ||
        !purge_lost_.exchange(false, std::memory_order_relaxed) || cfg_.disable_purge) {
      return;
    }
    timer_gate_.lock();
    purge_armed_ = false;
    timer_gate_.unlock();
    try {
      start_purge();
    } catch (...) {
      purge_lost_.store(true, std::memory_order_relaxed);
    }
  }

  // ---- records ------------------------------------------------------------------------------

  // A hand-off (protocol H) touches a worker's slot pointer, goroutine and claim, on another
  // processor's cache when the worker last ran there: aligned to a line with the slot pointer
  // first, the three share one line (the waiter's `chain`, which a worker never uses, spills into
  // the next), so a hand-off misses once on the record instead of twice.
  struct alignas(64) worker {
    worker(goroutine* self, void* first) noexcept : slot(first), w(self) {
      GORT_DCHECK(reinterpret_cast<const char*>(&w.claim) + sizeof w.claim -
                      reinterpret_cast<const char*>(this) <= 64 &&
                  reinterpret_cast<const char*>(&w.g) + sizeof w.g -
                      reinterpret_cast<const char*>(this) <= 64);
    }
    goroutine* g() const noexcept { return w.g; }
    void* slot;  // the payload it runs: the storage in its spawn closure
    waiter w;    // parks through the wait helper; only a hand-off or a stop wakes it
    worker* next = nullptr;  // links a list of workers being stopped (under lock_, then local)
    bool stop = false;       // set by the stopper before ready(); read by the worker on waking
  };

  enum class outcome_kind : std::uint8_t { pending, accepted, closed, no_memory };

  struct waiter : detail::waiter {
    explicit waiter(goroutine* self) noexcept : detail::waiter(self) {}
    void* payload = nullptr;                   // in the submitter's frame
    outcome_kind out = outcome_kind::pending;  // set by the waker (who won the claim) before waking
    waiter* next_granted = nullptr;            // grant_locked's list (a waker's, once claimed)
  };

  struct purge_node : timer_node {
    pool_core* core = nullptr;
  };

  // ---- the accept decision ---------------------------------------------------------------

  /// The purge timer never ticks more often than this, whatever the expiry (a tiny expiry would
  /// otherwise keep a machine busy firing it).
  static constexpr std::int64_t k_min_purge_period_ns = 1'000'000;

  /// A submitter that would add a worker to a pool that already has this many yields once first
  /// (gort::yield), and takes a worker that went idle meanwhile if there is one. Why: a submitter
  /// that keeps its processor keeps the workers it readied (and those its timers woke) from
  /// running, finds none idle and grows the pool to its capacity although most workers are just
  /// about to finish. On `pool` sleep10ms (capacity 100,000, 10 ms tasks) the pool grew to
  /// 100,000 workers for ~45,000 tasks in flight (430 MiB, every switch a cold stack); with the
  /// yield it stays at the ~20,000 in flight (85 MiB) and runs 1.3-2.3x faster.
  /// The same growth is what makes `pool` tiny (capacity 1,000, tasks of a few ns) bimodal: a
  /// submitter that spawns a worker per task without yielding readies them faster than they run,
  /// the pool fills with ~capacity runnable workers, and from then on each finishing worker
  /// takes the blocked submitter's next payload itself (W3), so that backlog never drains: every
  /// task goes round a run queue that overflows into the global queue (hundreds of goroutines in
  /// it at every schedtrace sample) and through one of ~1,000 cold stacks. The threshold is
  /// therefore well below a processor's local run queue (256): the workers one submitter readies
  /// fit there. Below it a pool grows freely (a burst into a small pool costs no yields).
  static constexpr std::int64_t k_spawn_yield_threshold = GORT_POOL_SPAWN_YIELD_THRESHOLD;  // build setting

  /// Requires lock_. Either decides the submission — releases the lock and returns the status
  /// (the payload handed to an idle worker, a new worker, run inline, or refused) — or returns
  /// empty with the lock still held: the caller must wait. May release and retake the lock once
  /// (the yield before growing a large pool), so the caller must not rely on state read before.
  // Releases lock_ on the paths that decide, keeps it on the one that must wait: not analysed.
  std::optional<submit_status> try_accept_locked(goroutine* self, void* p, bool yielded = false)
      GORT_REQUIRES(lock_) GORT_NO_THREAD_SAFETY_ANALYSIS {
    if (closed_.load(std::memory_order_relaxed)) {
      ++rejected_;
      lock_.unlock();
      return submit_status::closed;
    }
    if (worker* w = pop_idle_locked()) {  // protocol H
      ++submitted_;
      lock_.unlock();
      // Off the idle stack, the worker is ours alone, and it has parked: it released lock_ from
      // its park (W4). Its record, a line on another processor's cache, is touched from here on,
      // outside the lock.
      (void)w->w.claim.claim(k_claim_granted);  // uncontested: a worker waits for this alone
      move_into_empty_(w->slot, p);  // a worker's slot is empty while it is idle
      ready(self, w->g());
      return submit_status::ok;
    }
    const std::int64_t cap = capacity_.load(std::memory_order_relaxed);
    const std::int64_t workers = workers_.load(std::memory_order_relaxed);
    if (cap < 0 || workers < cap) {
      if (workers >= k_spawn_yield_threshold && !yielded && on_goroutine()) {
        // Growing a large pool: first let the goroutines runnable on this processor run once
        // (typically workers whose task just ended, about to go idle), then look again.
        lock_.unlock();
        gort::yield();
        lock_.lock();
        return try_accept_locked(self, p, true);
      }
      if (!room_for_worker_locked()) {
        // The bookkeeping must grow, which allocates: not under the lock. Then decide again.
        const std::size_t target = static_cast<std::size_t>(alive_) + 1;
        lock_.unlock();
        grow_bookkeeping(target);  // throws std::bad_alloc with nothing changed
        lock_.lock();
        return try_accept_locked(self, p, yielded);
      }
      reserve_worker_locked();
      ++submitted_;
      lock_.unlock();
      spawn_reserved(p, [this]() GORT_REQUIRES(lock_) { --submitted_; });
      return submit_status::ok;
    }
    if (cfg_.nonblocking || (cfg_.max_blocking_tasks > 0 &&
                             waiting_.load(std::memory_order_relaxed) >= cfg_.max_blocking_tasks)) {
      ++rejected_;
      lock_.unlock();
      return submit_status::overload;
    }
    if (members_.contains(self)) {
      // A task of this pool submitting into it while every worker is busy: waiting could wait
      // for itself (ants #197). Run it here instead (caller-runs); the pool stays within cap.
      ++submitted_;
      ++inline_runs_;
      lock_.unlock();
      const bool threw = run_guarded(p);
      lock_.lock();
      ++completed_;
      if (threw) ++failed_;
      lock_.unlock();
      return submit_status::ok;
    }
    return std::nullopt;
  }

  submit_status outcome(const waiter& w) {
    switch (w.out) {
      case outcome_kind::accepted: return submit_status::ok;
      case outcome_kind::closed: return submit_status::closed;
      case outcome_kind::no_memory: throw std::bad_alloc();
      case outcome_kind::pending: break;
    }
    std::abort();  // woken without an outcome: a broken protocol
  }

  // ---- workers ----------------------------------------------------------------------------

  /// Requires lock_. Whether one more worker's bookkeeping (its idle-stack entry and its members_
  /// entry) fits without allocating.
  bool room_for_worker_locked() const noexcept GORT_REQUIRES(lock_) {
    const std::size_t alive = static_cast<std::size_t>(alive_) + 1;
    return (fifo_ || stack_.room() >= alive) && members_.room() >= alive;
  }

  /// Grows the bookkeeping until `target` workers fit: the storage is allocated with no lock held
  /// and adopted under the lock (nothing allocates under the spinlock). No lock held; throws
  /// std::bad_alloc with nothing changed.
  void grow_bookkeeping(std::size_t target) {
    const std::size_t n = target < 16 ? 16 : target + target / 2;
    for (;;) {
      lock_.lock();
      const bool stack_short = !fifo_ && stack_.room() < target;
      const bool set_short = members_.room() < target;
      lock_.unlock();
      if (!stack_short && !set_short) return;
      std::vector<worker*> stack_storage;
      pointer_set::storage set_storage;
      if (stack_short) stack_storage = worker_stack<worker>::make_storage(n);
      if (set_short) set_storage = pointer_set::make_storage(n);
      lock_.lock();
      // Others may have grown them meanwhile, or added so many workers that ours is too small.
      if (stack_short && stack_.room() < target && stack_storage.capacity() >= stack_.len()) {
        stack_.adopt(stack_storage);
      }
      if (set_short && members_.room() < target && set_storage.cap / 2 >= members_.size()) {
        members_.adopt(set_storage);
      }
      lock_.unlock();
      // The storage given back (the old one, or ours if unused) is freed here, unlocked.
    }
  }

  /// Requires lock_ and room_for_worker_locked(). Counts a new worker before it exists
  /// (invariants 1, 3); its bookkeeping then fits without allocating.
  void reserve_worker_locked() noexcept GORT_REQUIRES(lock_) {
    GORT_DCHECK(room_for_worker_locked());
    workers_.store(workers_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    ++alive_;
    // Invariant 1 (a slot is reserved before the worker exists, within the capacity — unless
    // tune() lowered it, which only stops growth) and 3.
    GORT_DCHECK(workers_.load(std::memory_order_relaxed) <= alive_);
  }

  /// Requires lock_. Gives back a reservation nothing will use.
  void unreserve_worker_locked() noexcept GORT_REQUIRES(lock_) {
    workers_.store(workers_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    --alive_;
  }

  /// Spawns a worker whose slot was reserved, carrying the payload at `first` (moved from; null:
  /// none). On failure the reservation is returned, `on_fail()` runs and the exception
  /// propagates. No lock held.
  template <class OnFail>
  void spawn_reserved(void* first, OnFail&& on_fail) {
    try {
      ops_->spawn_worker(this, first, cfg_.where);
    } catch (...) {
      chan<std::monostate> done;
      lock_.lock();
      unreserve_worker_locked();
      on_fail();
      if (closed_.load(std::memory_order_relaxed) && alive_ == 0) done = take_all_done_locked();
      // The returned slot may be the one a queued waiter needs (nobody else would free it).
      waiter* granted = grant_locked();
      lock_.unlock();
      if (done) done.close();
      spawn_granted(granted);
      throw;
    }
    restart_lost_purge();
  }

 public:
  /// The body of every worker goroutine (protocol W). `first` is the payload storage in its spawn
  /// closure (spawn_pool_worker), which stays its slot for life.
  void worker_main(void* first) {
    worker self(current(), first);
    lock_.lock();
    members_.insert(self.g());  // capacity reserved by reserve_worker_locked: does not allocate
    lock_.unlock();
    bool ran = ops_->engaged(first);
    for (;;) {
      bool threw = false;
      if (ran) threw = run_guarded(self.slot);
      preempt_point();  // a worker fed by waiters may not park for a long time
      lock_.lock();  // W1
      if (ran) {
        ++completed_;
        if (threw) ++failed_;
      }
      const std::int64_t cap = capacity_.load(std::memory_order_relaxed);
      if (closed_.load(std::memory_order_relaxed) ||
          (cap >= 0 && workers_.load(std::memory_order_relaxed) > cap)) {
        workers_.store(workers_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        exit_locked(self);  // W2; unlocks
        return;
      }
      if (waiter* s = pop_waiter_locked()) {  // W3
        s->out = outcome_kind::accepted;
        ++submitted_;
        lock_.unlock();
        move_into_empty_(self.slot, s->payload);  // run() left the slot empty
        wake(s, self.g());
        ran = true;
        continue;
      }
      push_idle_locked(&self);  // W4
      self.w.claim.reset();
      (void)wait_for(self.w, wait_reason::pool_worker_idle, lock_);
      if (self.stop) {  // protocol S: the stopper already uncounted us from workers_
        lock_.lock();
        exit_locked(self);
        return;
      }
      ran = true;
    }
  }

 private:

  /// Requires lock_, which it releases. The worker's last touch of the core (invariants 3-5).
  void exit_locked(worker& self) GORT_RELEASE(lock_) {
    members_.erase(self.g());
    --alive_;
    // Invariant 3: alive_ counts every goroutine in worker_main, workers_ the ones not stopping.
    GORT_DCHECK(alive_ >= 0 && workers_.load(std::memory_order_relaxed) <= alive_);
    chan<std::monostate> done;
    if (closed_.load(std::memory_order_relaxed) && alive_ == 0) done = take_all_done_locked();
    const bool free_core = orphaned_ && alive_ == 0;
    lock_.unlock();
    if (done) done.close();  // our own handle: the pool may already be gone
    if (free_core) delete this;
  }

  /// Runs a payload, reporting an exception it throws. True when it threw.
  bool run_guarded(void* p) noexcept {
    try {
      run_.run(run_.state, p);
      return false;
    } catch (...) {
      ops_->reset(p);
      report(std::current_exception());
      return true;
    }
  }

  void report(std::exception_ptr e) noexcept {
    try {
      if (cfg_.exception_handler) {
        cfg_.exception_handler(e);
        return;
      }
      cfg_.logger(describe("pool task exception", e));
    } catch (...) {
      try {
        cfg_.logger(describe("pool exception handler exception", std::current_exception()));
      } catch (...) {
        pool_default_log("an exception handler and the logger threw; exception dropped");
      }
    }
  }

  /// "goroutine 18 [pool task exception]: what()".
  static std::string describe(const char* what, std::exception_ptr e) {
    std::string text;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      text = ex.what();
    } catch (...) {
      text = "unknown exception";
    }
    return "goroutine " + std::to_string(goroutine_id(current())) + " [" + what + "]: " + text;
  }

  // ---- idle container (requires lock_) ------------------------------------------------------

  worker* pop_idle_locked() noexcept GORT_REQUIRES(lock_) { return fifo_ ? ring_.detach() : stack_.detach(); }

  void push_idle_locked(worker* w) noexcept GORT_REQUIRES(lock_) {
    // Invariant 2: a worker goes idle only when nobody waits (it would have served the waiter).
    GORT_DCHECK(waiters_.empty());
    GORT_DCHECK(!closed_.load(std::memory_order_relaxed));  // invariant 5
    w->stop = false;
    if (fifo_) {
      (void)ring_.insert(w);  // cannot fail: idle <= workers <= capacity == ring size
    } else {
      stack_.insert(w);  // capacity reserved for every alive worker
    }
  }

  /// Pops up to n of the oldest idle workers for protocol S; returns them linked by `next`.
  worker* stop_oldest_locked(std::size_t n) noexcept GORT_REQUIRES(lock_) {
    worker* stopped = nullptr;
    // Called by the container under lock_, which the analysis cannot see through.
    auto stop = [&](worker* w) GORT_NO_THREAD_SAFETY_ANALYSIS {
      mark_stopping_locked(w, stopped);
    };
    if (fifo_) {
      ring_.remove_oldest(n, stop);
    } else {
      stack_.remove_oldest(n, stop);
    }
    return stopped;
  }

  /// Protocol S, step 1 for an idle worker just taken from the idle container: marks it stopping,
  /// uncounts it from workers_ and chains it onto `stopped` for wake_stopped(). Requires lock_.
  void mark_stopping_locked(worker* w, worker*& stopped) noexcept GORT_REQUIRES(lock_) {
    w->stop = true;
    w->next = stopped;
    stopped = w;
    workers_.store(workers_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }

  /// Protocol S, step 2: no lock held. Callable from a scheduler context (purge).
  static void wake_stopped(worker* w) noexcept {
    while (w != nullptr) {
      worker* next = w->next;  // read before ready(): the record is on the worker's stack
      (void)w->w.claim.claim(k_claim_granted);
      ready(w->g());
      w = next;
    }
  }

  // ---- waiters (requires lock_) ------------------------------------------------------------

  void enqueue_locked(waiter* w) noexcept GORT_REQUIRES(lock_) {
    waiters_.push_back(w);
    waiting_.store(waiting_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  void unlink_locked(waiter* w) noexcept GORT_REQUIRES(lock_) {
    waiters_.remove(w);
    waiting_.store(waiting_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }

  /// Dequeues the oldest waiter whose claim this call wins (protocol C: a waiter its context
  /// already claimed is unlinked and skipped; it reports its own rejection), or null.
  waiter* pop_waiter_locked() noexcept GORT_REQUIRES(lock_) {
    for (;;) {
      waiter* w = waiters_.front();
      if (w == nullptr) return nullptr;
      unlink_locked(w);
      if (w->claim.claim(k_claim_granted)) return w;
    }
  }

  /// Wakes a dequeued (claimed) waiter whose outcome is set; `self` is the caller's record when
  /// known. No lock held. After this the record may be gone.
  static void wake(waiter* s, goroutine* self = nullptr) {
    if (self != nullptr) {
      ready(self, s->g);
    } else {
      ready(s->g);
    }
  }

  /// Requires lock_. Reserves workers for queued waiters while under capacity (tune up) and
  /// returns them linked by `next`; spawn_granted() spawns their workers after unlocking.
  waiter* grant_locked() noexcept GORT_REQUIRES(lock_) {
    waiter* granted = nullptr;
    waiter* last = nullptr;
    for (;;) {
      const std::int64_t cap = capacity_.load(std::memory_order_relaxed);
      if (waiters_.empty() || (cap >= 0 && workers_.load(std::memory_order_relaxed) >= cap)) {
        break;
      }
      if (!room_for_worker_locked()) break;  // the rest stay queued for workers that finish
      reserve_worker_locked();
      waiter* s = pop_waiter_locked();
      if (s == nullptr) {  // every waiter left was claimed by its context: return the slot
        unreserve_worker_locked();
        break;
      }
      ++submitted_;
      s->next_granted = nullptr;
      if (last != nullptr) {
        last->next_granted = s;
      } else {
        granted = s;
      }
      last = s;
    }
    return granted;
  }

  /// Spawns a worker for each granted waiter (FIFO order), then wakes it. No lock held.
  void spawn_granted(waiter* s) noexcept {
    while (s != nullptr) {
      waiter* next = s->next_granted;
      try {
        spawn_reserved(s->payload, [this]() GORT_REQUIRES(lock_) { --submitted_; });
        s->out = outcome_kind::accepted;
      } catch (...) {
        s->out = outcome_kind::no_memory;
      }
      wake(s);
      s = next;
    }
  }

  /// Requires lock_. Marks all_done_ as closed-by-the-caller and returns it for closing after
  /// unlocking (a channel is closed outside lock_).
  chan<std::monostate> take_all_done_locked() noexcept GORT_REQUIRES(lock_) {
    if (all_done_closed_) return {};
    all_done_closed_ = true;
    return all_done_;
  }

  // ---- min_workers and purge -------------------------------------------------------------

  /// Starts idle workers until min_workers are alive (construction, reboot).
  void start_min_workers() {
    for (;;) {
      lock_.lock();
      if (closed_.load(std::memory_order_relaxed) ||
          workers_.load(std::memory_order_relaxed) >= cfg_.min_workers) {
        lock_.unlock();
        return;
      }
      if (!room_for_worker_locked()) {
        const std::size_t target = static_cast<std::size_t>(alive_) + 1;
        lock_.unlock();
        grow_bookkeeping(target);
        continue;
      }
      reserve_worker_locked();
      lock_.unlock();
      spawn_reserved(nullptr, [] {});
    }
  }

  void start_purge() {
    if (cfg_.disable_purge) return;
    timer_gate_.lock();
    if (!purge_armed_ && !closed_.load(std::memory_order_relaxed)) {
      try {
        timer_start(&purge_, deadline_after(purge_.period));
      } catch (...) {
        timer_gate_.unlock();
        throw;
      }
      purge_armed_ = true;
    }
    timer_gate_.unlock();
  }

  /// Disarms the purge timer whatever the pool's state: for the owner about to free the core
  /// (after release(); nobody may reboot any more). Any thread.
  void halt_purge() noexcept {
    if (cfg_.disable_purge) return;
    timer_gate_.lock();
    if (purge_armed_) {
      (void)timer_stop(&purge_);  // waits for a firing callback to return
      purge_armed_ = false;
    }
    timer_gate_.unlock();
  }

  /// Called by release() after it unlocked. A reboot() may have reopened the pool meanwhile and
  /// found the timer still armed: then the timer stays (closed_ is re-read under the gate, which
  /// orders it after reboot's store).
  void stop_purge() noexcept {
    if (cfg_.disable_purge) return;
    timer_gate_.lock();
    if (purge_armed_ && closed_.load(std::memory_order_relaxed)) {
      (void)timer_stop(&purge_);  // waits for a firing callback to return
      purge_armed_ = false;
    }
    timer_gate_.unlock();
  }

  /// The purge timer's callback, every expiry: stops the workers idle for a whole interval,
  /// never going below min_workers. Runs on a scheduler context with the timer heap's lock held.
  static void purge_fire(timer_node* n, std::int64_t) noexcept {
    pool_core* c = static_cast<purge_node*>(n)->core;
    worker* stopped = nullptr;
    c->lock_.lock();
    if (!c->closed_.load(std::memory_order_relaxed)) {
      const std::int64_t spare = c->workers_.load(std::memory_order_relaxed) - c->cfg_.min_workers;
      const std::size_t limit = spare > 0 ? static_cast<std::size_t>(spare) : 0;
      auto stop = [&](worker* w) GORT_NO_THREAD_SAFETY_ANALYSIS {
        c->mark_stopping_locked(w, stopped);  // called by the container under c->lock_
      };
      if (c->fifo_) {
        c->ring_.refresh(limit, stop);
      } else {
        c->stack_.refresh(limit, stop);
      }
    }
    c->lock_.unlock();
    wake_stopped(stopped);
  }

  // ---- state ----------------------------------------------------------------------------

  // Hot: the line a submission or a finishing worker writes. Both take the lock, count, and push
  // or pop the idle stack (its header is here; its array's top is the one other line they
  // write), so the critical section of a hand-off misses on two lines, not five; what else they
  // read is written rarely and stays shared in both caches. Checked by the constructor.
  alignas(64) spinlock lock_;
  // Mirrors written under lock_ (relaxed stores) and read without it by the gauges (relaxed
  // loads): a reader gets some recent value, which is all running()/waiting()/cap() promise.
  std::atomic<bool> closed_{false};
  std::uint64_t submitted_ GORT_GUARDED_BY(lock_) = 0;
  std::uint64_t completed_ GORT_GUARDED_BY(lock_) = 0;
  worker_stack<worker> stack_ GORT_GUARDED_BY(lock_);

  std::atomic<std::int64_t> capacity_{-1};
  std::atomic<std::int64_t> workers_{0};
  std::atomic<std::int64_t> waiting_{0};
  std::int64_t alive_ GORT_GUARDED_BY(lock_) = 0;
  std::uint64_t failed_ GORT_GUARDED_BY(lock_) = 0;
  std::uint64_t rejected_ GORT_GUARDED_BY(lock_) = 0;
  std::uint64_t inline_runs_ GORT_GUARDED_BY(lock_) = 0;
  wait_queues<waiter> waiters_ GORT_GUARDED_BY(lock_);  // blocked submitters, oldest first

  // Set at construction.
  pool_config cfg_;
  const pool_payload_ops* ops_;
  void (*const move_into_empty_)(void*, void*) noexcept;  // ops_->move_into_empty, one load nearer
  pool_runner run_;  // runs (and empties) one payload
  const bool fifo_;

  // Colder.
  worker_loop_queue<worker> ring_ GORT_GUARDED_BY(lock_);
  pointer_set members_ GORT_GUARDED_BY(lock_);
  chan<std::monostate> all_done_ GORT_GUARDED_BY(lock_);
  bool all_done_closed_ GORT_GUARDED_BY(lock_) = false;
  bool orphaned_ GORT_GUARDED_BY(lock_) = false;

  // Purge timer: armed and disarmed under timer_gate_.
  spinlock timer_gate_;
  bool purge_armed_ GORT_GUARDED_BY(timer_gate_) = false;
  purge_node purge_;
  std::atomic<bool> purge_lost_{false};  // set when a runtime's end took the timer (invariant 6)
  std::atomic<std::uint32_t> stamp_{0};  // the waiter epoch the state was last reconciled in
};


void pool_worker_main(pool_core* core, void* first) { core->worker_main(first); }

// ---- the registry of live pools (metrics: gort::stats() sums them) ----
// Lock order: g_pools_lock -> a pool's lock_ (counts_snapshot); nothing else is taken under it.

namespace {
std::mutex g_pools_lock;
std::vector<pool_core*> g_pools;  // g_pools_lock; pools between pool_create and pool_destroy
std::uint64_t g_pools_created = 0;  // g_pools_lock

void pool_register(pool_core* c) {
  std::lock_guard<std::mutex> l(g_pools_lock);
  g_pools.push_back(c);
  ++g_pools_created;
}

void pool_unregister(pool_core* c) noexcept {
  std::lock_guard<std::mutex> l(g_pools_lock);
  std::erase(g_pools, c);
}
}  // namespace

pool_totals pool_totals_now() {
  pool_totals t;
  std::lock_guard<std::mutex> l(g_pools_lock);
  t.pools = static_cast<std::int64_t>(g_pools.size());
  t.created = g_pools_created;
  for (pool_core* c : g_pools) {
    const pool_counts n = c->counts_snapshot();
    t.sum.submitted += n.submitted;
    t.sum.completed += n.completed;
    t.sum.failed += n.failed;
    t.sum.rejected += n.rejected;
    t.sum.inline_runs += n.inline_runs;
    t.sum.running += n.running;
    t.sum.idle += n.idle;
    t.sum.waiting += n.waiting;
  }
  return t;
}

pool_core* pool_create(pool_config cfg, const pool_payload_ops* ops, pool_runner run) {
  pool_core* core;
  try {
    core = new pool_core(std::move(cfg), ops, run);
  } catch (...) {
    if (run.destroy != nullptr) run.destroy(run.state);
    throw;
  }
  try {
    core->start();
  } catch (...) {
    core->release();
    core->stop_timers();
    core->orphan();  // workers already started may still reference it
    throw;
  }
  try {
    pool_register(core);
  } catch (...) {
    pool_destroy(core);  // its unregistration finds nothing to remove
    throw;
  }
  return core;
}

void pool_destroy(pool_core* c) noexcept {
  pool_unregister(c);  // first: the registry walk must not reach a pool being destroyed
  c->release();
  c->stop_timers();
  if (gort::num_goroutines() == 0 || c->called_from_worker()) {
    c->orphan();
    return;
  }
  chan<std::monostate> done = c->all_done();
  (void)done.recv();
  delete c;
}

submit_status pool_submit(pool_core* c, void* p) { return c->submit(p); }

std::error_code pool_submit(pool_core* c, void* p, const context& ctx, submit_status* status) {
  return c->submit(p, ctx, status);
}

bool pool_release(pool_core* c) { return c->release(); }

std::error_code pool_wait_done_for(pool_core* c, clock::duration d) {
  chan<std::monostate> done = c->all_done();
  if (done.try_recv().status == recv_status::closed) return {};
  if (d <= clock::duration::zero()) return make_error_code(pool_errc::timeout);
  timer t(d);
  bool finished = false;
  select(recv(done, [&](const std::optional<std::monostate>&) { finished = true; }),
         recv(t.c()));
  return finished ? std::error_code{} : make_error_code(pool_errc::timeout);
}

void pool_reboot(pool_core* c) { c->reboot(); }
void pool_tune(pool_core* c, std::int64_t n) { c->tune(n); }
std::int64_t pool_running(const pool_core* c) noexcept { return c->running(); }
std::int64_t pool_waiting(const pool_core* c) noexcept { return c->waiting(); }
std::int64_t pool_cap(const pool_core* c) noexcept { return c->cap(); }
bool pool_is_closed(const pool_core* c) noexcept { return c->is_closed(); }
pool_counts pool_counts_of(pool_core* c) { return c->counts(); }

}  // namespace gort::detail
