// gort/pool.hpp — a bounded pool of worker goroutines with the semantics of Go's ants
// (panjf2000/ants v2), fixing what its users still trip over.
//
//   gort::pool p({.capacity = 1000});
//   if (auto e = p.submit([&] { handle(job); })) log(e.message());   // e: overload, closed
//   auto f = p.submit_future([] { return 42; });  int v = f.get();    // parks, doesn't block
//   if (auto e = p.release_timeout(5s)) ...                            // graceful shutdown
//
// Types: gort::pool (tasks are callables), gort::pool_with_func<Arg> (one function, a typed
// argument per task: ants' PoolWithFunc), gort::multi_pool / multi_pool_with_func<Arg> (N pools
// behind one load balancer: ants' MultiPool), gort::future<T> / gort::promise<T> (see
// gort/future.hpp), configured by one aggregate, gort::pool_options.
//
// Semantics (ants', with the decisions where ants differs or is silent — docs/api.md has the
// table):
//  * A task is *accepted* when it is bound to a worker: handed to an idle worker, carried by a new
//    worker, or taken over from a blocked submitter by a worker that finished. Every accepted task
//    runs exactly once; a refused one never runs (its callable is destroyed unrun).
//  * submit() blocks (parks a goroutine, blocks a plain thread) while every worker is busy and the
//    pool is at capacity; it returns pool_errc::overload instead when `nonblocking` is set or
//    `max_blocking_tasks` submitters already wait, pool_errc::closed on a released pool.
//    submit(ctx, f) also gives up when ctx is done, returning ctx.err() (ants #237).
//  * running() counts live workers (busy or idle) and never exceeds cap() (ants #374: a worker's
//    slot is reserved under the pool's lock before it is spawned) — except after tune() lowered
//    the capacity, until busy workers finish (they exit instead of going idle).
//  * A task that throws never hurts the pool (ants #146): its worker reports the exception (the
//    exception_handler, else the logger: "goroutine N [pool task exception]: what()") and keeps
//    serving, so blocked submitters are never stranded.
//  * A task submitting into its own pool while the pool is full would wait for itself (ants #197
//    deadlocks): the task runs inline on the submitting worker instead (caller-runs) and submit()
//    returns ok. The pool stays within its capacity; stats().inline_runs counts these.
//  * tune(n) growing serves blocked submitters at once (ants #205).
//  * release() closes the pool; release_timeout(d) closes it and returns once every accepted task
//    has finished and every worker has exited, or pool_errc::timeout after d (ants #17/#73); on an
//    already closed pool it returns pool_errc::closed (ants). Purging runs on a runtime timer, not
//    a goroutine, and is stopped by release, so nothing outlives the pool (ants #212/#263).
//  * Destroying a pool is release() followed by waiting for every worker to exit: accepted tasks
//    are never lost and no goroutine is leaked. (Destroyed from one of its own tasks, it does not
//    wait — that would wait for itself — and its state is freed by the last worker.)
//
// Who may call: every member function may be called from any thread, goroutine or not,
// concurrently (except the destructor, which must run once, after every other call returned).
// Memory ordering: everything a submitter did before calling submit() happens-before its task
// runs; a task's effects happen-before the return of a release_timeout() that reports {} and of
// future::get() (for submit_future). Gauges (running(), waiting(), free()...) are snapshots.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include "gort/detail/std_parts.hpp"
#include "gort/source_location.hpp"
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "gort/chan.hpp"
#include "gort/detail/pool_core.hpp"
#include "gort/detail/pool_task.hpp"
#include "gort/error.hpp"
#include "gort/log.hpp"
#include "gort/future.hpp"
#include "gort/go.hpp"
#include "gort/time.hpp"

