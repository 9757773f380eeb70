// trace/trace_buffer.hpp — one writer's part of the execution trace (trace.cpp).
//
// Every machine, and sysmon, owns one buffer and is its only writer: appending takes no lock and
// touches no shared cache line. An event is one to three 64-bit words in a list of chunks (the
// layouts below); trace.cpp turns them into JSON when the trace stops.
//
// The stop hand-shake (trace.cpp, trace_collect) — why a collector never reads a chunk being
// written, without a lock or a fence instruction on the writer's side (sys/membarrier.hpp):
//  1. A writer stores writing = true (relaxed), then a compiler barrier, then loads g_instrument
//     (acquire: the collection that emptied the buffer before the trace bit was set
//     happens-before the append) — where the collector's membarrier is available
//     (g_trace_light in trace.cpp); elsewhere it stores writing = true and loads g_instrument
//     both seq_cst. Only with the trace bit set does it append, and it stores writing = false
//     (release) after.
//  2. The collector clears the trace bit (seq_cst), then membarrier_all() where available, then
//     waits until writing is false (seq_cst load) for each buffer. The membarrier is the StoreLoad
//     fence the writer's compiler barrier leaves out (elsewhere the single order of the seq_cst
//     operations decides): either the writer's load comes after the clear (it appends nothing)
//     or its writing = true comes before the collector's load (the collector waits for its
//     release, which publishes the chunks and `pos`).
//  3. After that the collector owns the chunks and resets the buffer for the next trace.
//
// Event layouts (word 0 is always the header: kind << 60 | timestamp (60 bits of ticks());
// the other words by kind):
//   slice_begin       goid
//   slice_begin_flow  goid, flow id of the ready that made it runnable
//   slice_end         end code << 48 | goid (low 48 bits: matched against the open slice)
//   flow_out          the readied goroutine's id; the flow id is implicit: the n-th flow_out of a
//                     buffer in a session has sequence number n (trace.cpp, flow_id)
//   steal             victim processor << 32 | goroutines taken
//   netpoll           goroutines readied
//   block_begin       goid
//   block_end         (none)
//   counter           global run queue length; then one counter_p event per processor
//   counter_p         processor << 32 | its local run queue length
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gort::sched {

enum class trace_kind : std::uint8_t {
  slice_begin,
  slice_begin_flow,
  slice_end,
  flow_out,
  steal,
  netpoll,
  block_begin,
  block_end,
  counter,
  counter_p,
};

inline constexpr int k_trace_kind_shift = 60;
inline constexpr std::uint64_t k_trace_ts_mask = (std::uint64_t{1} << k_trace_kind_shift) - 1;
inline constexpr std::uint64_t k_trace_goid_mask = (std::uint64_t{1} << 48) - 1;

/// Words of an event of kind k (header included), as the layouts above say.
constexpr std::size_t trace_words(trace_kind k) noexcept {
  switch (k) {
    case trace_kind::slice_begin_flow: return 3;
    case trace_kind::block_end: return 1;
    default: return 2;
  }
}

// A chunk is 2 MiB, mapped with a request for a transparent huge page and written once before
// use (trace.cpp, map_chunk), then kept in a pool that sysmon keeps stocked while a trace runs:
// a busy trace writes hundreds of megabytes, and the first touch of fresh memory is what costs
// (a pingpong of 1,000,000 round trips fills about 60 chunks).
inline constexpr std::size_t k_trace_chunk_bytes = std::size_t{2} << 20;
inline constexpr std::size_t k_trace_chunk_words = k_trace_chunk_bytes / 8 - 2;

struct trace_chunk {
  trace_chunk* next = nullptr;
  std::size_t used = 0;  // words; set when the writer leaves the chunk or the collector takes it
  std::uint64_t w[k_trace_chunk_words];
};
static_assert(sizeof(trace_chunk) == k_trace_chunk_bytes);

struct trace_buffer {
  std::atomic<bool> writing{false};  // step 1 of the hand-shake above
  // The writer's, until the collector takes them (step 3): the next free word of the tail chunk
  // and the end of its words (both null before the first event).
  std::uint64_t* pos = nullptr;
  std::uint64_t* end = nullptr;
  trace_chunk* head = nullptr;
  trace_chunk* tail = nullptr;
  std::uint64_t flows = 0;  // flow_out events appended in this session
  std::uint64_t lost = 0;   // events dropped for want of memory
  // The stamp of the slice_end just appended, for the slice_begin of a direct hand-off that
  // follows it at once on the same machine (one time-stamp read for both); 0: none. Read and
  // written inside the hand-shake's section only, reset with the buffer.
  std::int64_t stop_ticks = 0;
};

}  // namespace gort::sched
