// gort/log.hpp — where the runtime's own messages go.
//
//   gort::set_log_sink([](std::string_view line) { my_logger.warn("{}", line); });
//
// The runtime reports a few conditions it survives: an invalid GORTMAXPROCS or GORTDEBUG value, an
// unreadable cgroup CPU limit, an OS thread it could not create, a pool's task exception when the
// pool has no logger of its own. By default each goes to stderr as one line "gort: <message>".
// Fatal errors (the process is about to abort) always go to stderr.
#pragma once

#include <string_view>

#include "gort/detail/std_parts.hpp"

namespace gort {

/// Receives one message per call: a single line, without a trailing newline. The type of
/// gort::pool_options::logger too.
using log_sink = std::function<void(std::string_view)>;

/// Replaces the process-wide sink of the runtime's messages and returns the previous one (empty
/// meaning the default). Empty: the default, "gort: <message>" on stderr. The sink is called on
/// whatever thread reports (a goroutine, a runtime thread, a thread starting a runtime), possibly
/// in the middle of a runtime operation: it should only hand the line to a logger, not block on
/// gort primitives or spawn; an exception it throws is dropped. Any thread.
log_sink set_log_sink(log_sink sink);

/// Sends one message to the current sink. Any thread.
void log(std::string_view message) noexcept;

}  // namespace gort