namespace gort {

// ---- errors --------------------------------------------------------------------------------

/// The pool's error codes (category "gort.pool"); messages are ants' exact strings. Outcomes of
/// submissions and releases are returned as std::error_code; the configuration errors are the
/// what() of the gort::config_error a constructor throws.
enum class pool_errc : int {
  overload = 1,                     // ErrPoolOverload
  closed = 2,                       // ErrPoolClosed
  timeout = 3,                      // ErrTimeout
  invalid_pool_index = 4,           // ErrInvalidPoolIndex
  lack_pool_func = 5,               // ErrLackPoolFunc (config_error)
  invalid_pool_expiry = 6,          // ErrInvalidPoolExpiry (config_error)
  invalid_pre_alloc_size = 7,       // ErrInvalidPreAllocSize (config_error)
  invalid_load_balancing_strategy = 8,  // ErrInvalidLoadBalancingStrategy (config_error)
  invalid_multi_pool_size = 9,      // ErrInvalidMultiPoolSize (config_error)
};

namespace detail {

class pool_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gort.pool"; }
  std::string message(int ev) const override {
    switch (static_cast<pool_errc>(ev)) {
      case pool_errc::overload: return "too many goroutines blocked on submit or Nonblocking is set";
      case pool_errc::closed: return "this pool has been closed";
      case pool_errc::timeout: return "operation timed out";
      case pool_errc::invalid_pool_index: return "invalid pool index";
      case pool_errc::lack_pool_func: return "must provide function for pool";
      case pool_errc::invalid_pool_expiry: return "invalid expiry for pool";
      case pool_errc::invalid_pre_alloc_size:
        return "can not set up a negative capacity under PreAlloc mode";
      case pool_errc::invalid_load_balancing_strategy: return "invalid load-balancing strategy";
      case pool_errc::invalid_multi_pool_size: return "invalid size for multiple pool";
    }
    return "unknown gort.pool error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<pool_errc>(ev)) {
      case pool_errc::overload:
        return std::make_error_condition(std::errc::resource_unavailable_try_again);
      case pool_errc::timeout: return std::make_error_condition(std::errc::timed_out);
      case pool_errc::invalid_pool_index:
      case pool_errc::lack_pool_func:
      case pool_errc::invalid_pool_expiry:
      case pool_errc::invalid_pre_alloc_size:
      case pool_errc::invalid_load_balancing_strategy:
      case pool_errc::invalid_multi_pool_size:
        return std::make_error_condition(std::errc::invalid_argument);
      case pool_errc::closed: break;
    }
    return std::error_condition(ev, *this);
  }
};

}  // namespace detail

/// The "gort.pool" error category (one instance per program). Any thread.
inline const std::error_category& pool_category() noexcept {
  static const detail::pool_category_impl category;
  return category;
}

inline std::error_code make_error_code(pool_errc e) noexcept {
  return std::error_code(static_cast<int>(e), pool_category());
}

}  // namespace gort

template <>
struct std::is_error_code_enum<gort::pool_errc> : std::true_type {};

namespace gort {

// ---- configuration -------------------------------------------------------------------------

/// Configuration of a pool (ants' Options plus its size). Every field has a working default;
/// invalid combinations make the constructor throw gort::config_error (ants' message where ants
/// has the check).
struct pool_options {
  /// Maximum number of workers (goroutines) alive at once. <= 0: unlimited (ants' size <= 0).
  std::int64_t capacity = 0;

  /// Workers started by the constructor (and by reboot()) and never purged below. 0..capacity
  /// (any value >= 0 when unlimited); else config_error "invalid min_workers for pool".
  std::int64_t min_workers = 0;

  /// Idle workers are stopped after being idle for at least `expiry` (and less than twice it: a
  /// purge pass runs every `expiry`, ants' granularity). 0 means 1 s (ants'
  /// DefaultCleanIntervalTime); negative: config_error "invalid expiry for pool" (ignored with
  /// disable_purge, as in ants).
  std::chrono::nanoseconds expiry = std::chrono::seconds(1);

  /// Keep idle workers in a ring of `capacity` entries allocated up front, reused FIFO (least
  /// recently used first): the pool then never allocates for its idle list, and tune() has no
  /// effect (ants' PreAlloc). Requires capacity > 0, else config_error "can not set up a negative
  /// capacity under PreAlloc mode". Default: a LIFO stack (hot workers reused first).
  bool pre_alloc = false;

