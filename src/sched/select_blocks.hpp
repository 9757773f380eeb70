// sched/select_blocks.hpp — dense storage for the waiters of blocking selects.
//
// A goroutine blocked in a select of at most two cases keeps the select's claim and its waiters
// in a block from here rather than in its frame (sync/chan.cpp, select_impl). Blocks handed out
// one after another lie next to each other, so a channel whose waiter queue holds a crowd of
// selects (a context's done() with a worker per request behind it) links neighbours a block
// apart: closing it walks memory in order, and a woken select unlinking its other waiter touches
// its neighbours' blocks, not a cold stack page per neighbour (docs/design.md, "Select blocks").
//
// Layers: each machine keeps a private chain of free blocks (machine::select_cache, its own
// thread only: a goroutine takes and returns blocks through the machine it runs on, which a park
// may change in between); the runtime's pool (scheduler::select_blocks) refills and drains those
// chains k_batch blocks at a time under its mutex and carves new slabs when none is free. Blocks
// are never returned to the allocator before the runtime ends: the pool frees its slabs in its
// destructor, after the runtime's last goroutine stopped and the wait epoch ended (a goroutine
// abandoned at shutdown may still hold one, and its channel nodes are dropped unread,
// gort/detail/wait_list.hpp).
//
// Invariants
//  * A free block is on exactly one chain (the pool's or one machine's); its first word links the
//    chain and its second holds k_free_mark. A block in use holds neither (checked by get and put
//    with GORT_DCHECK: a block given back twice is caught in debug builds).
//  * Under ASan a free block is poisoned past its link word: a select that touched its waiters
//    after giving the block back is reported as a use-after-poison.
//  * machine::select_cached is the length of the machine's chain, at most k_cache_max.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "gort/detail/waist.hpp"

namespace gort::sched {

struct machine;

/// One block: the link word while free, a select's claim and waiters while in use.
struct alignas(64) select_block {
  select_block* next;
  std::uintptr_t mark;
  unsigned char rest[176];
};
static_assert(sizeof(select_block) == detail::k_select_storage_bytes, "three cache lines");

class select_block_pool {
 public:
  static constexpr std::size_t k_batch = 32;      // blocks moved between a cache and the pool
  static constexpr std::size_t k_cache_max = 64;  // a machine's chain holds at most this many
  static constexpr std::size_t k_slab_blocks = 341;  // 65,472 bytes: committed in one call
  static constexpr std::uintptr_t k_free_mark = 0x5e1ec7b10cf4eeULL;

  select_block_pool() = default;
  ~select_block_pool();
  select_block_pool(const select_block_pool&) = delete;
  select_block_pool& operator=(const select_block_pool&) = delete;

  /// Moves up to k_batch free blocks onto the chain *head (carving a slab when none is free) and
  /// returns how many; 0 when no memory could be had. Any thread.
  std::size_t take(select_block** head) noexcept;

  /// Takes back the chain [head .. tail] of n blocks. Any thread.
  void give(select_block* head, select_block* tail, std::size_t n) noexcept;

  /// Blocks carved so far, and blocks free in the pool (not counting machines' chains). Any
  /// thread: a snapshot under the lock.
  std::size_t carved() noexcept;
  std::size_t pooled() noexcept;

 private:
  std::mutex lock_;  // guards the three below (a std::mutex: the analysis cannot see it)
  select_block* free_ = nullptr;
  std::size_t nfree_ = 0;
  std::vector<std::unique_ptr<select_block[]>> slabs_;
};

/// A free block for the goroutine running on machine m, from m's chain (refilled from `pool`), or
/// null when no memory could be had. m's thread only.
select_block* select_block_get(select_block_pool& pool, machine* m) noexcept;

/// Gives block b back to machine m's chain (its excess goes back to `pool`). m's thread only.
void select_block_put(select_block_pool& pool, machine* m, select_block* b) noexcept;

/// Gives machine m's whole chain back to `pool` (m leaves its loop). m's thread only.
void select_block_flush(select_block_pool& pool, machine* m) noexcept;

}  // namespace gort::sched
