// Channels and select: ports of Go's runtime/chan_test.go (Go 1.19's src/runtime/chan_test.go) and
// gort's own checks of the §2.1 semantics table (nil channels, panics with Go's messages,
// move-only elements, close, FIFO waiters, plain threads, try_send/try_recv, the run-time case
// list), at GOMAXPROCS 1, 2, 4 and 8.
//
// "Blocks" is checked one-sidedly: the operation runs on a goroutine that must not have finished
// when a timer case fires in a select. "Is queued now" (for FIFO and close checks) is learnt from
// gort::stats().parks, which counts a park only after the goroutine's waiter is enqueued. No test
// sleeps to wait for something to happen.
//
// A goroutine still parked or runnable when main returns is abandoned and never destroys what its
// closure or stack own (ASan reports that as a leak). So every goroutine is joined — its last
// operation is a wait_group::done() or a send that cannot block, and main waits for it — except
// the ones left blocked for good on nil channels, which reference objects of the test's frame
// instead of owning channels.
#include <gtest/gtest.h>

#include <algorithm>
#include <any>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using namespace std::chrono_literals;
using gort_test::procs_test;
using gort_test::scaled;

class Chan : public procs_test {};
GORT_INSTANTIATE_PROCS(Chan);

// ---- helpers ----

/// f() throws gort::panic_error whose what() is exactly `message`.
template <class F>
::testing::AssertionResult panics_with(F&& f, std::string_view message) {
  try {
    f();
  } catch (const gort::panic_error& e) {
    if (e.what() == message) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "panicked with \"" << e.what() << "\", want \"" << message << "\"";
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-panic exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not panic (want \"" << message << "\")";
}

std::uint64_t parks() { return gort::stats().parks; }

/// Yields until at least `n` goroutine parks have been counted since `base` was read. A channel
/// waiter is enqueued before its goroutine's park is counted, so once this returns the goroutines
/// spawned after `base` (and nothing else parking meanwhile) wait in their queues. Call from a
/// goroutine that does not park itself in between.
::testing::AssertionResult parked_since(std::uint64_t base, std::uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (parks() < base + n) {
    if (std::chrono::steady_clock::now() > deadline) {
      return ::testing::AssertionFailure()
             << (parks() - base) << " of " << n << " goroutines parked within 10 s";
    }
    gort::yield();
  }
  return ::testing::AssertionSuccess();
}

/// True if nothing arrives on `done` before a `window` timer fires (one-sided: the operation
/// that would signal `done` is still blocked).
bool still_blocked(const gort::chan<int>& done, gort::clock::duration window) {
  if (gort::select(gort::recv(done), gort::recv(gort::after(window))) == 0) return false;
  return done.try_recv().status == gort::recv_status::empty;
}

// ---- ports of runtime/chan_test.go ----

// Go's TestChan in short mode (capacities 0..19), every sub-check (a)-(f).
TEST_P(Chan, TestChan) {
  run([] {
    constexpr int kCaps = 20;
    constexpr int per_sender = static_cast<int>(scaled(1000));
    for (int cap = 0; cap < kCaps; ++cap) {
      // (gtest's SCOPED_TRACE is per OS thread, and a goroutine can resume on another one.)
      const std::string at = "chan[" + std::to_string(cap) + "]: ";
      {
        // (a) Receive from an empty channel blocks (both receive forms); a non-blocking receive
        // takes the default.
        gort::chan<int> c(cap);
        gort::chan<int> returned(2);  // one value per receiver that got past its receive
        gort::go([c, returned] {
          (void)c.recv();
          returned.send(1);
        });
        gort::go([c, returned] {
          gort::select(gort::recv(c, [](std::optional<int>) {}));
          returned.send(2);
        });
        ASSERT_TRUE(still_blocked(returned, 1ms)) << at << "receive from empty chan";
        EXPECT_EQ(gort::select(gort::recv(c), gort::default_case()), 1u) << at
            << "non-blocking receive from empty chan";
        EXPECT_EQ(c.try_recv().status, gort::recv_status::empty) << at;
        c.send(0);
        c.send(0);
        const int r1 = returned.recv().value_or(0);
        const int r2 = returned.recv().value_or(0);
        EXPECT_EQ(r1 + r2, 3) << at;
      }
      {
        // (b) Send to a full channel blocks; a non-blocking send takes the default.
        gort::chan<int> c(cap);
        for (int i = 0; i < cap; ++i) c.send(i);
        gort::chan<int> sent(1);
        gort::go([c, sent] {
          c.send(0);
          sent.send(1);
        });
        ASSERT_TRUE(still_blocked(sent, 1ms)) << at << "send to full chan";
        EXPECT_EQ(gort::select(gort::send(c, 0), gort::default_case()), 1u) << at
            << "non-blocking send to full chan";
        EXPECT_FALSE(c.try_send(0)) << at;
        (void)c.recv();
        EXPECT_EQ(sent.recv().value_or(0), 1) << at;
      }
      {
        // (c) After close, the buffered values come out in order, then (0, false) forever.
        gort::chan<int> c(cap);
        for (int i = 0; i < cap; ++i) c.send(i);
        c.close();
        for (int i = 0; i < cap; ++i) {
          const std::optional<int> v = c.recv();
          ASSERT_TRUE(v.has_value()) << at;
          ASSERT_EQ(*v, i) << at;
        }
        EXPECT_EQ(c.recv().value_or(0), 0) << at;
        EXPECT_FALSE(c.recv().has_value()) << at;
        EXPECT_EQ(c.try_recv().status, gort::recv_status::closed) << at;
      }
      {
        // (d) close unblocks a blocked receiver with (0, false).
        gort::chan<int> c(cap);
        gort::chan<bool> done(1);
        const std::uint64_t base = parks();
        gort::go([c, done] {
          const std::optional<int> v = c.recv();
          done.send(!v.has_value());
        });
        ASSERT_TRUE(parked_since(base, 1)) << at;
        c.close();
        EXPECT_TRUE(done.recv().value_or(false)) << at << "received non zero from closed chan";
      }
      {
        // (e) 100 values arrive uncorrupted in FIFO order, with both receive forms.
        gort::chan<int> c(cap);
        gort::wait_group senders;  // joined so that no sender outlives main (see the file comment)
        senders.add(2 + 4);
        gort::go([c, &senders] {
          for (int i = 0; i < 100; ++i) c.send(i);
          senders.done();
        });
        for (int i = 0; i < 100; ++i) {
          const std::optional<int> v = c.recv();
          ASSERT_EQ(v.value_or(-1), i) << at;
        }
        gort::go([c, &senders] {
          for (int i = 0; i < 100; ++i) c.send(i);
          senders.done();
        });
        for (int i = 0; i < 100; ++i) {
          std::optional<int> v;
          gort::select(gort::recv(c, [&](std::optional<int> x) { v = x; }));
          ASSERT_TRUE(v.has_value()) << at << "receive failed, expected " << i;
          ASSERT_EQ(*v, i) << at;
        }
        // 4 senders of 0..L-1 and 4 receivers of L values each: every value arrives 4 times.
        constexpr int P = 4;
        constexpr int L = per_sender;
        for (int p = 0; p < P; ++p) {
          gort::go([c, &senders] {
            for (int i = 0; i < L; ++i) c.send(i);
            senders.done();
          });
        }
        gort::chan<std::vector<int>> done(P);
        for (int p = 0; p < P; ++p) {
          gort::go([c, done] {
            std::vector<int> recv(static_cast<std::size_t>(L), 0);
            for (int i = 0; i < L; ++i) {
              const int v = c.recv().value_or(-1);
              if (v >= 0 && v < L) ++recv[static_cast<std::size_t>(v)];
            }
            done.send(std::move(recv));
          });
        }
        std::vector<int> recv(static_cast<std::size_t>(L), 0);
        for (int p = 0; p < P; ++p) {
          const std::optional<std::vector<int>> part = done.recv();
          ASSERT_TRUE(part.has_value()) << at;
          for (int k = 0; k < L; ++k) recv[static_cast<std::size_t>(k)] += (*part)[static_cast<std::size_t>(k)];
        }
        for (int k = 0; k < L; ++k) {
          ASSERT_EQ(recv[static_cast<std::size_t>(k)], P) << at << "value " << k;
        }
        senders.wait();
      }
      {
        // (f) len and cap.
        gort::chan<int> c(cap);
        EXPECT_EQ(c.size(), 0u) << at;
        EXPECT_EQ(c.capacity(), static_cast<std::size_t>(cap)) << at;
        for (int i = 0; i < cap; ++i) c.send(i);
        EXPECT_EQ(c.size(), static_cast<std::size_t>(cap)) << at;
        EXPECT_EQ(c.capacity(), static_cast<std::size_t>(cap)) << at;
      }
    }
  });
}

// Go's TestNonblockRecvRace: a non-blocking receive racing with close() never takes the default,
// because the channel holds a value or is closed at every moment.
TEST_P(Chan, TestNonblockRecvRace) {
  run([] {
    // Go: 10000 (100 in short mode). TSan makes each goroutine's fiber expensive.
    const int n = static_cast<int>(scaled(10000, gort_test::k_tsan ? 100 : 20));
    std::atomic<int> defaults{0};
    gort::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i) {
      gort::chan<int> c(1);
      c.send(1);
      gort::go([c, &defaults, &wg] {
        if (gort::select(gort::recv(c), gort::default_case()) == 1) defaults.fetch_add(1);
        wg.done();
      });
      c.close();
      (void)c.recv();
    }
    wg.wait();
    EXPECT_EQ(defaults.load(), 0) << "chan is not ready";
  });
}

// Go's TestNonblockSelectRace: select acts on one snapshot of its channels. From the moment the
// goroutine exists, c1 or c2 is always ready, so its non-blocking select never takes the default.
TEST_P(Chan, TestNonblockSelectRace) {
  run([] {
    // Go: 100000 (1000 in short mode). TSan makes each goroutine's fiber expensive.
    const int n = static_cast<int>(scaled(50000, gort_test::k_tsan ? 200 : 20));
    gort::chan<bool> done(1);
    for (int i = 0; i < n; ++i) {
      gort::chan<int> c1(1);
      gort::chan<int> c2(1);
      c1.send(1);
      gort::go([c1, c2, done] {
        done.send(gort::select(gort::recv(c1), gort::recv(c2), gort::default_case()) != 2);
      });
      c2.send(1);
      gort::select(gort::recv(c1), gort::default_case());
      ASSERT_TRUE(done.recv().value_or(false)) << "no chan is ready (iteration " << i << ")";
    }
  });
}

// Go's TestNonblockSelectRace2: the same with close(c2) instead of a send.
TEST_P(Chan, TestNonblockSelectRace2) {
  run([] {
    // Go: 100000 (1000 in short mode). TSan makes each goroutine's fiber expensive.
    const int n = static_cast<int>(scaled(50000, gort_test::k_tsan ? 200 : 20));
    gort::chan<bool> done(1);
    for (int i = 0; i < n; ++i) {
      gort::chan<int> c1(1);
      gort::chan<int> c2(0);
      c1.send(1);
      gort::go([c1, c2, done] {
        done.send(gort::select(gort::recv(c1), gort::recv(c2), gort::default_case()) != 2);
      });
      c2.close();
      gort::select(gort::recv(c1), gort::default_case());
      ASSERT_TRUE(done.recv().value_or(false)) << "no chan is ready (iteration " << i << ")";
    }
  });
}

// Go's TestSelfSelect: two goroutines selecting send and receive on one channel neither crash nor
// deadlock, and on an unbuffered channel a goroutine never receives its own value.
TEST_P(Chan, TestSelfSelect) {
  run([] {
    for (int cap : {0, 10}) {
      gort::wait_group wg;
      wg.add(2);
      gort::chan<int> c(cap);
      std::atomic<int> self_receives{0};
      for (int p = 0; p < 2; ++p) {
        gort::go([c, p, cap, &wg, &self_receives] {
          auto on_recv = [&](std::optional<int> v) {
            if (cap == 0 && v == p) self_receives.fetch_add(1);
          };
          for (int i = 0; i < 1000; ++i) {
            if (p == 0 || i % 2 == 0) {
              gort::select(gort::send(c, p), gort::recv(c, on_recv));
            } else {
              gort::select(gort::recv(c, on_recv), gort::send(c, p));
            }
          }
          wg.done();
        });
      }
      wg.wait();
      EXPECT_EQ(self_receives.load(), 0) << "self receive, cap " << cap;
    }
  });
}

// Go's TestSelectStress: a sender and a receiver per channel plus one goroutine sending on all
// four through one select and one receiving from all four through one select (dropping each
// channel, by setting its case to nil, once it has carried N values). Completes without deadlock
// and every operation is matched.
TEST_P(Chan, TestSelectStress) {
  run([] {
    std::array<gort::chan<int>, 4> c{gort::chan<int>(0), gort::chan<int>(0), gort::chan<int>(2),
                                     gort::chan<int>(3)};
    constexpr int N = static_cast<int>(scaled(10000));
    gort::wait_group wg;
    wg.add(10);
    std::atomic<long> received{0};
    for (int k = 0; k < 4; ++k) {
      gort::go([ck = c[static_cast<std::size_t>(k)], &wg] {
        for (int i = 0; i < N; ++i) ck.send(0);
        wg.done();
      });
      gort::go([ck = c[static_cast<std::size_t>(k)], &wg, &received] {
        for (int i = 0; i < N; ++i) {
          if (ck.recv().has_value()) received.fetch_add(1);
        }
        wg.done();
      });
    }
    gort::go([c, &wg] {
      std::array<int, 4> n{};
      auto c1 = c;
      auto sent = [&](std::size_t k) {
        return [&, k] {
          if (++n[k] == N) c1[k] = gort::chan<int>{};
        };
      };
      for (int i = 0; i < 4 * N; ++i) {
        gort::select(gort::send(c1[3], 0, sent(3)), gort::send(c1[2], 0, sent(2)),
                     gort::send(c1[0], 0, sent(0)), gort::send(c1[1], 0, sent(1)));
      }
      wg.done();
    });
    gort::go([c, &wg, &received] {
      std::array<int, 4> n{};
      auto c1 = c;
      auto got = [&](std::size_t k) {
        return [&, k](std::optional<int> v) {
          if (v.has_value()) received.fetch_add(1);
          if (++n[k] == N) c1[k] = gort::chan<int>{};
        };
      };
      for (int i = 0; i < 4 * N; ++i) {
        gort::select(gort::recv(c1[0], got(0)), gort::recv(c1[1], got(1)),
                     gort::recv(c1[2], got(2)), gort::recv(c1[3], got(3)));
      }
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(received.load(), 8L * N);
    for (auto& ck : c) EXPECT_EQ(ck.size(), 0u);
  });
}

// Go's TestChanSendInterface: sends of interface values (std::any here) in selects with default.
TEST_P(Chan, TestChanSendInterface) {
  run([] {
    struct mt {};
    auto m = std::make_shared<mt>();
    gort::chan<std::any> c(1);
    c.send(std::any(m));
    EXPECT_EQ(gort::select(gort::send(c, std::any(m)), gort::default_case()), 1u);
    EXPECT_EQ(gort::select(gort::send(c, std::any(m)), gort::send(c, std::any(std::make_shared<mt>())),
                           gort::default_case()),
              2u);
    const std::optional<std::any> v = c.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(std::any_cast<std::shared_ptr<mt>>(*v), m);
  });
}

// Go's TestSelectFairness: among always-ready cases each fires with equal probability. With 10000
// trials the share of c1 must be within 4.891676 / (2 * sqrt(10000)) of 0.5 (99.9999% confidence).
TEST_P(Chan, TestSelectFairness) {
  run([] {
    constexpr int trials = 10000;
    gort::chan<std::uint8_t> c1(trials + 1);
    gort::chan<std::uint8_t> c2(trials + 1);
    for (int i = 0; i < trials + 1; ++i) {
      c1.send(1);
      c2.send(2);
    }
    gort::chan<std::uint8_t> c3(0);
    gort::chan<std::uint8_t> c4(0);
    gort::chan<std::uint8_t> out(0);
    gort::chan<std::uint8_t> done(0);
    gort::wait_group wg;
    wg.add(1);
    gort::go([=, &wg] {
      for (;;) {
        std::uint8_t b = 0;
        auto take = [&](std::optional<std::uint8_t> v) { b = v.value_or(0); };
        gort::select(gort::recv(c3, take), gort::recv(c4, take), gort::recv(c1, take),
                     gort::recv(c2, take));
        bool stop = false;
        gort::select(gort::send(out, b), gort::recv(done, [&](auto) { stop = true; }));
        if (stop) break;
      }
      wg.done();
    });
    int cnt1 = 0;
    int cnt2 = 0;
    for (int i = 0; i < trials; ++i) {
      const std::uint8_t b = out.recv().value_or(0);
      if (b == 1) {
        ++cnt1;
      } else if (b == 2) {
        ++cnt2;
      } else {
        FAIL() << "unexpected value " << int{b} << " on channel";
      }
    }
    const double r = static_cast<double>(cnt1) / trials;
    const double e = std::abs(r - 0.5);
    EXPECT_LE(e, 4.891676 / (2 * std::sqrt(double{trials})))
        << "unfair select: in " << trials << " trials, results were " << cnt1 << ", " << cnt2;
    done.close();
    wg.wait();
  });
}

// Go's TestPseudoRandomSend: `select { case c <- 1: case c <- 0: }` picks each case more than 10%
// of the time, on an unbuffered and a buffered channel.
TEST_P(Chan, TestPseudoRandomSend) {
  run([] {
    constexpr int n = 100;
    for (int cap : {0, n}) {
      gort::chan<int> c(cap);
      std::vector<int> l(n, -1);
      gort::chan<int> finished(1);
      gort::go([c, finished, &l] {
        for (int i = 0; i < n; ++i) {
          gort::yield();
          l[static_cast<std::size_t>(i)] = c.recv().value_or(-1);
        }
        finished.send(1);
      });
      for (int i = 0; i < n; ++i) gort::select(gort::send(c, 1), gort::send(c, 0));
      (void)finished.recv();
      int n0 = 0;
      int n1 = 0;
      for (int v : l) {
        ASSERT_TRUE(v == 0 || v == 1) << v;
        n0 += (v + 1) % 2;
        n1 += v;
      }
      EXPECT_TRUE(n0 > n / 10 && n1 > n / 10)
          << "want pseudorandom, got " << n0 << " zeros and " << n1 << " ones (chan cap " << cap
          << ")";
    }
  });
}

// Go's TestMultiConsumer: 23 workers ranging over q (with yields that disturb its FIFO-ish order)
// forward to r; every item and the sum survive; closing order q, wait for workers, r.
TEST_P(Chan, TestMultiConsumer) {
  run([] {
    constexpr int nwork = 23;
    constexpr int niter = static_cast<int>(scaled(271828));
    static constexpr std::array<int, 10> pn{2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
    gort::chan<int> q(nwork * 3);
    gort::chan<int> r(nwork * 3);
    gort::wait_group wg;
    for (int i = 0; i < nwork; ++i) {
      wg.add(1);
      gort::go([q, r, &wg](int w) {
        for (int v : q) {
          if (pn[static_cast<std::size_t>(w) % pn.size()] == v) gort::yield();
          r.send(v);
        }
        wg.done();
      }, i);
    }
    std::int64_t expect = 0;
    gort::go([q, r, &expect, &wg] {
      for (int i = 0; i < niter; ++i) {
        const int v = pn[static_cast<std::size_t>(i) % pn.size()];
        expect += v;
        q.send(v);
      }
      q.close();  // no more work
      wg.wait();  // workers done
      r.close();  // ... so there can be no more results
    });
    std::int64_t n = 0;
    std::int64_t s = 0;
    for (int v : r) {
      ++n;
      s += v;
    }
    EXPECT_EQ(n, niter);
    EXPECT_EQ(s, expect);  // close(r) happens-before the range's end: expect is final
  });
}

// Go's TestShrinkStackDuringBlockedSend (for gort, whose stacks never move: a value sent from the
// stack of a goroutine blocked in send, which then uses lots of stack, arrives intact).
int stack_growth_recursive(int depth) {
  volatile char pad[1024];
  for (std::size_t i = 0; i < sizeof pad; ++i) pad[i] = static_cast<char>(depth);
  if (depth == 0) return pad[0];
  return stack_growth_recursive(depth - 1) + pad[depth % 1024];
}

TEST_P(Chan, TestShrinkStackDuringBlockedSend) {
  run([] {
    constexpr int n = 10;
    gort::chan<std::array<int, 256>> c(0);
    gort::chan<int> done(1);
    gort::go([c, done] {
      for (int i = 0; i < n; ++i) {
        std::array<int, 256> big;
        big.fill(i);
        c.send(big);
        (void)stack_growth_recursive(20);
      }
      done.send(1);
    });
    for (int i = 0; i < n; ++i) {
      const std::optional<std::array<int, 256>> x = c.recv();
      ASSERT_TRUE(x.has_value());
      EXPECT_TRUE(std::all_of(x->begin(), x->end(), [i](int v) { return v == i; }))
          << "bad channel read at " << i;
    }
    (void)done.recv();
  });
}

// Go's TestSelectDuplicateChannel: a goroutine (A) selecting on c twice and on d, then another (B)
// receiving on c. Waking A through d must withdraw both of A's waiters from c, so that a later
// send on c wakes B (a corrupt queue would hand it to A, which is gone).
TEST_P(Chan, TestSelectDuplicateChannel) {
  run([] {
    gort::chan<int> c(0);
    gort::chan<int> d(0);
    gort::chan<int> e(1);
    gort::chan<int> b_got(1);

    std::uint64_t base = parks();
    gort::go([c, d, e] {  // goroutine A
      gort::select(gort::recv(c), gort::recv(c), gort::recv(d));
      e.send(9);
    });
    ASSERT_TRUE(parked_since(base, 1));  // A is queued on c (twice) and on d

    base = parks();
    gort::go([c, b_got] { b_got.send(c.recv().value_or(-1)); });  // goroutine B
    ASSERT_TRUE(parked_since(base, 1));                           // B is queued on c behind A

    d.send(7);                        // wakes A, which withdraws itself from c
    EXPECT_EQ(e.recv().value_or(0), 9);  // A is done
    c.send(8);                        // must wake B
    EXPECT_EQ(b_got.recv().value_or(0), 8);
    // Nobody waits on c or d any more.
    EXPECT_FALSE(c.try_send(1));
    EXPECT_FALSE(d.try_send(1));
  });
}

// ---- gort's own checks of the semantics table ----

// A nil channel's send and receive block forever (also in a select without default and in a
// select with no cases); its cases are never chosen.
TEST_P(Chan, NilChannelSendAndRecvBlockForever) {
  run([] {
    gort::chan<int> nil;
    EXPECT_FALSE(static_cast<bool>(nil));
    EXPECT_EQ(nil.size(), 0u);
    EXPECT_EQ(nil.capacity(), 0u);

    // The goroutines below stay blocked and are abandoned when main returns: they only reference
    // objects of this frame.
    gort::chan<int> sent(1);
    gort::chan<int> received(1);
    gort::chan<int> selected(1);
    gort::go([&] {
      nil.send(7);
      sent.send(1);
    });
    gort::go([&] {
      (void)nil.recv();
      received.send(1);
    });
    gort::go([&] {
      gort::select(gort::recv(nil), gort::send(nil, 1));
      selected.send(1);
    });
    EXPECT_TRUE(still_blocked(sent, 20ms)) << "send on a nil channel returned";
    EXPECT_TRUE(still_blocked(received, 1ms)) << "receive on a nil channel returned";
    EXPECT_TRUE(still_blocked(selected, 1ms)) << "select over nil channels returned";

    // Non-blocking forms report "not ready".
    EXPECT_FALSE(nil.try_send(1));
    EXPECT_EQ(nil.try_recv().status, gort::recv_status::empty);
    // A nil case never fires, even next to a ready one.
    gort::chan<int> ready(1);
    for (int i = 0; i < 100; ++i) {
      ready.send(i);
      EXPECT_EQ(gort::select(gort::recv(nil), gort::send(nil, 0), gort::recv(ready)), 2u);
    }
  });
}

// Go's panics, with Go's messages, each leaving the channel usable.
TEST_P(Chan, PanicsCarryGoMessages) {
  run([] {
    gort::chan<int> c(1);
    c.close();
    EXPECT_TRUE(panics_with([&] { c.send(1); }, "send on closed channel"));
    EXPECT_TRUE(panics_with([&] { (void)c.try_send(1); }, "send on closed channel"));
    EXPECT_TRUE(panics_with([&] { gort::select(gort::send(c, 1)); }, "send on closed channel"));
    EXPECT_TRUE(panics_with([&] { gort::select(gort::send(c, 1), gort::default_case()); },
                            "send on closed channel"));
    EXPECT_TRUE(panics_with([&] { c.close(); }, "close of closed channel"));
    EXPECT_TRUE(panics_with([] { gort::chan<int>{}.close(); }, "close of nil channel"));
    EXPECT_FALSE(c.recv().has_value());  // still a closed channel, nothing was buffered

    // makechan: size out of range.
    EXPECT_TRUE(panics_with([] { gort::chan<int> x(-1); }, "makechan: size out of range"));
    EXPECT_TRUE(panics_with([] { gort::chan<int> x(INT64_MIN); }, "makechan: size out of range"));
    EXPECT_TRUE(panics_with([] { gort::chan<int> x(INT64_MAX); }, "makechan: size out of range"));
    EXPECT_TRUE(panics_with([] { gort::chan<int> x(gort::chan<int>::max_capacity + 1); },
                            "makechan: size out of range"));
    using big = std::array<char, 1 << 20>;
    EXPECT_EQ(gort::chan<big>::max_capacity, std::int64_t{1} << 20);
    EXPECT_TRUE(panics_with([] { gort::chan<big> x(gort::chan<big>::max_capacity + 1); },
                            "makechan: size out of range"));
    gort::chan<big> small(2);  // in range: fine
    EXPECT_EQ(small.capacity(), 2u);
  });
}

// A send case moves its value only if it fires (docs/api.md): a move-only value passed with
// std::move survives a select in which another case (or the default) fires, and several send
// cases give up exactly the one value that was sent.
TEST_P(Chan, SelectSendMovesTheValueOnlyIfItsCaseFires) {
  run([] {
    using up = std::unique_ptr<int>;
    gort::chan<up> full(1);
    ASSERT_TRUE(full.try_send(std::make_unique<int>(0)));
    up x = std::make_unique<int>(1);
    const std::size_t fired = gort::select(gort::send(full, std::move(x)), gort::default_case());
    EXPECT_EQ(fired, 1u);
    ASSERT_NE(x, nullptr) << "the default fired, yet the send case's value was moved from";
    EXPECT_EQ(*x, 1);

    // Blocking: another case fires while the send case waits.
    gort::chan<up> never(0);
    gort::chan<int> other(0);
    gort::wait_group sent;  // the sender owns nothing and is known to be done before main returns
    sent.add(1);
    gort::go([&other, &sent] {
      other.send(5);
      sent.done();
    });
    int got = 0;
    gort::select(gort::send(never, std::move(x)),
                 gort::recv(other, [&](std::optional<int> v) { got = v.value_or(-1); }));
    EXPECT_EQ(got, 5);
    sent.wait();
    ASSERT_NE(x, nullptr) << "the receive fired, yet the waiting send case's value was moved from";

    // Two send cases, one channel ready: only the fired case's value moves.
    gort::chan<up> open(1);
    up y = std::make_unique<int>(2);
    const std::size_t which = gort::select(gort::send(never, std::move(x)),
                                           gort::send(open, std::move(y)));
    EXPECT_EQ(which, 1u);
    EXPECT_NE(x, nullptr);
    EXPECT_EQ(y, nullptr);
    std::optional<up> r = open.recv();
    ASSERT_TRUE(r && *r);
    EXPECT_EQ(**r, 2);

    // An lvalue is copied into the case and never moved from.
    gort::chan<std::string> s(1);
    std::string text = "keep me";
    gort::select(gort::send(s, text));
    EXPECT_EQ(text, "keep me");
    EXPECT_EQ(s.recv(), "keep me");
  });
}

// Element types that can only be moved travel through every path: unbuffered hand-off, the
// buffer, select send and receive, try_send (not moved from on failure), close with values left.
TEST_P(Chan, MoveOnlyElementType) {
  run([] {
    using up = std::unique_ptr<int>;
    for (int cap : {0, 3}) {
      gort::chan<up> c(cap);
      gort::go([c] {
        for (int i = 0; i < 10; ++i) c.send(std::make_unique<int>(i));
        gort::select(gort::send(c, std::make_unique<int>(10)));
        c.close();
      });
      int expected = 0;
      for (up& p : c) {
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(*p, expected++);
      }
      EXPECT_EQ(expected, 11);

      gort::chan<up> d(cap);
      gort::chan<int> sent(1);
      gort::go([d, sent] {
        up p = std::make_unique<int>(42);
        d.send(std::move(p));
        sent.send(1);
      });
      int got = 0;
      gort::select(gort::recv(d, [&](std::optional<up> v) { got = v && *v ? **v : -1; }));
      EXPECT_EQ(got, 42);
      EXPECT_EQ(sent.recv(), 1);
    }
    // A failed try_send leaves the value with the caller.
    gort::chan<up> full(1);
    ASSERT_TRUE(full.try_send(std::make_unique<int>(1)));
    up keep = std::make_unique<int>(2);
    EXPECT_FALSE(full.try_send(std::move(keep)));
    ASSERT_NE(keep, nullptr);
    EXPECT_EQ(*keep, 2);
    // So does a runtime-list send case that did not fire.
    std::vector<gort::select_case> cases{gort::select_case::send(full, keep),
                                         gort::select_case::default_case()};
    EXPECT_EQ(gort::select(cases), 1u);
    ASSERT_NE(keep, nullptr);
    // Values still buffered when the last handle goes away are destroyed (ASan checks the leak).
    gort::chan<up> abandoned(4);
    for (int i = 0; i < 3; ++i) abandoned.send(std::make_unique<int>(i));
    abandoned.close();
  });
}

// range-for ends after close once the buffer is drained, and never before.
TEST_P(Chan, RangeForEndsAfterCloseAndDrain) {
  run([] {
    for (int cap : {0, 1, 5, 64}) {
      gort::chan<int> c(cap);
      gort::go([c] {
        for (int i = 0; i < 100; ++i) c.send(i);
        c.close();
      });
      std::vector<int> got;
      for (int v : c) got.push_back(v);
      std::vector<int> want(100);
      std::iota(want.begin(), want.end(), 0);
      EXPECT_EQ(got, want) << "cap " << cap;
      // A closed, drained channel yields an empty range at once.
      int more = 0;
      for (int v : c) more += v + 1;
      EXPECT_EQ(more, 0);
    }
  });
}

// Every value buffered before close() is delivered, exactly once, to concurrent receivers.
TEST_P(Chan, EveryBufferedValueDeliveredAfterClose) {
  run([] {
    constexpr int n = 1000;
    gort::chan<int> c(n);
    for (int i = 0; i < n; ++i) c.send(i);
    c.close();
    EXPECT_EQ(c.size(), static_cast<std::size_t>(n));
    std::vector<std::atomic<int>> seen(n);
    gort::wait_group wg;
    constexpr int receivers = 4;
    wg.add(receivers);
    for (int r = 0; r < receivers; ++r) {
      gort::go([c, r, &seen, &wg] {
        if (r % 2 == 0) {
          for (int v : c) seen[static_cast<std::size_t>(v)].fetch_add(1);
        } else {
          for (;;) {
            std::optional<int> v;
            gort::select(gort::recv(c, [&](std::optional<int> x) { v = x; }));
            if (!v) break;
            seen[static_cast<std::size_t>(*v)].fetch_add(1);
          }
        }
        wg.done();
      });
    }
    wg.wait();
    for (int i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)].load(), 1) << i;
    EXPECT_EQ(c.size(), 0u);
  });
}

// close wakes every blocked receiver (plain and in selects) empty-handed.
TEST_P(Chan, CloseWakesAllBlockedReceivers) {
  run([] {
    for (int cap : {0, 4}) {
      constexpr int n = 8;
      gort::chan<int> c(cap);
      gort::chan<int> never(0);
      std::atomic<int> woke_empty{0};
      gort::wait_group wg;
      wg.add(n);
      const std::uint64_t base = parks();
      for (int i = 0; i < n; ++i) {
        gort::go([c, never, i, &woke_empty, &wg] {
          std::optional<int> v{-1};
          if (i % 2 == 0) {
            v = c.recv();
          } else {
            gort::select(gort::recv(never), gort::recv(c, [&](std::optional<int> x) { v = x; }));
          }
          if (!v.has_value()) woke_empty.fetch_add(1);
          wg.done();
        });
      }
      ASSERT_TRUE(parked_since(base, n));
      c.close();
      wg.wait();
      EXPECT_EQ(woke_empty.load(), n) << "cap " << cap;
    }
  });
}

// close wakes every blocked sender (plain and in selects); each panics with "send on closed
// channel", and the values buffered before close are still received.
TEST_P(Chan, CloseWakesAllBlockedSendersWithPanic) {
  run([] {
    for (int cap : {0, 2}) {
      constexpr int n = 8;
      gort::chan<int> c(cap);
      for (int i = 0; i < cap; ++i) c.send(100 + i);
      gort::chan<int> never(0);
      std::atomic<int> panicked{0};
      gort::wait_group wg;
      wg.add(n);
      const std::uint64_t base = parks();
      for (int i = 0; i < n; ++i) {
        gort::go([c, never, i, &panicked, &wg] {
          try {
            if (i % 2 == 0) {
              c.send(i);
            } else {
              gort::select(gort::recv(never), gort::send(c, i));
            }
          } catch (const gort::panic_error& e) {
            if (std::string_view(e.what()) == "send on closed channel") panicked.fetch_add(1);
          }
          wg.done();
        });
      }
      ASSERT_TRUE(parked_since(base, n));
      c.close();
      wg.wait();
      EXPECT_EQ(panicked.load(), n) << "cap " << cap;
      for (int i = 0; i < cap; ++i) EXPECT_EQ(c.recv().value_or(-1), 100 + i);
      EXPECT_FALSE(c.recv().has_value());
    }
  });
}

// Blocked receivers are served in arrival order, select waiters included.
TEST_P(Chan, WaitingReceiversServedFifo) {
  run([] {
    for (int cap : {0, 3}) {
      constexpr int n = 12;
      gort::chan<int> c(cap);
      gort::chan<int> never(0);
      std::vector<int> got(n, -1);
      gort::wait_group wg;
      wg.add(n);
      for (int i = 0; i < n; ++i) {
        const std::uint64_t base = parks();
        gort::go([c, never, i, &got, &wg] {
          int& slot = got[static_cast<std::size_t>(i)];
          if (i % 3 == 2) {
            gort::select(gort::recv(never),
                         gort::recv(c, [&](std::optional<int> v) { slot = v.value_or(-2); }));
          } else {
            slot = c.recv().value_or(-2);
          }
          wg.done();
        });
        ASSERT_TRUE(parked_since(base, 1));
      }
      for (int i = 0; i < n; ++i) c.send(i);
      wg.wait();
      for (int i = 0; i < n; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i) << "cap " << cap;
    }
  });
}

// Blocked senders are served in arrival order; on a full buffer the head is received and the
// first waiting sender's value joins the tail, so the order stays FIFO overall.
TEST_P(Chan, WaitingSendersServedFifo) {
  run([] {
    for (int cap : {0, 3}) {
      constexpr int n = 12;
      gort::chan<int> c(cap);
      gort::chan<int> never(0);
      for (int i = 0; i < cap; ++i) c.send(100 + i);
      gort::wait_group wg;
      wg.add(n);
      for (int i = 0; i < n; ++i) {
        const std::uint64_t base = parks();
        gort::go([c, never, i, &wg] {
          if (i % 3 == 2) {
            gort::select(gort::recv(never), gort::send(c, i));
          } else {
            c.send(i);
          }
          wg.done();
        });
        ASSERT_TRUE(parked_since(base, 1));
      }
      std::vector<int> got;
      for (int i = 0; i < cap + n; ++i) got.push_back(c.recv().value_or(-1));
      std::vector<int> want;
      for (int i = 0; i < cap; ++i) want.push_back(100 + i);
      for (int i = 0; i < n; ++i) want.push_back(i);
      EXPECT_EQ(got, want) << "cap " << cap;
      wg.wait();
    }
  });
}

// Plain OS threads and goroutines share channels: threads send to and receive from goroutines,
// block in select, and range over a channel.
TEST_P(Chan, PlainThreadsMixWithGoroutines) {
  run([] {
    constexpr int per = static_cast<int>(scaled(2000));
    constexpr int kSenders = 4;    // 2 threads, 2 goroutines
    constexpr int kReceivers = 4;  // 2 threads, 2 goroutines
    gort::chan<int> c(0);
    gort::chan<std::int64_t> sums(kReceivers);
    gort::wait_group threads_done;
    gort::wait_group goroutine_senders;
    goroutine_senders.add(2);
    std::vector<std::thread> threads;
    auto sender = [c] {
      for (int i = 1; i <= per; ++i) c.send(i);
    };
    auto receiver = [c, sums] {
      std::int64_t s = 0;
      for (int i = 0; i < per; ++i) s += c.recv().value_or(-1'000'000);
      sums.send(s);
    };
    threads_done.add(4);
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, sender] {
        sender();
        threads_done.done();
      });
      threads.emplace_back([&, receiver] {
        receiver();
        threads_done.done();
      });
      gort::go([sender, &goroutine_senders] {
        sender();
        goroutine_senders.done();
      });
      gort::go(receiver);
    }
    std::int64_t total = 0;
    for (int r = 0; r < kReceivers; ++r) total += sums.recv().value_or(0);
    EXPECT_EQ(total, std::int64_t{kSenders} * per * (per + 1) / 2);
    goroutine_senders.wait();

    // A thread blocked in a select is woken by a goroutine; a thread's select send wakes a
    // goroutine; a thread ranges over a channel a goroutine fills and closes.
    gort::chan<int> a(0);
    gort::chan<int> b(0);
    gort::chan<int> back(0);
    gort::chan<int> stream(2);
    std::atomic<int> thread_got{0};
    std::atomic<int> thread_sum{0};
    threads_done.add(1);
    threads.emplace_back([&, a, b, back, stream] {
      gort::select(gort::recv(a, [&](std::optional<int> v) { thread_got = v.value_or(-1); }),
                   gort::recv(b, [&](std::optional<int> v) { thread_got = 100 + v.value_or(-1); }));
      gort::select(gort::send(back, 5));
      for (int v : stream) thread_sum += v;
      threads_done.done();
    });
    b.send(7);
    EXPECT_EQ(back.recv().value_or(0), 5);
    for (int i = 1; i <= 10; ++i) stream.send(i);
    stream.close();
    threads_done.wait();  // park first: joining would block this goroutine's thread
    for (auto& t : threads) t.join();
    EXPECT_EQ(thread_got.load(), 107);
    EXPECT_EQ(thread_sum.load(), 55);
  });
}

