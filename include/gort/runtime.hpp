// gort/runtime.hpp — starting and stopping the runtime.
//
//   int r = gort::run([] { …; return 0; }, gort::options{.maxprocs = 4});
//
// run() makes the calling thread the runtime's first machine, runs `main` as goroutine 1 and
// returns main's result once main returns. Like Go's os.Exit after main.main, goroutines still
// alive at that moment are abandoned: they never run again, their stacks and records are freed, and
// objects living on their stacks are not destroyed (hold nothing there whose destructor matters
// past main). Goroutines executing on other threads at that moment are first allowed to reach
// their next scheduling point (a park, a yield, a spawn or their end).
//
// gort::go (or a timer, context deadline or pool) used from a plain thread before any run() starts
// an implicit runtime with default options; it is shut down at process exit, and run() refuses to
// start while it exists. After run() has been called, no implicit runtime starts: a plain thread's
// gort::go without a running runtime throws gort::shutdown_error. From the moment main returns,
// plain threads are refused (go throws gort::shutdown_error, waking a goroutine does nothing: it
// is abandoned); a call already inside completes before anything is freed. Only exec() is
// supported after fork() while a runtime runs (docs/api.md, "Runtime").
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include "gort/detail/std_parts.hpp"
#include "gort/source_location.hpp"
#include <string>
#include <type_traits>
#include <utility>

namespace gort {

/// What an uncaught exception handler learns about the goroutine that threw.
struct goroutine_exception {
  std::uint64_t goroutine_id = 0;
  std::exception_ptr error;
  gort::source_location created_at;  // where gort::go was called
};

/// Runtime configuration. Every field has a working default; invalid values make run() throw
/// gort::config_error naming the field.
struct options {
  /// Number of processors (Go's GOMAXPROCS), 1…1024. 0: GORTMAXPROCS from the environment if it
  /// is a valid count, else min(CPUs in the affinity mask, cgroup CPU limit rounded up, at least
  /// 2) like Go 1.25. An invalid GORTMAXPROCS is reported on stderr once and ignored.
  int maxprocs = 0;

  /// Virtual size of each goroutine stack in bytes, guard page included; rounded up to whole
  /// pages, 16 KiB…1 GiB. Frames get all but the guard page, a 256-byte canary and at most 960
  /// bytes of cache color (docs/design.md, Stacks). Memory is committed only when touched;
  /// address space is reserved in batches that shrink to what RLIMIT_AS allows. Stacks cannot
  /// grow: deep recursion needs a larger value. An overflow is reported ("goroutine N: stack
  /// overflow") and aborts; see docs/api.md for -fstack-clash-protection, which frames larger
  /// than a page need.
  std::size_t stack_size = 64 * 1024;

  /// Most OS threads the runtime may have at once (Go's debug.SetMaxThreads), its machines and
  /// sysmon included; at least 2. Goroutines inside gort::blocking each hold a thread, so this
  /// bounds concurrent blocking calls. Needing one more ends the program: "gort: program exceeds
  /// N-thread limit (gort::options::max_threads)" then "fatal error: thread exhaustion", as Go.
  int max_threads = 10'000;

  /// Called (on the goroutine, which then ends) when an exception escapes a goroutine other than
  /// main. Empty: print "goroutine N [exception]: what()" and its creation site to stderr, then
  /// std::terminate, like an unrecovered Go panic. main's exception is rethrown by run(). A handler
  /// that throws: both exceptions and the creation site are printed, then std::terminate.
  std::function<void(const goroutine_exception&)> on_exception{};

  /// GORTDEBUG-style settings, e.g. "schedtrace=1000,scheddetail=1". Empty: the GORTDEBUG
  /// environment variable. Unknown keys are ignored (as Go's GODEBUG does).
  std::string debug{};

  /// On SIGQUIT, print every goroutine (gort::dump_goroutines) to stderr and exit with status 2,
  /// as Go does. Off by default: a library takes no signal without being asked. GORTDEBUG
  /// sigquit=1 (or 0) overrides it. The previous SIGQUIT disposition is restored at shutdown.
  bool sigquit_dump = false;

