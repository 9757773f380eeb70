// stack/stack_pool.hpp — goroutine stacks: carved from large reservations, guarded, promised,
// cached, scavenged.
//
// Layout. A slot is `slot_size` bytes (options::stack_size rounded to pages). Its lowest page is
// the guard zone; its top 256 bytes are the canary zone of the slot *above* it; the usable stack
// lies between and grows down from stack_top():
//
//   lo          lo+page (usable)                      stack_top()      lo+slot_size
//   | guard zone | usable stack  ...........  <- grows | canary of slot+1 |
//
// Slots are carved from reservations of many slots (one mmap each, MAP_NORESERVE, no huge pages),
// so a million stacks cost a few hundred VMAs instead of two million: Linux's default
// vm.max_map_count (65530) would otherwise cap a process near 30,000 goroutines. The kernel
// commits a page only when it is first touched. A carved slot stays *fresh* — address space
// only: no bookkeeping written (its stack_slot record lies in untouched storage), no guard —
// until it is first handed out; the pool counts fresh slots (fresh_) and makes them on demand,
// lowest address first, so slots that only back promises cost no memory. Each reservation starts with one spare page that
// holds the canary zone of its lowest slot. A reservation that the address space cannot hold
// (RLIMIT_AS, a full address space) is retried at half the size, down to a single slot.
//
// Overflow detection, by guard kind (chosen once per pool, stack_pool::guard_policy):
//  * marker (Linux 6.13+, detected at start-up): every slot's guard zone gets a guard marker
//    (madvise MADV_GUARD_INSTALL) — a page-table entry that faults on any access, costs no VMA
//    and survives MADV_DONTNEED. Installed when a slot is first handed out (one process_madvise
//    call per batch where the kernel accepts it on the calling process), so only slots that become
//    stacks pay for it. Every stack then has a real guard page whatever the goroutine count.
//  * mprotect (older kernels): while the VMA budget allows (a quarter of vm.max_map_count, each
//    guard costs two VMAs), a slot's guard zone is mprotect'ed PROT_NONE once, when the slot is
//    first handed out; beyond the budget slots are unguarded.
//  * none (GORTDEBUG=stackguard=0, or a slot whose marker could not be installed): unguarded.
// A guarded slot's overflow faults; the SIGSEGV handler (overflow.cpp) reports it, and recognizes
// any fault inside a registered reservation (find_in_arena) as a stack overflow, also when a frame
// ran past the goroutine's own slot. An unguarded slot is checked at every switch away from its
// goroutine (switch_to_scheduler): the stack pointer must still be above the usable bottom, and
// the canary — the 256 bytes just below this slot, at the top of the slot underneath — must still
// read zero. An overflow deeper than the guard zone reaches the canary before the slot
// underneath's frames. The canary sits in the top page of the slot underneath, which is resident
// whenever that slot is in use; a slot about to become a stack first writes its canary zone
// (commit_canary), so no canary is ever read from a never-touched page. Design choices therefore
// never depend on what reading a never-touched page costs: some kernels map the shared zero page
// (the first write to it later needs a TLB shootdown across the process's CPUs: measured 2.5x
// slower spawning of parked goroutines), others commit a real page on the read. Slots are handed
// out in ascending address order, so the slot underneath is normally already in use. An overflow
// that returns before the next switch and never went past the guard zone damaged nothing and is
// not reported.
//
// First pages. A goroutine's first frames fill its slot's top page, and a fresh (or scavenged)
// slot's top page is not resident: the first frame written would take a page fault. get_batch
// instead commits the top pages of the non-resident slots it hands out in one batched
// MADV_POPULATE_WRITE (sys/advise.hpp), where the kernel has it. It commits nothing a goroutine
// on the slot would not touch anyway, and the page it commits is also the canary zone of the slot
// above (which is handed out after it). Whether a slot's pages may be resident is `dirty`.
//
// Promises. Stacks are attached lazily, when a goroutine first runs, but gort::go must report
// exhaustion to its caller (std::bad_alloc). So a spawn takes a *promise*: the pool guarantees
//     free slots (hot + clean + fresh) >= promised_        (invariant, checked under lock_)
// and a goroutine that first runs redeems its promise (get_batch's `redeem`), which is then
// guaranteed at least one slot whatever other processors hold in their caches. Processors take
// promises in batches and keep the unused ones as credit (processor::stack_credit), so a spawn
// touches this pool only once per batch. Slots in processors' caches are outside the accounting:
// a spawn may fail while up to k_stack_cache slots per processor sit unused in caches.
//
// Caching and scavenging. Processors keep a few slots each (processor.hpp) and exchange batches
// with this pool. The pool keeps recently released slots ("hot": pages still committed) in LIFO
// order so reuse finds warm memory, and the scavenger (sysmon, free_os_memory) returns the pages
// of slots idle for a while to the OS with madvise(MADV_DONTNEED), coalescing adjacent slots; it
// never takes the slots that back promises. Guard markers survive MADV_DONTNEED, so a marker slot's
// guard page is simply part of the released range; a PROT_NONE guard page is skipped.
//
// Thread safety: every member function takes the pool's lock; callable from any thread.
// find_in_arena is async-signal-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "sys/ring.hpp"

