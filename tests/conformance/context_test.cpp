// gort::context: ports of Go's context tests (src/context/x_test.go and afterfunc_test.go,
// Go 1.21) and gort's own checks (the error category, no growth of a parent's list,
// wide and deep trees, deadlines never past the parent's, the context-aware chan and sleep
// forms, plain threads), at GOMAXPROCS 1, 2, 4 and 8.
//
// Go's tests wrap contexts in `otherContext{ctx}`, a user type that embeds a Context; gort's
// context is a closed type, so with_value plays that role (a derived context that is not itself
// cancellable). Go's parentCancelCtx/children introspection is gort::detail::context_links.
// "Done blocks" is checked without waiting (try_recv finds nothing); waits that must end are
// bounded by a generous timer in a select, never by a sleep.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using namespace std::chrono_literals;
using gort_test::procs_test;
using gort_test::scaled;

class Context : public procs_test {};
GORT_INSTANTIATE_PROCS(Context);

constexpr auto k_short = 4ms;     // Go's shortDuration
constexpr auto k_very_long = 10s;  // Go's veryLongDuration: only bounds waits that must end

// User-defined causes in their own category, as a service would define them.
enum class test_errc { parent_cause = 1, child_cause, too_slow, finished_early, because, doomed };

class test_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "context_test"; }
  std::string message(int ev) const override { return "test cause " + std::to_string(ev); }
};
const std::error_category& test_category() {
  static const test_category_impl c;
  return c;
}
std::error_code make_error_code(test_errc e) { return {static_cast<int>(e), test_category()}; }

}  // namespace

template <>
struct std::is_error_code_enum<test_errc> : std::true_type {};

