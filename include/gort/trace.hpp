// gort/trace.hpp — the execution trace (Go's runtime/trace, in Chrome's trace-event format).
//
//   gort::trace_start("out.json");  ...  gort::trace_stop();
//   GORTDEBUG=trace=out.json ./service      (from the start of gort::run to its end)
//
// The file is Chrome trace-event JSON that Perfetto (ui.perfetto.dev) and chrome://tracing open:
// one track per machine (OS thread) with a slice per goroutine time slice, named
// "G<id> [<why it stopped>]" (a Go wait reason, "yield", "preempted", "exit" or "running"); arrows
// from the goroutine that readied another to the slice where it runs; steals, poller wake-ups and
// blocking calls as events; a sysmon track with run-queue lengths as counters. docs/design.md
// ("Execution trace") has the details.
//
// Cost: with no trace running the scheduler tests one flag per hook site. While tracing, every
// machine appends to its own memory buffer (no lock); the events are held in memory and written
// when the trace stops, so a long trace of a busy service uses memory in proportion (32 bytes per
// event, a few events per goroutine switch).
#pragma once

#include <string>

namespace gort {

/// Starts tracing the running runtime into `path` (created or truncated now; the events are
/// written by trace_stop). Throws gort::config_error when no runtime runs or a trace is already
/// running, std::system_error when the file cannot be created. Any thread.
void trace_start(const std::string& path);

/// Stops the trace and writes its file. No effect when no trace runs. The end of the runtime
/// stops a trace still running. Throws std::system_error when the file cannot be written. Any
/// thread (on a goroutine it blocks its machine while it writes).
void trace_stop();

/// True while a trace runs. Any thread.
bool tracing() noexcept;

}  // namespace gort