  /// A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL) on a goroutine prints "goroutine N
  /// [running]:", its stack and creation site before the handler installed before gort (or the
  /// default action) runs. false: only the stack-overflow report stays.
  bool crash_report = true;

  /// Report "fatal error: all goroutines are asleep - deadlock!" with a goroutine dump and abort
  /// when nothing can ever wake a goroutine again (docs/api.md, "Deadlock detection"). GORTDEBUG
  /// deadlock=0 (or 1) overrides it.
  bool detect_deadlock = true;
};

namespace detail {
void run_main(void (*fn)(void*), void* arg, const options& opts);
}

/// Starts a runtime configured by `opts`, runs `main` on goroutine 1 and returns its result after
/// shutting the runtime down (see the file comment). An exception escaping main is rethrown here
/// after shutdown. Throws gort::config_error for invalid options or when called while a runtime is
/// already running (from a goroutine, or after an implicit start), std::system_error naming the
/// thread when a thread it needs cannot be created, std::bad_alloc when no stack fits; after any
/// of these nothing of the attempt remains. Callable again after it returns.
template <class F>
auto run(F&& main, const options& opts = {}) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  if constexpr (std::is_void_v<R>) {
    auto body = [&main] { main(); };
    detail::run_main([](void* p) { (*static_cast<decltype(body)*>(p))(); }, &body, opts);
  } else {
    std::optional<R> result;
    auto body = [&main, &result] { result.emplace(main()); };
    detail::run_main([](void* p) { (*static_cast<decltype(body)*>(p))(); }, &body, opts);
    return std::move(*result);
  }
}

/// The running runtime's number of processors, or the value a runtime started now with default
/// options would use. Any thread.
int maxprocs() noexcept;

/// Go's runtime.GOMAXPROCS(n): sets the running runtime's processor count to n (1…1024) and
/// returns the previous count; n == 0 only returns it. The runtime stops every processor (each
/// running goroutine at its next preemption point), moves the local run queues to the global
/// queue and the timers of dropped processors to the remaining ones, and starts again: no
/// goroutine or timer is lost. The call returns once the new count is in effect (a goroutine
/// parks meanwhile, a plain thread blocks). From then on the count no longer follows the CPU
/// limit (see set_default_maxprocs). Without a running runtime it does nothing and returns
/// maxprocs(). Throws gort::config_error for n outside 0…1024. Any thread.
int set_maxprocs(int n);

/// Go 1.25's runtime.SetDefaultGOMAXPROCS: sets the count to the default of the CPUs available
/// now (affinity mask and cgroup CPU limit, as at start) and follows them again: sysmon re-reads
/// them about once a second and resizes when the default changes. Returns the previous count.
/// Any thread.
int set_default_maxprocs();

/// Go's runtime.LockOSThread: wires the calling goroutine to the OS thread it runs on. Until a
/// matching unlock_os_thread, the goroutine runs only on this thread, and no other goroutine runs
/// on it; for libraries with per-thread state (OpenGL contexts, thread-bound database clients or
/// security contexts). Calls nest (lock twice, unlock twice, as Go 1.10+). While the goroutine is
/// parked (a channel, select, mutex, sleep, I/O wait...) its thread sleeps and hands its processor
/// to other goroutines; whoever wakes the goroutine hands a processor back to the thread. Yields
/// and preemption keep it on the thread too.
///
/// A goroutine that ends while locked ends its thread: the runtime never reuses a thread some
/// per-thread state may have been left on (as Go). The thread that called gort::run cannot end
/// before run() returns: it then runs no goroutine again and waits until main returns, and run()
/// returns as usual. From a plain thread (not a goroutine) both calls do nothing: a plain thread
/// is its own thread already. Nesting deeper than 2^32 - 1 is a fatal error. noexcept; any thread.
void lock_os_thread() noexcept;

/// Go's runtime.UnlockOSThread: undoes one lock_os_thread; the last one lets the goroutine run on
/// any thread again (and its thread run other goroutines). Without a lock it does nothing, as in
/// Go. Any thread (a plain thread: nothing).
void unlock_os_thread() noexcept;

/// Whether the calling goroutine is locked to its thread now (false on a plain thread).
bool locked_to_os_thread() noexcept;

}  // namespace gort
