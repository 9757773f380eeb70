// gort/error.hpp — the exception types gort throws.
//
// gort separates two kinds of failure, as Go does:
//  * expected outcomes (closed, canceled, deadline exceeded, overload) are values returned by the
//    operation and never exceptions;
//  * misuse that Go answers with a panic (negative wait_group counter, send on a closed channel,
//    …) throws gort::panic_error carrying Go's exact message, so a test or a supervisor can catch
//    it the way Go code recovers a panic.
// Conditions Go treats as fatal (stack overflow, a corrupt runtime) print a message and abort; they
// are never exceptions.
#pragma once

#include <stdexcept>
#include <string>

namespace gort {

/// Thrown where Go would panic because the program misused a primitive. what() is Go's message,
/// e.g. "sync: negative WaitGroup counter". The operation that threw had no effect unless its
/// documentation says otherwise.
class panic_error : public std::logic_error {
 public:
  explicit panic_error(const std::string& message) : std::logic_error(message) {}
  explicit panic_error(const char* message) : std::logic_error(message) {}
};

/// Thrown when the runtime cannot be configured as asked (an invalid options field, run() called
/// while a runtime is already running). what() names the field and the accepted range.
class config_error : public std::invalid_argument {
 public:
  explicit config_error(const std::string& message) : std::invalid_argument(message) {}
};

/// Thrown to a plain thread (one that is not a goroutine) that asks for work from a runtime that
/// cannot take it: gort::go or a timer while the runtime is shutting down (main has returned), or
/// after gort::run has returned (an implicit runtime starts only in a process that never called
/// gort::run), or in a fork() child. The operation had no effect. what() says which.
class shutdown_error : public std::runtime_error {
 public:
  explicit shutdown_error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace gort
