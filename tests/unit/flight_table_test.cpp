// singleflight's key index (gort/detail/flight_table.hpp): lookup by hash and equality, removal
// by address, growth that keeps every node findable, colliding hashes, draining, and the debug
// check against linking a node twice.
#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <vector>

#include "gort/detail/dcheck.hpp"
#include "gort/detail/flight_table.hpp"

namespace {

using gort::detail::flight_entry;
using gort::detail::flight_table;

struct item : flight_entry {
  explicit item(int k, std::size_t h) : key(k) { hash = h; }
  int key;
};

bool same_key(const void* key, const flight_entry* e) noexcept {
  return static_cast<const item*>(e)->key == *static_cast<const int*>(key);
}

item* find(const flight_table& t, const item& probe) {
  return static_cast<item*>(t.find(probe.hash, &same_key, &probe.key));
}

TEST(FlightTable, FindInsertEraseAcrossGrowth) {
  flight_table t;
  std::vector<item> items;
  items.reserve(1000);
  for (int k = 0; k < 1000; ++k) items.emplace_back(k, static_cast<std::size_t>(k));
  int probe_key = 5;
  EXPECT_EQ(t.find(5, &same_key, &probe_key), nullptr);  // empty table, no buckets
  for (item& i : items) {
    t.insert(&i);
    EXPECT_TRUE(i.linked);
  }
  EXPECT_EQ(t.size(), 1000u);
  for (item& i : items) EXPECT_EQ(find(t, i), &i);  // every node survived each growth
  for (item& i : items) {
    if (i.key % 2 == 0) t.erase(&i);
  }
  EXPECT_EQ(t.size(), 500u);
  for (item& i : items) {
    EXPECT_EQ(i.linked, i.key % 2 != 0);
    EXPECT_EQ(find(t, i), i.key % 2 == 0 ? nullptr : &i);
  }
  while (t.take_any() != nullptr) {
  }
  EXPECT_EQ(t.size(), 0u);
  for (item& i : items) EXPECT_FALSE(i.linked);
}

TEST(FlightTable, CollidingHashesAreToldApartByEquality) {
  flight_table t;
  item a(1, 42), b(2, 42), c(3, 42);  // one hash, three keys: one bucket chain
  t.insert(&a);
  t.insert(&b);
  t.insert(&c);
  EXPECT_EQ(find(t, a), &a);
  EXPECT_EQ(find(t, b), &b);
  EXPECT_EQ(find(t, c), &c);
  t.erase(&b);  // from the middle of the chain
  EXPECT_EQ(find(t, a), &a);
  EXPECT_EQ(find(t, b), nullptr);
  EXPECT_EQ(find(t, c), &c);
  std::set<flight_entry*> drained;
  while (flight_entry* e = t.take_any()) drained.insert(e);
  EXPECT_EQ(drained, (std::set<flight_entry*>{&a, &c}));
}

// The check is in the compiled table: it follows the library's build, as this TU's GORT_DCHECKS
// does in every configuration tests/run.sh builds.
TEST(FlightTableDeathTest, LinkingTwiceIsCaught) {
  if (!GORT_DCHECKS) GTEST_SKIP() << "GORT_DCHECK is off in this build";
  EXPECT_DEATH(
      {
        flight_table t;
        item a(1, 1);
        t.insert(&a);
        t.insert(&a);
      },
      "check failed");
}

}  // namespace