// try_send and try_recv report every state.
TEST_P(Chan, TrySendTryRecvStatuses) {
  run([] {
    gort::chan<int> b(1);
    gort::try_recv_result<int> r = b.try_recv();
    EXPECT_EQ(r.status, gort::recv_status::empty);
    EXPECT_FALSE(r);
    EXPECT_FALSE(r.value.has_value());
    EXPECT_TRUE(b.try_send(1));
    EXPECT_FALSE(b.try_send(2));  // full
    r = b.try_recv();
    EXPECT_EQ(r.status, gort::recv_status::value);
    EXPECT_TRUE(r);
    EXPECT_EQ(r.value, 1);
    EXPECT_TRUE(b.try_send(3));
    b.close();
    r = b.try_recv();  // buffered value first
    EXPECT_EQ(r.status, gort::recv_status::value);
    EXPECT_EQ(r.value, 3);
    r = b.try_recv();
    EXPECT_EQ(r.status, gort::recv_status::closed);
    EXPECT_FALSE(r);
    EXPECT_FALSE(r.value.has_value());

    // Unbuffered: only a waiting partner makes them succeed.
    gort::chan<int> u(0);
    EXPECT_FALSE(u.try_send(1));
    EXPECT_EQ(u.try_recv().status, gort::recv_status::empty);
    gort::chan<int> got(1);
    std::uint64_t base = parks();
    gort::go([u, got] { got.send(u.recv().value_or(-1)); });
    ASSERT_TRUE(parked_since(base, 1));
    EXPECT_TRUE(u.try_send(11));
    EXPECT_EQ(got.recv().value_or(0), 11);
    base = parks();
    gort::go([u, got] {
      u.send(12);
      got.send(0);
    });
    ASSERT_TRUE(parked_since(base, 1));
    r = u.try_recv();
    EXPECT_EQ(r.status, gort::recv_status::value);
    EXPECT_EQ(r.value, 12);
    EXPECT_EQ(got.recv(), 0);  // the sender finished
  });
}