  /// At most this many submitters may wait at once; the next one gets pool_errc::overload.
  /// 0: unlimited. Negative: config_error "invalid max_blocking_tasks for pool".
  std::int64_t max_blocking_tasks = 0;

  /// submit() never waits: a full pool returns pool_errc::overload (max_blocking_tasks is then
  /// irrelevant).
  bool nonblocking = false;

  /// Called on the worker with the exception a task threw; the worker then keeps serving. Empty:
  /// the exception is logged ("goroutine N [pool task exception]: what()"). An exception escaping
  /// the handler is logged too, never propagated.
  std::function<void(std::exception_ptr)> exception_handler{};

  /// Receives one message per line (no trailing newline), on the goroutine that logs. Empty: the
  /// runtime's log sink (gort::set_log_sink; by default "gort: pool: <message>" on stderr).
  log_sink logger{};

  /// Never stop idle workers (no purge timer); `expiry` is then ignored (ants' DisablePurge).
  bool disable_purge = false;
};

/// Counters and gauges of a pool, read together under its lock (pool::stats()).
struct pool_stats {
  std::uint64_t submitted = 0;    // tasks accepted (each runs exactly once)
  std::uint64_t completed = 0;    // accepted tasks that have finished (returned or threw)
  std::uint64_t failed = 0;       // completed tasks that threw (reported to the handler/logger)
  std::uint64_t rejected = 0;     // submissions refused: overload, closed, or context done
  std::uint64_t inline_runs = 0;  // tasks run inline by a worker submitting into its full pool
  std::int64_t running = 0;       // live workers (running())
  std::int64_t busy = 0;          // workers running a task
  std::int64_t idle = 0;          // workers parked, waiting for a task
  std::int64_t waiting = 0;       // submitters blocked (waiting())
};

namespace detail {

inline pool_config make_pool_config(const pool_options& o, const gort::source_location& where) {
  pool_config c;
  if (o.pre_alloc && o.capacity <= 0) throw config_error(make_error_code(pool_errc::invalid_pre_alloc_size).message());
  if (!o.disable_purge && o.expiry.count() < 0) {
    throw config_error(make_error_code(pool_errc::invalid_pool_expiry).message());
  }
  if (o.min_workers < 0 || (o.capacity > 0 && o.min_workers > o.capacity)) {
    throw config_error("invalid min_workers for pool: want 0 <= min_workers <= capacity");
  }
  if (o.max_blocking_tasks < 0) {
    throw config_error("invalid max_blocking_tasks for pool: want >= 0 (0: unlimited)");
  }
  c.capacity = o.capacity > 0 ? o.capacity : -1;
  c.min_workers = o.min_workers;
  c.expiry_ns = o.expiry.count() == 0 ? std::int64_t{1'000'000'000} : o.expiry.count();
  c.pre_alloc = o.pre_alloc;
  c.max_blocking_tasks = o.max_blocking_tasks;
  c.nonblocking = o.nonblocking;
  c.disable_purge = o.disable_purge;
  c.exception_handler = o.exception_handler;
  c.logger = o.logger;
  c.where = where;
  return c;
}

inline std::error_code to_error_code(submit_status s) noexcept {
  switch (s) {
    case submit_status::ok: return {};
    case submit_status::overload: return make_error_code(pool_errc::overload);
    case submit_status::closed: return make_error_code(pool_errc::closed);
  }
  return {};
}

/// What gort::pool and gort::pool_with_func<Arg> share: the core, the gauges and the lifecycle.
/// The core is compiled once (detail/pool_core.hpp); Payload only picks its ops table.
template <class Payload>
class basic_pool {
  static_assert(std::is_nothrow_move_constructible_v<Payload> &&
                    std::is_nothrow_move_assignable_v<Payload>,
                "pool payloads move without throwing (outside the lock, with no failure path)");

 public:
  basic_pool(const basic_pool&) = delete;
  basic_pool& operator=(const basic_pool&) = delete;

  /// release(), then waits until every worker has exited (a goroutine parks, a plain thread
  /// blocks): accepted tasks all run, no goroutine is leaked. From one of this pool's own tasks,
  /// or when no runtime is running any more, it does not wait (the last worker frees the state).
  ~basic_pool() { pool_destroy(core_); }

  /// Live workers, busy or idle (ants' Running). Never above cap() except after tune() lowered it.
  [[nodiscard]] std::int64_t running() const noexcept { return pool_running(core_); }

  /// cap() - running(), or -1 when the pool is unlimited (ants' Free).
  [[nodiscard]] std::int64_t free() const noexcept {
    const std::int64_t c = pool_cap(core_);
    return c < 0 ? -1 : c - pool_running(core_);
  }

  /// Submitters currently blocked in submit/invoke (ants' Waiting).
  [[nodiscard]] std::int64_t waiting() const noexcept { return pool_waiting(core_); }

  /// The capacity, or -1 when unlimited. The same name as chan::capacity().
  [[nodiscard]] std::int64_t capacity() const noexcept { return pool_cap(core_); }

  /// capacity(), under ants' name (Cap).
  [[nodiscard]] std::int64_t cap() const noexcept { return capacity(); }

  /// ants' Tune: sets the capacity to n. No effect on an unlimited or pre_alloc pool, for n <= 0
  /// or n == cap(); values below min_workers are raised to it. Growing lets blocked submitters in
  /// at once (ants #205); shrinking stops surplus idle workers now and busy ones when they finish.
  void tune(std::int64_t n) { pool_tune(core_, n); }

  [[nodiscard]] bool is_closed() const noexcept { return pool_is_closed(core_); }

  /// Closes the pool and returns at once: idle workers stop, blocked submitters get
  /// pool_errc::closed, busy workers finish their task and exit, later submissions get closed.
  /// No effect on a closed pool.
  void release() { (void)pool_release(core_); }

  /// release(), then waits until every accepted task has finished and every worker has exited:
  /// {} then, or pool_errc::timeout after d (the pool stays closed; workers still finish their
  /// tasks). pool_errc::closed at once when the pool was already closed (ants).
  template <class Rep, class Period>
  [[nodiscard]] std::error_code release_timeout(std::chrono::duration<Rep, Period> d) {
    if (!pool_release(core_)) return make_error_code(pool_errc::closed);
    return pool_wait_done_for(core_, saturating_cast<clock::duration>(d));
  }

  /// Reopens a closed pool (no effect on an open one). Use release_timeout() first to be sure the
  /// previous workers are gone; workers still finishing a task rejoin the reopened pool.
  void reboot() { pool_reboot(core_); }

  /// Counters and gauges, consistent with each other (read under the pool's lock).
  [[nodiscard]] pool_stats stats() const {
    const pool_counts c = pool_counts_of(core_);
    pool_stats s;
    s.submitted = c.submitted;
    s.completed = c.completed;
    s.failed = c.failed;
    s.rejected = c.rejected;
    s.inline_runs = c.inline_runs;
    s.running = c.running;
    s.idle = c.idle;
    s.busy = c.running - c.idle;
    s.waiting = c.waiting;
    return s;
  }

 protected:
  /// Takes ownership of `run` (also when it throws: invalid options, std::bad_alloc).
  basic_pool(const pool_options& o, pool_runner run, const gort::source_location& where)
      : core_(make_core(o, run, where)) {}

  std::error_code submit_payload(Payload& p) { return to_error_code(pool_submit(core_, &p)); }
  std::error_code submit_payload(Payload& p, const context& ctx) {
    submit_status s = submit_status::ok;
    if (std::error_code e = pool_submit(core_, &p, ctx, &s)) return e;
    return to_error_code(s);
  }

  pool_core* core_;

 private:
  template <class>
  friend class basic_multi_pool;

  static pool_core* make_core(const pool_options& o, pool_runner run,
                              const gort::source_location& where) {
    pool_config cfg;
    try {
      cfg = make_pool_config(o, where);
    } catch (...) {
      if (run.destroy != nullptr) run.destroy(run.state);
      throw;
    }
    return pool_create(std::move(cfg), &payload_ops_for<Payload>, run);
  }
};

/// submit_future's task: runs f and fulfils the promise with its result or exception.
template <class Fn, class R>
struct future_task {
  Fn fn;
  promise<R> pr;
  void operator()() {
    try {
      if constexpr (std::is_void_v<R>) {
        fn();  // INVOKE with no arguments is a plain call
        pr.set_value();
      } else {
        pr.set_value(fn());
      }
    } catch (...) {
      pr.set_exception(std::current_exception());
    }
  }
};

/// A future that is already ready with the error of a refused submission.
template <class R>
future<R> refused_future(std::error_code e) {
  promise<R> p;
  future<R> f = p.get_future();
  p.set_exception(std::make_exception_ptr(std::system_error(e)));
  return f;
}

}  // namespace detail

// ---- gort::pool ----------------------------------------------------------------------------

/// A bounded pool of worker goroutines running callables (ants' Pool). See the file comment.
/// Not copyable or movable.
class pool : public detail::basic_pool<detail::pool_task> {
  using base = detail::basic_pool<detail::pool_task>;