namespace {

bool is_done(const gort::context& c) { return c.done().try_recv().status == gort::recv_status::closed; }

// Waits (bounded) for c to be done; true if it is.
bool wait_done(const gort::context& c, std::chrono::nanoseconds bound = k_very_long) {
  bool done = false;
  gort::select(gort::recv(c.done(), [&](auto) { done = true; }), gort::recv(gort::after(bound)));
  return done;
}

// ---- Background, TODO ----

TEST_P(Context, TestBackground) {
  run([] {
    gort::context c = gort::background();
    EXPECT_FALSE(c.done());  // the nil channel
    EXPECT_FALSE(is_done(c));
    EXPECT_FALSE(c.err());
    EXPECT_FALSE(c.deadline());
    EXPECT_EQ(c.to_string(), "context.Background");
    EXPECT_EQ(gort::context{}, c);
  });
}

TEST_P(Context, TestTODO) {
  run([] {
    gort::context c = gort::todo();
    EXPECT_FALSE(c.done());
    EXPECT_FALSE(is_done(c));
    EXPECT_FALSE(c.err());
    EXPECT_EQ(c.to_string(), "context.TODO");
    static constexpr gort::context_key<int> key{"k"};
    EXPECT_EQ(gort::with_value(c, key, 1).to_string(), "context.TODO.WithValue(k, 1)");
  });
}

// ---- WithCancel ----

inline constexpr gort::context_key<int> k_wrap{"wrap"};

TEST_P(Context, TestWithCancel) {
  run([] {
    auto [c1, cancel] = gort::with_cancel(gort::background());
    EXPECT_EQ(c1.to_string(), "context.Background.WithCancel");
    gort::context o = gort::with_value(c1, k_wrap, 1);  // Go's otherContext{c1}
    auto [c2, cancel2] = gort::with_cancel(o);
    const gort::context* contexts[] = {&c1, &o, &c2};
    for (const gort::context* c : contexts) {
      EXPECT_TRUE(c->done());
      EXPECT_FALSE(c->err());
      EXPECT_FALSE(is_done(*c)) << "done() should block";
    }
    cancel();  // propagates synchronously
    for (const gort::context* c : contexts) {
      EXPECT_TRUE(is_done(*c)) << "done() blocked, but shouldn't have";
      EXPECT_EQ(c->err(), gort::errc::canceled);
    }
    cancel2();
  });
}

TEST_P(Context, TestParentFinishesChild) {
  run([] {
    // parent -> cancel_child; parent -> value_child -> timer_child; parent -> after_func.
    auto [parent, cancel] = gort::with_cancel(gort::background());
    auto [cancel_child, stop1] = gort::with_cancel(parent);
    gort::context value_child = gort::with_value(parent, k_wrap, 2);
    auto [timer_child, stop2] = gort::with_timeout(value_child, k_very_long);
    gort::after_func_handle after_stop = gort::after_func(parent, [] {});
    for (const gort::context* c : {&parent, &cancel_child, &value_child, &timer_child}) {
      EXPECT_FALSE(is_done(*c));
    }
    // The parent's list holds the three cancellable children (the value child is transparent).
    EXPECT_EQ(gort::detail::context_links(parent), 3u);
    cancel();
    EXPECT_EQ(gort::detail::context_links(parent), 0u);
    for (const gort::context* c : {&parent, &cancel_child, &value_child, &timer_child}) {
      EXPECT_TRUE(is_done(*c));
      EXPECT_EQ(c->err(), gort::errc::canceled);
    }
    // A child of a cancelled parent is done at construction.
    gort::context precancelled = gort::with_value(parent, k_wrap, 3);
    EXPECT_TRUE(is_done(precancelled));
    EXPECT_EQ(precancelled.err(), gort::errc::canceled);
    auto [pc2, stop3] = gort::with_cancel(parent);
    EXPECT_TRUE(is_done(pc2));
    EXPECT_EQ(gort::detail::context_links(parent), 0u);
    stop1();
    stop2();
    stop3();
  });
}

TEST_P(Context, TestChildFinishesFirst) {
  run([] {
    auto [cancelable, stop] = gort::with_cancel(gort::background());
    for (const gort::context& parent : {gort::background(), cancelable}) {
      const bool parent_cancellable = static_cast<bool>(parent.done());
      auto [child, cancel] = gort::with_cancel(parent);
      EXPECT_FALSE(is_done(parent));
      EXPECT_FALSE(is_done(child));
      if (parent_cancellable) EXPECT_EQ(gort::detail::context_links(parent), 1u);
      cancel();
      if (parent_cancellable) EXPECT_EQ(gort::detail::context_links(parent), 0u);
      EXPECT_TRUE(is_done(child));
      EXPECT_EQ(child.err(), gort::errc::canceled);
      EXPECT_FALSE(is_done(parent));
      EXPECT_FALSE(parent.err());
    }
    stop();
  });
}

TEST_P(Context, TestCancelRemoves) {
  run([] {
    {
      auto [ctx, c0] = gort::with_cancel(gort::background());
      EXPECT_EQ(gort::detail::context_links(ctx), 0u) << "after creation";
      auto [child, cancel] = gort::with_cancel(ctx);
      EXPECT_EQ(gort::detail::context_links(ctx), 1u) << "with a with_cancel child";
      cancel();
      EXPECT_EQ(gort::detail::context_links(ctx), 0u) << "after cancelling the child";
    }
    {
      auto [ctx, c0] = gort::with_cancel(gort::background());
      auto [child, cancel] = gort::with_timeout(ctx, 60min);
      EXPECT_EQ(gort::detail::context_links(ctx), 1u) << "with a with_timeout child";
      cancel();
      EXPECT_EQ(gort::detail::context_links(ctx), 0u) << "after cancelling the with_timeout child";
    }
    {
      auto [ctx, c0] = gort::with_cancel(gort::background());
      gort::after_func_handle stop = gort::after_func(ctx, [] {});
      EXPECT_EQ(gort::detail::context_links(ctx), 1u) << "with an after_func";
      EXPECT_TRUE(stop.stop());
      EXPECT_EQ(gort::detail::context_links(ctx), 0u) << "after stopping the after_func";
    }
  });
}

// gort: the parent does not grow when children come and go, cancelled or simply dropped.
TEST_P(Context, ChildrenCreatedAndCancelledInALoopDoNotAccumulate) {
  run([] {
    auto [parent, cancel] = gort::with_cancel(gort::background());
    for (int i = 0; i < 10'000; ++i) {
      auto [child, child_cancel] = gort::with_cancel(parent);
      if (i % 2 == 0) child_cancel();  // the odd ones are just dropped
      auto [timed, timed_cancel] = gort::with_timeout(parent, 1h);
      timed_cancel();
    }
    EXPECT_EQ(gort::detail::context_links(parent), 0u);
    cancel();
  });
}

// ---- deadlines ----

// (No SCOPED_TRACE in these tests: gtest keeps it per OS thread, and a goroutine can resume on
// another one; the name goes into each message instead.)
void test_deadline(const gort::context& c, const char* name) {
  ASSERT_TRUE(wait_done(c)) << name << ": context not timed out after " << k_very_long.count()
                            << " s";
  EXPECT_EQ(c.err(), gort::errc::deadline_exceeded) << name;
  if (auto d = c.deadline()) EXPECT_GE(gort::clock::now(), *d) << name << ": done before its deadline";
}

TEST_P(Context, TestDeadline) {
  run([] {
    {
      auto [c, cancel] = gort::with_deadline(gort::background(), gort::clock::now() + k_short);
      EXPECT_EQ(c.to_string().rfind("context.Background.WithDeadline(", 0), 0u) << c.to_string();
      test_deadline(c, "WithDeadline");
    }
    {
      auto [c, cancel] = gort::with_deadline(gort::background(), gort::clock::now() + k_short);
      test_deadline(gort::with_value(c, k_wrap, 0), "WithDeadline+otherContext");
    }
    {
      auto [c, cancel] = gort::with_deadline(gort::background(), gort::clock::now() + k_short);
      gort::context o = gort::with_value(c, k_wrap, 0);
      auto [c2, cancel2] = gort::with_deadline(o, gort::clock::now() + k_very_long);
      test_deadline(c2, "WithDeadline+otherContext+WithDeadline");
    }
    {
      auto [c, cancel] = gort::with_deadline(gort::background(), gort::clock::now() - k_short);
      EXPECT_TRUE(is_done(c)) << "a deadline in the past cancels at once";
      test_deadline(c, "WithDeadline+inthepast");
    }
    {
      auto [c, cancel] = gort::with_deadline(gort::background(), gort::clock::now());
      test_deadline(c, "WithDeadline+now");
    }
  });
}

TEST_P(Context, TestTimeout) {
  run([] {
    {
      auto [c, cancel] = gort::with_timeout(gort::background(), k_short);
      EXPECT_EQ(c.to_string().rfind("context.Background.WithDeadline(", 0), 0u);
      test_deadline(c, "WithTimeout");
    }
    {
      auto [c, cancel] = gort::with_timeout(gort::background(), k_short);
      test_deadline(gort::with_value(c, k_wrap, 0), "WithTimeout+otherContext");
    }
    {
      auto [c, cancel] = gort::with_timeout(gort::background(), k_short);
      auto [c2, cancel2] = gort::with_timeout(gort::with_value(c, k_wrap, 0), k_very_long);
      test_deadline(c2, "WithTimeout+otherContext+WithTimeout");
    }
  });
}

TEST_P(Context, TestCanceledTimeout) {
  run([] {
    auto [c, stop] = gort::with_timeout(gort::background(), 1s);
    gort::context o = gort::with_value(c, k_wrap, 0);
    auto [c2, cancel] = gort::with_timeout(o, k_very_long);
    cancel();  // propagates synchronously
    EXPECT_TRUE(is_done(c2));
    EXPECT_EQ(c2.err(), gort::errc::canceled);
    EXPECT_FALSE(is_done(c));
    stop();
  });
}

// gort: a child's deadline never exceeds its parent's.
TEST_P(Context, ChildDeadlineNeverExceedsParents) {
  run([] {
    const auto t0 = gort::clock::now();
    auto [parent, cancel] = gort::with_deadline(gort::background(), t0 + 1h);
    auto [later, c1] = gort::with_deadline(parent, t0 + 2h);
    auto [sooner, c2] = gort::with_deadline(parent, t0 + 30min);
    ASSERT_TRUE(later.deadline());
    EXPECT_EQ(*later.deadline(), *parent.deadline());
    const std::string later_name = later.to_string();  // Go: WithCancel(parent)
    EXPECT_EQ(later_name.rfind("context.Background.WithDeadline(", 0), 0u) << later_name;
    EXPECT_EQ(later_name.substr(later_name.size() - 11), ".WithCancel") << later_name;
    EXPECT_EQ(*sooner.deadline(), t0 + 30min);
    EXPECT_EQ(*gort::with_value(sooner, k_wrap, 1).deadline(), t0 + 30min);
    EXPECT_FALSE(gort::without_cancel(sooner).deadline());
    cancel();
    EXPECT_TRUE(is_done(later));
    EXPECT_TRUE(is_done(sooner));
    EXPECT_EQ(sooner.err(), gort::errc::canceled);
  });
}

// gort: a timeout too large to add to now saturates; the context still reports a deadline.
TEST_P(Context, HugeTimeoutSaturatesToAFarDeadline) {
  run([] {
    auto [ctx, cancel] = gort::with_timeout(gort::background(), std::chrono::hours::max());
    ASSERT_TRUE(ctx.deadline());
    EXPECT_GT(*ctx.deadline(), gort::clock::now() + std::chrono::hours(24 * 365 * 100));
    EXPECT_FALSE(is_done(ctx));
    auto [child, c2] = gort::with_timeout(ctx, 1h);
    EXPECT_LT(*child.deadline(), *ctx.deadline());
    gort::wait_group slept;
    slept.add(1);
    std::error_code e;
    gort::go([&, c = ctx] {
      e = gort::sleep_for(c, std::chrono::hours::max());  // until cancelled, not "already over"
      slept.done();
    });
    cancel();
    slept.wait();
    EXPECT_EQ(e, gort::errc::canceled);
    EXPECT_EQ(child.err(), gort::errc::canceled);
  });
}

// ---- values ----

inline constexpr gort::context_key<const char*> k1{"key1"};
inline constexpr gort::context_key<const char*> k2{"key2(1)"};
inline constexpr gort::context_key<const char*> k3{"key2(3)"};

void check_values(const gort::context& c, const char* nm, std::string v1, std::string v2,
                  std::string v3) {
  const gort::context_key<const char*>* keys[] = {&k1, &k2, &k3};
  const std::string want[] = {v1, v2, v3};
  for (int i = 0; i < 3; ++i) {
    const char* const* v = c.value(*keys[i]);
    const std::string got = (v != nullptr && *v != nullptr) ? *v : "";
    EXPECT_EQ(got, want[i]) << nm << ": value(" << keys[i]->name() << ")";
  }
}

TEST_P(Context, TestValues) {
  run([] {
    gort::context c0 = gort::background();
    check_values(c0, "c0", "", "", "");
    gort::context c1 = gort::with_value(gort::background(), k1, "c1k1");
    check_values(c1, "c1", "c1k1", "", "");
    EXPECT_EQ(c1.to_string(), "context.Background.WithValue(key1, c1k1)");
    gort::context c2 = gort::with_value(c1, k2, "c2k2");
    check_values(c2, "c2", "c1k1", "c2k2", "");
    EXPECT_EQ(c2.to_string(),
              "context.Background.WithValue(key1, c1k1).WithValue(key2(1), c2k2)");
    gort::context c3 = gort::with_value(c2, k3, "c3k3");
    check_values(c3, "c3", "c1k1", "c2k2", "c3k3");
    gort::context c4 = gort::with_value(c3, k1, nullptr);  // masks k1
    check_values(c4, "c4", "", "c2k2", "c3k3");
    EXPECT_EQ(c4.to_string(),
              "context.Background.WithValue(key1, c1k1).WithValue(key2(1), c2k2)."
              "WithValue(key2(3), c3k3).WithValue(key1, <nil>)");
    // Through "otherContext" wrappers (a cancellable layer does not hide values either).
    auto [o0, s0] = gort::with_cancel(gort::background());
    check_values(o0, "o0", "", "", "");
    auto [o1, s1] = gort::with_cancel(gort::with_value(gort::background(), k1, "c1k1"));
    check_values(o1, "o1", "c1k1", "", "");
    gort::context o2 = gort::with_value(o1, k2, "o2k2");
    check_values(o2, "o2", "c1k1", "o2k2", "");
    auto [o3, s3] = gort::with_cancel(c4);
    check_values(o3, "o3", "", "c2k2", "c3k3");
    gort::context o4 = gort::with_value(o3, k3, nullptr);
    check_values(o4, "o4", "", "c2k2", "");
  });
}

// gort: keys are typed; a value of any type lives as long as the context.
TEST_P(Context, TypedValuesLiveWithTheContext) {
  static constexpr gort::context_key<std::shared_ptr<int>> k_ptr{"ptr"};
  static constexpr gort::context_key<std::string> k_str{"str"};
  run([] {
    std::weak_ptr<int> watch;
    {
      auto p = std::make_shared<int>(42);
      watch = p;
      gort::context c = gort::with_value(gort::with_value(gort::background(), k_str, "s"), k_ptr,
                                         std::move(p));
      ASSERT_NE(c.value(k_ptr), nullptr);
      EXPECT_EQ(**c.value(k_ptr), 42);
      EXPECT_EQ(*c.value(k_str), "s");
      EXPECT_EQ(c.to_string(), "context.Background.WithValue(str, s).WithValue(ptr, <value>)");
      gort::context copy = c;
      c = gort::background();
      EXPECT_FALSE(watch.expired());
      EXPECT_EQ(**copy.value(k_ptr), 42);
    }
    EXPECT_TRUE(watch.expired());
  });
}

// ---- concurrency ----

TEST_P(Context, TestSimultaneousCancels) {
  run([] {
    auto [root, root_cancel] = gort::with_cancel(gort::background());
    std::vector<std::pair<gort::context, gort::cancel_func>> all;
    all.emplace_back(root, root_cancel);
    std::vector<gort::context> q{root};
    for (std::size_t head = 0; head < q.size() && all.size() < 100; ++head) {
      gort::context parent = q[head];
      for (int i = 0; i < 4; ++i) {
        auto [ctx, cancel] = gort::with_cancel(parent);
        all.emplace_back(ctx, cancel);
        q.push_back(ctx);
      }
    }
    std::shuffle(all.begin(), all.end(), std::mt19937(7));
    gort::wait_group wg;
    wg.add(static_cast<std::int64_t>(all.size()));
    for (auto& [ctx, cancel] : all) {
      gort::go([&wg, c = cancel] {
        c();
        wg.done();
      });
    }
    std::shuffle(all.begin(), all.end(), std::mt19937(11));
    for (auto& [ctx, cancel] : all) {
      ASSERT_TRUE(wait_done(ctx)) << "timed out waiting for done()";
      EXPECT_EQ(ctx.err(), gort::errc::canceled);
    }
    wg.wait();  // all the cancel functions return
  });
}

TEST_P(Context, TestInterlockedCancels) {
  run([] {
    auto [parent, cancel_parent] = gort::with_cancel(gort::background());
    auto [child, cancel_child] = gort::with_cancel(parent);
    gort::wait_group wg;
    wg.add(1);
    gort::go([&, p = parent, cc = cancel_child] {
      (void)p.done().recv();
      cc();
      wg.done();
    });
    cancel_parent();
    EXPECT_TRUE(wait_done(child)) << "timed out waiting for child.done()";
    wg.wait();
  });
}

void test_layers(std::uint32_t seed, bool test_timeout) {
  std::mt19937 r(seed);
  std::vector<std::unique_ptr<gort::context_key<int>>> vals;
  std::vector<gort::cancel_func> cancels;
  int timers = 0;
  gort::context ctx = gort::background();
  for (int i = 0; i < 30 || timers == 0 || cancels.empty() || vals.empty(); ++i) {
    switch (r() % 3) {
      case 0:
        vals.push_back(std::make_unique<gort::context_key<int>>("layer"));
        ctx = gort::with_value(ctx, *vals.back(), static_cast<int>(vals.size() - 1));
        break;
      case 1: {
        auto [c, cancel] = gort::with_cancel(ctx);
        ctx = c;
        cancels.push_back(cancel);
        break;
      }
      case 2: {
        auto [c, cancel] =
            gort::with_timeout(ctx, test_timeout ? std::chrono::nanoseconds(k_short) : k_very_long);
        ctx = c;
        cancels.push_back(cancel);
        ++timers;
        break;
      }
    }
  }
  auto check_values = [&](const char* when) {
    for (std::size_t i = 0; i < vals.size(); ++i) {
      const int* v = ctx.value(*vals[i]);
      ASSERT_NE(v, nullptr) << when;
      EXPECT_EQ(*v, static_cast<int>(i)) << when;
    }
  };
  if (!test_timeout) EXPECT_FALSE(is_done(ctx)) << "ctx should not be canceled yet";
  EXPECT_EQ(ctx.to_string().rfind("context.Background.", 0), 0u);
  check_values("before cancel");
  if (test_timeout) {
    EXPECT_TRUE(wait_done(ctx)) << "ctx should have timed out";
    EXPECT_EQ(ctx.err(), gort::errc::deadline_exceeded);
    check_values("after timeout");
  } else {
    cancels[r() % cancels.size()]();
    EXPECT_TRUE(is_done(ctx)) << "ctx should be canceled";
    check_values("after cancel");
  }
  for (auto& c : cancels) c();
}

TEST_P(Context, TestLayersCancel) {
  run([] {
    for (std::uint32_t seed = 1; seed <= 10; ++seed) test_layers(seed, false);
  });
}

TEST_P(Context, TestLayersTimeout) {
  run([] {
    for (std::uint32_t seed = 1; seed <= 3; ++seed) test_layers(seed, true);
  });
}

TEST_P(Context, TestWithCancelCanceledParent) {
  run([] {
    auto [parent, pcancel] = gort::with_cancel_cause(gort::background());
    pcancel(test_errc::because);
    auto [c, cancel] = gort::with_cancel(parent);
    EXPECT_TRUE(is_done(c)) << "child not done immediately upon construction";
    EXPECT_EQ(c.err(), gort::errc::canceled);
    EXPECT_EQ(gort::cause(c), test_errc::because);
  });
}

TEST_P(Context, TestWithCancelSimultaneouslyCanceledParent) {
  run([] {
    for (int i = 0; i < 100; ++i) {
      auto [parent, pcancel] = gort::with_cancel_cause(gort::background());
      gort::wait_group wg;
      wg.add(1);
      gort::go([&wg, pc = pcancel] {
        pc(test_errc::because);
        wg.done();
      });
      auto [c, cancel] = gort::with_cancel(parent);
      (void)c.done().recv();
      EXPECT_EQ(c.err(), gort::errc::canceled);
      EXPECT_EQ(gort::cause(c), test_errc::because);
      wg.wait();
    }
  });
}

// ---- causes ----

TEST_P(Context, TestCause) {
  run([] {
    const auto forever = 1'000'000s;
    using gort::errc;
    struct row {
      const char* name;
      std::function<gort::context()> ctx;
      std::error_code err;
      gort::error cause;
    };
    const std::vector<row> rows = {
        {"Background", [] { return gort::background(); }, {}, {}},
        {"TODO", [] { return gort::todo(); }, {}, {}},
        {"WithCancel",
         [] {
           auto [ctx, cancel] = gort::with_cancel(gort::background());
           cancel();
           return ctx;
         },
         errc::canceled, errc::canceled},
        {"WithCancelCause",
         [] {
           auto [ctx, cancel] = gort::with_cancel_cause(gort::background());
           cancel(test_errc::parent_cause);
           return ctx;
         },
         errc::canceled, test_errc::parent_cause},
        {"WithCancelCause nil",
         [] {
           auto [ctx, cancel] = gort::with_cancel_cause(gort::background());
           cancel({});
           return ctx;
         },
         errc::canceled, errc::canceled},
        {"WithCancelCause: parent cause before child",
         [] {
           auto [parent, cancel_parent] = gort::with_cancel_cause(gort::background());
           auto [ctx, cancel_child] = gort::with_cancel_cause(parent);
           cancel_parent(test_errc::parent_cause);
           cancel_child(test_errc::child_cause);
           return ctx;
         },
         errc::canceled, test_errc::parent_cause},
        {"WithCancelCause: parent cause after child",
         [] {
           auto [parent, cancel_parent] = gort::with_cancel_cause(gort::background());
           auto [ctx, cancel_child] = gort::with_cancel_cause(parent);
           cancel_child(test_errc::child_cause);
           cancel_parent(test_errc::parent_cause);
           return ctx;
         },
         errc::canceled, test_errc::child_cause},
        {"WithCancelCause: parent cause before nil",
         [] {
           auto [parent, cancel_parent] = gort::with_cancel_cause(gort::background());
           auto [ctx, cancel_child] = gort::with_cancel(parent);
           cancel_parent(test_errc::parent_cause);
           cancel_child();
           return ctx;
         },
         errc::canceled, test_errc::parent_cause},
        {"WithCancelCause: parent cause after nil",
         [] {
           auto [parent, cancel_parent] = gort::with_cancel_cause(gort::background());
           auto [ctx, cancel_child] = gort::with_cancel(parent);
           cancel_child();
           cancel_parent(test_errc::parent_cause);
           return ctx;
         },
         errc::canceled, errc::canceled},
        {"WithCancelCause: child cause after nil",
         [] {
           auto [parent, cancel_parent] = gort::with_cancel(gort::background());
           auto [ctx, cancel_child] = gort::with_cancel_cause(parent);
           cancel_parent();
           cancel_child(test_errc::child_cause);
           return ctx;
         },
         errc::canceled, errc::canceled},
        {"WithCancelCause: child cause before nil",
         [] {
           auto [parent, cancel_parent] = gort::with_cancel(gort::background());
           auto [ctx, cancel_child] = gort::with_cancel_cause(parent);
           cancel_child(test_errc::child_cause);
           cancel_parent();
           return ctx;
         },
         errc::canceled, test_errc::child_cause},
        {"WithTimeout",
         [] {
           auto [ctx, cancel] = gort::with_timeout(gort::background(), 0s);
           cancel();
           return ctx;
         },
         errc::deadline_exceeded, errc::deadline_exceeded},
        {"WithTimeout canceled",
         [forever] {
           auto [ctx, cancel] = gort::with_timeout(gort::background(), forever);
           cancel();
           return ctx;
         },
         errc::canceled, errc::canceled},
        {"WithTimeoutCause",
         [] {
           auto [ctx, cancel] = gort::with_timeout_cause(gort::background(), 0s, test_errc::too_slow);
           cancel();
           return ctx;
         },
         errc::deadline_exceeded, test_errc::too_slow},
        {"WithTimeoutCause canceled",
         [forever] {
           auto [ctx, cancel] =
               gort::with_timeout_cause(gort::background(), forever, test_errc::too_slow);
           cancel();
           return ctx;
         },
         errc::canceled, errc::canceled},
        {"WithTimeoutCause stacked",
         [] {
           auto [parent, cancel] = gort::with_cancel_cause(gort::background());
           auto [ctx, unused] = gort::with_timeout_cause(parent, 0s, test_errc::too_slow);
           cancel(test_errc::finished_early);
           return ctx;
         },
         errc::deadline_exceeded, test_errc::too_slow},
        {"WithTimeoutCause stacked canceled",
         [forever] {
           auto [parent, cancel] = gort::with_cancel_cause(gort::background());
           auto [ctx, unused] = gort::with_timeout_cause(parent, forever, test_errc::too_slow);
           cancel(test_errc::finished_early);
           return ctx;
         },
         errc::canceled, test_errc::finished_early},
        {"WithoutCancel", [] { return gort::without_cancel(gort::background()); }, {}, {}},
        {"WithoutCancel canceled",
         [] {
           auto [parent, cancel] = gort::with_cancel_cause(gort::background());
           gort::context ctx = gort::without_cancel(parent);
           cancel(test_errc::finished_early);
           return ctx;
         },
         {}, {}},
        {"WithoutCancel timeout",
         [] {
           auto [parent, cancel] =
               gort::with_timeout_cause(gort::background(), 0s, test_errc::too_slow);
           gort::context ctx = gort::without_cancel(parent);
           cancel();
           return ctx;
         },
         {}, {}},
    };
    for (const row& r : rows) {
      gort::context ctx = r.ctx();
      EXPECT_EQ(ctx.err(), r.err) << r.name;
      EXPECT_EQ(gort::cause(ctx), r.cause) << r.name << ": " << gort::cause(ctx).message();
    }
  });
}

TEST_P(Context, TestCauseRace) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel_cause(gort::background());
    gort::wait_group wg;
    wg.add(1);
    gort::go([&wg, c = cancel] {
      c(test_errc::because);
      wg.done();
    });
    for (;;) {
      // Polls cause() rather than waiting on done(): reading it must be synchronized by itself.
      if (gort::error e = gort::cause(ctx)) {
        EXPECT_EQ(e, test_errc::because);
        break;
      }
      gort::yield();
    }
    wg.wait();
  });
}