// select over a case list built at run time, with a default entry anywhere in it.
TEST_P(Chan, RuntimeListSelect) {
  run([] {
    gort::chan<int> a(1);
    gort::chan<int> b(0);
    gort::chan<int> nil;
    std::optional<int> ra;
    std::optional<int> rn;
    int sv = 5;
    std::vector<gort::select_case> cases{
        gort::select_case::recv(a, ra), gort::select_case::default_case(),
        gort::select_case::send(b, sv), gort::select_case::recv(nil, rn)};
    EXPECT_EQ(gort::select(cases), 1u);  // nothing ready: the default, at its position
    EXPECT_FALSE(ra.has_value());

    a.send(7);
    EXPECT_EQ(gort::select(cases), 0u);
    EXPECT_EQ(ra, 7);

    // The send case fires for a waiting receiver.
    gort::chan<int> got(1);
    const std::uint64_t base = parks();
    gort::go([b, got] { got.send(b.recv().value_or(-1)); });
    ASSERT_TRUE(parked_since(base, 1));
    EXPECT_EQ(gort::select(cases), 2u);
    EXPECT_EQ(got.recv().value_or(0), 5);
    EXPECT_FALSE(rn.has_value());

    // Without a default the list blocks until a case fires.
    std::vector<gort::select_case> blocking{gort::select_case::recv(nil, rn),
                                            gort::select_case::recv(a, ra)};
    ra.reset();
    gort::go([a] { a.send(8); });
    EXPECT_EQ(gort::select(blocking), 1u);
    EXPECT_EQ(ra, 8);

    // Two defaults are misuse.
    std::vector<gort::select_case> two{gort::select_case::default_case(),
                                       gort::select_case::default_case()};
    EXPECT_TRUE(panics_with([&] { gort::select(two); }, "select: multiple default cases"));
  });
}

