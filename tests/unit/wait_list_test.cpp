// The intrusive wait list (gort/detail/wait_list.hpp): order, removal by address, the debug checks
// against linking twice or unlinking what is not linked, and the epoch rebuild that forgets a
// dead runtime's nodes without reading them while keeping plain threads' nodes.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"

namespace {

using gort::detail::basic_wait_queues;
using gort::detail::wait_queues;

struct node : gort::detail::waiter {
  explicit node(int v, bool on_thread = false) : gort::detail::waiter(nullptr), value(v) {
    thread = on_thread;
  }
  int value;
};

template <class Q>
std::vector<int> values(const Q& q, std::size_t list = 0) {
  std::vector<int> out;
  for (node* n = q.front(list); n != nullptr; n = Q::next_of(n)) out.push_back(n->value);
  return out;
}

TEST(WaitList, PushBackAndFrontKeepOrder) {
  wait_queues<node> q;
  node a(1), b(2), c(3), d(0);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.waiting_hint());
  q.push_back(&a);
  q.push_back(&b);
  q.push_back(&c);
  q.push_front(&d);
  EXPECT_EQ(values(q), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(q.waiting_hint());
  EXPECT_EQ(q.count(), 4u);
  EXPECT_EQ(q.pop_front(), &d);
  EXPECT_EQ(q.pop_front(), &a);
  EXPECT_FALSE(decltype(q)::is_linked(&a));
  EXPECT_TRUE(decltype(q)::is_linked(&b));
  EXPECT_EQ(values(q), (std::vector<int>{2, 3}));
}

// Close's walk pops from both ends in turn: each pop keeps the rest linked in order, and the
// list ends empty with both ends reset.
TEST(WaitList, PopFromBothEndsInTurnDrainsInOrder) {
  basic_wait_queues<node, 2> q;
  node n[5] = {node(0), node(1, true), node(2), node(3, true), node(4)};
  for (node& x : n) q.push_back(&x, 1);
  EXPECT_EQ(q.pop_back(0), nullptr);  // the other list is empty
  EXPECT_EQ(q.pop_front(1), &n[0]);
  EXPECT_EQ(q.pop_back(1), &n[4]);
  EXPECT_EQ(values(q, 1), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(q.pop_back(1), &n[3]);
  EXPECT_FALSE(decltype(q)::is_linked(&n[3]));
  EXPECT_EQ(q.pop_front(1), &n[1]);
  EXPECT_EQ(q.pop_back(1), &n[2]);
  EXPECT_EQ(q.pop_back(1), nullptr);
  EXPECT_EQ(q.pop_front(1), nullptr);
  EXPECT_TRUE(q.empty(1));
  // Both ends were reset: a node pushed now is first and last.
  q.push_back(&n[1], 1);
  EXPECT_EQ(values(q, 1), (std::vector<int>{1}));
  EXPECT_EQ(q.pop_back(1), &n[1]);
  EXPECT_TRUE(q.empty(1));
}

TEST(WaitList, RemoveByAddressFromHeadMiddleAndTail) {
  wait_queues<node> q;
  node n[5] = {node(0), node(1), node(2), node(3), node(4)};
  for (node& x : n) q.push_back(&x);
  q.remove(&n[2]);
  EXPECT_EQ(values(q), (std::vector<int>{0, 1, 3, 4}));
  q.remove(&n[0]);
  EXPECT_EQ(values(q), (std::vector<int>{1, 3, 4}));
  q.remove(&n[4]);
  EXPECT_EQ(values(q), (std::vector<int>{1, 3}));
  EXPECT_FALSE(q.remove_if_linked(&n[4]));  // already unlinked: tolerated
  EXPECT_TRUE(q.remove_if_linked(&n[3]));
  EXPECT_EQ(q.pop_front(), &n[1]);
  EXPECT_EQ(q.pop_front(), nullptr);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.waiting_hint());
  q.push_back(&n[2]);  // an unlinked node may be linked again
  EXPECT_EQ(values(q), (std::vector<int>{2}));
}

TEST(WaitList, TakeAllUnlinksEveryNodeAndKeepsTheirChain) {
  wait_queues<node> q;
  node a(1), b(2, true), c(3);
  q.push_back(&a);
  q.push_back(&b);
  q.push_back(&c);
  node* first = q.take_all();
  EXPECT_TRUE(q.empty());
  std::vector<int> seen;
  for (node* x = first; x != nullptr; x = decltype(q)::next_of(x)) {
    seen.push_back(x->value);
    EXPECT_FALSE(decltype(q)::is_linked(x));
  }
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  // The thread node left the thread chain too: a rebuild brings nothing back.
  gort::detail::end_wait_epoch();
  EXPECT_TRUE(q.validate());
  EXPECT_TRUE(q.empty());
}

TEST(WaitList, SeveralListsShareOneOwner) {
  basic_wait_queues<node, 2> q;
  node a(1), b(2), c(3);
  q.push_back(&a, 0);
  q.push_back(&b, 1);
  q.push_back(&c, 1);
  EXPECT_EQ(values(q, 0), (std::vector<int>{1}));
  EXPECT_EQ(values(q, 1), (std::vector<int>{2, 3}));
  q.remove(&b);  // the node knows its list
  EXPECT_EQ(values(q, 1), (std::vector<int>{3}));
  EXPECT_TRUE(q.waiting_hint(0));
  EXPECT_EQ(q.pop_front(0), &a);
  EXPECT_FALSE(q.waiting_hint(0));
}

TEST(WaitListDeathTest, LinkingTwiceIsCaught) {
  if (!GORT_DCHECKS) GTEST_SKIP() << "GORT_DCHECK is off in this build";
  EXPECT_DEATH(
      {
        wait_queues<node> q;
        node a(1);
        q.push_back(&a);
        q.push_back(&a);
      },
      "check failed");
}

TEST(WaitListDeathTest, UnlinkingANodeThatIsNotLinkedIsCaught) {
  if (!GORT_DCHECKS) GTEST_SKIP() << "GORT_DCHECK is off in this build";
  EXPECT_DEATH(
      {
        wait_queues<node> q;
        node a(1);
        q.remove(&a);
      },
      "check failed");
}

// A runtime's end: the goroutine nodes sit on a page that is then made inaccessible (as an
// abandoned goroutine's stack is unmapped); validate() must drop them without a single read and
// rebuild each list from the plain threads' nodes, in their order.
TEST(WaitList, ANewEpochForgetsGoroutineNodesWithoutReadingThem) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* mem = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  node* dead = static_cast<node*>(mem);
  constexpr int k_dead = 6;
  ASSERT_LE(sizeof(node) * k_dead, page);
  for (int i = 0; i < k_dead; ++i) ::new (&dead[i]) node(100 + i);

