// trace/dump.hpp — goroutine dumps (Go's traceback format), deadlock detection, SIGQUIT.
//
// A dump is taken without stopping the world (gort cannot interrupt running C++ code):
//  * parked goroutines are held still while their stacks are read: the dump CASes their status
//    waiting -> waiting|scan (acquire) and back (release); a waker that meets the scan bit waits
//    for it to clear (park.cpp, claim_scanned), so the stack does not change under the unwinder;
//  * the calling goroutine's own stack is unwound in place;
//  * running and runnable goroutines (on other threads) show their state and creation site only;
//    their identity fields are read as a snapshot that may be torn if the record is recycled
//    meanwhile (a debugging aid, as schedtrace's detail lines).
// Records are found by walking the slabs (type-stable memory, spawn.cpp); the slab list is copied
// under gfree_lock and walked without it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gort/detail/waist.hpp"
#include "gort/source_location.hpp"
#include "sched/scheduler.hpp"
#include "trace/unwind.hpp"

namespace gort::sched {

/// What a dump knows of one goroutine.
struct goroutine_snapshot {
  std::uint64_t id = 0;
  g_status status = g_status::idle;
  detail::wait_reason reason = detail::wait_reason::zero;
  std::int64_t waiting_since = 0;
  bool locked_to_thread = false;  // ", locked to thread" in the header (Go's LockOSThread)
  bool current = false;           // the goroutine taking the dump
  bool main = false;
  std::uint64_t parent_id = 0;
  gort::source_location created_at;
  const void* created_pc = nullptr;
  std::vector<std::pair<std::string, std::string>> labels;  // parked or current goroutines only
  bool stack_known = false;           // pcs below are its stack (parked or current)
  std::vector<const void*> pcs;       // return addresses, innermost first
};

/// Every live goroutine of `s`, `self` first (the goroutine taking the snapshot, null on a plain
/// thread), then by id. `stacks`: unwind the parked ones; `self_pcs` is self's own stack, unwound
/// by self beforehand. Any thread (not a signal handler).
std::vector<goroutine_snapshot> snapshot_goroutines(scheduler& s, bool stacks, const goroutine* self,
                                                    const std::vector<const void*>& self_pcs);

/// Runs `f` where a deep C stack is available: on a goroutine (whose stack is small) on a helper
/// thread that the goroutine waits for, holding its processor; elsewhere inline. `f` receives
/// the calling goroutine (or null) and its own stack, unwound before the hand-over. Any thread.
void with_snapshot_stack(const std::function<void(const goroutine* self,
                                                  const std::vector<const void*>& self_pcs)>& f);

/// One goroutine in dump form: its source frames, with the runtime's own frames left out.
struct goroutine_report {
  std::uint64_t id = 0;
  std::string text;          // header, labels line, frames, created-by lines (no blank line)
  std::string top_function;  // first frame shown (empty when the stack is unknown)
  std::string created_by;    // function that called gort::go (empty for main)
  std::string created_file;  // file:line of that call
};

/// Symbolizes a snapshot. `now`: nanotime() for the wait duration. Not in signal handlers.
goroutine_report describe(const goroutine_snapshot& g, std::int64_t now, symbolizer& sym);

/// Go's goroutineheader: "goroutine 18 [chan receive, 5 minutes, locked to thread]:". `state` is
/// the wait reason or status word; minutes are shown from one on, like Go. Pure.
std::string format_header(std::uint64_t id, const char* state, std::int64_t waited_ns,
                          bool locked_to_thread);

/// The whole dump of `s` (goroutines separated by blank lines) as seen by `self` (see
/// snapshot_goroutines). Any thread, not signal handlers; on a goroutine only inside
/// with_snapshot_stack.
std::string dump_text(scheduler& s, const goroutine* self = nullptr,
                      const std::vector<const void*>& self_pcs = {});

/// Deadlock detection (Go's checkdead), called by a machine that is about to sleep for want of
/// work, holding s.lock, after registering as idle. Aborts with the report when nothing can ever
/// wake a goroutine again (docs/design.md, "Deadlock detection"); returns otherwise.
void check_dead(scheduler& s, std::unique_lock<std::mutex>& held);

/// Goroutines inside gort::blocking calls now. Its one reader is check_dead's predicate, which
/// holds s.lock; a goroutine in a call keeps its machine off the idle list too (check_dead's step
/// 1), so this is the second of two independent reasons not to report.
inline std::int64_t blocking_calls_in_progress(const scheduler& s) noexcept {
  // relaxed: a counter (scheduler.hpp); step 1 already orders the decision.
  return s.nblocking.load(std::memory_order_relaxed);
}

/// SIGQUIT dump (options::sigquit_dump): installs the handler when the runtime asks for it, and
/// restores the previous disposition. Start and retire paths, under g_start_lock.
void install_sigquit(scheduler& s);
void remove_sigquit(scheduler& s);
/// sysmon's part: if SIGQUIT arrived, print the dump and exit with status 2. sysmon only.
void sysmon_check_sigquit(scheduler& s);

/// Goroutines abandoned by retiring runtimes are reported (as goroutine_reports) while capturing
/// is on (gort::testing); retire calls this before it frees anything. The retiring thread.
void capture_abandoned(scheduler& s);

}  // namespace gort::sched
