// stack/stack_pool.cpp — see stack_pool.hpp for the layout and the invariants.
#include "stack/stack_pool.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <type_traits>

#include "gort/detail/dcheck.hpp"
#include "sched/sanitizer.hpp"
#include "sys/advise.hpp"
#include "sys/vector_growth.hpp"

// Linux 6.13's guard markers; older headers lack the constants.
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace gort::sched {

// Fresh slots' records live in raw storage that the destructor frees without destroying them.
static_assert(std::is_trivially_destructible_v<stack_slot>);

namespace {

constexpr std::size_t k_max_reservation_slots = 4096;

std::size_t read_max_map_count() {
  std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r");
  long v = 65530;  // Linux's default when the file cannot be read
  if (f != nullptr) {
    if (std::fscanf(f, "%ld", &v) != 1 || v <= 0) v = 65530;
    std::fclose(f);
  }
  return static_cast<std::size_t>(v);
}

// ---- the fault handler's registry of reservations ----
//
// overflow.cpp's SIGSEGV handler must tell an address inside any goroutine stack from any other
// without taking a lock. Every reservation of every live pool has an entry here. Protocol:
//  1. register: claim a free entry by CAS of `lo` from 0 to 1 (busy), write slot_size and hi, then
//     publish `lo` (release);
//  2. lookup (signal handler): `lo` (acquire) > 1, then hi and slot_size are those of the entry;
//  3. unregister (the reservation is about to be unmapped): store 0 into `lo` (release).
// A handler that read an entry just before step 3 maps an address of memory being unmapped: only
// teardown unmaps, when no goroutine runs. When the table is full a reservation stays unregistered
// and its faults are recognized by the stack-pointer checks alone.
constexpr int k_arena_entries = 4096;

struct arena_entry {
  std::atomic<std::uintptr_t> lo{0};
  std::atomic<std::uintptr_t> hi{0};
  std::atomic<std::uintptr_t> first_slot{0};  // lo of slot 0 (after the spare page)
  std::atomic<std::size_t> slot_size{0};
};

arena_entry g_arenas[k_arena_entries];
// Entries [0, high) may be in use. relaxed: a lookup that misses a just-raised bound also misses
// that entry's `lo`, which publishes it; only a reservation being registered can be missed, and
// no stack lives in it yet.
std::atomic<int> g_arena_high{0};

// A pool carving a reservation (any thread; the table itself is lock-free).
int register_arena(const char* base, std::size_t bytes, const char* first, std::size_t slot) {
  for (int i = 0; i < k_arena_entries; ++i) {
    arena_entry& e = g_arenas[i];
    std::uintptr_t expected = 0;
    // relaxed: only `lo`'s final release store publishes the entry.
    if (!e.lo.compare_exchange_strong(expected, 1, std::memory_order_relaxed)) continue;
    e.hi.store(reinterpret_cast<std::uintptr_t>(base + bytes), std::memory_order_relaxed);
    e.first_slot.store(reinterpret_cast<std::uintptr_t>(first), std::memory_order_relaxed);
    e.slot_size.store(slot, std::memory_order_relaxed);
    int high = g_arena_high.load(std::memory_order_relaxed);
    while (high < i + 1 &&
           !g_arena_high.compare_exchange_weak(high, i + 1, std::memory_order_relaxed)) {
    }
    // release: pairs with find_in_arena's acquire load; hi and slot_size are visible with it.
    e.lo.store(reinterpret_cast<std::uintptr_t>(base), std::memory_order_release);
    return i;
  }
  return -1;
}

// A pool being destroyed, before it unmaps the reservation.
void unregister_arena(int i) {
  if (i >= 0) g_arenas[i].lo.store(0, std::memory_order_release);  // pairs with find_in_arena
}

// ---- guard markers ----

bool probe_markers() {
  const std::size_t page = stack_pool::page_size();
  void* p = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool ok = ::madvise(p, page, MADV_GUARD_INSTALL) == 0;
  ::munmap(p, 2 * page);
  return ok;
}

// Installs guard markers on the guard zones of `slots`; marks the ones that got one. One system
// call per 64 slots where the kernel takes memory advice for the calling process through
// process_madvise (measured: ~40% less time per marker than a madvise each), else a madvise each.
void install_marker_batch(stack_slot** slots, std::size_t n, std::size_t page) {
  char* guards[64];
  GORT_DCHECK(n <= 64);
  for (std::size_t i = 0; i < n; ++i) guards[i] = slots[i]->lo;
  const std::size_t batched = n > 1 ? sys::advise_ranges(guards, n, page, MADV_GUARD_INSTALL) : 0;
  for (std::size_t i = 0; i < n; ++i) {
    slots[i]->marker = i < batched || ::madvise(slots[i]->lo, page, MADV_GUARD_INSTALL) == 0;
  }
}

}  // namespace

std::size_t stack_pool::page_size() noexcept {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

bool stack_pool::guard_markers_supported() noexcept {
  static const bool supported = probe_markers();
  return supported;
}

stack_pool::stack_pool(std::size_t slot_size, guard_policy policy, std::int64_t mprotect_budget,
                       top_pages tops)
    : slot_size_(slot_size),
      markers_(policy == guard_policy::automatic && guard_markers_supported()),
      commit_tops_(tops == top_pages::committed) {
  // Each PROT_NONE guard zone splits its reservation's VMA in two more pieces. Spend at most a
  // quarter of the process's map budget on them so malloc and the application keep room.
  if (policy == guard_policy::none || markers_) {
    mprotect_budget_ = 0;
  } else {
    mprotect_budget_ = mprotect_budget >= 0 ? static_cast<std::size_t>(mprotect_budget)
                                            : read_max_map_count() / 4 / 2;
  }
}

stack_pool::~stack_pool() {
  for (const reservation& r : reservations_) {
    unregister_arena(r.arena_index);
    sanitizer::unpoison(r.base, r.bytes);
    ::munmap(r.base, r.bytes);
    ::operator delete(r.slots);  // stack_slot is trivially destructible
  }
}

std::size_t stack_pool::carve_locked(std::size_t want) {
  want = std::max<std::size_t>(want, 1);
  const std::size_t page = page_size();
  std::size_t count = std::max(want, next_reservation_slots_);
  void* base = MAP_FAILED;
  // Shrink to what the address space allows (RLIMIT_AS, fragmentation): halve down to one slot.
  for (;;) {
    base = ::mmap(nullptr, page + count * slot_size_, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base != MAP_FAILED || count == 1) break;
    count /= 2;
  }
  if (base == MAP_FAILED) return 0;
  const std::size_t bytes = page + count * slot_size_;  // spare page: canary zone of slot 0
  // Storage only: a record is constructed when its slot is first handed out (make_fresh_locked),
  // so a large allocation's pages stay untouched while its slots only back promises.
  auto* slots = static_cast<stack_slot*>(::operator new(count * sizeof(stack_slot), std::nothrow));
  if (slots == nullptr) {
    ::munmap(base, bytes);
    return 0;
  }
  try {
    sys::reserve_at_least(reservations_, reservations_.size() + 1);
    // Room for every slot ever carved, so that put_batch's and scavenge's pushes never allocate
    // (a goroutine's exit returns its stack through put_batch). Not committed: most of it may
    // never hold a slot.
    sys::reserve_at_least(clean_, counters_.reserved + count);
    hot_.reserve(counters_.reserved + count, /*commit_pages=*/false);
  } catch (const std::bad_alloc&) {
    ::operator delete(slots);
    ::munmap(base, bytes);
    return 0;
  }
  // After a shrink, do not try a larger reservation next time.
  next_reservation_slots_ = count < next_reservation_slots_
                                ? count
                                : std::min(next_reservation_slots_ * 2, k_max_reservation_slots);
  // A huge page would commit 2 MiB for a goroutine touching one 4 KiB page of its stack.
  ::madvise(base, bytes, MADV_NOHUGEPAGE);
  const int arena = register_arena(static_cast<char*>(base), bytes, static_cast<char*>(base) + page,
                                   slot_size_);
  reservations_.push_back({static_cast<char*>(base), bytes, slots, count, 0, arena});
  counters_.reserved += count;
  ++counters_.reservations;
  fresh_ += count;
  return count;
}

stack_slot* stack_pool::make_fresh_locked() {
  GORT_DCHECK(fresh_ > 0);
  while (reservations_[fresh_cursor_].made == reservations_[fresh_cursor_].count) ++fresh_cursor_;
  reservation& r = reservations_[fresh_cursor_];
  // Ascending addresses within a reservation, so a processor uses them in ascending order
  // (stack_get) — see the canary note in the header.
  const std::size_t page = page_size();
  auto* s = ::new (&r.slots[r.made]) stack_slot;
  s->lo = r.base + page + r.made * slot_size_;
  s->usable = s->lo + page;
  s->size = slot_size_;
  s->color = static_cast<std::uint8_t>(r.made % k_stack_colors);
  s->want_marker = markers_;
  if (mprotect_budget_ > 0 && ::mprotect(s->lo, page, PROT_NONE) == 0) {
    s->guarded = true;
    --mprotect_budget_;
    ++counters_.guarded;
  }
  ++r.made;
  --fresh_;
  return s;
}

std::size_t stack_pool::promise(std::size_t n) {
  std::lock_guard<std::mutex> guard(lock_);
  while (free_locked() < promised_ + n) {
    if (carve_locked(promised_ + n - free_locked()) == 0) break;
  }
  const std::size_t granted = std::min(n, free_locked() - promised_);
  promised_ += granted;
  return granted;
}

void stack_pool::unpromise(std::size_t n) noexcept {
  std::lock_guard<std::mutex> guard(lock_);
  if (n > promised_) {
    std::fprintf(stderr, "fatal error: stack pool: returning %zu promises of %zu\n", n, promised_);
    std::abort();
  }
  promised_ -= n;
}

std::size_t stack_pool::get_batch(stack_slot** out, std::size_t n, std::size_t redeem) {
  std::size_t got = 0;
  {
    std::lock_guard<std::mutex> guard(lock_);
    if (redeem > promised_ || redeem > n) {
      std::fprintf(stderr, "fatal error: stack pool: redeeming %zu promises of %zu\n", redeem,
                   promised_);
      std::abort();
    }
    promised_ -= redeem;
    // Slots beyond the redeemed ones may go out only while every other promise stays backed.
    if (free_locked() < promised_ + n) carve_locked(promised_ + n - free_locked());
    const std::size_t can = std::min(n, free_locked() - promised_);
    while (got < can && !hot_.empty()) {
      out[got++] = hot_.back();
      hot_.pop_back();
    }
    while (got < can && !clean_.empty()) {
      out[got++] = clean_.back();
      clean_.pop_back();
    }
    while (got < can) out[got++] = make_fresh_locked();  // free_locked() >= can: fresh ones
  }
  if (markers_) install_markers(out, got);
  if (commit_tops_) commit_top_pages(out, got);
  return got;
}

void stack_pool::commit_top_pages(stack_slot** slots, std::size_t n) {
  // "First pages" in the header. A hot slot's pages are resident.
  const std::size_t page = page_size();
  char* tops[64];
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (slots[i]->dirty) continue;
    GORT_DCHECK(slots[i]->top() - page >= slots[i]->usable);  // never the guard zone
    tops[k++] = slots[i]->top() - page;
    if (k == 64) {
      sys::populate_ranges(tops, k, page);
      k = 0;
    }
  }
  sys::populate_ranges(tops, k, page);
}

void stack_pool::install_markers(stack_slot** slots, std::size_t n) {
  // Slots that never went out have no marker yet; they are exclusively ours now.
  stack_slot* fresh[64];
  std::size_t k = 0;
  std::size_t installed = 0;
  auto flush = [&] {
    install_marker_batch(fresh, k, page_size());
    for (std::size_t i = 0; i < k; ++i) {
      fresh[i]->want_marker = false;
      fresh[i]->guarded = fresh[i]->marker;
      installed += fresh[i]->marker ? 1 : 0;
    }
    k = 0;
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (!slots[i]->want_marker) continue;
    fresh[k++] = slots[i];
    if (k == 64) flush();
  }
  if (k > 0) flush();
  if (installed > 0) {
    std::lock_guard<std::mutex> guard(lock_);
    counters_.guarded += installed;
    counters_.markers += installed;
  }
}

void stack_pool::put_batch(stack_slot* const* in, std::size_t n, std::int64_t now) {
  // The records are written below under the lock; their lines (cold when goroutines exit en
  // masse) are fetched before it is taken, all at once.
  for (std::size_t i = 0; i < n; ++i) __builtin_prefetch(in[i], 1);
  std::lock_guard<std::mutex> guard(lock_);
  GORT_DCHECK(hot_.size() + n <= hot_.capacity());  // carve_locked's room: the pushes never throw
  for (std::size_t i = 0; i < n; ++i) {
    stack_slot* s = in[i];
    s->dirty = true;
    s->idle_since = now;
    hot_.push_back(s);
  }
}

std::size_t stack_pool::scavenge(std::int64_t now, std::int64_t min_idle_ns) {
  std::size_t released = 0;
  std::vector<stack_slot*> batch;
  for (;;) {
    batch.clear();
    {
      std::lock_guard<std::mutex> guard(lock_);
      // hot_ is ordered by release time; take the idle ones from the front in bounded batches
      // so the lock is never held across the madvise calls. Slots out for madvise are in neither
      // list: take only while the rest still backs every promise (get_batch's guarantee).
      while (batch.size() < 4096 && !hot_.empty() && free_locked() > promised_ &&
             (min_idle_ns == 0 || hot_.front()->idle_since <= now - min_idle_ns)) {
        batch.push_back(hot_.front());
        hot_.pop_front();
      }
      scavenging_ += batch.size();
    }
    if (batch.empty()) break;
    const std::size_t bytes = release_pages(batch);
    released += bytes;
    std::lock_guard<std::mutex> guard(lock_);
    // Highest address first, so clean_ (used LIFO) hands the lowest out first (stack_get).
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) clean_.push_back(*it);
    scavenging_ -= batch.size();
    counters_.released_bytes += bytes;
  }
  return released;
}

