// The global run queue (FIFO of pointers with head insertion) and GORTDEBUG parsing.
#include <gtest/gtest.h>

#include <vector>

#include "sched/global_queue.hpp"
#include "sys/debug_settings.hpp"

namespace {

using gort::sched::global_queue;
using gort::detail::goroutine;

TEST(GlobalQueue, FifoAcrossGrowthAndHeadInsertion) {
  global_queue q;
  std::vector<goroutine> gs(5000);
  for (auto& g : gs) q.push_back(&g);
  EXPECT_EQ(q.size(), 5000);
  goroutine extra;
  q.push_front(&extra);
  goroutine* out[1];
  ASSERT_EQ(q.pop_batch(out, 1), 1u);
  EXPECT_EQ(out[0], &extra);
  std::vector<goroutine*> batch(128);
  std::size_t next = 0;
  while (std::size_t n = q.pop_batch(batch.data(), batch.size())) {
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(batch[i], &gs[next++]);
  }
  EXPECT_EQ(next, gs.size());
  EXPECT_EQ(q.size(), 0);
}

TEST(GlobalQueue, BatchPushKeepsOrderWhileWrapped) {
  global_queue q;
  std::vector<goroutine> gs(3000);
  // Wrap the ring: push and pop so head moves, then push a batch that crosses the end.
  for (int i = 0; i < 1000; ++i) q.push_back(&gs[0]);
  goroutine* sink[1000];
  ASSERT_EQ(q.pop_batch(sink, 1000), 1000u);
  std::vector<goroutine*> batch;
  for (auto& g : gs) batch.push_back(&g);
  q.push_back_batch(batch.data(), batch.size());
  std::vector<goroutine*> out(batch.size());
  ASSERT_EQ(q.pop_batch(out.data(), out.size()), out.size());
  EXPECT_EQ(out, batch);
}

TEST(DebugSettings, ParsesKnownKeysAndIgnoresUnknown) {
  auto s = gort::sys::parse_debug_settings("schedtrace=1000,foo=bar,scheddetail=1,stackguard=0");
  EXPECT_EQ(s.schedtrace_ms, 1000);
  EXPECT_TRUE(s.scheddetail);
  EXPECT_EQ(s.stackguard, 0);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(gort::sys::parse_debug_settings("stackguard=2").stackguard, 2);
  EXPECT_EQ(gort::sys::parse_debug_settings("").stackguard, 1);
}

TEST(DebugSettings, BadValuesAreReportedAndLeftAtDefault) {
  auto s = gort::sys::parse_debug_settings("schedtrace=-5,scheddetail=yes,stackguard=3,schedtrace");
  EXPECT_EQ(s.schedtrace_ms, 0);
  EXPECT_FALSE(s.scheddetail);
  EXPECT_EQ(s.stackguard, 1);
  ASSERT_EQ(s.errors.size(), 3u);
  EXPECT_NE(s.errors[0].find("schedtrace=-5"), std::string::npos);
}

TEST(DebugSettings, ShuffleSeed) {
  EXPECT_EQ(gort::sys::parse_debug_settings("").shuffle, 0u);
  EXPECT_EQ(gort::sys::parse_debug_settings("shuffle=42").shuffle, 42u);
  auto bad = gort::sys::parse_debug_settings("shuffle=-1,shuffle=x");
  EXPECT_EQ(bad.shuffle, 0u);
  ASSERT_EQ(bad.errors.size(), 2u);
  EXPECT_NE(bad.errors[0].find("shuffle=-1"), std::string::npos);
}

TEST(DebugSettings, SigquitAndDeadlock) {
  const auto unset = gort::sys::parse_debug_settings("");
  EXPECT_EQ(unset.sigquit, -1);  // the options decide
  EXPECT_EQ(unset.deadlock, -1);
  const auto s = gort::sys::parse_debug_settings("sigquit=1,deadlock=0");
  EXPECT_EQ(s.sigquit, 1);
  EXPECT_EQ(s.deadlock, 0);
  EXPECT_TRUE(s.errors.empty());
  const auto bad = gort::sys::parse_debug_settings("sigquit=2,deadlock=off");
  EXPECT_EQ(bad.sigquit, -1);
  EXPECT_EQ(bad.deadlock, -1);
  ASSERT_EQ(bad.errors.size(), 2u);
  EXPECT_NE(bad.errors[1].find("deadlock=off"), std::string::npos);
}

}  // namespace