// close wakes a queue longer than one of its batches (it releases the channel's lock between
// batches) while another goroutine fires the same selects through their other case: every waiter
// leaves exactly once, either with the other case's value or empty-handed by close, and no value
// sent is lost.
TEST_P(Chan, CloseOfALongQueueRacingTheSelectsOtherCaseWakesEachOnce) {
  run([] {
    const int n = static_cast<int>(scaled(1000, 4));  // several of close's 256-waiter batches
    gort::chan<int> c(0);
    gort::chan<int> other(0);
    std::atomic<int> by_close{0}, by_other{0}, other_sum{0};
    gort::wait_group wg;
    wg.add(n);
    const std::uint64_t base = parks();
    for (int i = 0; i < n; ++i) {
      gort::go([c, other, i, &by_close, &by_other, &other_sum, &wg] {
        if (i % 4 == 0) {
          if (!c.recv().has_value()) by_close.fetch_add(1);
        } else {
          gort::select(gort::recv(c,
                                  [&](std::optional<int> v) {
                                    if (!v.has_value()) by_close.fetch_add(1);
                                  }),
                       gort::recv(other, [&](std::optional<int> v) {
                         if (v.has_value()) {
                           by_other.fetch_add(1);
                           other_sum.fetch_add(*v);
                         }
                       }));
        }
        wg.done();
      });
    }
    ASSERT_TRUE(parked_since(base, static_cast<std::uint64_t>(n)));
    int sent = 0, sent_sum = 0;
    gort::wait_group sender;
    sender.add(1);
    gort::go([other, &sent, &sent_sum, &sender] {
      // Hands values to selects while close runs; stops at the first send nobody takes.
      for (int v = 1; other.try_send(v); ++v) {
        ++sent;
        sent_sum += v;
      }
      sender.done();
    });
    c.close();
    wg.wait();
    sender.wait();
    EXPECT_EQ(by_close.load() + by_other.load(), n);
    EXPECT_EQ(by_other.load(), sent);
    EXPECT_EQ(other_sum.load(), sent_sum);
    EXPECT_FALSE(c.recv().has_value());
  });
}

