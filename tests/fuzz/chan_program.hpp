// tests/fuzz/chan_program.hpp — the channel fuzzer's program: bytes in, a checked run out.
//
// An input decodes (every byte string is a valid program) into a runtime configuration and a
// small program: up to 4 worker goroutines, each with a list of operations on up to 3 int
// channels (capacities 0-3), one gort::timer and two contexts (root = with_cancel(background),
// child = with_cancel(root)). Operations: send, recv, try_send, try_recv, close, select without
// and with a default case (case lists built at run time, or the variadic form for one or two
// channel cases), context-aware send and recv, cancel, timer reset and stop, and a timer wait
// (a select on the timer and the root's done()). docs/fuzzing.md explains the oracle; in short:
//
//  1. The workers run freely on gort's runtime (GOMAXPROCS 1 or 2, GORTDEBUG=shuffle=SEED, both
//     from the input). Each operation is logged with two stamps of one global counter, taken just
//     before it is called and just after it returns, so `a.end < b.start` means a's linearization
//     point precedes b's.
//  2. Stable point: main waits (on progress notifications, never on time) until the log says
//     that every unfinished worker is inside an operation that the sequential model, fed the
//     completed operations, says cannot proceed. An enabled operation that makes no progress for
//     k_stall is a lost wake-up: the run fails with the log.
//  3. Release: main closes every channel and cancels the root context; the model then releases
//     every waiting operation, so every worker must finish (else: a goroutine left blocked).
//     Main stops the timer and drains the channels.
//  4. The log is checked against the model's rules, which hold for every interleaving: values
//     are received exactly once and only on the channel they were sent on, in FIFO order; closes
//     succeed once; panics need a close that started before they returned, successful sends a
//     close that had not ended before they started; a receive that reports closed comes after
//     every value sent before it started has been taken; defaults and empty try_recvs never
//     ignore a case that was ready throughout; context operations fail exactly when the
//     context was cancelled (and are not attempted on a context cancelled before they start);
//     every arming of the timer is delivered once or reported prevented by stop/reset once.
//
// A violation prints the program, the log and the broken rules on stderr and aborts (libFuzzer
// records the input as a crash; the replay driver exits non-zero).
//
// Encoding (bytes past the end read as 0; decoding stops at the end of the input):
//   byte 0   bit 0: GOMAXPROCS 2 (else 1); bit 1: no shuffle; bits 2-3: workers - 1;
//            bits 4-5: channels - 1 (3 -> 3 channels)
//   byte 1-2 shuffle seed - 1, little-endian
//   byte 3   channel capacities, 2 bits each (channel 0 in bits 0-1)
//   byte 4   bits 0-1: the timer's first duration (0, 50 us, 200 us, 1 ms)
//   then operations, at most 64 (32 per worker):
//   byte A   bits 0-1: worker (mod workers); bits 2-7: kind (mod 13, the order of op_kind)
//   byte B   bits 0-1: channel (mod channels); bit 2: context (child, else root); bits 3-4:
//            duration code (timer_reset); bit 5: variadic select; bits 6-7: cases - 1 (mod 3)
//   select kinds only, one byte per case: bits 0-1: case kind (recv, send, timer, done);
//            bits 2-3: channel (mod channels); bit 4: context (child, else root)
// tests/fuzz/make_corpus.py writes inputs in this encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gort_fuzz {

enum class op_kind : std::uint8_t {
  send,
  recv,
  try_send,
  try_recv,
  close,
  select,          // no default
  select_default,  // with a default case
  ctx_send,
  ctx_recv,
  cancel,
  timer_reset,
  timer_stop,
  timer_wait,  // decoded as a select on the timer and the root context's done()
  count
};

enum class case_kind : std::uint8_t { recv, send, timer, done };

struct select_arm {
  case_kind kind = case_kind::recv;
  int chan = 0;  // recv, send
  int ctx = 0;   // done: 0 root, 1 child
};

struct op {
  op_kind kind = op_kind::send;
  int chan = 0;
  int ctx = 0;                     // 0 root, 1 child
  int duration_us = 0;             // timer_reset
  bool variadic = false;           // select: gort::select(cases...) instead of a runtime list
  std::vector<select_arm> arms{};  // select, select_default, timer_wait
  int value = 0;                   // sends: the value; a select's send arm i sends value + i
};

struct program {
  int procs = 1;
  bool shuffle = true;
  std::uint32_t seed = 1;
  std::vector<int> caps;  // one per channel
  int timer_us = 0;       // the timer's first duration
  std::vector<std::vector<op>> workers;
};

/// Decodes any byte string (see the encoding above). Pure.
program decode(const std::uint8_t* data, std::size_t size);

/// One line per operation, for failure reports and `chan_fuzz_replay --print`.
std::string describe(const program& p);

/// Runs `p` on a fresh gort runtime and checks it (see the file comment); aborts on a violation.
/// Stores the run's log in *log when given. Call from a plain thread with no runtime running.
void run_and_check(const program& p, std::string* log = nullptr);

}  // namespace gort_fuzz