namespace gort::sched {

/// Bytes at the top of every slot reserved as the canary zone of the slot above it.
inline constexpr std::size_t k_canary_bytes = 256;

/// Stack coloring. Slots are whole pages, so every slot's stack_top() lies at the same offset
/// within its page, and without an offset every goroutine's innermost frames (the park chain that
/// a switch saves into and restores from) would fall into the same few cache sets: with hundreds
/// of goroutines taking turns, as in `threadring` (503), each resumed goroutine then found its
/// frames evicted by the others that share those sets (docs/benchmarks.md). A goroutine's frames
/// therefore start `color * k_color_step` bytes below stack_top(), the color cycling with the
/// slot's index in its reservation. The span (k_stack_colors * k_color_step, 1 KiB) keeps the
/// first frames in the slot's top page: a goroutine whose stack fits in one page without the
/// offset still does unless it comes within a KiB of the page's end.
inline constexpr std::size_t k_stack_colors = 16;
inline constexpr std::size_t k_color_step = 64;

struct stack_slot {
  char* lo = nullptr;      // lowest address of the slot (start of the guard zone)
  char* usable = nullptr;  // lo + one page: bottom of the usable stack
  std::size_t size = 0;    // slot size in bytes
  bool guarded = false;    // an access to the guard zone faults (marker or PROT_NONE)
  bool marker = false;     // the guard is a guard marker (survives MADV_DONTNEED)
  bool want_marker = false;  // marker pool: not yet installed (the slot was never handed out)
  bool dirty = false;      // pages may be committed (used since the last release)
  std::uint8_t color = 0;  // the slot's stack color (< k_stack_colors; see there)
  std::int64_t idle_since = 0;  // nanotime when returned to the pool

  // Sanitizer state of the goroutine currently on this slot (owned like the goroutine's ctx).
  void* tsan_fiber = nullptr;       // ThreadSanitizer fiber, TSan builds only
  void* asan_fake_stack = nullptr;  // AddressSanitizer fake-stack handle, ASan builds only

  char* top() const noexcept { return lo + size; }
  char* stack_top() const noexcept { return top() - k_canary_bytes; }
  std::size_t usable_size() const noexcept { return static_cast<std::size_t>(stack_top() - usable); }
  /// Where a goroutine's first frame starts: stack_top() less the slot's color offset.
  char* frames_top() const noexcept { return stack_top() - color * k_color_step; }
};

/// What find_in_arena learned about a faulting address.
struct arena_hit {
  const char* slot_lo = nullptr;  // the slot containing the address
  std::size_t slot_size = 0;
  bool in_guard = false;  // the address lies in that slot's guard zone
};

class stack_pool {
 public:
  enum class guard_policy : std::uint8_t {
    automatic,      // markers where the kernel has them, else mprotect within the VMA budget
    mprotect_only,  // the pre-6.13 scheme (tests use it to exercise the fallback)
    none,           // no guard pages: canaries only (GORTDEBUG=stackguard=0)
  };

  /// Whether get_batch commits the top page of a slot whose pages are not resident (fresh or
  /// scavenged) before handing it out; see "First pages" in the file comment.
  enum class top_pages : std::uint8_t { committed, on_first_touch };

  /// `slot_size`: bytes per slot including the guard zone, a multiple of the page size.
  /// `mprotect_budget` (mprotect guards only): how many slots may get a PROT_NONE guard page;
  /// negative: a quarter of vm.max_map_count, halved because each guard costs two VMAs.
  explicit stack_pool(std::size_t slot_size, guard_policy policy = guard_policy::automatic,
                      std::int64_t mprotect_budget = -1, top_pages tops = top_pages::committed);
  ~stack_pool();  // unmaps every reservation; slots still held by goroutines die with them
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;

  /// Grants up to `n` promises (carving reservations as needed) and returns how many: 0 when the
  /// address space holds no further slot.
  std::size_t promise(std::size_t n);
  /// Returns `n` unused promises.
  void unpromise(std::size_t n) noexcept;