 public:
  /// Validates the options (gort::config_error, see pool_options), starts min_workers workers and
  /// the purge timer. `where` is shown as the workers' creation site. Throws std::bad_alloc.
  explicit pool(const pool_options& options = {},
                gort::source_location where = gort::source_location::current())
      : base(options, {[](void*, void* t) { static_cast<detail::pool_task*>(t)->run(); }}, where) {}

  /// Runs f() on a worker: {} once accepted; pool_errc::overload or pool_errc::closed when
  /// refused (f is then destroyed unrun). Waits while the pool is full (see the file comment).
  /// f is decayed and moved in; small nothrow-movable callables (<= 40 bytes) are stored without
  /// allocating. Throws what copying f throws, or std::bad_alloc.
  template <class F>
    requires std::is_invocable_v<std::decay_t<F>&>
  [[nodiscard]] std::error_code submit(F&& f) {
    detail::pool_task t(std::forward<F>(f));
    return submit_payload(t);
  }

  /// submit() that gives up when ctx is done first (or is already done): returns ctx.err() and
  /// the task is not accepted (ants #237).
  template <class F>
    requires std::is_invocable_v<std::decay_t<F>&>
  [[nodiscard]] std::error_code submit(const context& ctx, F&& f) {
    detail::pool_task t(std::forward<F>(f));
    return submit_payload(t, ctx);
  }

