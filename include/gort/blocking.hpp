// gort/blocking.hpp — blocking calls that do not stall the other goroutines (Go's system calls).
//
//   ssize_t n = gort::blocking([&] { return ::read(fd, buf, len); });   // a file, a pipe
//   auto rows = gort::blocking([&] { return db.query(sql); });          // a blocking client
//
// A goroutine that calls a blocking library function keeps its processor, and with it every
// goroutine queued there, from running. gort::blocking(f) runs f on the calling goroutine's thread
// while the processor stays available: the runtime's monitor (sysmon) takes it from a call that
// lasts (seen in the same call on two of its rounds, ≥ 20 µs; not while nothing waits for it and
// some processor is idle, for calls under 10 ms) and hands it, with its queue, to another thread.
// When f returns, the goroutine takes its processor back if nobody took it, else any idle one,
// else it waits in the global run queue while its thread parks. gort::blocking_long(f), for calls
// known to block for long (Go's entersyscallblock), hands the processor off at once.
//
// Cost: a call that returns before sysmon looks costs two atomic operations. Every goroutine
// inside a blocking call holds an OS thread: options::max_threads bounds them (a breach ends the
// program). Threads left idle after a burst of blocking calls end after about a second.
//
// Inside f the goroutine holds no processor. f may spawn goroutines, wake them (a send to a
// buffered channel with room, a wait_group done, a mutex unlock), arm timers and use try_send /
// try_recv, but it must not block on a gort primitive or yield: an operation that would switch
// goroutines inside f is a fatal error ("goroutine switched inside gort::blocking"). Nested
// blocking calls and calls from a plain thread or a scheduler context simply run f.
//
// Exceptions thrown by f propagate to the caller after the processor is taken back. The return
// value (a reference too) is f's.
#pragma once

#include <utility>

namespace gort {

namespace detail {
/// Go's entersyscall (hand_off false) / entersyscallblock (true): releases the calling goroutine's
/// processor. False when there was nothing to release (not on a goroutine holding one). Any thread.
bool blocking_enter(bool hand_off) noexcept;
/// Go's exitsyscall: takes a processor back (may move the goroutine to another thread). Only after
/// a blocking_enter that returned true, on the same goroutine.
void blocking_exit() noexcept;

class blocking_scope {
 public:
  explicit blocking_scope(bool hand_off) noexcept : entered_(blocking_enter(hand_off)) {}
  ~blocking_scope() {
    if (entered_) blocking_exit();
  }
  blocking_scope(const blocking_scope&) = delete;
  blocking_scope& operator=(const blocking_scope&) = delete;

 private:
  bool entered_;
};
}  // namespace detail

/// Runs `f()` on the calling goroutine's thread while its processor runs other goroutines (see
/// the file comment) and returns its result. Any thread.
template <class F>
decltype(auto) blocking(F&& f) {
  detail::blocking_scope scope(false);
  return std::forward<F>(f)();
}

/// blocking() for a call known to block for long: the processor is handed to another thread at
/// once instead of when sysmon notices. Any thread.
template <class F>
decltype(auto) blocking_long(F&& f) {
  detail::blocking_scope scope(true);
  return std::forward<F>(f)();
}

}  // namespace gort
