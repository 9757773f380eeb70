// trace/instrument.hpp — the one flag the scheduler's hot paths test before optional recording.
//
// Two recorders hang off the scheduler: the scheduling-latency histogram (metrics.cpp, Go's
// /sched/latencies:seconds) and the execution trace (trace.cpp). Both are off by default.
//
// Invariant: with g_instrument == 0 every hook site costs one relaxed load of g_instrument and a
// not-taken branch, and records nothing. The hooks themselves are out of line ([[gnu::cold]]), so
// the hot paths' code layout does not change when they are compiled in.
//
// Hook sites (each calls the out-of-line function only when a bit is set):
//   runnable  a goroutine became runnable: ready (park.cpp claim_parked), spawn (spawn.cpp), a
//             yield or preemption (scheduler.hpp finish_request). Stamps the record.
//   run       a time slice begins (scheduler.hpp prepare_run): records the latency, opens the
//             trace slice.
//   stop      a time slice ends (context_switch.cpp switch_to_scheduler): closes the trace slice
//             with the reason (park's wait reason, yield, preemption, exit).
//   steal, netpoll, blocking: trace-only events, at their own sites.
#pragma once

#include <atomic>
#include <cstdint>

#include "sched/goroutine.hpp"

namespace gort::sched {

struct machine;
struct processor;
struct scheduler;
enum class after_switch : std::uint8_t;

inline constexpr std::uint32_t k_instr_latency = 1;  // scheduling-latency histogram on
inline constexpr std::uint32_t k_instr_trace = 2;    // execution trace on

/// Bits above. Written by metrics.cpp and trace.cpp (seq_cst: trace.cpp's stop hand-shake);
/// hot paths read it relaxed — a hook that misses a change records one event less or more, and
/// trace.cpp's writers re-check it under their own hand-shake. Hidden: one PC-relative load.
[[gnu::visibility("hidden")]] extern std::atomic<std::uint32_t> g_instrument;

[[gnu::always_inline]] inline bool instrumenting() noexcept {
  return g_instrument.load(std::memory_order_relaxed) != 0;
}

// ---- scheduling latency (metrics.cpp) ----

/// Go's gTrackingPeriod: one runnable period in eight is timed (runtime2.go), so the histogram
/// is a sample, as Go's is; sum and count cover the sampled periods only.
inline constexpr std::uint32_t k_latency_period = 8;
/// Buckets: [0, 256 ns), [256 ns, 512 ns), ... doubling, the last one open-ended.
inline constexpr int k_latency_first_shift = 8;
inline constexpr int k_latency_buckets = 26;
/// goroutine::runnable_since when the next runnable period is to be timed.
inline constexpr std::int64_t k_latency_track = -1;

// ---- the hooks (out of line; call only when instrumenting()) ----

/// `g` became runnable. `by` is the machine of the thread doing it (null: a plain thread);
/// `flow` is false when g readies itself (a yield). Any thread.
[[gnu::cold]] void on_runnable(machine* by, goroutine* g, bool flow) noexcept;
/// A time slice of `g` begins on m holding p; `direct`: g takes over from the goroutine whose
/// on_stop m ran last, in the same switch (the direct hand-off). m's thread.
[[gnu::cold]] void on_run(machine* m, processor* p, goroutine* g, bool direct) noexcept;
/// The running goroutine g switches away from m for `what`. g itself, on its stack.
[[gnu::cold]] void on_stop(machine* m, goroutine* g, after_switch what) noexcept;

// ---- trace-only events (trace.cpp; each returns at once when the trace is off) ----

/// m's machine took `taken` goroutines from processor `victim`. m's thread.
void trace_steal(machine* m, int victim, std::uint32_t taken) noexcept;
/// A poll readied `n` goroutines. Any machine's thread or sysmon.
void trace_netpoll(machine* m, std::size_t n) noexcept;
/// The running goroutine enters (begin) or leaves (!begin) a blocking call: the slice "blocking"
/// nests inside its run slice. For gort::blocking's hand-off. The goroutine, on its machine.
void trace_blocking(bool begin) noexcept;
/// Run-queue lengths as counters, at most once a millisecond. sysmon only.
void trace_counters(scheduler& s, std::int64_t now) noexcept;

// ---- lifecycle (trace.cpp) ----

/// A runtime starts: the latency recorder's bit follows GORTDEBUG=schedlatency, and
/// GORTDEBUG=trace=PATH starts a trace (an error is reported on stderr). Start paths, after the
/// runtime is published and before its machines run.
void instrument_begin(scheduler& s) noexcept;
/// A runtime ends: a trace it is running is written out, the latency recorder is switched off.
/// retire() only (no machine or sysmon runs any more).
void instrument_end(scheduler& s) noexcept;
/// Switches the latency recorder on (first read of the metrics). Any thread.
void enable_latency() noexcept;

}  // namespace gort::sched
