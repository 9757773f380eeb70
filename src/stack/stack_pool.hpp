// stack/stack_pool.hpp — goroutine stacks: carved from large reservations, cached, scavenged.
//
// Layout. A slot is `slot_size` bytes (options::stack_size rounded to pages). Its lowest page is
// the guard zone; its top 256 bytes are the canary zone of the slot *above* it; the usable stack
// lies between and grows down from stack_top():
//
//   lo          lo+page (usable)                      stack_top()      lo+slot_size
//   | guard zone | usable stack  ...........  <- grows | canary of slot+1 |
//
// Slots are carved from reservations of many slots (one mmap each, MAP_NORESERVE, no huge pages),
// so a million stacks cost a few thousand VMAs instead of two million: Linux's default
// vm.max_map_count (65530) would otherwise cap a process near 30,000 goroutines. The kernel
// commits a page only when it is first touched. Each reservation starts with one spare page that
// holds the canary zone of its lowest slot.
//
// Overflow detection. While the VMA budget allows (a quarter of vm.max_map_count, each guard costs
// two VMAs), a slot's guard zone is mprotect'ed PROT_NONE once, when the slot is carved: an
// overflow faults and the SIGSEGV handler (overflow.cpp) reports it. Beyond the budget the guard
// zone stays ordinary, never-touched memory and overflow is caught at every switch away from the
// goroutine (switch_to_scheduler): the stack pointer must still be above the usable bottom, and the
// canary — the 256 bytes just below this slot, at the top of the slot underneath — must still read
// zero. An overflow deeper than the guard zone reaches the canary before the slot underneath's
// frames. The canary sits in the top page of the slot underneath, which is resident whenever that
// slot is in use, so checking it costs no page fault (a canary inside this slot's own guard zone
// cost one minor fault per goroutine, measured on the parked workload). Slots are handed out in
// ascending address order so that the slot underneath is normally already in use when a canary is
// read: reading a never-touched page maps the shared zero page, and the first write to that page
// afterwards then needs a TLB shootdown across every CPU running the process (measured: 2.5x
// slower spawning of parked goroutines). Ascending order is not enough when several processors
// take batches (the slot underneath the first slot of a batch belongs to another processor's
// batch and may not have run yet), so a slot about to become a stack first writes its canary zone
// (commit_canary): that commits the page the slot underneath commits anyway when it runs, without
// going through the zero page (measured on `sleepers` at 2 processors). An overflow that returns before the next switch and
// never went past the guard zone damaged nothing and is not reported.
//
// Caching and scavenging. Processors keep a few slots each (processor.hpp) and exchange batches
// with this pool. The pool keeps recently released slots ("hot": pages still committed) in LIFO
// order so reuse finds warm memory, and the scavenger (sysmon, free_os_memory) returns the pages
// of slots idle for a while to the OS with madvise(MADV_DONTNEED), coalescing adjacent slots.
//
// Thread safety: every member function takes the pool's lock; callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace gort::sched {

/// Bytes at the top of every slot reserved as the canary zone of the slot above it.
inline constexpr std::size_t k_canary_bytes = 256;

struct stack_slot {
  char* lo = nullptr;      // lowest address of the slot (start of the guard zone)
  char* usable = nullptr;  // lo + one page: bottom of the usable stack
  std::size_t size = 0;    // slot size in bytes
  bool guarded = false;    // guard zone is PROT_NONE
  bool dirty = false;      // pages may be committed (used since the last release)
  std::int64_t idle_since = 0;  // nanotime when returned to the pool

  // Sanitizer state of the goroutine currently on this slot (owned like the goroutine's ctx).
  void* tsan_fiber = nullptr;       // ThreadSanitizer fiber, TSan builds only
  void* asan_fake_stack = nullptr;  // AddressSanitizer fake-stack handle, ASan builds only

  char* top() const noexcept { return lo + size; }
  char* stack_top() const noexcept { return top() - k_canary_bytes; }
  std::size_t usable_size() const noexcept { return static_cast<std::size_t>(stack_top() - usable); }
};

class stack_pool {
 public:
  /// `slot_size`: bytes per slot including the guard zone, a multiple of the page size.
  /// `guard_budget`: how many slots may get a PROT_NONE guard page; negative: a quarter of
  /// vm.max_map_count, halved because each guard costs two VMAs.
  explicit stack_pool(std::size_t slot_size, std::int64_t guard_budget = -1);
  ~stack_pool();  // unmaps every reservation; slots still held by goroutines die with them
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;

  /// Hands out up to `n` slots (carving new ones when the pool is empty); returns how many.
  /// Throws std::bad_alloc when the address space is exhausted and no slot could be produced.
  std::size_t get_batch(stack_slot** out, std::size_t n);

  /// Takes back `n` slots released by goroutines (marked dirty, stamped idle at `now`).
  void put_batch(stack_slot* const* in, std::size_t n, std::int64_t now);

  /// Returns to the OS the pages of pooled slots idle since before `now - min_idle_ns`
  /// (min_idle_ns 0: all pooled slots). Returns the number of bytes released.
  std::size_t scavenge(std::int64_t now, std::int64_t min_idle_ns);

  /// Zero-filled guard zone check of an unguarded slot (see the file comment). Any thread.
  static bool canary_intact(const stack_slot* s) noexcept;

  /// Writes zero into the canary zone of unguarded slot `s` (the top of the slot underneath) so
  /// that its page is committed writable before the first canary_intact() reads it: a read of a
  /// never-touched page would map the shared zero page, and the slot underneath's first write to
  /// that page would then need a TLB shootdown (see the file comment). Called when `s` is about
  /// to become a goroutine's stack; no-op for a guarded slot. The zone belongs to `s`'s user only
  /// (the slot underneath never writes its own top 256 bytes). The thread attaching `s`.
  static void commit_canary(const stack_slot* s) noexcept;

  std::size_t slot_size() const noexcept { return slot_size_; }
  static std::size_t page_size() noexcept;

  struct counters {
    std::uint64_t reserved = 0;  // slots carved
    std::uint64_t pooled = 0;    // slots in this pool (hot or clean)
    std::uint64_t hot = 0;       // pooled slots whose pages may still be committed
    std::uint64_t guarded = 0;
    std::uint64_t released_bytes = 0;
  };
  counters snapshot() const;

 private:
  void carve_locked(std::size_t want);  // maps a new reservation; requires lock_
  std::size_t release_pages(std::vector<stack_slot*>& slots);  // madvise, no lock held

  struct reservation {
    char* base;
    std::size_t bytes;
    stack_slot* slots;
    std::size_t count;
  };

  const std::size_t slot_size_;
  std::size_t guard_budget_;  // guard zones we may still mprotect

  mutable std::mutex lock_;
  std::vector<reservation> reservations_;  // guarded by lock_
  std::deque<stack_slot*> hot_;            // guarded by lock_; oldest at the front
  std::vector<stack_slot*> clean_;         // guarded by lock_
  std::size_t next_reservation_slots_ = 64;  // guarded by lock_; doubles up to a cap
  counters counters_;                        // guarded by lock_
};

}  // namespace gort::sched
