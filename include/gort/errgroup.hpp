// gort/errgroup.hpp — golang.org/x/sync/errgroup: goroutines working on subtasks of one task.
//
//   auto [g, ctx] = gort::errgroup::with_context(parent);
//   for (auto& url : urls) g.go([&, url] { return fetch(ctx, url); });   // error_code, error or void
//   if (gort::error e = g.wait()) ...                                     // the first error
//
// Semantics are x/sync's (golang.org/x/sync/errgroup/errgroup.go):
//  * A default-constructed group has no context and no limit.
//  * with_context(parent) also returns a context derived with with_cancel_cause: it is cancelled,
//    with the error as its cause, the first time a task fails, or when wait() returns (cause
//    errc::canceled if nothing failed), whichever comes first.
//  * go(f) runs f on a new goroutine; with a limit it first waits for a free slot. try_go(f) runs
//    it only if a slot is free now. set_limit(n): at most n tasks active (n < 0: no limit; 0:
//    go() blocks and try_go() fails until the limit is raised).
//  * wait() blocks until every task has returned and returns the first error (nil if none).
//  * A task reports failure by returning a non-nil std::error_code or gort::error (or anything
//    convertible to gort::error), or by throwing: the exception becomes that task's error
//    (gort::error holding the exception_ptr; wait() returns it, it does not rethrow). Go, by
//    contrast, lets a panic crash the process.
//
// Misuse: set_limit while tasks are active throws gort::panic_error "errgroup: modify limit while
// N goroutines in the group are still active" (Go's panic). The destructor waits for the tasks
// still running (they use the group), so a group that goes out of scope without wait() is safe.
//
// Memory ordering: everything a task did happens-before wait() returns.
#pragma once

#include <atomic>
#include <cstdint>
#include "gort/source_location.hpp"
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "gort/chan.hpp"
#include "gort/context.hpp"
#include "gort/errc.hpp"
#include "gort/error.hpp"
#include "gort/go.hpp"
#include "gort/sync.hpp"

namespace gort {

struct errgroup_context;

/// x/sync's errgroup.Group. Not copyable or movable (its tasks refer to it).
class errgroup {
 public:
  /// A group without a context or a limit (Go's zero Group).
  errgroup() noexcept = default;
  /// A group whose ctx() is derived from parent (see the file comment).
  explicit errgroup(const context& parent) : errgroup(with_cancel_cause(parent)) {}
  errgroup(const errgroup&) = delete;
  errgroup& operator=(const errgroup&) = delete;
  ~errgroup() { wg_.wait(); }

  /// Go's WithContext: the group and its derived context, for `auto [g, ctx] = ...`.
  [[nodiscard]] static errgroup_context with_context(const context& parent);

  /// The derived context (background() for a group made without one).
  [[nodiscard]] const context& ctx() const noexcept { return ctx_; }

  /// Runs f() on a new goroutine, first waiting for a free slot if a limit is set.
  template <class F>
  void go(F&& f, gort::source_location where = gort::source_location::current()) {
    if (sem_) sem_.send(std::monostate{});
    start(std::forward<F>(f), where);
  }

  /// go() only if a slot is free now; false (and f not run) otherwise.
  template <class F>
  [[nodiscard]] bool try_go(F&& f, gort::source_location where = gort::source_location::current()) {
    if (sem_ && !sem_.try_send(std::monostate{})) return false;
    start(std::forward<F>(f), where);
    return true;
  }

  /// At most n tasks active at once; n < 0 removes the limit.
  void set_limit(std::int64_t n) {
    if (sem_ && sem_.size() != 0) {
      throw panic_error("errgroup: modify limit while " + std::to_string(sem_.size()) +
                        " goroutines in the group are still active");
    }
    sem_ = n < 0 ? chan<std::monostate>() : chan<std::monostate>(n);
  }

  /// Waits for every task; returns the first error (nil if none) and cancels ctx().
  [[nodiscard]] error wait() {
    wg_.wait();
    cancel_(err_);  // nil: cause errc::canceled
    return err_;
  }

 private:
  friend struct errgroup_context;
  explicit errgroup(std::pair<context, cancel_cause_func> derived)
      : ctx_(std::move(derived.first)), cancel_(std::move(derived.second)) {}

  template <class F>
  static error run_task(F& f) noexcept {
    using R = std::invoke_result_t<F&>;
    static_assert(std::is_void_v<R> || std::is_convertible_v<R, error>,
                  "gort::errgroup: a task returns void, std::error_code, gort::error or an error "
                  "code enum");
    try {
      if constexpr (std::is_void_v<R>) {
        f();
        return {};
      } else {
        return error(f());
      }
    } catch (...) {
      return error::from_current_exception();
    }
  }

  template <class F>
  void start(F&& f, const gort::source_location& where) {
    wg_.add(1);
    try {
      detail::spawn(where, [this, fn = std::forward<F>(f)]() mutable {
        if (error e = run_task(fn)) {
          // acq_rel: exactly one task records the first error; wait() reads it after wg_.
          if (!failed_.exchange(true, std::memory_order_acq_rel)) {
            err_ = e;
            cancel_(e);
          }
        }
        finish();
      });
    } catch (...) {
      finish();
      throw;
    }
  }

  void finish() {
    if (sem_) (void)sem_.try_recv();  // frees this task's slot (it holds one, so never empty)
    wg_.done();
  }

  context ctx_;
  cancel_cause_func cancel_;          // does nothing for a group without a context
  wait_group wg_;
  chan<std::monostate> sem_;          // nil: no limit; else one token per active task
  std::atomic<bool> failed_{false};
  error err_;                         // the first error; written once, before its task's done()
};

/// What errgroup::with_context returns.
struct errgroup_context {
  errgroup group;
  context ctx;
};

inline errgroup_context errgroup::with_context(const context& parent) {
  std::pair<context, cancel_cause_func> derived = with_cancel_cause(parent);
  context ctx = derived.first;
  return errgroup_context{errgroup(std::move(derived)), std::move(ctx)};
}

}  // namespace gort