  /// Hands out up to `n` slots, redeeming `redeem` (<= n) of the caller's promises: at least
  /// `redeem` slots are guaranteed. Beyond them only slots that no promise needs go out (carving
  /// when the pool runs short). Returns how many; 0 only when redeem is 0 and nothing could be
  /// carved. A slot is guarded (if its pool guards) before it is returned.
  std::size_t get_batch(stack_slot** out, std::size_t n, std::size_t redeem = 0);

  /// Takes back `n` slots released by goroutines (marked dirty, stamped idle at `now`). Never
  /// allocates: carving reserved room for every slot.
  void put_batch(stack_slot* const* in, std::size_t n, std::int64_t now);

  /// Returns to the OS the pages of pooled slots idle since before `now - min_idle_ns`
  /// (min_idle_ns 0: all pooled slots), keeping enough slots to back every promise. Returns the
  /// number of bytes released.
  std::size_t scavenge(std::int64_t now, std::int64_t min_idle_ns);

  /// Zero-filled canary check of an unguarded slot (see the file comment). Any thread.
  static bool canary_intact(const stack_slot* s) noexcept;

  /// Writes zero into the canary zone of unguarded slot `s` (the top of the slot underneath) so
  /// that its page is committed writable before the first canary_intact() reads it, whatever a
  /// read of a never-touched page costs on this kernel (see the file comment). Called when `s` is
  /// about to become a goroutine's stack; no-op for a guarded slot. The zone belongs to `s`'s user
  /// only (the slot underneath never writes its own top 256 bytes). The thread attaching `s`.
  static void commit_canary(const stack_slot* s) noexcept;

  /// True when addr lies in a reservation of any live pool; fills `hit`. Async-signal-safe.
  static bool find_in_arena(const void* addr, arena_hit* hit) noexcept;

  /// True when this kernel supports guard markers (MADV_GUARD_INSTALL). Probed once.
  static bool guard_markers_supported() noexcept;

  std::size_t slot_size() const noexcept { return slot_size_; }
  static std::size_t page_size() noexcept;

  struct counters {
    std::uint64_t reserved = 0;  // slots carved
    std::uint64_t pooled = 0;    // slots in this pool (hot or clean, or being scavenged)
    std::uint64_t hot = 0;       // pooled slots whose pages may still be committed
    std::uint64_t guarded = 0;   // slots whose guard zone faults (markers + mprotect)
    std::uint64_t markers = 0;   // of which guard markers
    std::uint64_t promised = 0;  // outstanding promises
    std::uint64_t reservations = 0;  // mmap'ed reservations
    std::uint64_t released_bytes = 0;
  };
  counters snapshot() const;

 private:
  std::size_t carve_locked(std::size_t want);  // maps a reservation; returns slots; requires lock_
  stack_slot* make_fresh_locked();  // writes the lowest fresh slot's record; requires lock_, fresh_
  std::size_t free_locked() const noexcept { return hot_.size() + clean_.size() + fresh_; }
  std::size_t release_pages(std::vector<stack_slot*>& slots);  // madvise, no lock held
  void install_markers(stack_slot** slots, std::size_t n);      // no lock held
  void commit_top_pages(stack_slot** slots, std::size_t n);     // get_batch's; no lock held

  struct reservation {
    char* base;
    std::size_t bytes;
    stack_slot* slots;  // storage for `count` records, of which the first `made` are constructed
    std::size_t count;
    std::size_t made;
    int arena_index;  // entry in the fault handler's registry, or -1
  };

  const std::size_t slot_size_;
  const bool markers_;        // this pool guards with markers
  const bool commit_tops_;    // get_batch commits non-resident slots' top pages
  std::size_t mprotect_budget_;  // guard zones we may still mprotect (mprotect policy only)

  mutable std::mutex lock_;
  std::vector<reservation> reservations_;  // guarded by lock_
  sys::ring<stack_slot*> hot_;             // guarded by lock_; oldest at the front
  std::vector<stack_slot*> clean_;         // guarded by lock_
  std::size_t fresh_ = 0;                  // guarded by lock_; carved slots never handed out
  std::size_t fresh_cursor_ = 0;           // guarded by lock_; first reservation with fresh slots
  std::size_t promised_ = 0;               // guarded by lock_; <= free_locked() (file comment)
  std::size_t scavenging_ = 0;             // guarded by lock_; slots out for madvise
  std::size_t next_reservation_slots_ = 64;  // guarded by lock_; doubles up to a cap
  counters counters_;                        // guarded by lock_
};

}  // namespace gort::sched
