// The cancellable wait (gort/detail/wait.hpp): a waiter that its primitive, its context and its
// deadline may all wake is readied exactly once, by the party that won its claim, and a value is
// handed over only to a waiter whose claim the giver won — at GOMAXPROCS 1, 2, 4 and 8, with
// goroutines and plain threads, and under TSan.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using gort_test::procs_test;
using gort_test::scaled;
namespace d = gort::detail;

class Wait : public procs_test {};
GORT_INSTANTIATE_PROCS(Wait);

// A one-slot mailbox built the way every primitive is: a lock, a wait list, the wait helper.
class mailbox {
 public:
  struct waiter : d::waiter {
    using d::waiter::waiter;
    std::int64_t value = -1;
  };

  /// Waits for a value; the context or the deadline may end the wait. Returns the outcome and
  /// the value (-1 when none was handed over).
  std::pair<std::uint32_t, std::int64_t> take(d::cancel_node* ctx,
                                              std::int64_t deadline = d::k_no_deadline) {
    waiter w(d::enter_op());
    lock_.lock();
    q_.validate();
    q_.push_back(&w);
    const std::uint32_t won = d::wait_for(w, d::wait_reason::semacquire, lock_, ctx, deadline);
    if (won != d::k_claim_granted) {
      lock_.lock();
      q_.validate();
      q_.remove_if_linked(&w);  // still queued, or a giver unlinked it but lost the claim
      lock_.unlock();
    }
    return {won, w.value};
  }

  /// Hands v to the first waiter whose claim this call wins; false when there was none (the
  /// value stays with the caller).
  bool give(std::int64_t v) {
    lock_.lock();
    q_.validate();
    while (waiter* w = q_.pop_front()) {
      if (!w->claim.claim(d::k_claim_granted)) continue;  // its context or deadline won
      w->value = v;
      d::goroutine* g = w->g;
      lock_.unlock();
      d::ready(g);
      return true;
    }
    lock_.unlock();
    return false;
  }

  bool empty() {
    lock_.lock();
    q_.validate();
    const bool e = q_.empty();
    lock_.unlock();
    return e;
  }

 private:
  d::spinlock lock_;
  d::wait_queues<waiter> q_;
};

d::cancel_node* canceller_of(const gort::context& c) { return d::context_access::canceller(c); }

// One waiter, one giver and one canceller start together, many times: the waiter is woken once,
// and it holds the value exactly when the giver says it handed it over.
TEST_P(Wait, GrantedExactlyOnceWhenCancelledAtTheSameMoment) {
  run([] {
    const int rounds = static_cast<int>(scaled(3000, 20));
    int granted = 0, canceled = 0;
    for (int r = 0; r < rounds; ++r) {
      mailbox box;
      std::pair<gort::context, gort::cancel_func> cc = gort::with_cancel(gort::background());
      std::atomic<int> go_flag{0};
      std::uint32_t won = 0;
      std::int64_t got = -2;
      bool given = false;
      gort::wait_group done;
      done.add(3);
      gort::go([&] {
        auto res = box.take(canceller_of(cc.first));
        won = res.first;
        got = res.second;
        done.done();
      });
      // Both wait until the waiter is queued (it may not be parked yet) and for each other; on
      // one processor the order alternates between rounds, on several they race.
      auto start_together = [&](int side) {
        while (box.empty()) gort::yield();
        go_flag.fetch_add(1);
        while (go_flag.load() < 2) gort::yield();
        if ((r + side) % 2 == 0) gort::yield();
      };
      gort::go([&] {
        start_together(0);
        given = box.give(r);
        done.done();
      });
      gort::go([&] {
        start_together(1);
        cc.second();
        done.done();
      });
      done.wait();
      ASSERT_TRUE(won == d::k_claim_granted || won == d::k_claim_canceled) << won;
      EXPECT_EQ(won == d::k_claim_granted, given) << "round " << r;
      EXPECT_EQ(got, given ? r : -1) << "round " << r;
      (won == d::k_claim_granted ? granted : canceled)++;
      EXPECT_TRUE(box.empty());
    }
    EXPECT_EQ(granted + canceled, rounds);
    EXPECT_GT(granted, 0) << "the giver never won: the race was not exercised";
    EXPECT_GT(canceled, 0) << "the canceller never won: the race was not exercised";
  });
}

