// The select blocks' pool and a machine's chain (sched/select_blocks.hpp): blocks handed out one
// after another lie next to each other, a chain never holds more than its bound, every block
// comes back to the pool, and a block is never handed out twice at once.
#include "sched/select_blocks.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include "sched/machine.hpp"

namespace {

using gort::sched::machine;
using gort::sched::select_block;
using gort::sched::select_block_pool;

TEST(SelectBlocks, BlocksHandedOutInTurnLieTogether) {
  select_block_pool pool;
  auto m = std::make_unique<machine>();
  std::vector<select_block*> got;
  for (int i = 0; i < 200; ++i) {
    select_block* b = gort::sched::select_block_get(pool, m.get());
    ASSERT_NE(b, nullptr);
    got.push_back(b);
  }
  std::size_t adjacent = 0;
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(got[i]) % 64, 0u);
    if (got[i] == got[i - 1] + 1) ++adjacent;
  }
  // One slab holds 341 blocks: the 200 come from it in address order.
  EXPECT_EQ(adjacent, got.size() - 1);
  for (select_block* b : got) gort::sched::select_block_put(pool, m.get(), b);
  gort::sched::select_block_flush(pool, m.get());
}

TEST(SelectBlocks, EveryBlockComesBackAndNoneIsOutTwice) {
  select_block_pool pool;
  auto a = std::make_unique<machine>();
  auto b = std::make_unique<machine>();
  std::set<select_block*> out;
  std::vector<select_block*> held;
  // Taken on one machine, given back on the other (a select that a park moved), in waves.
  for (int wave = 0; wave < 5; ++wave) {
    for (int i = 0; i < 1000; ++i) {
      select_block* blk = gort::sched::select_block_get(pool, wave % 2 == 0 ? a.get() : b.get());
      ASSERT_NE(blk, nullptr);
      EXPECT_TRUE(out.insert(blk).second) << "a block handed out twice";
      blk->rest[0] = static_cast<unsigned char>(i);  // in use: writable
      held.push_back(blk);
    }
    for (select_block* blk : held) {
      gort::sched::select_block_put(pool, wave % 2 == 0 ? b.get() : a.get(), blk);
      out.erase(blk);
      EXPECT_LE(a->select_cached, select_block_pool::k_cache_max);
      EXPECT_LE(b->select_cached, select_block_pool::k_cache_max);
    }
    held.clear();
  }
  gort::sched::select_block_flush(pool, a.get());
  gort::sched::select_block_flush(pool, b.get());
  EXPECT_EQ(a->select_cached, 0u);
  EXPECT_EQ(a->select_cache, nullptr);
  EXPECT_EQ(pool.pooled(), pool.carved());
  // 1,000 out at once at most, plus what the idle machine's chain holds back: four slabs at
  // most, not one per wave.
  EXPECT_LE(pool.carved(), 4 * select_block_pool::k_slab_blocks);
}

}  // namespace