TEST(ContextErrors, TestDeadlineExceededSupportsTimeout) {
  // Go: DeadlineExceeded.(interface{ Timeout() bool }).Timeout() == true.
  const std::error_code e = gort::errc::deadline_exceeded;
  EXPECT_TRUE(e == std::errc::timed_out);
  EXPECT_EQ(e.message(), "context deadline exceeded");
  EXPECT_STREQ(e.category().name(), "gort");
  const std::error_code c = gort::errc::canceled;
  EXPECT_TRUE(c == std::errc::operation_canceled);
  EXPECT_FALSE(c == std::errc::timed_out);
  EXPECT_EQ(c.message(), "context canceled");
}

TEST(ContextErrors, ErrorValueHoldsCodesAndExceptions) {
  gort::error nil;
  EXPECT_FALSE(nil);
  EXPECT_EQ(nil.message(), "");
  gort::error code = gort::errc::canceled;
  EXPECT_TRUE(code);
  EXPECT_EQ(code, gort::errc::canceled);
  EXPECT_EQ(code, std::errc::operation_canceled);
  EXPECT_EQ(code, std::error_code(gort::errc::canceled));
  EXPECT_NE(code, gort::errc::deadline_exceeded);
  EXPECT_EQ(code.message(), "context canceled");
  gort::error user = test_errc::too_slow;
  EXPECT_EQ(user, test_errc::too_slow);
  EXPECT_NE(user, code);
  gort::error ex;
  try {
    throw std::runtime_error("boom");
  } catch (...) {
    ex = gort::error::from_current_exception();
  }
  EXPECT_TRUE(ex);
  EXPECT_EQ(ex.code(), gort::errc::exception);
  EXPECT_EQ(ex.message(), "boom");
  EXPECT_EQ(ex, ex);
  EXPECT_THROW(ex.rethrow(), std::runtime_error);
  EXPECT_THROW(code.rethrow(), std::system_error);
  EXPECT_FALSE(gort::error(std::exception_ptr{}));
}

