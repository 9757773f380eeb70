// Ports of Go's channel test programs (Go's test/chan directory): test/chan/fifo.go,
// test/chan/nonblock.go, test/chan/select3.go and test/closedchan.go, at GOMAXPROCS 1, 2, 4, 8.
// Test names are <program>_<function or checked rule>.
//
// select3.go's testBlock is one-sided here: "always blocks" runs the operation on a goroutine
// that must not have finished when a 20 ms timer fires in a select; "never blocks" waits for it
// to finish, failing (instead of hanging) after 10 s. Go's panics are gort::panic_error.
//
// A goroutine still parked or runnable when main returns is abandoned and never destroys what its
// closure or stack own (ASan reports that as a leak). So every goroutine is joined (its last
// operation is a wait_group::done() or a send that cannot block, and main waits for it) except
// the ones left blocked for good (nil channels, empty selects), which only reference objects of
// the test's frame.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using namespace std::chrono_literals;
using gort_test::procs_test;

class ChanPrograms : public procs_test {};
GORT_INSTANTIATE_PROCS(ChanPrograms);

// ---- helpers ----

/// Go's testPanic(always, f): f panics (any gort::panic_error; the message is returned).
template <class F>
std::optional<std::string> panic_message(F&& f) {
  try {
    f();
  } catch (const gort::panic_error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

constexpr auto k_block_window = 20ms;

/// Go's testBlock(always, f): runs f on a new goroutine that signals `done` when f returns; true
/// if it has not returned when a k_block_window timer fires. `done` (capacity >= 1) and whatever
/// f references must outlive the goroutine, which may stay blocked for good.
template <class F>
bool always_blocks(const gort::chan<int>& done, F f) {
  gort::go([&done, f]() mutable {
    f();
    done.send(1);
  });
  if (gort::select(gort::recv(done), gort::recv(gort::after(k_block_window))) == 0) return false;
  return done.try_recv().status == gort::recv_status::empty;
}

/// Go's testBlock(never, f): f, run on a new goroutine, returns (within 10 s rather than hang).
template <class F>
bool never_blocks(const gort::chan<int>& done, F f) {
  gort::go([&done, f]() mutable {
    f();
    done.send(1);
  });
  return gort::select(gort::recv(done), gort::recv(gort::after(10s))) == 0;
}

/// Retries a non-blocking operation (`attempt` returns true once it succeeded), yielding between
/// tries, as nonblock.go's loops do (Go sleeps on a 10 µs ticker there; yielding lets the
/// partner goroutine reach its blocking operation). Gives up after 10 s.
template <class F>
bool eventually(F attempt) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!attempt()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    gort::yield();
  }
  return true;
}

// ---- fifo.go: channels act as pure FIFOs ----

constexpr int k_fifo_n = 10;

TEST_P(ChanPrograms, fifo_AsynchFifo) {
  run([] {
    gort::chan<int> ch(k_fifo_n);
    for (int i = 0; i < k_fifo_n; ++i) ch.send(i);
    for (int i = 0; i < k_fifo_n; ++i) EXPECT_EQ(ch.recv().value_or(-1), i) << "bad receive";
  });
}

// A daisy chain of goroutines: each waits for its predecessor's token, receives one value from the
// shared unbuffered channel and passes the token on, so values must arrive in send order.
TEST_P(ChanPrograms, fifo_SynchFifo) {
  run([] {
    for (int round = 0; round < 20; ++round) {
      gort::chan<int> ch(0);
      gort::chan<int> in(0);
      const gort::chan<int> start = in;
      std::atomic<int> wrong{0};
      gort::wait_group chained;
      chained.add(k_fifo_n);
      for (int i = 0; i < k_fifo_n; ++i) {
        gort::chan<int> out(0);
        gort::go([ch, i, in, out, &wrong, &chained] {  // Go's Chain(ch, i, in, out)
          (void)in.recv();
          if (ch.recv().value_or(-1) != i) wrong.fetch_add(1);
          out.send(1);
          chained.done();
        });
        in = out;
      }
      start.send(0);
      for (int i = 0; i < k_fifo_n; ++i) ch.send(i);
      (void)in.recv();
      chained.wait();
      EXPECT_EQ(wrong.load(), 0) << "round " << round;
    }
  });
}

