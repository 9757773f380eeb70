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

}  // namespace gort
