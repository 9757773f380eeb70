// stack/stack_pool.cpp — see stack_pool.hpp for the layout and the invariants.
#include "stack/stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

#include "sched/sanitizer.hpp"

namespace gort::sched {

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

}  // namespace

std::size_t stack_pool::page_size() noexcept {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

stack_pool::stack_pool(std::size_t slot_size, std::int64_t guard_budget) : slot_size_(slot_size) {
  // Each guard zone splits its reservation's VMA in two more pieces. Spend at most a quarter of
  // the process's map budget on them so malloc and the application keep room.
  guard_budget_ = guard_budget >= 0 ? static_cast<std::size_t>(guard_budget)
                                    : read_max_map_count() / 4 / 2;
}

stack_pool::~stack_pool() {
  for (const reservation& r : reservations_) {
    sanitizer::unpoison(r.base, r.bytes);
    ::munmap(r.base, r.bytes);
    delete[] r.slots;
  }
}

void stack_pool::carve_locked(std::size_t want) {
  const std::size_t count = std::max(want, next_reservation_slots_);
  next_reservation_slots_ = std::min(next_reservation_slots_ * 2, k_max_reservation_slots);
  const std::size_t page = page_size();
  const std::size_t bytes = page + count * slot_size_;  // spare page: canary zone of slot 0
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  // A huge page would commit 2 MiB for a goroutine touching one 4 KiB page of its stack.
  ::madvise(base, bytes, MADV_NOHUGEPAGE);
  auto* slots = new stack_slot[count];
  for (std::size_t i = 0; i < count; ++i) {
    stack_slot& s = slots[i];
    s.lo = static_cast<char*>(base) + page + i * slot_size_;
    s.usable = s.lo + page;
    s.size = slot_size_;
    if (guard_budget_ > 0 && ::mprotect(s.lo, page, PROT_NONE) == 0) {
      s.guarded = true;
      --guard_budget_;
      ++counters_.guarded;
    }
  }
  reservations_.push_back({static_cast<char*>(base), bytes, slots, count});
  counters_.reserved += count;
  counters_.pooled += count;
  // Highest address first: clean_ is used LIFO, so the lowest addresses go out first, and a
  // processor then uses them in ascending order (stack_get) — see the canary note in the header.
  for (std::size_t i = count; i-- > 0;) clean_.push_back(&slots[i]);
}

std::size_t stack_pool::get_batch(stack_slot** out, std::size_t n) {
  std::lock_guard<std::mutex> guard(lock_);
  if (hot_.size() + clean_.size() < n) carve_locked(n);
  std::size_t got = 0;
  while (got < n && !hot_.empty()) {
    out[got++] = hot_.back();
    hot_.pop_back();
  }
  while (got < n && !clean_.empty()) {
    out[got++] = clean_.back();
    clean_.pop_back();
  }
  counters_.pooled -= got;
  return got;
}

void stack_pool::put_batch(stack_slot* const* in, std::size_t n, std::int64_t now) {
  std::lock_guard<std::mutex> guard(lock_);
  for (std::size_t i = 0; i < n; ++i) {
    stack_slot* s = in[i];
    s->dirty = true;
    s->idle_since = now;
    hot_.push_back(s);
  }
  counters_.pooled += n;
}

std::size_t stack_pool::scavenge(std::int64_t now, std::int64_t min_idle_ns) {
  std::size_t released = 0;
  std::vector<stack_slot*> batch;
  for (;;) {
    batch.clear();
    {
      std::lock_guard<std::mutex> guard(lock_);
      // hot_ is ordered by release time; take the idle ones from the front in bounded batches
      // so the lock is never held across the madvise calls.
      while (batch.size() < 4096 && !hot_.empty() &&
             (min_idle_ns == 0 || hot_.front()->idle_since <= now - min_idle_ns)) {
        batch.push_back(hot_.front());
        hot_.pop_front();
      }
      counters_.pooled -= batch.size();
    }
    if (batch.empty()) break;
    const std::size_t bytes = release_pages(batch);
    released += bytes;
    std::lock_guard<std::mutex> guard(lock_);
    // Highest address first, so clean_ (used LIFO) hands the lowest out first (stack_get).
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) clean_.push_back(*it);
    counters_.pooled += batch.size();
    counters_.released_bytes += bytes;
  }
  return released;
}

std::size_t stack_pool::release_pages(std::vector<stack_slot*>& slots) {
  // Coalesce address-adjacent slots into one madvise call. A guarded slot's range starts above
  // its PROT_NONE page, which breaks a run.
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
    char* lo = s->guarded ? s->usable : s->lo;
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

stack_pool::counters stack_pool::snapshot() const {
  std::lock_guard<std::mutex> guard(lock_);
  counters c = counters_;
  c.hot = hot_.size();
  return c;
}

}  // namespace gort::sched