// ---- nonblock.go: non-blocking operations on several sizes and types ----

// One element type: a non-blocking receive from an empty channel takes the default; a
// non-blocking send eventually reaches a goroutine blocked receiving; a non-blocking receive
// eventually takes a goroutine's value (for an unbuffered channel, once it blocks sending).
template <class T>
void nonblock_one_type(int buffer, const T& to_receiver, const T& from_sender, const char* what) {
  // (gtest's SCOPED_TRACE is per OS thread, and a goroutine can resume on another one.)
  const std::string at = std::string(what) + " buffer=" + std::to_string(buffer) + ": ";
  gort::chan<T> c(buffer);
  gort::chan<bool> sync(0);
  gort::wait_group finished;  // joins both goroutines (see the file comment)
  finished.add(2);

  EXPECT_EQ(gort::select(gort::recv(c), gort::default_case()), 1u) << at << "blocked sender";

  gort::go([c, sync, to_receiver, &finished] {  // Go's <type>receiver
    sync.send(c.recv() == to_receiver);
    finished.done();
  });
  EXPECT_TRUE(eventually([&] { return gort::select(gort::send(c, to_receiver), gort::default_case()) == 0; })) << at
      << "receiver";
  EXPECT_TRUE(sync.recv().value_or(false)) << at << "receiver value";

  gort::go([c, sync, from_sender, &finished] {  // Go's <type>sender
    c.send(from_sender);
    sync.send(true);
    finished.done();
  });
  if (buffer > 0) {
    EXPECT_TRUE(sync.recv().value_or(false)) << at;
  }
  std::optional<T> got;
  EXPECT_TRUE(eventually([&] {
    return gort::select(gort::recv(c, [&](std::optional<T> v) { got = std::move(v); }),
                        gort::default_case()) == 0;
  })) << at << "sender";
  EXPECT_EQ(got, from_sender) << at << "sender value";
  if (buffer == 0) {
    EXPECT_TRUE(sync.recv().value_or(false)) << at;
  }
  finished.wait();
}

TEST_P(ChanPrograms, nonblock_AllSizesAndTypes) {
  run([] {
    for (int buffer = 0; buffer < 2; ++buffer) {
      nonblock_one_type<std::int32_t>(buffer, 123, 234, "i32");
      nonblock_one_type<std::int64_t>(buffer, 123456, 234567, "i64");
      nonblock_one_type<bool>(buffer, true, true, "b");
      nonblock_one_type<std::string>(buffer, "hello", "hello again", "s");
    }
  });
}

// ---- select3.go: which operations and selects block ----

TEST_P(ChanPrograms, select3_NilChannelSendAndRecvBlock) {
  run([] {
    gort::chan<int> nilch;
    gort::chan<int> d1(1);
    gort::chan<int> d2(1);
    EXPECT_TRUE(always_blocks(d1, [&] { nilch.send(7); }));
    EXPECT_TRUE(always_blocks(d2, [&] { (void)nilch.recv(); }));
  });
}

TEST_P(ChanPrograms, select3_NilChannelCasesNeverSelected) {
  run([] {
    gort::chan<int> nilch;
    bool reached = false;
    EXPECT_FALSE(panic_message([&] {
      EXPECT_EQ(gort::select(gort::send(nilch, 7, [&] { reached = true; }), gort::default_case()), 1u);
    }));
    EXPECT_FALSE(panic_message([&] {
      EXPECT_EQ(gort::select(gort::recv(nilch, [&](std::optional<int>) { reached = true; }),
                             gort::default_case()),
                1u);
    }));
    EXPECT_FALSE(reached) << "control flow shouldn't reach here";
  });
}