// A blocking select wider than the frame's eight waiters (its waiters on the heap): the case that
// fires is the one sent to, and the select leaves no waiter behind on the other channels.
TEST_P(Chan, BlockingSelectOfTwelveCasesFiresTheOneSentToAndWithdrawsTheRest) {
  run([] {
    constexpr int k_cases = 12;
    std::vector<gort::chan<int>> chans;
    for (int i = 0; i < k_cases; ++i) chans.emplace_back(0);
    std::vector<std::optional<int>> got(k_cases);
    std::vector<gort::select_case> cases;
    for (int i = 0; i < k_cases; ++i) cases.push_back(gort::select_case::recv(chans[i], got[i]));
    const std::uint64_t base = parks();
    gort::go([&chans, base] {
      EXPECT_TRUE(parked_since(base, 1));  // the select waits: its blocking path is tested
      chans[9].send(99);
    });
    EXPECT_EQ(gort::select(cases), 9u);
    EXPECT_EQ(got[9], 99);
    for (int i = 0; i < k_cases; ++i) {
      EXPECT_FALSE(chans[i].try_send(i)) << "a waiter left on channel " << i;
    }
  });
}

// select_case::recv's contract: the destination is "left empty if c is closed", also when the
// case list is reused and the destination still holds the previous round's value.
TEST_P(Chan, RuntimeListSelectRecvFromClosedLeavesDestinationEmpty) {
  run([] {
    gort::chan<int> a(1);
    std::optional<int> ra;
    std::vector<gort::select_case> cases{gort::select_case::recv(a, ra)};
    a.send(8);
    EXPECT_EQ(gort::select(cases), 0u);
    EXPECT_EQ(ra, 8);
    a.close();
    EXPECT_EQ(gort::select(cases), 0u);
    EXPECT_FALSE(ra.has_value()) << "receive from a closed channel left the old value " << *ra;
  });
}