  /// submit() returning a future of f's result: get() parks the calling goroutine until the task
  /// has run, then returns its value or rethrows its exception (an exception that reaches the
  /// future is not counted as failed). A refused submission gives a ready future whose get()
  /// throws std::system_error with the pool_errc.
  template <class F, class R = std::invoke_result_t<std::decay_t<F>&>>
  [[nodiscard]] future<R> submit_future(F&& f) {
    promise<R> pr;
    future<R> fut = pr.get_future();
    detail::pool_task t(detail::future_task<std::decay_t<F>, R>{std::forward<F>(f), std::move(pr)});
    if (std::error_code e = submit_payload(t)) return detail::refused_future<R>(e);
    return fut;
  }
};

// ---- gort::pool_with_func ------------------------------------------------------------------

/// A pool whose tasks are arguments to one function (ants' PoolWithFunc / generic
/// PoolWithFuncGeneric[T]). Arg must be nothrow-move-constructible (it moves between the
/// submitter, the pool and the worker with no failure path). Not copyable or movable.
template <class Arg>
class pool_with_func : public detail::basic_pool<std::optional<Arg>> {
  static_assert(std::is_nothrow_move_constructible_v<Arg> && std::is_nothrow_move_assignable_v<Arg>,
                "gort::pool_with_func<Arg>: Arg must be nothrow-movable; wrap it in a "
                "std::unique_ptr otherwise");
  using base = detail::basic_pool<std::optional<Arg>>;

 public:
  /// fn runs once per accepted argument. An empty fn: config_error "must provide function for
  /// pool" (ants' ErrLackPoolFunc). Otherwise as pool's constructor.
  explicit pool_with_func(std::function<void(Arg)> fn, const pool_options& options = {},
                          gort::source_location where = gort::source_location::current())
      : base(options, checked(std::move(fn)), where) {}