TEST_P(ChanPrograms, select3_SendWithFreeBufferNeverBlocks) {
  run([] {
    gort::chan<int> done(1);
    EXPECT_TRUE(never_blocks(done, [] {
      gort::chan<int> ch(1);
      ch.send(7);
    }));
  });
}

TEST_P(ChanPrograms, select3_RecvFromClosedNeverBlocks) {
  run([] {
    gort::chan<int> closedch(0);
    closedch.close();
    std::atomic<int> wrong{0};
    gort::chan<int> done(1);
    EXPECT_TRUE(never_blocks(done, [&] {
      for (int i = 0; i < 10; ++i) {
        if (closedch.recv().value_or(0) != 0) wrong.fetch_add(1);
        if (closedch.recv().has_value()) wrong.fetch_add(1);  // x, ok := <-closedch: ok false
      }
    }));
    EXPECT_EQ(wrong.load(), 0) << "expected 0, false from closed channel";
  });
}

TEST_P(ChanPrograms, select3_SendToClosedPanics) {
  run([] {
    gort::chan<int> closedch(0);
    closedch.close();
    EXPECT_EQ(panic_message([&] { closedch.send(7); }), "send on closed channel");
    EXPECT_EQ(panic_message([&] { gort::select(gort::send(closedch, 7)); }),
              "send on closed channel");
  });
}

TEST_P(ChanPrograms, select3_RecvFromNonReadyBlocks) {
  run([] {
    gort::chan<int> ch(0);
    gort::chan<int> done(1);
    EXPECT_TRUE(always_blocks(done, [&] { (void)ch.recv(); }));
    ch.send(1);  // release it
    EXPECT_EQ(done.recv().value_or(0), 1);
  });
}

TEST_P(ChanPrograms, select3_EmptySelectBlocks) {
  run([] {
    gort::chan<int> done(1);
    EXPECT_TRUE(always_blocks(done, [] { gort::select(); }));
  });
}

TEST_P(ChanPrograms, select3_SelectsWithOnlyNilChannelsBlock) {
  run([] {
    gort::chan<int> nilch;
    gort::chan<int> d1(1);
    gort::chan<int> d2(1);
    gort::chan<int> d3(1);
    std::atomic<bool> reached{false};
    auto unreachable = [&] { reached = true; };
    EXPECT_TRUE(always_blocks(d1, [&] {
      gort::select(gort::recv(nilch, [&](std::optional<int>) { unreachable(); }));
    }));
    EXPECT_TRUE(always_blocks(d2, [&] { gort::select(gort::send(nilch, 7, unreachable)); }));
    EXPECT_TRUE(always_blocks(d3, [&] {
      gort::select(gort::recv(nilch, [&](std::optional<int>) { unreachable(); }),
                   gort::send(nilch, 7, unreachable));
    }));
    EXPECT_FALSE(reached.load());
  });
}

TEST_P(ChanPrograms, select3_NonReadySelectsBlock) {
  run([] {
    gort::chan<int> ch(0);
    gort::chan<int> done(1);
    std::atomic<int> got{0};
    EXPECT_TRUE(always_blocks(done, [&] {
      gort::select(gort::recv(ch, [&](std::optional<int> v) { got = v.value_or(-1); }));
    }));
    ch.send(5);  // release it
    EXPECT_EQ(done.recv().value_or(0), 1);
    EXPECT_EQ(got.load(), 5);
  });
}

TEST_P(ChanPrograms, select3_SelectsWithDefaultNeverBlock) {
  run([] {
    gort::chan<int> nilch;
    gort::chan<int> d1(1);
    gort::chan<int> d2(1);
    gort::chan<int> d3(1);
    EXPECT_TRUE(never_blocks(d1, [] { EXPECT_EQ(gort::select(gort::default_case()), 0u); }));
    EXPECT_TRUE(never_blocks(d2, [&] {
      EXPECT_EQ(gort::select(gort::recv(nilch), gort::default_case()), 1u);
    }));
    EXPECT_TRUE(never_blocks(d3, [&] {
      EXPECT_EQ(gort::select(gort::send(nilch, 7), gort::default_case()), 1u);
    }));
  });
}