// The same race with a deadline instead of a context: timeout or value, never both, never lost.
TEST_P(Wait, GrantRacingADeadline) {
  run([] {
    const int rounds = static_cast<int>(scaled(2000, 20));
    std::int64_t delivered = 0, received = 0;
    for (int r = 0; r < rounds; ++r) {
      mailbox box;
      std::atomic<std::uint32_t> won_flag{0};
      std::uint32_t won = 0;
      std::int64_t got = -2;
      gort::wait_group done;
      done.add(1);
      gort::go([&] {
        auto res = box.take(nullptr, d::nanotime() + (r % 3) * 20'000);
        won = res.first;
        got = res.second;
        won_flag.store(1);
        done.done();
      });
      while (box.empty() && won_flag.load() == 0) gort::yield();
      if (box.give(r)) ++delivered;
      done.wait();
      ASSERT_TRUE(won == d::k_claim_granted || won == d::k_claim_timeout) << won;
      if (won == d::k_claim_granted) {
        EXPECT_EQ(got, r);
        ++received;
      } else {
        EXPECT_EQ(got, -1);
      }
    }
    EXPECT_EQ(delivered, received);
  });
}

TEST_P(Wait, AContextAlreadyCancelledDoesNotPark) {
  run([] {
    mailbox box;
    std::pair<gort::context, gort::cancel_func> cc = gort::with_cancel(gort::background());
    cc.second();
    auto res = box.take(canceller_of(cc.first));
    EXPECT_EQ(res.first, d::k_claim_canceled);
    EXPECT_TRUE(box.empty()) << "the waiter removed itself";
    EXPECT_FALSE(box.give(1));
  });
}

TEST_P(Wait, ADeadlineEndsTheWait) {
  run([] {
    mailbox box;
    auto res = box.take(nullptr, d::nanotime() + 1'000'000);
    EXPECT_EQ(res.first, d::k_claim_timeout);
    res = box.take(nullptr, d::nanotime() - 1);  // already passed
    EXPECT_EQ(res.first, d::k_claim_timeout);
    EXPECT_TRUE(box.empty());
  });
}

// Plain threads wait the same way: many threads and goroutines take from one mailbox while a
// context is cancelled in the middle; every value handed over is received exactly once.
TEST_P(Wait, ThreadsAndGoroutinesNeverLoseAValue) {
  run([] {
    mailbox box;
    std::pair<gort::context, gort::cancel_func> cc = gort::with_cancel(gort::background());
    constexpr int k_threads = 3, k_goroutines = 3;
    const int per_taker = static_cast<int>(scaled(200, 10));
    std::atomic<std::int64_t> received_sum{0}, received{0};
    std::atomic<bool> stop{false};
    gort::wait_group done;
    done.add(k_goroutines);
    std::vector<std::thread> threads;
    auto taker = [&] {
      for (int i = 0; i < per_taker && !stop.load(); ++i) {
        auto res = box.take(canceller_of(cc.first));
        if (res.first == d::k_claim_granted) {
          received.fetch_add(1);
          received_sum.fetch_add(res.second);
        } else {
          EXPECT_EQ(res.first, d::k_claim_canceled);
          EXPECT_EQ(res.second, -1);
          return;
        }
      }
    };
    for (int t = 0; t < k_threads; ++t) threads.emplace_back(taker);
    for (int g = 0; g < k_goroutines; ++g) {
      gort::go([&] {
        taker();
        done.done();
      });
    }
    std::int64_t given = 0, given_sum = 0;
    for (std::int64_t v = 1; given < per_taker; ++v) {
      if (box.give(v)) {
        ++given;
        given_sum += v;
      } else {
        gort::yield();
      }
    }
    cc.second();  // everyone still waiting leaves empty-handed
    stop.store(true);
    done.wait();
    for (auto& t : threads) t.join();
    EXPECT_EQ(received.load(), given);
    EXPECT_EQ(received_sum.load(), given_sum);
    EXPECT_TRUE(box.empty());
  });
}

}  // namespace