// Selects with no cases or only nil channels: with a default they take it at once; without one
// they block forever.
TEST_P(Chan, ZeroCasesAndOnlyNilChannels) {
  run([] {
    int defaults = 0;
    EXPECT_EQ(gort::select(gort::default_case([&] { ++defaults; })), 0u);
    gort::chan<int> nil;
    EXPECT_EQ(gort::select(gort::recv(nil), gort::send(nil, 1), gort::default_case([&] { ++defaults; })),
              2u);
    EXPECT_EQ(defaults, 2);
    std::vector<gort::select_case> only_default{gort::select_case::default_case()};
    EXPECT_EQ(gort::select(only_default), 0u);
    std::optional<int> out;
    std::vector<gort::select_case> nil_and_default{gort::select_case::recv(nil, out),
                                                   gort::select_case::default_case()};
    EXPECT_EQ(gort::select(nil_and_default), 1u);

    // The blocking forms; these goroutines are abandoned blocked.
    gort::chan<int> empty_returned(1);
    gort::chan<int> list_returned(1);
    gort::chan<int> nil_returned(1);
    gort::go([&] {
      gort::select();
      empty_returned.send(1);
    });
    gort::go([&] {
      gort::select(std::span<gort::select_case>{});
      list_returned.send(1);
    });
    // The run-time list form allocates its working arrays, which a goroutine blocked for good
    // never frees: LeakSanitizer would report them, so ASan builds skip that one.
    if (!gort_test::k_asan) {
      gort::go([&] {
        std::optional<int> o;
        std::vector<gort::select_case> v{gort::select_case::recv(nil, o)};
        gort::select(v);
        nil_returned.send(1);
      });
    }
    EXPECT_TRUE(still_blocked(empty_returned, 20ms));
    EXPECT_TRUE(still_blocked(list_returned, 1ms));
    EXPECT_TRUE(still_blocked(nil_returned, 1ms));
  });
}