TEST_P(ChanPrograms, select3_ReadySelectsNeverBlock) {
  run([] {
    gort::chan<int> d1(1);
    gort::chan<int> d2(1);
    EXPECT_TRUE(never_blocks(d1, [] {
      gort::chan<int> ch(1);
      EXPECT_EQ(gort::select(gort::send(ch, 7), gort::default_case()), 0u);
    }));
    EXPECT_TRUE(never_blocks(d2, [] {
      gort::chan<int> ch(1);
      ch.send(7);
      EXPECT_EQ(gort::select(gort::recv(ch), gort::default_case()), 0u);
    }));
  });
}

// Selects on closed channels behave like the plain operations: receives never block, sends panic.
TEST_P(ChanPrograms, select3_ClosedChannelSelects) {
  run([] {
    gort::chan<int> closedch(0);
    closedch.close();
    gort::chan<int> d1(1);
    gort::chan<int> d2(1);
    EXPECT_TRUE(never_blocks(d1, [closedch] { gort::select(gort::recv(closedch)); }));
    std::atomic<bool> ok{true};
    EXPECT_TRUE(never_blocks(d2, [closedch, &ok] {
      gort::select(gort::recv(closedch, [&](std::optional<int> v) { ok = v.has_value(); }));
    }));
    EXPECT_FALSE(ok.load()) << "x, ok := <-closedch in a select: ok must be false";
    EXPECT_EQ(panic_message([&] { gort::select(gort::send(closedch, 7)); }),
              "send on closed channel");
  });
}

// A select that both sends on and receives from one unbuffered channel still blocks: it cannot
// pair with itself.
TEST_P(ChanPrograms, select3_SelectSeeingItselfBlocks) {
  run([] {
    gort::chan<int> c(0);
    gort::chan<int> done(1);
    std::atomic<int> fired{-1};
    EXPECT_TRUE(always_blocks(done, [&] {
      fired = static_cast<int>(gort::select(gort::send(c, 1), gort::recv(c)));
    }));
    EXPECT_EQ(c.recv().value_or(0), 1);  // release it through its send case
    EXPECT_EQ(done.recv().value_or(0), 1);
    EXPECT_EQ(fired.load(), 0);
  });
}

// ---- closedchan.go: close(c) and receives from a closed channel ----

// Go's Chan interface over one channel, implemented three ways.
class chan_ops {
 public:
  explicit chan_ops(gort::chan<int> c) : c_(std::move(c)) {}
  virtual ~chan_ops() = default;
  virtual void send(int x) = 0;
  virtual bool nbsend(int x) = 0;
  virtual int recv() = 0;
  virtual std::pair<int, bool> nbrecv() = 0;            // x, selected
  virtual std::pair<int, bool> recv2() = 0;             // x, ok
  virtual std::tuple<int, bool, bool> nbrecv2() = 0;    // x, ok, selected
  void close() { c_.close(); }
  virtual const char* impl() const = 0;

 protected:
  gort::chan<int> c_;
};

// Go's XChan: direct operations (try_send/try_recv are gort's direct non-blocking forms).
class x_chan final : public chan_ops {
 public:
  using chan_ops::chan_ops;
  void send(int x) override { c_.send(x); }
  bool nbsend(int x) override { return c_.try_send(x); }
  int recv() override { return c_.recv().value_or(0); }
  std::pair<int, bool> nbrecv() override {
    const gort::try_recv_result<int> r = c_.try_recv();
    return {r.value.value_or(0), r.status != gort::recv_status::empty};
  }
  std::pair<int, bool> recv2() override {
    const std::optional<int> v = c_.recv();
    return {v.value_or(0), v.has_value()};
  }
  std::tuple<int, bool, bool> nbrecv2() override {
    const gort::try_recv_result<int> r = c_.try_recv();
    return {r.value.value_or(0), r.status == gort::recv_status::value,
            r.status != gort::recv_status::empty};
  }
  const char* impl() const override { return "(direct)"; }
};

