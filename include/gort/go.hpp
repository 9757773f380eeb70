// gort/go.hpp — spawning goroutines and asking about them.
//
//   gort::go(f, args...)        run f(args...) on a new goroutine
//   gort::yield()               give up the processor; the caller goes to the global queue tail
//   gort::this_goroutine::id()  1 for main, 0 on a plain thread
//   gort::num_goroutines()      goroutines that exist now (running, runnable or parked)
//
// Placement follows Go: a goroutine spawned from a goroutine goes to its processor's `runnext`
// slot, displacing the previous occupant to the tail of the local queue, so with one processor
// spawning A then B runs B first. From a plain thread it goes to the global queue.
#pragma once

#include <cstdint>
#include <new>
#include "gort/source_location.hpp"
#include <tuple>
#include <type_traits>
#include <utility>

#include "gort/detail/waist.hpp"

namespace gort {

namespace detail {

/// The callable and its decayed arguments, stored in the goroutine record. Invoked once with the
/// stored values as rvalues, like std::thread.
template <class F, class... Args>
struct closure {
  F fn;
  // No storage when there are no arguments: a closure of gort::go(f) is exactly f's size, so an f
  // that fills the record's inline storage does not spill to the heap.
  [[no_unique_address]] std::tuple<Args...> args;

  // std::apply is INVOKE(fn, args...) (member pointers included), with the values moved out.
  static void run(void* self) {
    auto& c = *static_cast<closure*>(self);
    std::apply(std::move(c.fn), std::move(c.args));
  }
  static void destroy(void* self) noexcept { static_cast<closure*>(self)->~closure(); }
};

// Always inlined, like gort::go: spawn_commit's return address is then in the function that
// called gort::go, which dumps name as the goroutine's creator.
template <class F, class... Args>
[[gnu::always_inline]] inline void spawn(const gort::source_location& where, F&& f, Args&&... args) {
  using C = closure<std::decay_t<F>, std::decay_t<Args>...>;
  static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                "gort::go: f(args...) must be callable with the decayed, moved arguments");
  const prepared_spawn r = spawn_prepare(sizeof(C), alignof(C));
  try {
    ::new (r.mem) C{std::forward<F>(f), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)};
  } catch (...) {
    spawn_abort(r.g);
    throw;
  }
  spawn_commit(r.g, &C::run, &C::destroy, where.file_name(), where.function_name(),
               pack_line_column(where));
}

}  // namespace detail

// gort::go records where it was called (shown when the goroutine throws or overflows its stack).
// A defaulted gort::source_location cannot follow a parameter pack, so there is one overload per
// argument count; bind more arguments with a lambda.

/// Runs f() on a new goroutine. Any thread; from a plain thread in a process that never called
/// gort::run, starts a runtime with default options if none runs. An exception escaping f ends the
/// process (see gort::options::on_exception). Throws std::bad_alloc when the closure or a stack
/// for the goroutine cannot be had; from a plain thread, gort::shutdown_error when no runtime can
/// take it (shutting down, gort::run returned, fork child) and std::system_error when the implicit
/// runtime's threads cannot start. Nothing was spawned when it throws.
template <class F>
[[gnu::always_inline]] inline void go(F&& f, gort::source_location where = gort::source_location::current()) {
  detail::spawn(where, std::forward<F>(f));
}
template <class F, class A1>
[[gnu::always_inline]] inline void go(F&& f, A1&& a1, gort::source_location where = gort::source_location::current()) {
  detail::spawn(where, std::forward<F>(f), std::forward<A1>(a1));
}
template <class F, class A1, class A2>
[[gnu::always_inline]] inline void go(F&& f, A1&& a1, A2&& a2, gort::source_location where = gort::source_location::current()) {
  detail::spawn(where, std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2));
}
template <class F, class A1, class A2, class A3>
[[gnu::always_inline]] inline void go(F&& f, A1&& a1, A2&& a2, A3&& a3,
        gort::source_location where = gort::source_location::current()) {
  detail::spawn(where, std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2),
                std::forward<A3>(a3));
}
template <class F, class A1, class A2, class A3, class A4>
[[gnu::always_inline]] inline void go(F&& f, A1&& a1, A2&& a2, A3&& a3, A4&& a4,
        gort::source_location where = gort::source_location::current()) {
  detail::spawn(where, std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2),
                std::forward<A3>(a3), std::forward<A4>(a4));
}

/// Go's runtime.Gosched: puts the calling goroutine at the tail of the global run queue and runs
/// something else. On a plain thread: std::this_thread::yield().
void yield() noexcept;

/// Go's cooperative preemption check, for long loops that call nothing else of gort: if the
/// runtime asked the calling goroutine to give its processor up (it has run for 10 ms without a
/// scheduling point), it yields to the global run queue; otherwise it returns at once (a call and
/// two loads). Any thread; a no-op off goroutines.
void preempt_point() noexcept;

/// Number of goroutines that currently exist (Go's runtime.NumGoroutine). Any thread; 0 when no
/// runtime runs. Counters are read without stopping the world, so a value taken while goroutines
/// are being created or are exiting is approximate by that many.
std::int64_t num_goroutines() noexcept;

namespace this_goroutine {
/// The calling goroutine's id: 1 for the main goroutine of gort::run, increasing from there; 0 on
/// a plain thread. Ids are never reused within one runtime.
std::uint64_t id() noexcept;
}  // namespace this_goroutine

}  // namespace gort