std::size_t stack_pool::release_pages(std::vector<stack_slot*>& slots) {
  // Coalesce address-adjacent slots into one madvise call. A PROT_NONE guard page holds nothing
  // to release and breaks a run; a guard marker survives MADV_DONTNEED and stays in the run.
  std::sort(slots.begin(), slots.end(),
            [](const stack_slot* a, const stack_slot* b) { return a->lo < b->lo; });
  std::size_t released = 0;
  char* run_lo = nullptr;
  char* run_hi = nullptr;
  auto flush = [&] {
    if (run_lo == nullptr) return;
    sanitizer::unpoison(run_lo, static_cast<std::size_t>(run_hi - run_lo));
    ::madvise(run_lo, static_cast<std::size_t>(run_hi - run_lo), MADV_DONTNEED);
    released += static_cast<std::size_t>(run_hi - run_lo);
    run_lo = run_hi = nullptr;
  };
  for (stack_slot* s : slots) {
    char* lo = s->guarded && !s->marker ? s->usable : s->lo;
    if (run_lo != nullptr && lo != run_hi) flush();
    if (run_lo == nullptr) run_lo = lo;
    run_hi = s->top();
    s->dirty = false;
  }
  flush();
  return released;
}

bool stack_pool::canary_intact(const stack_slot* s) noexcept {
  if (s->guarded) return true;
  // The top of the slot underneath: what an overflow deeper than the guard zone writes first.
  const auto* p = reinterpret_cast<const std::uint64_t*>(s->lo - k_canary_bytes);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i < k_canary_bytes / sizeof(std::uint64_t); ++i) acc |= p[i];
  return acc == 0;
}

