// gort/detail/waist.hpp — the one internal API every blocking primitive is built on.
//
// This is Go's gopark/goready pair. The primitives (channels, select, sync, context, pool,
// futures) — their inline fast paths in the headers and their slow paths in src/sync/ — use nothing
// else of the scheduler (docs/hacking.md, the layering rule):
//
//   park(reason, unlock)  the calling goroutine stops running. `unlock` runs only after the
//                         goroutine has completely left its stack (on the scheduler context of its
//                         machine), so a waker that needs the lock `unlock` releases can never
//                         ready the goroutine while it is still executing: lost wake-ups and
//                         double resumes are impossible by construction.
//   ready(g)              makes a parked goroutine runnable: it goes to the waker's processor
//                         `runnext` slot (it runs next, sharing the waker's time slice) and an idle
//                         processor is woken if nobody is spinning.
//
// Plain OS threads: every function here also works on a thread that is not a goroutine. There
// current() returns a stand-in record owned by the thread, park() blocks the thread on a futex
// after running `unlock`, and ready() wakes it. Wait queues therefore hold goroutine pointers only.
//
// Who may call: any thread, goroutine or not, while a runtime is running (park and ready on a
// goroutine record require that runtime). A goroutine record may be readied exactly once per park;
// readying a goroutine that is not parked is a fatal runtime error (reported and aborted), never
// silent corruption.
#pragma once

#include <cstddef>
#include <cstdint>
#include "gort/source_location.hpp"
#include <type_traits>
#include <utility>