  /// Runs fn(arg) on a worker (ants' Invoke); results as pool::submit.
  [[nodiscard]] std::error_code invoke(Arg arg) {
    std::optional<Arg> p(std::move(arg));
    return this->submit_payload(p);
  }

  /// invoke() that gives up when ctx is done first: ctx.err().
  [[nodiscard]] std::error_code invoke(const context& ctx, Arg arg) {
    std::optional<Arg> p(std::move(arg));
    return this->submit_payload(p, ctx);
  }

 private:
  // Runs fn(arg) for an std::optional<Arg> payload, leaving it empty (also when fn throws).
  // The core owns fn (a heap copy) and frees it with itself.
  static detail::pool_runner checked(std::function<void(Arg)> fn) {
    if (!fn) throw config_error(make_error_code(pool_errc::lack_pool_func).message());
    using fn_type = std::function<void(Arg)>;
    return {[](void* state, void* payload) {
              std::optional<Arg>& a = *static_cast<std::optional<Arg>*>(payload);
              struct empty_after {
                std::optional<Arg>& a;
                ~empty_after() { a.reset(); }
              } guard{a};
              (*static_cast<fn_type*>(state))(std::move(*a));
            },
            new fn_type(std::move(fn)),
            [](void* state) noexcept { delete static_cast<fn_type*>(state); }};
  }
};

// ---- gort::multi_pool ----------------------------------------------------------------------

/// How a multi-pool picks the pool for a task (ants' LoadBalancingStrategy; the values are ants').
enum class load_balancing : int {
  round_robin = 2,  // pools in turn, starting with pool 0
  least_tasks = 4,  // the pool with the fewest running workers (the first on ties)
};

/// The outcome of multi_pool::release_timeout: {} when every pool released in time.
struct multi_pool_error {
  /// {} on success; pool_errc::closed when the multi-pool was already closed; else the first
  /// failing pool's error (pool_errc::timeout).
  std::error_code code;
  /// (pool index, error) for every pool that failed, in index order.
  std::vector<std::pair<std::size_t, std::error_code>> per_pool;

  explicit operator bool() const noexcept { return static_cast<bool>(code); }

  /// ants' text: "pool 0: operation timed out | pool 3: operation timed out"; the code's message
  /// when no single pool failed; "" on success.
  [[nodiscard]] std::string message() const {
    if (per_pool.empty()) return code ? code.message() : std::string();
    std::string s;
    for (const auto& [i, e] : per_pool) {
      if (!s.empty()) s += " | ";
      s += "pool " + std::to_string(i) + ": " + e.message();
    }
    return s;
  }

  friend bool operator==(const multi_pool_error& a, pool_errc e) noexcept { return a.code == e; }
};

/// A per-index gauge of a multi-pool (ants' RunningByIndex etc.): err is
/// pool_errc::invalid_pool_index for an index out of range.
struct pool_gauge {
  std::int64_t value = 0;
  std::error_code err;
};

namespace detail {

/// The multi-pool machinery shared by multi_pool and multi_pool_with_func<Arg>.
template <class Pool>
class basic_multi_pool {
 public:
  basic_multi_pool(const basic_multi_pool&) = delete;
  basic_multi_pool& operator=(const basic_multi_pool&) = delete;

  /// Number of pools.
  [[nodiscard]] std::size_t size() const noexcept { return pools_.size(); }

  /// Sums over the pools (cap() and free() are -1 when the pools are unlimited).
  [[nodiscard]] std::int64_t running() const noexcept { return sum(&Pool::running); }
  [[nodiscard]] std::int64_t waiting() const noexcept { return sum(&Pool::waiting); }
  [[nodiscard]] std::int64_t capacity() const noexcept {
    return pools_.front()->capacity() < 0 ? -1 : sum(&Pool::capacity);
  }
  /// capacity(), under ants' name (Cap).
  [[nodiscard]] std::int64_t cap() const noexcept { return capacity(); }
  [[nodiscard]] std::int64_t free() const noexcept {
    return pools_.front()->cap() < 0 ? -1 : sum(&Pool::free);
  }