void stack_pool::commit_canary(const stack_slot* s) noexcept {
  if (s->guarded) return;
  // volatile: the store must happen (it writes the zero the zone already holds).
  *reinterpret_cast<volatile std::uint64_t*>(s->lo - k_canary_bytes) = 0;
}

bool stack_pool::find_in_arena(const void* addr, arena_hit* hit) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  const int high = g_arena_high.load(std::memory_order_relaxed);
  for (int i = 0; i < high && i < k_arena_entries; ++i) {
    const arena_entry& e = g_arenas[i];
    const std::uintptr_t lo = e.lo.load(std::memory_order_acquire);  // pairs with register_arena
    if (lo <= 1 || a < lo || a >= e.hi.load(std::memory_order_relaxed)) continue;
    const std::uintptr_t first = e.first_slot.load(std::memory_order_relaxed);
    const std::size_t slot = e.slot_size.load(std::memory_order_relaxed);
    if (a < first) {  // the spare page below slot 0: slot 0's canary zone, never a guard
      hit->slot_lo = reinterpret_cast<const char*>(first);
      hit->slot_size = slot;
      hit->in_guard = false;
      return true;
    }
    const std::uintptr_t slot_lo = first + (a - first) / slot * slot;
    hit->slot_lo = reinterpret_cast<const char*>(slot_lo);
    hit->slot_size = slot;
    hit->in_guard = a < slot_lo + page_size();
    return true;
  }
  return false;
}

stack_pool::counters stack_pool::snapshot() const {
  std::lock_guard<std::mutex> guard(lock_);
  counters c = counters_;
  c.hot = hot_.size();
  c.pooled = hot_.size() + clean_.size() + fresh_ + scavenging_;
  c.promised = promised_;
  return c;
}

}  // namespace gort::sched
