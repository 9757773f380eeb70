// sys::ring: FIFO and LIFO order across wrap-around and growth.
#include "sys/ring.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>

namespace {

// A random mix of every operation, checked against std::deque, through several doublings and with
// the head wrapping around the buffer's end.
TEST(Ring, MatchesADequeThroughGrowthAndWrapAround) {
  gort::sys::ring<std::uint64_t> r;
  std::deque<std::uint64_t> model;
  std::mt19937_64 rng(7);
  std::uint64_t next = 0;
  for (int step = 0; step < 200000; ++step) {
    const auto op = rng() % 8;
    if (op < 3 || model.empty()) {
      r.push_back(next);
      model.push_back(next++);
    } else if (op == 3) {
      r.push_front(next);
      model.push_front(next++);
    } else if (op == 4) {
      std::uint64_t batch[5] = {next, next + 1, next + 2, next + 3, next + 4};
      r.push_back_batch(batch, 5);
      for (std::uint64_t v : batch) model.push_back(v);
      next += 5;
    } else if (op == 5) {
      ASSERT_EQ(r.back(), model.back());
      r.pop_back();
      model.pop_back();
    } else if (op == 6) {
      ASSERT_EQ(r.front(), model.front());
      r.pop_front();
      model.pop_front();
    } else {
      std::uint64_t out[3];
      const std::size_t n = r.pop_front_batch(out, 3);
      ASSERT_EQ(n, std::min<std::size_t>(3, model.size()));
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(out[i], model.front());
        model.pop_front();
      }
    }
    ASSERT_EQ(r.size(), model.size());
  }
  EXPECT_GT(r.capacity(), 1024u);  // it grew at least once
  while (!model.empty()) {
    ASSERT_EQ(r.front(), model.front());
    r.pop_front();
    model.pop_front();
  }
  EXPECT_TRUE(r.empty());
}

// reserve() leaves room: the pushes that follow never move the buffer.
TEST(Ring, ReserveMakesRoomAhead) {
  gort::sys::ring<int> r;
  r.reserve(100000);
  const std::size_t cap = r.capacity();
  EXPECT_GE(cap, 100000u);
  for (int i = 0; i < 100000; ++i) r.push_back(i);
  EXPECT_EQ(r.capacity(), cap);
  EXPECT_EQ(r.front(), 0);
  EXPECT_EQ(r.back(), 99999);
}

}  // namespace