// ---- without_cancel ----

TEST_P(Context, TestWithoutCancel) {
  static constexpr gort::context_key<std::string> key{"key"};
  run([] {
    auto [parent, cancel] = gort::with_timeout(gort::with_value(gort::background(), key, "value"), 1h);
    gort::context ctx = gort::without_cancel(parent);
    EXPECT_FALSE(ctx.deadline());
    EXPECT_FALSE(ctx.done());
    EXPECT_FALSE(ctx.err());
    ASSERT_NE(ctx.value(key), nullptr);
    EXPECT_EQ(*ctx.value(key), "value");
    cancel();
    EXPECT_FALSE(ctx.err()) << "not cancelled with its parent";
    EXPECT_FALSE(gort::cause(ctx));
    const std::string name = ctx.to_string();
    EXPECT_EQ(name.substr(name.size() - 14), ".WithoutCancel") << name;
    // Its children can be cancelled on their own.
    auto [child, child_cancel] = gort::with_cancel(ctx);
    EXPECT_FALSE(is_done(child));
    child_cancel();
    EXPECT_TRUE(is_done(child));
  });
}

// ---- after_func ----

TEST_P(Context, TestAfterFuncCalledAfterCancel) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::chan<int> donec(1);
    gort::after_func_handle stop = gort::after_func(ctx, [donec] { donec.close(); });
    EXPECT_EQ(donec.try_recv().status, gort::recv_status::empty)
        << "after_func called before the context is done";
    cancel();
    bool called = false;
    gort::select(gort::recv(donec, [&](auto) { called = true; }),
                 gort::recv(gort::after(k_very_long)));
    EXPECT_TRUE(called) << "after_func not called after the context is cancelled";
    EXPECT_FALSE(stop.stop());
  });
}