  [[nodiscard]] pool_gauge running_by_index(std::int64_t i) const noexcept {
    return by_index(i, &Pool::running);
  }
  [[nodiscard]] pool_gauge free_by_index(std::int64_t i) const noexcept {
    return by_index(i, &Pool::free);
  }
  [[nodiscard]] pool_gauge waiting_by_index(std::int64_t i) const noexcept {
    return by_index(i, &Pool::waiting);
  }

  /// Tunes every pool to n (per pool, like ants — not the total).
  void tune(std::int64_t n) {
    for (auto& p : pools_) p->tune(n);
  }

  [[nodiscard]] bool is_closed() const noexcept {
    return closed_.load(std::memory_order_acquire);  // acquire: pairs with the release CAS
  }

  /// Releases every pool at once (each closes immediately), then waits for all of them with one
  /// deadline d from now. {} when all finished; else the per-pool errors (ants' "pool <i>: <err>"
  /// joined by " | "). pool_errc::closed when the multi-pool was already closed.
  template <class Rep, class Period>
  [[nodiscard]] multi_pool_error release_timeout(std::chrono::duration<Rep, Period> d) {
    multi_pool_error r;
    bool open = false;
    // acq_rel: one caller wins the close; pairs with reboot()'s release store and is_closed().
    if (!closed_.compare_exchange_strong(open, true, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      r.code = make_error_code(pool_errc::closed);
      return r;
    }
    std::vector<bool> released(pools_.size());
    for (std::size_t i = 0; i < pools_.size(); ++i) released[i] = pool_release(pools_[i]->core_);
    // nanotime deadline, saturating: release_timeout(hours::max()) waits "forever".
    const std::int64_t deadline = deadline_after(to_ns(d));
    for (std::size_t i = 0; i < pools_.size(); ++i) {
      const clock::duration left = std::chrono::nanoseconds(deadline - nanotime());
      std::error_code e = released[i] ? pool_wait_done_for(pools_[i]->core_, left)
                                      : make_error_code(pool_errc::closed);
      if (e) r.per_pool.emplace_back(i, e);
    }
    if (!r.per_pool.empty()) r.code = r.per_pool.front().second;
    return r;
  }

  /// Reopens every pool of a closed multi-pool (no effect on an open one); the round-robin index
  /// restarts (the next pick is pool 1, as in ants).
  void reboot() {
    if (!closed_.load(std::memory_order_acquire)) return;
    for (auto& p : pools_) p->reboot();
    index_.store(0, std::memory_order_relaxed);
    closed_.store(false, std::memory_order_release);  // release: pairs with is_closed()
  }

  /// Sums of every pool's counters and gauges.
  [[nodiscard]] pool_stats stats() const {
    pool_stats t;
    for (const auto& p : pools_) {
      const pool_stats s = p->stats();
      t.submitted += s.submitted;
      t.completed += s.completed;
      t.failed += s.failed;
      t.rejected += s.rejected;
      t.inline_runs += s.inline_runs;
      t.running += s.running;
      t.busy += s.busy;
      t.idle += s.idle;
      t.waiting += s.waiting;
    }
    return t;
  }

 protected:
  template <class... A>
  basic_multi_pool(std::int64_t size, load_balancing lb, const pool_options& per_pool,
                   const gort::source_location& where, A&&... extra) : lb_(lb) {
    if (size <= 0) throw config_error(make_error_code(pool_errc::invalid_multi_pool_size).message());
    if (lb != load_balancing::round_robin && lb != load_balancing::least_tasks) {
      throw config_error(make_error_code(pool_errc::invalid_load_balancing_strategy).message());
    }
    pools_.reserve(static_cast<std::size_t>(size));
    try {
      for (std::int64_t i = 0; i < size; ++i) pools_.push_back(new Pool(extra..., per_pool, where));
    } catch (...) {
      destroy_pools();
      throw;
    }
  }

  ~basic_multi_pool() { destroy_pools(); }

  /// Submits p to the chosen pool; a round-robin pick that is overloaded retries once on the
  /// least-tasks pick (ants).
  template <class Payload, class... Ctx>
  std::error_code dispatch(Payload& p, const Ctx&... ctx) {
    if (is_closed()) {
      return make_error_code(pool_errc::closed);
    }
    std::error_code e = pools_[pick(lb_)]->submit_payload(p, ctx...);
    if (e == pool_errc::overload && lb_ == load_balancing::round_robin) {
      e = pools_[pick(load_balancing::least_tasks)]->submit_payload(p, ctx...);
    }
    return e;
  }

 private:
  std::size_t pick(load_balancing lb) noexcept {
    if (lb == load_balancing::round_robin) {
      // relaxed: a ticket counter; nothing is published through it.
      const std::uint32_t i = index_.fetch_add(1, std::memory_order_relaxed) + 1;
      return i % static_cast<std::uint32_t>(pools_.size());
    }
    std::size_t best = 0;
    std::int64_t least = INT64_MAX;
    for (std::size_t i = 0; i < pools_.size(); ++i) {
      const std::int64_t n = pools_[i]->running();
      if (n < least) {
        least = n;
        best = i;
      }
    }
    return best;
  }

  std::int64_t sum(std::int64_t (Pool::*f)() const noexcept) const noexcept {
    std::int64_t n = 0;
    for (const auto& p : pools_) n += ((*p).*f)();
    return n;
  }

  pool_gauge by_index(std::int64_t i, std::int64_t (Pool::*f)() const noexcept) const noexcept {
    if (i < 0 || i >= static_cast<std::int64_t>(pools_.size())) {
      return {0, make_error_code(pool_errc::invalid_pool_index)};
    }
    return {((*pools_[static_cast<std::size_t>(i)]).*f)(), {}};
  }

  void destroy_pools() noexcept {
    for (Pool* p : pools_) delete p;
    pools_.clear();
  }

  std::vector<Pool*> pools_;  // owned
  const load_balancing lb_;
  std::atomic<std::uint32_t> index_{UINT32_MAX};  // round robin: the first pick is pool 0
  std::atomic<bool> closed_{false};
};

}  // namespace detail

/// N gort::pools behind one load balancer (ants' MultiPool). Every pool gets `per_pool` (its
/// capacity is per pool). Errors: size <= 0 "invalid size for multiple pool", an unknown strategy
/// "invalid load-balancing strategy" (config_error), and the pool's own option errors.
class multi_pool : public detail::basic_multi_pool<pool> {
  using base = detail::basic_multi_pool<pool>;

