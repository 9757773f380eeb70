// gort/detail/pool_core.hpp — the shared engine of gort::pool, gort::pool_with_func<Arg> and the
// pools of gort::multi_pool, built only on the park/ready waist and the wait helper (plus a
// runtime timer for purge). Compiled once in the library (src/sync/pool.cpp): the payload type is
// erased behind an ops table (pool_payload_ops, as chan_ops does for channels); this header holds
// the table, the few templates that build it, and the entry points pool.hpp calls.
//
// Glossary
//  * worker: a goroutine running worker_main(). Its record (`worker`, on its own stack) has a
//    task slot. A worker is *busy* (running a payload), *idle* (parked in the idle container) or
//    *stopping* (told to exit, on its way out).
//  * payload: what a task is — a pool_task (gort::pool) or an std::optional<Arg>
//    (gort::pool_with_func<Arg>); the core's runner runs (and empties) one, and the ops table
//    moves one (payload_ops_for<P>).
//  * waiter: a submitter blocked because every worker is busy and the pool is at capacity. Its
//    record (`waiter`, a detail/wait.hpp waiter in the pool's wait list) lives on its own stack
//    and points at its payload, also on its stack.
//  * accepted: a payload bound to a worker (handed to an idle one, carried by a new one, or taken
//    from a waiter by a worker). An accepted payload runs exactly once; nothing else does.
//
// Invariants (all under lock_)
//  1. workers_ <= capacity whenever capacity is limited, except after tune() lowered it, until
//     busy workers finish (they then exit instead of going idle). A new worker's slot is reserved
//     under the lock before it is spawned (ants #374 cannot happen).
//  2. idle workers exist => no waiter exists: a worker going idle first serves the oldest waiter,
//     a submitter takes an idle worker before it would wait.
//  3. alive_ counts goroutines inside worker_main (also stopping ones); workers_ counts the live
//     workers not told to stop (ants' Running). alive_ >= workers_.
//  4. members_ holds the goroutine record of every alive worker (to recognise a task of this
//     pool submitting into it, ants #197).
//  5. closed_ => no waiter and no idle worker; every worker finishing a payload exits. When
//     closed_ and alive_ reaches 0, all_done_ is closed (once per release).
//  6. A pool that outlives a runtime (docs/api.md): every worker was a goroutine of it, so when a
//     runtime has ended since the pool was last used (its epoch stamp, wait_list.hpp), the first
//     call to a public entry point forgets them all — idle containers, members_, workers_ and
//     alive_ (their records are never read) — and the waiters that were goroutines (waiters_ is a
//     wait list); the purge timer, which died with its runtime, is re-armed with the next worker.
//     Tasks that were accepted and not finished died with their workers.
//
// Protocols (numbered as in the code)
//  H. hand-off to an idle worker: (1) the submitter pops it under the lock; (2) unlocks; (3)
//     moves the payload into its slot; (4) ready()s it. The worker parked with park(), whose
//     unlock callback released the lock after it left its stack, so step 1 cannot see a worker
//     that is still running, and step 4 readies it exactly once.
//  W. a worker finishing a payload: (1) locks; (2) if closed or over capacity, exits; (3) if a
//     waiter is queued, dequeues and claims it (marks it accepted), unlocks, moves the waiter's
//     payload into its own slot, wakes the waiter and runs the payload — one park/ready pair per
//     task and no retry loop; (4) else pushes itself idle and parks, the unlock callback
//     releasing the lock.
//  S. stopping an idle worker (purge, release, tune down): under the lock pop it, set `stop`,
//     decrement workers_; after unlocking ready() it; it exits on waking.
//  C. a context-aware waiter is a cancellable wait (detail/wait.hpp): every waker dequeues a
//     waiter and must win its claim before it touches the payload (a waiter whose claim is lost
//     is skipped: its context won). A waiter its context woke locks the pool and, if still
//     queued, leaves the queue; either way it reports ctx.err() and its payload was never taken.
//  G. growing: a submitter that finds no idle worker and room under the capacity reserves the
//     worker under the lock (workers_, alive_, container capacity) and spawns it after
//     unlocking, the payload in its spawn closure; in a pool of k_spawn_yield_threshold workers
//     or more it first yields once and looks again (see there).
//
// Why a worker holds the lock until it has parked (W4) rather than leaving it first and settling
// the race with its waker through an atomic idle/parked/handed hand-shake (a vetoed park when the
// waker wins): measured on `pool` tiny at 2 processors, the hand-shake cost 400-450 ns per task
// against 215-240 ns (same machine, interleaved runs) — wakers often found the worker not yet
// parked, and a vetoed park costs a switch.
//
// Lock order: lock_ is a leaf taken alone. It is never held while calling the runtime's timer
// functions, spawning, readying or running user code. The purge timer's callback (which runs with
// a timer heap's lock held) takes lock_, hence the rule. timer_gate_ serializes arming and
// disarming the purge timer and is taken without lock_.
#pragma once

#include "gort/log.hpp"

#include <cstdint>
#include <exception>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

#include "gort/detail/std_parts.hpp"
#include "gort/chan.hpp"
#include "gort/go.hpp"
#include "gort/source_location.hpp"
#include "gort/time.hpp"

namespace gort {
class context;  // gort/context.hpp
}

