// sched/select_blocks.cpp — the select blocks' pool and the machines' chains (select_blocks.hpp).
#include "sched/select_blocks.hpp"

#include <new>

#include "gort/detail/dcheck.hpp"
#include "sched/machine.hpp"
#include "sched/sanitizer.hpp"
#include "sys/advise.hpp"

namespace gort::sched {

namespace {

// A free block keeps its link and its mark readable; the rest is poisoned under ASan.
void mark_free(select_block* b) noexcept {
  b->mark = select_block_pool::k_free_mark;
  sanitizer::poison(b->rest, sizeof b->rest);
}

}  // namespace

select_block_pool::~select_block_pool() {
  // Blocks still out belong to goroutines abandoned at shutdown, whose channel nodes are dropped
  // unread (the file comment): nothing reads them after this.
  for (auto& slab : slabs_) sanitizer::unpoison(slab.get(), k_slab_blocks * sizeof(select_block));
}

std::size_t select_block_pool::take(select_block** head) noexcept {
  std::lock_guard<std::mutex> l(lock_);
  if (free_ == nullptr) {
    try {
      slabs_.reserve(slabs_.size() + 1);
      std::unique_ptr<select_block[]> slab(new (std::nothrow) select_block[k_slab_blocks]);
      if (slab == nullptr) return 0;
      // Each block's link is written at once: commit the slab in one call (sys/advise.hpp).
      sys::populate_large(slab.get(), k_slab_blocks * sizeof(select_block));
      // Linked in address order: blocks handed out one after another lie together.
      for (std::size_t i = k_slab_blocks; i-- > 0;) {
        select_block* b = &slab[i];
        mark_free(b);
        b->next = free_;
        free_ = b;
      }
      nfree_ += k_slab_blocks;
      slabs_.push_back(std::move(slab));  // reserved above: cannot throw
    } catch (const std::bad_alloc&) {
      return 0;
    }
  }
  std::size_t n = 0;
  select_block* first = free_;
  select_block* last = nullptr;
  for (select_block* b = free_; b != nullptr && n < k_batch; b = b->next) {
    last = b;
    ++n;
  }
  free_ = last->next;
  nfree_ -= n;
  last->next = *head;
  *head = first;
  return n;
}

void select_block_pool::give(select_block* head, select_block* tail, std::size_t n) noexcept {
  std::lock_guard<std::mutex> l(lock_);
  tail->next = free_;
  free_ = head;
  nfree_ += n;
}

std::size_t select_block_pool::carved() noexcept {
  std::lock_guard<std::mutex> l(lock_);
  return slabs_.size() * k_slab_blocks;
}

std::size_t select_block_pool::pooled() noexcept {
  std::lock_guard<std::mutex> l(lock_);
  return nfree_;
}

select_block* select_block_get(select_block_pool& pool, machine* m) noexcept {
  if (m->select_cache == nullptr) {
    const std::size_t n = pool.take(&m->select_cache);
    if (n == 0) return nullptr;
    m->select_cached += static_cast<std::uint32_t>(n);
  }
  select_block* b = m->select_cache;
  GORT_DCHECK(b->mark == select_block_pool::k_free_mark);  // a free block
  m->select_cache = b->next;
  --m->select_cached;
  sanitizer::unpoison(b->rest, sizeof b->rest);
  b->mark = 0;
  return b;
}

void select_block_put(select_block_pool& pool, machine* m, select_block* b) noexcept {
  GORT_DCHECK(b->mark != select_block_pool::k_free_mark);  // not given back twice
  mark_free(b);
  b->next = m->select_cache;
  m->select_cache = b;
  if (++m->select_cached <= select_block_pool::k_cache_max) return;
  // Keep the most recently used half (warm in this core's cache); give the rest back.
  select_block* keep_last = b;
  for (std::size_t i = 1; i < select_block_pool::k_cache_max - select_block_pool::k_batch; ++i) {
    keep_last = keep_last->next;
  }
  select_block* head = keep_last->next;
  select_block* tail = head;
  std::size_t n = 1;
  while (tail->next != nullptr) {
    tail = tail->next;
    ++n;
  }
  keep_last->next = nullptr;
  m->select_cached -= static_cast<std::uint32_t>(n);
  pool.give(head, tail, n);
}

void select_block_flush(select_block_pool& pool, machine* m) noexcept {
  if (m->select_cache == nullptr) return;
  select_block* tail = m->select_cache;
  while (tail->next != nullptr) tail = tail->next;
  pool.give(m->select_cache, tail, m->select_cached);
  m->select_cache = nullptr;
  m->select_cached = 0;
}

}  // namespace gort::sched
