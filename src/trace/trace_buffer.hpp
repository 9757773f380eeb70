// trace/trace_buffer.hpp — one writer's part of the execution trace (trace.cpp).
//
// Every machine, and sysmon, owns one buffer and is its only writer: appending takes no lock and
// touches no shared cache line. Events are fixed-size records in a list of chunks; trace.cpp turns
// them into JSON when the trace stops.
//
// The stop hand-shake (trace.cpp, trace_collect) — why a collector never reads a chunk being
// written, without a lock on the writer's side:
//  1. A writer stores writing = true (seq_cst), then loads g_instrument (seq_cst); only with the
//     trace bit set does it append, and it stores writing = false (release) after.
//  2. The collector clears the trace bit (seq_cst), then waits until writing is false (seq_cst
//     load) for each buffer. In the single order of seq_cst operations either the writer's load
//     comes after the clear (it appends nothing) or its writing = true comes before the
//     collector's load (the collector waits for its release, which publishes the chunks).
//  3. After that the collector owns the chunks and resets the buffer for the next trace.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gort::sched {

enum class trace_kind : std::uint8_t {
  slice_begin,  // a = goroutine id, b = flow id of the ready that made it runnable (0: none)
  slice_end,    // a = goroutine id, c = end code (trace.cpp: wait reason, or yield/preempt/exit)
  flow_out,     // a = flow id, b = the readied goroutine's id
  steal,        // a = goroutines taken, c = victim processor
  netpoll,      // a = goroutines readied
  block_begin,  // a = goroutine id
  block_end,    // a = goroutine id
  counter,      // a = global run queue, then one counter_p event per processor
  counter_p,    // a = local run queue length, c = processor
};

struct trace_event {
  std::int64_t ts;  // sys::nanotime()
  std::uint64_t a;
  std::uint64_t b;
  std::uint32_t c;
  trace_kind kind;
};

// A chunk is 2 MiB, mapped with a request for a transparent huge page (trace.cpp): a busy trace
// writes hundreds of megabytes, and with 4 KiB pages every 128 events cost a page fault (a traced
// pingpong of 1,000,000 round trips: 47,000 faults; 450 with huge pages).
inline constexpr std::size_t k_trace_chunk_bytes = std::size_t{2} << 20;
inline constexpr std::size_t k_trace_chunk_events = k_trace_chunk_bytes / sizeof(trace_event) - 1;

struct trace_chunk {
  trace_chunk* next = nullptr;
  std::size_t n = 0;
  trace_event ev[k_trace_chunk_events];
};
static_assert(sizeof(trace_chunk) <= k_trace_chunk_bytes);

struct trace_buffer {
  std::atomic<bool> writing{false};  // step 1 of the hand-shake above
  trace_chunk* head = nullptr;       // the writer's, until the collector takes them (step 3)
  trace_chunk* tail = nullptr;
  std::uint64_t flow_seq = 0;  // the writer's: flow ids it hands out
  std::uint64_t lost = 0;      // events dropped for want of memory
};

}  // namespace gort::sched