namespace gort::detail {

struct goroutine;  // opaque outside src/

/// Why a goroutine is parked; shown by schedtrace's detail mode with Go's wait-reason strings (see
/// wait_reason_string), and gort's own for what Go has no equivalent of.
enum class wait_reason : std::uint8_t {
  zero = 0,
  wait_group,           // "sync.WaitGroup.Wait"
  chan_receive,         // "chan receive"
  chan_send,            // "chan send"
  chan_receive_nil,     // "chan receive (nil chan)"
  chan_send_nil,        // "chan send (nil chan)"
  select,               // "select"
  select_no_cases,      // "select (no cases)"
  sleep,                // "sleep"
  sync_mutex_lock,      // "sync.Mutex.Lock"
  sync_rw_mutex_rlock,  // "sync.RWMutex.RLock"
  sync_rw_mutex_lock,   // "sync.RWMutex.Lock"
  sync_cond_wait,       // "sync.Cond.Wait"
  semacquire,           // "semacquire"
  io_wait,              // "IO wait"
  forever,              // "forever" (parked with no way to be woken)
  pool_worker_idle,     // "pool worker idle" (gort's: a gort::pool worker waiting for a task)
  pool_submit,          // "pool submit" (gort's: a submitter waiting for room in a full pool)
  future_wait,          // "future wait" (gort's: gort::future::get/wait)
};

/// Go's string for a wait reason. Any thread.
const char* wait_reason_string(wait_reason r) noexcept;

/// The calling goroutine, or the calling plain thread's stand-in record. Never null. Any thread.
/// Not inlined and not cacheable across a park: a goroutine may resume on another thread.
goroutine* current() noexcept;

/// True when the caller runs on a goroutine (not a plain thread or a scheduler context).
bool on_goroutine() noexcept;

/// The id of a goroutine record (0 for a plain thread's stand-in). Any thread.
std::uint64_t goroutine_id(const goroutine* g) noexcept;

// Where a record says whether it is a plain thread's stand-in: read inline by every waiter that
// parks (a call per park cost ~2 % of `pingpong`); park.cpp checks the layout.
inline constexpr std::size_t k_record_kind_offset = 53;
inline constexpr unsigned char k_record_kind_thread = 1;

/// True when `g` is a plain thread's stand-in record (not a goroutine). Any thread.
inline bool is_plain_thread(const goroutine* g) noexcept {
  return reinterpret_cast<const unsigned char*>(g)[k_record_kind_offset] == k_record_kind_thread;
}

/// Parks the caller (see the file comment). `unlock(arg)` runs once the caller has left its stack;
/// returning false cancels the park and makes the caller runnable at once (Go's unlockf). Calls
/// from the scheduler context itself are a fatal error.
void park(wait_reason why, bool (*unlock)(void*), void* arg);

/// The unlock function park() calls for a callable `U` (returning bool, or void meaning true).
template <class U>
bool call_unlock(void* p) {
  U& u = *static_cast<U*>(p);
  if constexpr (std::is_void_v<decltype(u())>) {
    u();
    return true;
  } else {
    return static_cast<bool>(u());
  }
}

/// park() with a callable `unlock` kept on the caller's stack, which stays valid until the caller
/// resumes.
template <class Unlock>
void park(wait_reason why, Unlock&& unlock) {
  park(why, &call_unlock<std::remove_reference_t<Unlock>>, static_cast<void*>(&unlock));
}

/// Makes `g`, which is parked (or about to park: its unlock has run), runnable. Any thread. From a
/// plain thread once the runtime's shutdown began (or after it), readying a goroutine does nothing:
/// it is abandoned like every goroutine alive at shutdown (docs/design.md, "Lifecycle").
void ready(goroutine* g);

// ---- the same, for a caller that already holds its own record ------------------------------
// A blocking operation calls enter_op() once and passes the record it returns to park() and
// ready(): they then find the caller's machine through the record (its `m` is kept current while
// it runs, also after a park moved it to another thread) instead of looking it up again.

/// The first call of a blocking operation: honours a pending preemption request (see
/// preempt_point) and returns current(). Any thread.
goroutine* enter_op() noexcept;

/// park() for the caller whose record is `self` (from enter_op() or current()). Any thread.
void park(goroutine* self, wait_reason why, bool (*unlock)(void*), void* arg);

template <class Unlock>
void park(goroutine* self, wait_reason why, Unlock&& unlock) {
  park(self, why, &call_unlock<std::remove_reference_t<Unlock>>, static_cast<void*>(&unlock));
}

/// ready() called by the goroutine (or plain thread) whose record is `self`. Any thread; `self`
/// must be the caller's own record.
void ready(goroutine* self, goroutine* g);

/// A fast pseudo-random number (xorshift; the machine's state on a machine, a thread-local one on
/// a plain thread). Not for cryptography. Any thread.
std::uint32_t fastrand() noexcept;

/// Cooperative preemption point: if the scheduler asked the calling goroutine to give up its
/// processor (it has run for 10 ms without blocking), yield to the global queue. Cheap; any thread
/// (a no-op off goroutines).
void preempt_point() noexcept;

// ---- spawning (used by gort::go) ----------------------------------------------------------------

/// A reserved goroutine record and its closure storage (returned in two registers, so a spawn
/// loop writes nothing to its own frame).
struct prepared_spawn {
  goroutine* g;
  void* mem;
};

/// Reserves a goroutine record whose closure storage is `size` bytes aligned to `align` (inline in
/// the record when small enough, else heap) and returns both. Any thread; may start an implicit
/// runtime (see gort::go). Throws std::bad_alloc (no memory for the closure, no stack for the
/// goroutine), and from a plain thread gort::shutdown_error or std::system_error. A plain thread
/// holds the runtime's shutdown gate until spawn_commit or spawn_abort, which must follow at once.
prepared_spawn spawn_prepare(std::size_t size, std::size_t align);

/// Makes a prepared goroutine runnable (the caller's processor `runnext`, or the global queue from
/// a plain thread). `run` is called once on the goroutine with the closure storage, then `destroy`.
/// The creation site comes as its parts, all in registers: `line_column` is the line in the high
/// 32 bits and the column in the low 32 (pack_line_column).
void spawn_commit(goroutine* g, void (*run)(void*), void (*destroy)(void*) noexcept,
                  const char* file, const char* function, std::uint64_t line_column) noexcept;

/// spawn_commit's `line_column` for `where`.
constexpr std::uint64_t pack_line_column(const gort::source_location& where) noexcept {
  return (static_cast<std::uint64_t>(where.line()) << 32) | where.column();
}

/// Returns a prepared goroutine record whose closure failed to construct. Any thread.
void spawn_abort(goroutine* g) noexcept;

}  // namespace gort::detail