TEST_P(Context, TestAfterFuncCalledAfterTimeout) {
  run([] {
    auto [ctx, cancel] = gort::with_timeout(gort::background(), k_short);
    gort::chan<int> donec(1);
    gort::after_func_handle stop = gort::after_func(ctx, [donec] { donec.close(); });
    bool called = false;
    gort::select(gort::recv(donec, [&](auto) { called = true; }),
                 gort::recv(gort::after(k_very_long)));
    EXPECT_TRUE(called) << "after_func not called after the timeout";
    EXPECT_FALSE(stop.stop());
  });
}

TEST_P(Context, TestAfterFuncCalledImmediately) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    cancel();
    gort::chan<int> donec(1);
    gort::after_func_handle stop = gort::after_func(ctx, [donec] { donec.close(); });
    bool called = false;
    gort::select(gort::recv(donec, [&](auto) { called = true; }),
                 gort::recv(gort::after(k_very_long)));
    EXPECT_TRUE(called) << "after_func not called for an already-cancelled context";
    EXPECT_FALSE(stop.stop());
  });
}

TEST_P(Context, TestAfterFuncNotCalledAfterStop) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    auto calls = std::make_shared<std::atomic<int>>(0);
    gort::after_func_handle stop = gort::after_func(ctx, [calls] { calls->fetch_add(1); });
    // A second registration, not stopped, tells when the cancellation's functions have run.
    gort::chan<int> second(1);
    gort::after_func_handle other = gort::after_func(ctx, [second] { second.close(); });
    EXPECT_TRUE(stop.stop());
    cancel();
    (void)second.recv();
    // The stopped function was never started (cancellation starts every function it runs before
    // returning, and `second` already ran); a short one-sided window catches a late start.
    (void)gort::select(gort::recv(gort::after(2ms)));
    EXPECT_EQ(calls->load(), 0) << "after_func called for a stopped registration";
    EXPECT_FALSE(stop.stop());
  });
}

