// sys/membarrier.hpp — the heavy side of an asymmetric fence (Linux membarrier(2)).
//
// A pair of threads that each store one word and then load the other's (Dekker: "either I see
// your store or you see mine") needs a StoreLoad fence on both sides. Where one side runs rarely
// (sysmon taking a runaway processor, a trace stopping) and the other on every scheduling event,
// the frequent side keeps only a compiler barrier (std::atomic_signal_fence) and the rare side
// calls membarrier_all(): every running thread of the process executes a full memory barrier
// before it returns, and a thread not running passes one at its next switch in, so the pair
// behaves as two seq_cst fences. Used by sysmon.cpp (runaway hand-off) and trace.cpp (the stop
// hand-shake).
#pragma once

namespace gort::sys {

/// Registers the process for MEMBARRIER_CMD_PRIVATE_EXPEDITED once; false where the kernel (or a
/// seccomp filter, or valgrind) does not offer it — the frequent side must then fence itself.
/// Any thread.
bool membarrier_ready() noexcept;

/// A full memory barrier on every thread of the process (MEMBARRIER_CMD_PRIVATE_EXPEDITED).
/// False when it failed (membarrier_ready() false). Any thread.
bool membarrier_all() noexcept;

}  // namespace gort::sys