// Go's SChan: the operations through selects.
class s_chan final : public chan_ops {
 public:
  using chan_ops::chan_ops;
  void send(int x) override { gort::select(gort::send(c_, x)); }
  bool nbsend(int x) override {
    return gort::select(gort::default_case(), gort::send(c_, x)) == 1;
  }
  int recv() override {
    int x = -1;
    gort::select(gort::recv(c_, [&](std::optional<int> v) { x = v.value_or(0); }));
    return x;
  }
  std::pair<int, bool> nbrecv() override {
    int x = 0;
    const bool selected =
        gort::select(gort::default_case(),
                     gort::recv(c_, [&](std::optional<int> v) { x = v.value_or(0); })) == 1;
    return {x, selected};
  }
  std::pair<int, bool> recv2() override {
    std::pair<int, bool> r{-1, true};
    gort::select(gort::recv(c_, [&](std::optional<int> v) { r = {v.value_or(0), v.has_value()}; }));
    return r;
  }
  std::tuple<int, bool, bool> nbrecv2() override {
    std::tuple<int, bool, bool> r{0, false, false};
    gort::select(gort::default_case(), gort::recv(c_, [&](std::optional<int> v) {
                   r = {v.value_or(0), v.has_value(), true};
                 }));
    return r;
  }
  const char* impl() const override { return "(select)"; }
};

// Go's SSChan: the operations through larger selects (with a never-ready `dummy` case).
class ss_chan final : public chan_ops {
 public:
  ss_chan(gort::chan<int> c, gort::chan<bool> dummy) : chan_ops(std::move(c)), dummy_(std::move(dummy)) {}
  void send(int x) override {
    EXPECT_EQ(gort::select(gort::send(c_, x), gort::recv(dummy_)), 0u);
  }
  bool nbsend(int x) override {
    const std::size_t i = gort::select(gort::default_case(), gort::recv(dummy_), gort::send(c_, x));
    EXPECT_NE(i, 1u) << "nbsend";
    return i == 2;
  }
  int recv() override {
    int x = -1;
    EXPECT_EQ(gort::select(gort::recv(dummy_),
                           gort::recv(c_, [&](std::optional<int> v) { x = v.value_or(0); })),
              1u)
        << "recv";
    return x;
  }
  std::pair<int, bool> nbrecv() override {
    int x = 0;
    const std::size_t i =
        gort::select(gort::recv(dummy_), gort::default_case(),
                     gort::recv(c_, [&](std::optional<int> v) { x = v.value_or(0); }));
    EXPECT_NE(i, 0u) << "nbrecv";
    return {x, i == 2};
  }
  std::pair<int, bool> recv2() override {
    std::pair<int, bool> r{-1, true};
    EXPECT_EQ(gort::select(gort::recv(dummy_), gort::recv(c_, [&](std::optional<int> v) {
                             r = {v.value_or(0), v.has_value()};
                           })),
              1u)
        << "recv2";
    return r;
  }
  std::tuple<int, bool, bool> nbrecv2() override {
    std::tuple<int, bool, bool> r{0, false, false};
    const std::size_t i = gort::select(gort::recv(dummy_), gort::default_case(),
                                       gort::recv(c_, [&](std::optional<int> v) {
                                         r = {v.value_or(0), v.has_value(), true};
                                       }));
    EXPECT_NE(i, 0u) << "nbrecv2";
    return r;
  }
  const char* impl() const override { return "(larger select)"; }

 private:
  gort::chan<bool> dummy_;
};