TEST_P(Context, TestAfterFuncCalledAsynchronously) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::chan<int> donec(0);
    gort::wait_group finished;  // f's goroutine must end before main returns (or it is abandoned)
    finished.add(1);
    gort::after_func_handle stop = gort::after_func(ctx, [donec, &finished] {
      donec.send(1);  // blocks until the test receives
      finished.done();
    });
    cancel();  // returns although f blocks
    bool called = false;
    gort::select(gort::recv(donec, [&](auto) { called = true; }),
                 gort::recv(gort::after(k_very_long)));
    EXPECT_TRUE(called) << "after_func not called after the context is cancelled";
    if (called) finished.wait();
  });
}

// gort: the handle is RAII; detach() keeps the registration.
TEST_P(Context, AfterFuncHandleStopsOnDestructionUnlessDetached) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::chan<int> ran(2);
    { gort::after_func_handle h = gort::after_func(ctx, [ran] { (void)ran.try_send(1); }); }
    EXPECT_EQ(gort::detail::context_links(ctx), 0u);
    gort::after_func(ctx, [ran] { (void)ran.try_send(2); }).detach();
    EXPECT_EQ(gort::detail::context_links(ctx), 1u);
    cancel();
    EXPECT_EQ(ran.recv(), std::optional<int>(2));
    EXPECT_EQ(ran.try_recv().status, gort::recv_status::empty);
    // Background can never be done: the function never runs, stop() prevents it.
    gort::after_func_handle never = gort::after_func(gort::background(), [] { FAIL(); });
    EXPECT_TRUE(never.stop());
    EXPECT_FALSE(never.stop());
  });
}

// ---- wide and deep trees ----

