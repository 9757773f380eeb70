// gort/time.hpp — sleeping, timers and tickers on the runtime's per-processor timer heaps.
//
//   gort::sleep_for(10ms);                       // parks the goroutine (a plain thread sleeps)
//   auto t = gort::after(1s);                    // a channel that delivers the time once
//   gort::select(gort::recv(work, ...), gort::recv(t, [](auto) { /* timeout */ }));
//   gort::timer tm(5s);  tm.stop();  tm.reset(2s);   // Go's time.Timer
//   gort::ticker tk(100ms);  for (auto tick : tk.c()) ...   // Go's time.Ticker
//
// Timers live in the heap of the processor that armed them and are run by the scheduler itself
// (find-runnable checks its processor's heap; thieves run an idle processor's due timers); a
// machine with nothing to do sleeps exactly until the earliest timer, so pending timers cost no
// CPU. Time is std::chrono::steady_clock.
//
// Channel semantics follow Go 1.23+: a timer's or ticker's channel holds at most one value, and
// after stop() or reset() returns no stale value is received from it. A ticker drops ticks for a
// slow receiver. Destroying a timer or ticker stops it.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "gort/detail/std_parts.hpp"
#include "gort/chan.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/source_location.hpp"

namespace gort {

using clock = std::chrono::steady_clock;

namespace detail {

/// A timer as the runtime sees it. Embedded in the objects that own it (sleeping goroutines,
/// gort::timer, gort::ticker, after()). Fields other than `fire`, `drop` and `period` belong to the
/// runtime.
struct timer_node {
  std::atomic<void*> heap{nullptr};  // the processor heap holding it while pending, else null
  std::int64_t when = 0;             // nanotime when it fires
  std::int64_t period = 0;           // > 0: re-armed every `period` ns after firing (ticker)
  std::uint32_t index = 0;           // position in its heap (maintained only when `stoppable`)
  bool stoppable = false;            // timer_stop may be called before it fires
  spinlock mu;                       // serializes timer_start/timer_stop on this node
  /// Runs on a scheduler context with the heap's lock held: must not block (it may ready a
  /// goroutine, try_send, spawn). `now` is the time the heap was run.
  void (*fire)(timer_node* self, std::int64_t now) noexcept = nullptr;
  /// Called instead of firing when the runtime shuts down with the timer pending (frees nodes
  /// the runtime owns); null for nodes owned by someone else.
  void (*drop)(timer_node* self) noexcept = nullptr;
};

/// Arms (or re-arms) `t` to fire at nanotime `when`. Any thread; starts an implicit runtime if
/// none runs. Once the node is in a heap it may fire (on another machine) before this returns;
/// timer_start never touches it after that, so a fire callback may free the node.
void timer_start(timer_node* t, std::int64_t when);
/// Disarms `t`: true if it was pending (this call prevented the firing). Any thread.
bool timer_stop(timer_node* t) noexcept;
/// Monotonic nanoseconds, the timers' clock (steady_clock's epoch). Any thread.
std::int64_t nanotime() noexcept;
/// Parks the calling goroutine until nanotime `when` (a plain thread sleeps). Any thread.
void sleep_until_ns(std::int64_t when);
/// sleep_until_ns for a `when` its caller has just seen lie ahead by its own read of the clock
/// (deadline_after of a positive duration): parks without reading the clock again. A `when`
/// already past is still correct, at the cost of a park: its timer fires at the next check.
/// Any thread.
void sleep_until_ahead_ns(std::int64_t when);

inline clock::time_point to_time_point(std::int64_t ns) {
  return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(ns)));
}
inline std::int64_t to_ns(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
/// d converted to the duration type To, saturating at To's range instead of overflowing
/// (hours::max() as nanoseconds is nanoseconds::max()); otherwise as duration_cast (toward zero).
/// A floating-point NaN converts to zero. gort's one saturating conversion: every duration a user
/// hands to the runtime goes through it.
template <class To, class Rep, class Period>
To saturating_cast(std::chrono::duration<Rep, Period> d) noexcept {
  // Compared in To's unit with a 64-bit mantissa (x86's long double; wider elsewhere), which
  // holds every 64-bit count of To closely enough to tell it from one past the range.
  const long double v = std::chrono::duration<long double, typename To::period>(d).count();
  if (v != v) return To::zero();  // NaN
  if (v >= static_cast<long double>(To::max().count())) return To::max();
  if (v <= static_cast<long double>(To::min().count())) return To::min();
  return std::chrono::duration_cast<To>(d);
}

/// d in nanoseconds, saturating (saturating_cast).
template <class Rep, class Period>
std::int64_t to_ns(std::chrono::duration<Rep, Period> d) noexcept {
  return saturating_cast<std::chrono::nanoseconds>(d).count();
}
/// now + d, saturating instead of overflowing for huge d.
inline std::int64_t deadline_after(std::int64_t d_ns) {
  const std::int64_t now = nanotime();
  return d_ns > INT64_MAX - now ? INT64_MAX : now + (d_ns < 0 ? 0 : d_ns);
}

}  // namespace detail

