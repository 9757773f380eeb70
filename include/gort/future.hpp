// gort/future.hpp — gort::future<T> and gort::promise<T>: a one-shot value (or exception) handed
// from one goroutine to another, built on the park/ready waist. gort::pool::submit_future returns
// one; usable on its own.
//
// Unlike std::future, waiting parks only the calling goroutine (its machine keeps running other
// goroutines); a plain thread blocks. One shared state, one allocation, per promise.
//
// Invariants of the shared state
//  * status_ goes empty -> {value, exception, broken} once, under lock_, and never changes again.
//  * waiters_ holds the goroutines (or threads) parked in wait()/get() (one, for a single consumer);
//    the wait list of detail/wait_list.hpp, guarded by lock_.
//  * The state is freed when both the promise and the future have let go of it (refs_).
//
// Memory ordering: set_value()/set_exception() happen-before the return of the wait()/get() that
// observes them (the lock pairs the writer with the reader; ready() orders the wake-up).
//
// Errors are std::future_error, as std::future's (include <future> to catch them by type). The
// waiting and waking are compiled once in the library (src/sync/future.cpp, future_core).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/thread_annotations.hpp"
#include "gort/detail/tsan_hooks.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"

namespace gort {

template <class T>
class future;
template <class T>
class promise;

namespace detail {

/// How a future's value is stored: by value, a pointer for T&, nothing for void.
template <class T>
struct future_storage {
  using type = std::optional<T>;
};
template <class T>
struct future_storage<T&> {
  using type = T*;
};
template <>
struct future_storage<void> {
  using type = bool;
};

/// std::future_errc values, without <future>: no_state, future_already_retrieved,
/// promise_already_satisfied, broken_promise.
enum class future_fault : std::uint8_t { no_state, already_retrieved, already_satisfied, broken };

/// Throws std::future_error for `f`. Any thread.
[[noreturn]] void throw_future_error(future_fault f);

/// The part of a future's shared state that does not depend on T: status, waiters, lock.
class future_core {
 public:
  enum class status : std::uint8_t { empty, value, exception, broken };

  bool is_ready() noexcept {
    lock_.lock();
    const bool r = status_ != status::empty;
    lock_.unlock();
    return r;
  }

  /// Parks until the status is final. Any thread.
  void wait();

  // After wait(): the status is final, written before the waiter was woken (no lock needed).
  status final_status() const noexcept GORT_NO_THREAD_SAFETY_ANALYSIS { return status_; }

 protected:
  /// Publishes the outcome: `set` stores it (under the lock), then the waiters are woken.
  /// Requires status empty (checked by promise).
  template <class Set>
  void complete(status s, Set&& set) {
    lock_.lock();
    set();
    finish_locked(s);
  }

 private:
  void finish_locked(status s) noexcept GORT_RELEASE(lock_);  // sets the status, unlocks, wakes

  spinlock lock_;
  status status_ GORT_GUARDED_BY(lock_) = status::empty;
  wait_queues<waiter> waiters_ GORT_GUARDED_BY(lock_);
};

template <class T>
class future_state : public future_core {
 public:
  void release() noexcept {
    // acq_rel: the last owner sees every write of the other before deleting.
    if (detail::drop_reference(refs_)) delete this;
  }

  using future_core::complete;

  typename future_storage<T>::type value{};  // written by complete()
  std::exception_ptr error;                  // written by complete()