// gort: cancelling a wide tree reaches every descendant synchronously, and wakes every goroutine
// blocked on any of their done channels.
TEST_P(Context, WideTreeCancelIsSynchronousAndWakesEveryWaiter) {
  run([] {
    constexpr int children = 50;
    constexpr int grandchildren = 20;
    const int waiters = static_cast<int>(scaled(2000, 10));
    auto [root, cancel] = gort::with_cancel(gort::background());
    std::vector<gort::context> leaves;
    std::vector<gort::context> mids;
    for (int i = 0; i < children; ++i) {
      auto [mid, unused] = gort::with_cancel(root);
      mids.push_back(mid);
      for (int j = 0; j < grandchildren; ++j) {
        auto [leaf, unused2] = gort::with_timeout(gort::with_value(mid, k_wrap, j), 1h);
        leaves.push_back(leaf);
      }
    }
    std::atomic<int> woke{0};
    gort::wait_group started;
    gort::wait_group finished;
    started.add(waiters);
    finished.add(waiters);
    for (int i = 0; i < waiters; ++i) {
      gort::go([&, leaf = leaves[static_cast<std::size_t>(i) % leaves.size()]] {
        started.done();
        gort::chan<int> work(0);  // never ready
        gort::select(gort::recv(leaf.done(), [&](auto) { woke.fetch_add(1); }), gort::recv(work));
        finished.done();
      });
    }
    started.wait();
    cancel();
    for (const gort::context& c : mids) EXPECT_TRUE(is_done(c));
    for (const gort::context& c : leaves) {
      ASSERT_TRUE(is_done(c));
      ASSERT_EQ(c.err(), gort::errc::canceled);
    }
    EXPECT_EQ(gort::detail::context_links(root), 0u);
    finished.wait();
    EXPECT_EQ(woke.load(), waiters);
  });
}

// gort: one done channel with more waiters than the canceller wakes per batch, of every kind
// (select cases, plain receives, context-aware receives on another channel) — all wake once.
TEST_P(Context, ManyWaitersOnOneDoneChannelAllWake) {
  run([] {
    const int n = static_cast<int>(scaled(1500, 5));
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::chan<int> work(0);
    gort::wait_group started;
    gort::wait_group finished;
    started.add(n);
    finished.add(n);
    std::atomic<int> woke{0};
    for (int i = 0; i < n; ++i) {
      gort::go([&, ctx = ctx, i] {
        started.done();
        switch (i % 3) {
          case 0:
            gort::select(gort::recv(ctx.done(), [&](auto v) {
                           if (!v) woke.fetch_add(1);  // closed: no value
                         }),
                         gort::recv(work));
            break;
          case 1:
            if (!ctx.done().recv()) woke.fetch_add(1);
            break;
          case 2:
            if (work.recv(ctx).err == gort::errc::canceled) woke.fetch_add(1);
            break;
        }
        finished.done();
      });
    }
    started.wait();
    cancel();
    finished.wait();
    EXPECT_EQ(woke.load(), n);
    EXPECT_EQ(work.try_recv().status, gort::recv_status::empty);
  });
}

// gort: done() cannot be made receive-only; a user who closes a copy of it does not break
// cancellation (which leaves a closed channel alone), and err() stays the context's.
TEST_P(Context, DoneClosedByItsUserDoesNotBreakCancellation) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::chan<std::monostate> copy = ctx.done();
    copy.close();
    EXPECT_FALSE(ctx.err());
    cancel();
    EXPECT_EQ(ctx.err(), gort::errc::canceled);
    EXPECT_TRUE(is_done(ctx));
  });
}

// gort: a very deep chain is cancelled and released without recursion (a goroutine's stack is
// 64 KiB).
TEST_P(Context, DeepChainCancelAndReleaseDoNotRecurse) {
  run([] {
    const int depth = static_cast<int>(scaled(100'000, 10));
    auto [root, cancel] = gort::with_cancel(gort::background());
    gort::context leaf = root;
    for (int i = 0; i < depth; ++i) {
      if (i % 2 == 0) {
        leaf = gort::with_cancel(leaf).first;
      } else {
        leaf = gort::with_value(leaf, k_wrap, i);
      }
    }
    EXPECT_FALSE(is_done(leaf));
    cancel();
    EXPECT_TRUE(is_done(leaf));
    EXPECT_EQ(leaf.err(), gort::errc::canceled);
    leaf = gort::background();  // releases the whole chain
  });
}

// ---- context-aware chan and sleep forms ----

TEST_P(Context, ChanSendAndRecvReturnTheContextError) {
  run([] {
    gort::chan<std::unique_ptr<int>> c(0);
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::wait_group wg;
    wg.add(2);
    std::error_code send_err;
    std::error_code recv_err;
    bool value_kept = false;
    gort::go([&, ctx = ctx] {
      auto v = std::make_unique<int>(7);
      send_err = c.send(ctx, std::move(v));
      value_kept = v != nullptr;  // not moved from: nothing was sent
      wg.done();
    });
    gort::chan<int> other(0);
    gort::go([&, ctx = ctx] {
      gort::recv_result<int> r = other.recv(ctx);
      recv_err = r.err;
      EXPECT_FALSE(r);
      EXPECT_FALSE(r.closed());
      wg.done();
    });
    cancel();
    wg.wait();
    EXPECT_EQ(send_err, gort::errc::canceled);
    EXPECT_EQ(recv_err, gort::errc::canceled);
    EXPECT_TRUE(value_kept);
  });
}

TEST_P(Context, ChanFormsCompleteWhenTheChannelIsReady) {
  run([] {
    auto [ctx, cancel] = gort::with_timeout(gort::background(), 1h);
    gort::chan<int> c(0);
    gort::wait_group wg;
    wg.add(1);
    gort::go([&, ctx = ctx] {
      EXPECT_FALSE(c.send(ctx, 5));
      const int six = 6;
      EXPECT_FALSE(c.send(ctx, six));
      c.close();
      wg.done();
    });
    gort::recv_result<int> a = c.recv(ctx);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a.value, 5);
    EXPECT_FALSE(a.err);
    EXPECT_EQ(c.recv(ctx).value, std::optional<int>(6));
    gort::recv_result<int> closed = c.recv(ctx);
    EXPECT_TRUE(closed.closed());
    wg.wait();
    // Background: plain blocking operations.
    gort::chan<int> b(1);
    EXPECT_FALSE(b.send(gort::background(), 1));
    EXPECT_EQ(b.recv(gort::todo()).value, std::optional<int>(1));
    // A done context: the operation is not attempted even when it could complete.
    cancel();
    EXPECT_EQ(b.send(ctx, 2), gort::errc::canceled);
    EXPECT_EQ(b.size(), 0u);
    ASSERT_TRUE(b.try_send(3));
    gort::recv_result<int> r = b.recv(ctx);
    EXPECT_EQ(r.err, gort::errc::canceled);
    EXPECT_FALSE(r.value);
    EXPECT_EQ(b.size(), 1u);
    // A send on a closed channel still throws.
    auto [live, stop] = gort::with_cancel(gort::background());
    EXPECT_THROW((void)c.send(live, 1), gort::panic_error);
    stop();
  });
}

TEST_P(Context, ChanFormsEndAtTheDeadline) {
  run([] {
    auto [ctx, cancel] = gort::with_timeout(gort::background(), k_short);
    gort::chan<int> never(0);
    EXPECT_EQ(never.recv(ctx).err, gort::errc::deadline_exceeded);
    EXPECT_GE(gort::clock::now(), *ctx.deadline()) << "ended before the deadline";
    gort::chan<int> nil;
    auto [ctx2, cancel2] = gort::with_timeout(gort::background(), k_short);
    EXPECT_EQ(nil.send(ctx2, 1), gort::errc::deadline_exceeded);  // a nil channel waits for ctx
  });
}

TEST_P(Context, SleepForReturnsEarlyWhenCancelled) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::wait_group wg;
    wg.add(1);
    std::error_code e;
    gort::go([&, ctx = ctx] {
      e = gort::sleep_for(ctx, 1h);
      wg.done();
    });
    cancel();
    wg.wait();  // an hour otherwise
    EXPECT_EQ(e, gort::errc::canceled);
    EXPECT_EQ(gort::sleep_for(ctx, 1ms), gort::errc::canceled);  // already done
    EXPECT_EQ(gort::sleep_until(ctx, gort::clock::now() + 1h), gort::errc::canceled);
  });
}

