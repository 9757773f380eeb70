// fanout — one request fanned out to several backends at once, under a deadline.
//
// Each request asks every backend concurrently (one errgroup task per backend) within a time
// budget (with_timeout_cause). The request succeeds when every backend answers in time; the first
// failure cancels the backends still working (the errgroup's context), and a backend that is too
// slow is cut off by the deadline. Backends are simulated: each answers after its latency, or
// fails — a real service would call a client library with the same context.
//
//   $ ./fanout
//   request 2: one backend fails (budget 80 ms)
//       10 ms  stock    failed: backend unavailable
//       10 ms  users    gave up: context canceled
//       10 ms  orders   gave up: context canceled
//       10 ms  first failure cancelled the rest (cause: backend unavailable)
//     => failed: backend unavailable
//
// Shows: context deadlines and causes, errgroup cancellation on the first error, the
// context-aware sleep (a stand-in for a backend call), a user-defined error category.
#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

#include "gort/gort.hpp"

namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

// The service's own errors, in their own std::error_category.
enum class service_errc { backend_unavailable = 1, budget_exceeded };

class service_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "service"; }
  std::string message(int ev) const override {
    switch (static_cast<service_errc>(ev)) {
      case service_errc::backend_unavailable: return "backend unavailable";
      case service_errc::budget_exceeded: return "request budget exceeded";
    }
    return "unknown service error";
  }
};

const std::error_category& service_category() {
  static const service_category_impl c;
  return c;
}

// Found by argument-dependent lookup, so it lives next to the enum.
std::error_code make_error_code(service_errc e) { return {static_cast<int>(e), service_category()}; }

}  // namespace

template <>
struct std::is_error_code_enum<service_errc> : std::true_type {};

namespace {

struct backend {
  const char* name;
  ms latency;
  bool fails;
};

long long since(gort::clock::time_point t0) {
  return std::chrono::duration_cast<ms>(gort::clock::now() - t0).count();
}

// One backend call: waits for the backend's answer, or gives up when ctx is done.
std::error_code query(const gort::context& ctx, const backend& b, gort::clock::time_point t0,
                      std::string& answer) {
  if (std::error_code e = gort::sleep_for(ctx, b.latency)) {
    std::printf("  %4lld ms  %-8s gave up: %s\n", since(t0), b.name, e.message().c_str());
    return e;
  }
  if (b.fails) {
    std::printf("  %4lld ms  %-8s failed: backend unavailable\n", since(t0), b.name);
    return service_errc::backend_unavailable;
  }
  answer = std::string(b.name) + ":ok";
  std::printf("  %4lld ms  %-8s answered\n", since(t0), b.name);
  return {};
}

// Fans one request out to every backend; returns the answers, or the first error.
gort::error fan_out(const gort::context& parent, const std::vector<backend>& backends, ms budget,
                    std::vector<std::string>& answers) {
  const auto t0 = gort::clock::now();
  auto [ctx, cancel] = gort::with_timeout_cause(parent, budget, service_errc::budget_exceeded);
  auto [group, group_ctx] = gort::errgroup::with_context(ctx);
  answers.assign(backends.size(), "");
  for (std::size_t i = 0; i < backends.size(); ++i) {
    group.go([&, i, c = group_ctx] { return query(c, backends[i], t0, answers[i]); });
  }
  gort::error e = group.wait();  // every task has returned: answers are complete
  if (e && ctx.err() == gort::errc::deadline_exceeded) {
    std::printf("  %4lld ms  deadline passed (cause: %s)\n", since(t0),
                gort::cause(ctx).message().c_str());
  } else if (e) {
    std::printf("  %4lld ms  first failure cancelled the rest (cause: %s)\n", since(t0),
                gort::cause(group_ctx).message().c_str());
  }
  cancel();
  return e;
}

}  // namespace

int main() {
  return gort::run([] {
    const std::vector<backend> healthy = {{"users", 15ms, false}, {"orders", 30ms, false},
                                          {"stock", 20ms, false}};
    const std::vector<backend> one_fails = {{"users", 15ms, false}, {"orders", 60ms, false},
                                            {"stock", 10ms, true}};
    const std::vector<backend> one_slow = {{"users", 15ms, false}, {"orders", 500ms, false},
                                           {"stock", 20ms, false}};
    struct request {
      const char* what;
      const std::vector<backend>* backends;
      ms budget;
    };
    const request requests[] = {{"all backends healthy", &healthy, 80ms},
                                {"one backend fails", &one_fails, 80ms},
                                {"one backend too slow", &one_slow, 80ms}};
    int n = 0;
    for (const request& r : requests) {
      std::printf("request %d: %s (budget %lld ms)\n", ++n, r.what,
                  static_cast<long long>(r.budget.count()));
      std::vector<std::string> answers;
      gort::error e = fan_out(gort::background(), *r.backends, r.budget, answers);
      if (e) {
        std::printf("  => failed: %s\n\n", e.message().c_str());
      } else {
        std::string merged;
        for (const std::string& a : answers) merged += (merged.empty() ? "" : ", ") + a;
        std::printf("  => ok: %s\n\n", merged.c_str());
      }
    }
    return 0;
  });
}
