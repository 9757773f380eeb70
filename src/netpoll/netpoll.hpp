// netpoll/netpoll.hpp — the network poller (Go's runtime/netpoll.go and netpoll_epoll.go).
//
// Two halves:
//  * The runtime's poller: one epoll instance and one eventfd per runtime (scheduler::poll),
//    created with the runtime. find_runnable polls it without blocking before stealing when
//    goroutines wait on I/O; the last machine going idle blocks in it until the earliest timer
//    (the poller role: scheduler::poller); sysmon polls it when nobody has for 10 ms. A blocked
//    poller is woken early through the eventfd (poll_break), at most one write until it drains.
//  * Poll descriptors (poll_desc): one per file descriptor gort waits on, in a process-wide table
//    whose memory is never freed (type-stable, like goroutine records), so an epoll event or a
//    deadline that arrives after the descriptor was released and reused reads valid memory; the
//    descriptor's sequence number, carried in every epoll registration, tells such a stale event
//    from a current one.
//
// Descriptor states (each of the read and write slots, under the descriptor's lock):
//   idle        no waiter, not ready
//   ready       the poller saw readiness that nobody consumed yet (edge-triggered: it is kept
//               until a waiter or the next operation takes it)
//   waiting     parked waiters are queued on the slot (gort/detail/wait_list.hpp); the poller,
//               close (evict) and a deadline change wake them all, and a waiter's own deadline
//               timer or context may end its wait — the wake claim (gort/detail/wait.hpp)
//               decides who, and exactly one party readies it.
// A waiter that resumes re-examines the descriptor (closing, deadline, ready) under its lock; so
// a party that only wants the waiter to look again (close, set_deadline) claims it "granted".
//
// Memory ordering: every field of a descriptor is guarded by its spinlock; the wake claim and
// ready() carry the rest (wait.hpp). The counters below are relaxed statistics, except
// g_io_waiters (see its comment).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/thread_annotations.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"

namespace gort::detail {
struct cancel_node;
}

namespace gort::sched {

struct scheduler;
struct machine;
struct processor;
using goroutine = detail::goroutine;

/// Waiters parked on any descriptor (Go's netpollWaiters). Process-wide (the descriptors are):
/// incremented when a waiter joins a slot, decremented by whoever unlinks it. seq_cst: a machine
/// deciding whether it must become the poller reads it after publishing its idleness, and a plain
/// thread that joins a slot reads the poller state after incrementing (netpoll.cpp, poll_poke).
extern std::atomic<std::int32_t> g_io_waiters;

/// The per-runtime poller state (a member of scheduler).
struct poll_state {
  int epfd = -1;  // epoll instance
  int evfd = -1;  // eventfd that breaks a blocked epoll_wait
  std::uint64_t generation = 0;  // distinct per runtime: registrations are per epoll instance
  // True from a poll_break's write until the poller drains the eventfd (Go's netpollWakeSig):
  // de-duplicates wake-ups. acq_rel exchange; see poll_break.
  std::atomic<bool> break_pending{false};
  // nanotime of the last poll's end; 0 while a machine blocks in epoll_wait (Go's lastpoll).
  std::atomic<std::int64_t> last_poll{1};
  // Statistics (relaxed): epoll_wait calls that returned, of them blocking ones, and breaks sent.
  std::atomic<std::uint64_t> polls{0};
  std::atomic<std::uint64_t> blocking_polls{0};
  std::atomic<std::uint64_t> breaks{0};
};

/// Creates the epoll instance and the eventfd; throws std::system_error. By the scheduler's
/// constructor.
void poll_init(poll_state& ps);
/// Closes them. By the scheduler's destructor (no machine runs).
void poll_close(poll_state& ps) noexcept;

/// Wakes a machine blocked in epoll_wait (at most one write while one is pending). Any thread.
void poll_break(scheduler& s) noexcept;

/// Polls: `delay_ns` < 0 blocks until an event or a break, 0 does not block, > 0 blocks at most
/// that long. Appends to `out` the goroutines made runnable (their status already changed to
/// runnable: the caller queues them; plain threads are woken directly and not returned) and
/// returns how many. A machine's thread (or sysmon) holding no lock.
std::size_t poll(scheduler& s, std::int64_t delay_ns, std::vector<goroutine*>& out);

/// Queues goroutines readied by a poll (Go's injectglist): with no processor, all to the global
/// queue and a machine started for each idle processor (up to n); with one, the first `npidle`
/// to the global queue (a machine started for each) and the rest to p's local queue. m's thread.
void inject_batch(scheduler& s, processor* p, goroutine** gs, std::size_t n);

/// After a plain thread joined a slot: makes sure some machine will poll (wakep when nobody is
/// the poller). Any thread inside the runtime's gate.
void poll_poke(scheduler& s) noexcept;

/// At a runtime's retirement (no machine runs): every descriptor forgets goroutine waiters (their
/// stacks go) and wakes plain-thread waiters, which look again (and meet the next runtime or a
/// shutdown_error).
void poll_retire(scheduler& s) noexcept;

/// Changes a goroutine record from waiting to runnable (ready's status CAS, fatal when it was not
/// parked); for a plain thread's record, wakes the thread and returns false, and for a goroutine
/// locked to its thread hands it to its machine (ready_locked) and returns false. park.cpp. Any
/// thread.
bool make_runnable(goroutine* g);

}  // namespace gort::sched