std::unique_ptr<chan_ops> make_ops(int kind, gort::chan<int> c, const gort::chan<bool>& dummy) {
  switch (kind) {
    case 0:
      return std::make_unique<x_chan>(std::move(c));
    case 1:
      return std::make_unique<s_chan>(std::move(c));
    default:
      return std::make_unique<ss_chan>(std::move(c), dummy);
  }
}

bool should_panic(const std::function<void()>& f) {
  return panic_message(f) == std::optional<std::string>("send on closed channel");
}

// Go's test1: a closed, drained channel yields (0, false) to every receive form, and sends panic
// without leaving a value behind.
void test1(chan_ops& c, const std::string& label) {
  const std::string at = label + " " + c.impl() + ": ";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.recv(), 0) << at << "recv on closed";
    EXPECT_EQ(c.recv2(), std::make_pair(0, false)) << at << "recv2 on closed";
    // A non-blocking receive from a closed channel is selected (it did not block).
    EXPECT_EQ(c.nbrecv(), std::make_pair(0, true)) << at << "recv on closed nb";
    EXPECT_EQ(c.nbrecv2(), std::make_tuple(0, false, true)) << at << "recv2 on closed nb";
  }
  EXPECT_TRUE(should_panic([&] { (void)c.nbsend(1); })) << at << "nbsend on closed";
  EXPECT_EQ(c.recv(), 0) << at << "recv on closed got non-zero after send on closed";
  EXPECT_TRUE(should_panic([&] { c.send(2); })) << at << "send on closed";
  EXPECT_EQ(c.recv(), 0) << at << "recv on closed got non-zero after send on closed";
}

gort::chan<int> closed_sync() {
  gort::chan<int> c(0);
  c.close();
  return c;
}

gort::chan<int> closed_async() {
  gort::chan<int> c(2);
  c.send(1);
  c.close();
  return c;
}

TEST_P(ChanPrograms, closedchan_Sync) {
  run([] {
    gort::chan<bool> dummy(0);
    for (int kind = 0; kind < 3; ++kind) test1(*make_ops(kind, closed_sync(), dummy), "test1");
  });
}

// Go's testasync1..4: the value buffered before close comes out through each receive form, then
// test1's checks hold.
TEST_P(ChanPrograms, closedchan_Async) {
  run([] {
    gort::chan<bool> dummy(0);
    for (int kind = 0; kind < 3; ++kind) {
      auto c = make_ops(kind, closed_async(), dummy);
      const std::string at = std::string("testasync1 ") + c->impl() + ": ";
      EXPECT_EQ(c->recv(), 1) << at;
      test1(*c, "testasync");
    }
    for (int kind = 0; kind < 3; ++kind) {
      auto c = make_ops(kind, closed_async(), dummy);
      const std::string at = std::string("testasync2 ") + c->impl() + ": ";
      EXPECT_EQ(c->recv2(), std::make_pair(1, true)) << at;
      test1(*c, "testasync");
    }
    for (int kind = 0; kind < 3; ++kind) {
      auto c = make_ops(kind, closed_async(), dummy);
      const std::string at = std::string("testasync3 ") + c->impl() + ": ";
      EXPECT_EQ(c->nbrecv(), std::make_pair(1, true)) << at;
      test1(*c, "testasync");
    }
    for (int kind = 0; kind < 3; ++kind) {
      auto c = make_ops(kind, closed_async(), dummy);
      const std::string at = std::string("testasync4 ") + c->impl() + ": ";
      EXPECT_EQ(c->nbrecv2(), std::make_tuple(1, true, true)) << at;
      test1(*c, "testasync");
    }
  });
}

// close of a nil channel and of a closed channel panic.
TEST_P(ChanPrograms, closedchan_ClosePanics) {
  run([] {
    gort::chan<int> ch;
    EXPECT_EQ(panic_message([&] { ch.close(); }), "close of nil channel");
    ch = gort::chan<int>(0);
    ch.close();
    EXPECT_EQ(panic_message([&] { ch.close(); }), "close of closed channel");
  });
}

}  // namespace