// Only the fired case's handler runs, after the operation, with the received value.
TEST_P(Chan, SelectRunsOnlyTheFiredHandler) {
  run([] {
    gort::chan<int> a(1);
    gort::chan<int> b(1);
    gort::chan<int> full(1);
    full.send(0);
    std::vector<std::string> ran;
    a.send(3);
    const std::size_t i = gort::select(
        gort::send(full, 1, [&] { ran.push_back("send"); }),
        gort::recv(b, [&](std::optional<int>) { ran.push_back("b"); }),
        gort::recv(a, [&](std::optional<int> v) { ran.push_back("a" + std::to_string(v.value_or(-1))); }),
        gort::default_case([&] { ran.push_back("default"); }));
    EXPECT_EQ(i, 2u);
    EXPECT_EQ(ran, std::vector<std::string>{"a3"});
    b.close();
    ran.clear();
    EXPECT_EQ(gort::select(gort::recv(b, [&](std::optional<int> v) {
                ran.push_back(v ? "value" : "closed");
              })),
              0u);
    EXPECT_EQ(ran, std::vector<std::string>{"closed"});
    // Handles are shared references: copies compare equal and act on one channel.
    gort::chan<int> a2 = a;
    EXPECT_TRUE(a2 == a);
    EXPECT_FALSE(a2 == b);
    a2.send(9);
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(a.recv(), 9);
  });
}

}  // namespace