namespace gort::detail {

/// The two directions a descriptor is waited on.
enum class io_mode : std::uint8_t { read = 0, write = 1 };

/// What a wait on a descriptor ended with.
enum class io_wait_result : std::uint8_t { ready, closed, timeout, canceled };

/// A descriptor's slot for one direction (see the file comment for its states).
struct io_slot {
  wait_queues<waiter> q;
  bool ready = false;
  // nanotime; <= now means expired. Written under the descriptor's lock; read without it by an
  // operation's up-front check (relaxed: a deadline set concurrently with the operation may or
  // may not apply to it, as in Go).
  std::atomic<std::int64_t> deadline{k_no_deadline};
};

/// A poll descriptor (see the file comment). Obtained from poll_desc_alloc, returned with
/// poll_desc_free after its fd was closed.
struct poll_desc {
  spinlock lock;
  int fd GORT_GUARDED_BY(lock) = -1;
  std::uint32_t seq GORT_GUARDED_BY(lock) = 0;  // bumped at each free: stale events are ignored
  std::uint64_t reg_generation GORT_GUARDED_BY(lock) = 0;  // runtime whose epoll holds fd (0: none)
  bool closing GORT_GUARDED_BY(lock) = false;
  io_slot slot[2] GORT_GUARDED_BY(lock);
  std::uint32_t index = 0;       // position in the table (constant)
  poll_desc* next_free = nullptr;  // the free list (its lock)
};

/// A descriptor for `fd` (not registered yet: the first wait registers it with the running
/// runtime's epoll). Any thread. Throws std::bad_alloc.
poll_desc* poll_desc_alloc(int fd);

/// Unregisters and releases a descriptor whose fd is about to be closed by the caller (no wait
/// may be in progress: evict first and let every operation finish). Any thread.
void poll_desc_free(poll_desc* pd) noexcept;

/// Marks the descriptor closing and wakes every waiter (they return io_wait_result::closed).
/// Any thread. Go's poll_runtime_pollUnblock.
void poll_desc_evict(poll_desc* pd);

/// Sets a slot's deadline (nanotime, k_no_deadline for none); a waiter parked on the slot looks
/// again (a deadline in the past ends its wait with timeout, a later one re-arms). Any thread.
void poll_desc_set_deadline(poll_desc* pd, io_mode mode, std::int64_t deadline);

/// Parks the caller until the fd is ready in `mode`, the descriptor is evicted, the slot's
/// deadline passes or `ctx` (may be null) is done. Several callers may wait on one slot (all
/// look again on readiness, as after a spurious wake-up). Any thread: a plain thread blocks (starting the implicit
/// runtime where allowed, else gort::shutdown_error).
io_wait_result poll_desc_wait(poll_desc* pd, io_mode mode, cancel_node* ctx);

/// Whether a slot's deadline has passed (an operation's check before its first attempt). Any
/// thread.
bool poll_desc_expired(const poll_desc* pd, io_mode mode) noexcept;

}  // namespace gort::detail
