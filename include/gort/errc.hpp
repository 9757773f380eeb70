// gort/errc.hpp — errors as values: gort's error codes and gort::error.
//
//   std::error_code e = ctx.err();            // {} until ctx is done
//   if (e == gort::errc::canceled) ...        // or e == std::errc::operation_canceled
//   gort::error cause = gort::cause(ctx);     // a code of any category, or an exception
//
// Go's `error` is an interface any value can implement. gort represents it with two standard
// pieces:
//  * std::error_code for the expected outcomes of gort's own operations (context::err(),
//    the context-aware blocking forms) and for causes users define in their own categories;
//  * gort::error, a value holding an error_code and, when the error came from an exception (an
//    errgroup task or a singleflight function that threw), the std::exception_ptr. It is what
//    cause(), cancel_cause_func, errgroup::wait() and singleflight carry.
// A default-constructed error_code / gort::error is Go's nil.
//
// gort's category ("gort") and its equivalences with the generic conditions:
//   errc::canceled           "context canceled"           == std::errc::operation_canceled
//   errc::deadline_exceeded  "context deadline exceeded"  == std::errc::timed_out (Go's Timeout())
//   errc::exception          "exception"                  the code of an error made from an
//                                                         exception; error::message() is what()
#pragma once

#include <exception>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace gort {

/// gort's error codes (category gort::gort_category()). 0 is never used: it means "no error".
enum class errc : int {
  canceled = 1,           // Go's context.Canceled
  deadline_exceeded = 2,  // Go's context.DeadlineExceeded
  exception = 3,          // an error that carries an exception (gort::error::exception())
};

namespace detail {

class gort_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gort"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::canceled: return "context canceled";
      case errc::deadline_exceeded: return "context deadline exceeded";
      case errc::exception: return "exception";
    }
    return "unknown gort error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::canceled: return std::make_error_condition(std::errc::operation_canceled);
      case errc::deadline_exceeded: return std::make_error_condition(std::errc::timed_out);
      case errc::exception: break;
    }
    return std::error_condition(ev, *this);
  }
};

}  // namespace detail

/// The "gort" error category (one instance per program). Any thread.
inline const std::error_category& gort_category() noexcept {
  static const detail::gort_category_impl category;
  return category;
}

inline std::error_code make_error_code(errc e) noexcept {
  return std::error_code(static_cast<int>(e), gort_category());
}

}  // namespace gort

template <>
struct std::is_error_code_enum<gort::errc> : std::true_type {};

namespace gort {

/// Go's `error` value: nil (default), an error code of any category, or an exception captured as
/// std::exception_ptr (its code is errc::exception). Cheap to copy (an error_code and a
/// reference-counted exception_ptr).
///
/// Comparisons: two errors are equal when their codes are equal and they hold the same exception
/// object (or none). An error compares with an error_code, an error_condition or an error-code /
/// error-condition enum through its code, so `err == gort::errc::canceled`,
/// `err == my_errc::too_slow` and `err == std::errc::timed_out` all work.
class error {
 public:
  /// nil.
  error() noexcept = default;
  /// The code itself (nil when `ec` is the zero code).
  error(std::error_code ec) noexcept : code_(ec) {}  // NOLINT(google-explicit-constructor)
  template <class E>
    requires std::is_error_code_enum_v<E>
  error(E e) noexcept : code_(make_error_code(e)) {}  // NOLINT(google-explicit-constructor)
  /// An error carrying an exception (nil when `e` is null); code() is errc::exception.
  explicit error(std::exception_ptr e) noexcept
      : code_(e ? make_error_code(errc::exception) : std::error_code{}), exception_(std::move(e)) {}

  /// The exception being handled, as an error (call from a catch block).
  [[nodiscard]] static error from_current_exception() noexcept {
    return error(std::current_exception());
  }

  /// True when this is not nil.
  explicit operator bool() const noexcept { return static_cast<bool>(code_); }

  const std::error_code& code() const noexcept { return code_; }
  /// The exception this error was made from, or null.
  const std::exception_ptr& exception() const noexcept { return exception_; }

  /// "" for nil; what() of a std::exception (or "unknown exception"); else the code's message.
  std::string message() const {
    if (exception_) {
      try {
        std::rethrow_exception(exception_);
      } catch (const std::exception& e) {
        return e.what();
      } catch (...) {
        return "unknown exception";
      }
    }
    return code_ ? code_.message() : std::string();
  }

  /// Rethrows the exception, or throws std::system_error(code()). Precondition: not nil.
  [[noreturn]] void rethrow() const {
    if (exception_) std::rethrow_exception(exception_);
    throw std::system_error(code_);
  }

  friend bool operator==(const error& a, const error& b) noexcept {
    return a.code_ == b.code_ && a.exception_ == b.exception_;
  }
  friend bool operator==(const error& a, const std::error_code& b) noexcept { return a.code_ == b; }
  friend bool operator==(const error& a, const std::error_condition& b) noexcept {
    return a.code_ == b;
  }
  template <class E>
    requires(std::is_error_code_enum_v<E> || std::is_error_condition_enum_v<E>)
  friend bool operator==(const error& a, E e) noexcept {
    if constexpr (std::is_error_code_enum_v<E>) {
      return a.code_ == make_error_code(e);
    } else {
      return a.code_ == make_error_condition(e);
    }
  }

 private:
  std::error_code code_;
  std::exception_ptr exception_;
};

}  // namespace gort