/// Parks the calling goroutine for at least d (returns at once for d <= 0). A plain thread sleeps.
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  const std::int64_t ns = detail::to_ns(d);
  if (ns <= 0) return;
  detail::sleep_until_ahead_ns(detail::deadline_after(ns));
}

/// Parks the calling goroutine until t (returns at once if t has passed).
template <class Duration>
void sleep_until(std::chrono::time_point<clock, Duration> t) {
  detail::sleep_until_ns(detail::to_ns(std::chrono::time_point_cast<clock::duration>(t)));
}

/// Go's time.After: a channel that receives the current time once, after d. The timer cannot be
/// stopped; it is released when it fires (use gort::timer to stop early).
chan<clock::time_point> after(clock::duration d);
/// after() for any duration type, saturating at clock::duration's range (detail::saturating_cast)
/// instead of overflowing in the conversion; likewise every overload below taking a template
/// duration.
template <class Rep, class Period>
chan<clock::time_point> after(std::chrono::duration<Rep, Period> d) {
  return after(detail::saturating_cast<clock::duration>(d));
}

/// Go's time.Timer: sends the current time on c() once, d after construction or the last reset.
/// Not copyable or movable (the runtime holds its address). Methods are safe to call
/// concurrently.
class timer {
 public:
  explicit timer(clock::duration d);
  template <class Rep, class Period>
  explicit timer(std::chrono::duration<Rep, Period> d)
      : timer(detail::saturating_cast<clock::duration>(d)) {}
  /// Go's AfterFunc: runs f on its own goroutine after d; c() stays the nil channel. `where` is
  /// that goroutine's creation site (in an exception report).
  timer(clock::duration d, std::function<void()> f,
        gort::source_location where = gort::source_location::current());
  template <class Rep, class Period>
  timer(std::chrono::duration<Rep, Period> d, std::function<void()> f,
        gort::source_location where = gort::source_location::current())
      : timer(detail::saturating_cast<clock::duration>(d), std::move(f), where) {}
  ~timer();
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;

  /// The channel the time is sent on (nil for an AfterFunc timer).
  const chan<clock::time_point>& c() const noexcept { return c_; }

  /// Prevents the timer from firing. True if it was still pending — including, as in Go 1.23, a
  /// fired time not yet received, which is discarded; false if it had already fired and its value
  /// was received (or its function started), or it was already stopped.
  bool stop();

  /// Re-arms the timer to fire d from now; returns what stop() would have returned. One step:
  /// concurrent stop() and reset() calls see the timer before or after it, as in Go.
  bool reset(clock::duration d);
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    return reset(detail::saturating_cast<clock::duration>(d));
  }

 private:
  struct node : detail::timer_node {
    chan<clock::time_point> c;
    std::function<void()> f;
    gort::source_location where;
  };
  bool stop_locked() GORT_REQUIRES(calls_);
  chan<clock::time_point> c_;
  detail::spinlock calls_;  // serializes stop() and reset() (each a stop, then maybe a start)
  node node_;
};

/// Go's time.Ticker: sends the current time on c() every period; a slow receiver misses ticks
/// rather than queueing them. Throws panic_error "non-positive interval for NewTicker" for
/// period <= 0. Not copyable or movable.
class ticker {
 public:
  explicit ticker(clock::duration period);
  template <class Rep, class Period>
  explicit ticker(std::chrono::duration<Rep, Period> period)
      : ticker(detail::saturating_cast<clock::duration>(period)) {}
  ~ticker();
  ticker(const ticker&) = delete;
  ticker& operator=(const ticker&) = delete;

  const chan<clock::time_point>& c() const noexcept { return c_; }

  /// No more ticks are sent; a tick sent but not received is discarded.
  void stop();
  /// Stops and restarts with a new period (panic_error "non-positive interval for Ticker.Reset"
  /// for period <= 0); the next tick comes one period from now.
  void reset(clock::duration period);
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> period) {
    reset(detail::saturating_cast<clock::duration>(period));
  }

 private:
  struct node : detail::timer_node {
    chan<clock::time_point> c;
  };
  void stop_locked() GORT_REQUIRES(calls_);
  chan<clock::time_point> c_;
  detail::spinlock calls_;  // serializes stop() and reset(), as timer's
  node node_;
};

}  // namespace gort