 public:
  multi_pool(std::int64_t size, load_balancing lb, const pool_options& per_pool = {},
             gort::source_location where = gort::source_location::current())
      : base(size, lb, per_pool, where) {}

  /// Submits f to the pool the strategy picks (see basic_multi_pool::dispatch).
  template <class F>
    requires std::is_invocable_v<std::decay_t<F>&>
  [[nodiscard]] std::error_code submit(F&& f) {
    detail::pool_task t(std::forward<F>(f));
    return dispatch(t);
  }

  template <class F>
    requires std::is_invocable_v<std::decay_t<F>&>
  [[nodiscard]] std::error_code submit(const context& ctx, F&& f) {
    detail::pool_task t(std::forward<F>(f));
    return dispatch(t, ctx);
  }
};

/// N gort::pool_with_func<Arg> behind one load balancer (ants' MultiPoolWithFunc).
template <class Arg>
class multi_pool_with_func : public detail::basic_multi_pool<pool_with_func<Arg>> {
  using base = detail::basic_multi_pool<pool_with_func<Arg>>;

 public:
  multi_pool_with_func(std::int64_t size, std::function<void(Arg)> fn, load_balancing lb,
                       const pool_options& per_pool = {},
                       gort::source_location where = gort::source_location::current())
      : base(size, lb, per_pool, where, fn) {}

  [[nodiscard]] std::error_code invoke(Arg arg) {
    std::optional<Arg> p(std::move(arg));
    return this->dispatch(p);
  }

  [[nodiscard]] std::error_code invoke(const context& ctx, Arg arg) {
    std::optional<Arg> p(std::move(arg));
    return this->dispatch(p, ctx);
  }
};

}  // namespace gort