TEST_P(Context, SleepForSleepsTheFullDurationOtherwise) {
  run([] {
    auto [ctx, cancel] = gort::with_timeout(gort::background(), 1h);
    for (auto d : {1ms, 3ms}) {
      const auto t0 = gort::clock::now();
      EXPECT_FALSE(gort::sleep_for(ctx, d));
      EXPECT_GE(gort::clock::now() - t0, d);
    }
    EXPECT_FALSE(gort::sleep_for(ctx, 0ms));
    EXPECT_FALSE(gort::sleep_for(gort::background(), 1ms));
    const auto until = gort::clock::now() + 2ms;
    EXPECT_FALSE(gort::sleep_until(ctx, until));
    EXPECT_GE(gort::clock::now(), until);
    // A deadline shorter than the sleep ends it with deadline_exceeded, never early.
    auto [short_ctx, c2] = gort::with_timeout(gort::background(), k_short);
    EXPECT_EQ(gort::sleep_for(short_ctx, 1h), gort::errc::deadline_exceeded);
    EXPECT_GE(gort::clock::now(), *short_ctx.deadline()) << "ended before the deadline";
    cancel();
  });
}

// Many sleepers cancelled at once, racing their own timers: each returns exactly once, and the
// result is the one that won.
TEST_P(Context, SleepersRacingCancellation) {
  run([] {
    const int n = static_cast<int>(scaled(2000, 10));
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::wait_group wg;
    wg.add(n);
    std::atomic<int> slept{0};
    std::atomic<int> cancelled{0};
    for (int i = 0; i < n; ++i) {
      gort::go([&, ctx = ctx, i] {
        std::error_code e = gort::sleep_for(ctx, std::chrono::microseconds(i % 50));
        (e ? cancelled : slept).fetch_add(1);
        if (e) EXPECT_EQ(e, gort::errc::canceled);
        wg.done();
      });
    }
    cancel();
    wg.wait();
    EXPECT_EQ(slept.load() + cancelled.load(), n);
  });
}

// ---- plain threads ----

TEST_P(Context, PlainThreadsWaitOnAndCancelContexts) {
  run([] {
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    gort::wait_group threads_done;
    threads_done.add(2);
    std::error_code sleep_err;
    std::error_code recv_err;
    std::thread sleeper([&, ctx = ctx] {
      sleep_err = gort::sleep_for(ctx, 1h);  // blocks the thread
      threads_done.done();
    });
    gort::chan<int> never(0);
    std::thread receiver([&, ctx = ctx] {
      recv_err = never.recv(ctx).err;
      threads_done.done();
    });
    // A goroutine waits on the same context; a third thread cancels it.
    gort::wait_group g_done;
    g_done.add(1);
    gort::go([&, ctx = ctx] {
      (void)ctx.done().recv();
      g_done.done();
    });
    std::thread canceller([c = cancel] { c(); });
    g_done.wait();
    threads_done.wait();
    sleeper.join();
    receiver.join();
    canceller.join();
    EXPECT_EQ(sleep_err, gort::errc::canceled);
    EXPECT_EQ(recv_err, gort::errc::canceled);
  });
}

// An exception escaping an after_func function reports the after_func call as the goroutine's
// creation site (not gort's own header).
TEST_P(Context, AfterFuncExceptionReportsItsCaller) {
  std::string file;
  unsigned line = 0;
  gort::chan<int> reported(1);
  gort::options o;
  o.on_exception = [&](const gort::goroutine_exception& e) {
    file = e.created_at.file_name();
    line = e.created_at.line();
    (void)reported.try_send(1);
  };
  unsigned expected_line = 0;
  run(
      [&] {
        std::pair<gort::context, gort::cancel_func> cc = gort::with_cancel(gort::background());
        expected_line = __LINE__ + 1;
        gort::after_func_handle h = gort::after_func(cc.first, [] { throw std::runtime_error("x"); });
        cc.second();
        EXPECT_EQ(reported.recv(), 1);
      },
      o);
  EXPECT_NE(file.find("context_test.cpp"), std::string::npos) << file;
  EXPECT_EQ(line, expected_line);
}

}  // namespace