 private:
  std::atomic<int> refs_{2};  // the promise and the future
};

}  // namespace detail

/// The receiving end of a promise: get() parks the calling goroutine until the value (or the
/// exception) arrives. Move-only; single consumer, like std::future. Any thread (a plain thread
/// blocks).
template <class T>
class future {
 public:
  future() noexcept = default;
  future(future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  future& operator=(future&& o) noexcept {
    if (this != &o) {
      if (s_ != nullptr) s_->release();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  future(const future&) = delete;
  future& operator=(const future&) = delete;
  ~future() {
    if (s_ != nullptr) s_->release();
  }

  /// True until get() has been called (and for a future made by a promise or a pool).
  [[nodiscard]] bool valid() const noexcept { return s_ != nullptr; }

  /// True when get() would not wait. Precondition: valid().
  [[nodiscard]] bool is_ready() const noexcept { return s_->is_ready(); }

  /// Waits until the value or exception is there. Precondition: valid().
  void wait() const { s_->wait(); }

  /// Waits, then returns the value (moved out) or rethrows the exception; afterwards valid() is
  /// false. Throws std::future_error(broken_promise) when the promise was destroyed unfulfilled,
  /// std::future_error(no_state) when !valid().
  T get() {
    if (s_ == nullptr) detail::throw_future_error(detail::future_fault::no_state);
    s_->wait();
    struct let_go {
      detail::future_state<T>*& s;
      ~let_go() { std::exchange(s, nullptr)->release(); }
    } guard{s_};
    using st = detail::future_core::status;
    switch (s_->final_status()) {
      case st::exception: std::rethrow_exception(s_->error);
      case st::broken: detail::throw_future_error(detail::future_fault::broken);
      default: break;
    }
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (std::is_reference_v<T>) {
      return *s_->value;
    } else {
      return std::move(*s_->value);
    }
  }

 private:
  friend class promise<T>;
  explicit future(detail::future_state<T>* s) noexcept : s_(s) {}
  detail::future_state<T>* s_ = nullptr;
};

/// The sending end: set_value/set_exception once; destroying an unfulfilled promise makes get()
/// throw std::future_error(broken_promise). Move-only. Any thread.
template <class T>
class promise {
 public:
  /// Allocates the shared state. Throws std::bad_alloc.
  promise() : s_(new detail::future_state<T>()) {}
  promise(promise&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)),
        future_taken_(o.future_taken_),
        satisfied_(o.satisfied_) {}
  promise& operator=(promise&& o) noexcept {
    if (this != &o) {
      abandon();
      s_ = std::exchange(o.s_, nullptr);
      future_taken_ = o.future_taken_;
      satisfied_ = o.satisfied_;
    }
    return *this;
  }
  promise(const promise&) = delete;
  promise& operator=(const promise&) = delete;
  ~promise() { abandon(); }

  /// The future for this promise; once. Throws std::future_error(future_already_retrieved) on a
  /// second call, std::future_error(no_state) on a moved-from promise.
  [[nodiscard]] future<T> get_future() {
    if (s_ == nullptr) detail::throw_future_error(detail::future_fault::no_state);
    if (future_taken_) detail::throw_future_error(detail::future_fault::already_retrieved);
    future_taken_ = true;
    return future<T>(s_);
  }

  /// Stores the value and wakes the waiter. Throws std::future_error(promise_already_satisfied)
  /// on a second set, and what T's constructor throws (the promise then stays unsatisfied).
  template <class... A>
  void set_value(A&&... a) {
    check_settable();
    using st = detail::future_core::status;
    if constexpr (std::is_void_v<T>) {
      static_assert(sizeof...(A) == 0, "promise<void>::set_value takes no argument");
      s_->complete(st::value, [] {});
    } else if constexpr (std::is_reference_v<T>) {
      static_assert(sizeof...(A) == 1, "promise<T&>::set_value takes one reference");
      T& ref = (a, ...);
      // __builtin_addressof: std::addressof without including <memory>.
      s_->complete(st::value, [&] { s_->value = __builtin_addressof(ref); });
    } else {
      // Constructed before taking the lock, so a throwing constructor leaves the state empty.
      std::optional<T> v(std::in_place, std::forward<A>(a)...);
      s_->complete(st::value, [&] { s_->value = std::move(v); });
    }
    satisfied_ = true;
  }

  /// Stores an exception for get() to rethrow.
  void set_exception(std::exception_ptr e) {
    check_settable();
    using st = detail::future_core::status;
    s_->complete(st::exception, [&] { s_->error = std::move(e); });
    satisfied_ = true;
  }

 private:
  void check_settable() const {
    if (s_ == nullptr) detail::throw_future_error(detail::future_fault::no_state);
    if (satisfied_) detail::throw_future_error(detail::future_fault::already_satisfied);
  }
  void abandon() noexcept {
    if (s_ == nullptr) return;
    if (!satisfied_) {
      using st = detail::future_core::status;
      s_->complete(st::broken, [] {});
    }
    if (!future_taken_) s_->release();  // the future's reference, never handed out
    std::exchange(s_, nullptr)->release();
  }

  detail::future_state<T>* s_;
  bool future_taken_ = false;
  bool satisfied_ = false;
};

}  // namespace gort