  basic_wait_queues<node, 2> q;
  std::uint32_t stamp = 0;
  (void)q.validate(stamp);
  node t1(1, true), t2(2, true), t3(3, true), t4(4, true);
  q.push_back(&dead[0], 0);
  q.push_back(&t1, 0);
  q.push_back(&dead[1], 0);
  q.push_back(&t2, 0);
  q.push_back(&dead[2], 0);
  q.push_front(&dead[3], 1);
  q.push_back(&t3, 1);
  q.push_back(&dead[4], 1);
  q.push_back(&t4, 1);
  q.push_back(&dead[5], 1);
  q.remove(&t2);  // a thread node that left before the end is not brought back

  EXPECT_FALSE(q.validate(stamp)) << "same epoch: nothing to do";
  gort::detail::end_wait_epoch();
  ASSERT_EQ(::mprotect(mem, page, PROT_NONE), 0);  // any read of a dead node now faults
  EXPECT_TRUE(q.validate(stamp));
  EXPECT_EQ(values(q, 0), (std::vector<int>{1}));
  EXPECT_EQ(values(q, 1), (std::vector<int>{3, 4}));
  EXPECT_FALSE(q.validate(stamp)) << "validated once per epoch";
  // The rebuilt lists work as usual, and a second rebuild keeps the same order.
  q.remove(&t3);
  node t5(5, true);
  q.push_back(&t5, 1);
  q.push_back(&t3, 1);
  gort::detail::end_wait_epoch();
  EXPECT_TRUE(q.validate(stamp));
  EXPECT_EQ(values(q, 1), (std::vector<int>{4, 5, 3}));
  EXPECT_EQ(q.pop_front(0), &t1);
  EXPECT_TRUE(q.empty(0));
  ::munmap(mem, page);
}

// A select withdrawing its waiter prefetches the waiter's neighbours before it takes the owner's
// lock, from links a waker may have made stale: here the node was unlinked and its former
// neighbour's page unmapped. The prefetch must neither fault nor change the list.
TEST(WaitList, NeighboursArePrefetchedFromStaleLinksWithoutFaulting) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* mem = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  node* gone = ::new (mem) node(0);
  wait_queues<node> q;
  node b(1), c(2);
  q.push_back(gone);
  q.push_back(&b);
  q.push_back(&c);
  decltype(q)::prefetch_neighbours(&b);  // live links
  EXPECT_EQ(values(q), (std::vector<int>{0, 1, 2}));
  q.remove(&b);  // b's links still name gone and c
  q.remove(gone);
  ASSERT_EQ(::munmap(mem, page), 0);
  decltype(q)::prefetch_neighbours(&b);
  EXPECT_EQ(values(q), (std::vector<int>{2}));
  EXPECT_FALSE(decltype(q)::is_linked(&b));
}

// The prefetch reads the links without the owner's lock while lock holders relink around the
// node: under ThreadSanitizer this fails if a link access is not atomic.
TEST(WaitList, NeighboursMayBePrefetchedWhileTheOwnerRelinks) {
  wait_queues<node> q;
  std::mutex owner;
  node mid(1);
  {
    std::lock_guard<std::mutex> l(owner);
    q.push_back(&mid);
  }
  std::atomic<bool> stop{false};  // relaxed: only ends the loop
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) decltype(q)::prefetch_neighbours(&mid);
  });
  node before(0), after(2);
  for (int i = 0; i < 20'000; ++i) {
    std::lock_guard<std::mutex> l(owner);
    q.push_front(&before);
    q.push_back(&after);
    q.remove(&before);
    q.remove(&after);
  }
  stop.store(true, std::memory_order_relaxed);
  reader.join();
  std::lock_guard<std::mutex> l(owner);
  EXPECT_EQ(values(q), (std::vector<int>{1}));
}

}  // namespace