namespace gort::detail {

/// A validated copy of gort::pool_options (pool.hpp does the validation and the defaults).
struct pool_config {
  std::int64_t capacity = -1;  // -1: unlimited
  std::int64_t min_workers = 0;
  std::int64_t expiry_ns = 1'000'000'000;
  bool pre_alloc = false;
  std::int64_t max_blocking_tasks = 0;  // 0: unlimited
  bool nonblocking = false;
  bool disable_purge = false;
  std::function<void(std::exception_ptr)> exception_handler;
  log_sink logger;
  gort::source_location where;  // where the pool was created (the workers' creation site)
};

/// The outcome of a submission, before pool.hpp turns it into an error_code.
enum class submit_status : std::uint8_t { ok, overload, closed };

/// Counters and gauges of one pool (pool.hpp's pool_stats mirrors it).
struct pool_counts {
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t inline_runs = 0;
  std::int64_t running = 0;
  std::int64_t idle = 0;
  std::int64_t waiting = 0;
};

class pool_core;  // src/sync/pool.cpp

/// The payload type's operations, all but spawn_worker noexcept (payloads are nothrow-movable:
/// they move outside the pool's lock with no failure path).
struct pool_payload_ops {
  void (*move_into_empty)(void* dst, void* src) noexcept;  // *dst (empty) = std::move(*src)
  void (*reset)(void* p) noexcept;                      // p->reset(): empties it
  bool (*engaged)(const void* p) noexcept;              // static_cast<bool>(*p)
  /// Spawns a worker goroutine whose closure holds the payload moved from *first (an empty one
  /// when first is null) and calls pool_worker_main(core, &that payload). Throws what spawning
  /// throws (std::bad_alloc).
  void (*spawn_worker)(pool_core* core, void* first, const gort::source_location& where);
};

/// How the core runs one payload (and empties it): run(state, payload) may throw (the pool reports
/// it); destroy(state) frees the state with the core (null: nothing to free).
struct pool_runner {
  void (*run)(void* state, void* payload) = nullptr;
  void* state = nullptr;
  void (*destroy)(void* state) noexcept = nullptr;
};

/// The body of every worker goroutine. Called only by spawn_worker's closure.
void pool_worker_main(pool_core* core, void* first);

template <class P>
void spawn_pool_worker(pool_core* core, void* first, const gort::source_location& where) {
  struct body {
    pool_core* core;
    P first;
    void operator()() { pool_worker_main(core, &first); }
  };
  if (first == nullptr) {
    detail::spawn(where, body{core, P{}});
  } else {
    detail::spawn(where, body{core, std::move(*static_cast<P*>(first))});
  }
}

/// A payload type may provide `static void move_into_empty(P& dst, P& src) noexcept` (pool_task
/// does: no reset of a destination known to be empty); otherwise move assignment is used.
template <class P>
void payload_move_into_empty(void* dst, void* src) noexcept {
  if constexpr (requires(P& d, P& s) { P::move_into_empty(d, s); }) {
    P::move_into_empty(*static_cast<P*>(dst), *static_cast<P*>(src));
  } else {
    *static_cast<P*>(dst) = std::move(*static_cast<P*>(src));
  }
}

template <class P>
inline constexpr pool_payload_ops payload_ops_for{
    &payload_move_into_empty<P>,
    [](void* p) noexcept { static_cast<P*>(p)->reset(); },
    [](const void* p) noexcept { return static_cast<bool>(*static_cast<const P*>(p)); },
    &spawn_pool_worker<P>};

// ---- the pool's entry points (src/sync/pool.cpp); any thread unless said otherwise ----

/// Makes a core and starts its min_workers and purge timer; the core owns `run` from now on
/// (also when this throws). Throws std::bad_alloc (nothing is left behind then).
pool_core* pool_create(pool_config cfg, const pool_payload_ops* ops, pool_runner run);

/// The destructor of a pool: release(), then waits until every worker has exited and frees the
/// core — unless called from one of its own workers or with no runtime running, where the last
/// worker (or nobody) frees it.
void pool_destroy(pool_core* c) noexcept;

/// Submits the payload at `p` (moved from only when accepted); waits while the pool is full
/// (unless nonblocking). Throws std::bad_alloc when a worker cannot be spawned.
submit_status pool_submit(pool_core* c, void* p);
/// pool_submit that gives up when ctx is done (ctx.err(); the payload is not accepted).
std::error_code pool_submit(pool_core* c, void* p, const context& ctx, submit_status* status);

/// Closes the pool; false when it was already closed.
bool pool_release(pool_core* c);
/// Waits until every worker has exited after a release: {} or pool_errc::timeout after d.
std::error_code pool_wait_done_for(pool_core* c, clock::duration d);
void pool_reboot(pool_core* c);
void pool_tune(pool_core* c, std::int64_t n);

// Gauges (relaxed snapshots) and counters (consistent, under the pool's lock).
std::int64_t pool_running(const pool_core* c) noexcept;
std::int64_t pool_waiting(const pool_core* c) noexcept;
std::int64_t pool_cap(const pool_core* c) noexcept;
bool pool_is_closed(const pool_core* c) noexcept;
pool_counts pool_counts_of(pool_core* c);

/// Sums over every live pool of the process (gort::stats()). Any thread.
struct pool_totals {
  std::int64_t pools = 0;     // live pools
  std::uint64_t created = 0;  // pools created since the process started
  pool_counts sum;
};
pool_totals pool_totals_now();

}  // namespace gort::detail
