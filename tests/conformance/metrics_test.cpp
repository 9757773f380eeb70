// gort::read_metrics and gort::write_prometheus (Go's runtime/metrics, Prometheus's text format),
// at GOMAXPROCS 1, 2, 4 and 8. The exposition is checked by real parsers: promtool's linter and
// prometheus_client's parser (tests/support/check_prometheus.py).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "gort/gort.hpp"
#include "procs.hpp"

namespace {

using gort_test::procs_test;
using gort_test::scaled;

class Metrics : public procs_test {};
GORT_INSTANTIATE_PROCS(Metrics);

std::map<std::string, const gort::metric*> by_name(const std::vector<gort::metric>& ms) {
  std::map<std::string, const gort::metric*> out;
  for (const gort::metric& m : ms) out[std::string(m.name)] = &m;
  return out;
}

// Runs `cmd` through the shell; its exit status, and its output in `out`.
int shell(const std::string& cmd, std::string& out) {
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool have(const char* tool) {
  std::string out;
  return shell(std::string("command -v ") + tool, out) == 0;
}

std::string temp_path(const char* what) {
  return testing::TempDir() + "gort_" + what + "_" + std::to_string(::getpid()) + ".txt";
}

TEST_P(Metrics, ScalarsAreTheStatsFigures) {
  run([&] {
    gort_test::with_parked_goroutines(
        20, [] {},
        [&] {
          const std::vector<gort::metric> ms = gort::read_metrics();
          const gort::runtime_stats st = gort::stats();
          auto m = by_name(ms);
          ASSERT_TRUE(m.count("/sched/goroutines:goroutines"));
          // main + the 20 parked; nothing else runs or exits meanwhile.
          EXPECT_EQ(m["/sched/goroutines:goroutines"]->value, 21);
          EXPECT_EQ(m["/sched/gomaxprocs:threads"]->value, procs());
          EXPECT_EQ(m["/sched/gomaxprocs:threads"]->kind, gort::metric_kind::gauge);
          EXPECT_GE(m["/sched/threads:threads"]->value, 2);  // a machine and sysmon
          EXPECT_GE(m["/sched/goroutines-created:goroutines"]->value, 20);
          EXPECT_EQ(m["/sched/goroutines-created:goroutines"]->kind, gort::metric_kind::counter);
          EXPECT_EQ(m["/memory/stack-size:bytes"]->value, static_cast<double>(st.stack_size));
          for (const gort::metric& x : ms) {
            EXPECT_EQ(x.prometheus_name.substr(0, 5), "gort_") << x.name;
            if (x.kind == gort::metric_kind::counter) {
              EXPECT_TRUE(x.prometheus_name.ends_with("_total")) << x.prometheus_name;
            }
          }
        });
  });
}

TEST_P(Metrics, TimersAndPoolsAreCounted) {
  run([&] {
    gort::timer t(std::chrono::hours(1));
    {
      const std::vector<gort::metric> ms = gort::read_metrics();  // by_name points into it
      auto m = by_name(ms);
      EXPECT_GE(m["/time/timers:timers"]->value, 1);
    }
    gort::pool p(gort::pool_options{.capacity = 4});
    gort::wait_group wg;
    constexpr int n = 10;
    wg.add(n);
    for (int i = 0; i < n; ++i) ASSERT_FALSE(p.submit([&] { wg.done(); }));
    wg.wait();
    const std::vector<gort::metric> ms = gort::read_metrics();
    auto m = by_name(ms);
    EXPECT_GE(m["/pool/pools:pools"]->value, 1);
    EXPECT_GE(m["/pool/submitted:tasks"]->value, n);
    EXPECT_LE(m["/pool/workers:goroutines"]->value, 4 * m["/pool/pools:pools"]->value);
  });
}

TEST_P(Metrics, SchedulingLatencyHistogramFillsOnceRead) {
  run([&] {
    (void)gort::read_metrics();  // switches recording on
    const std::uint64_t switches0 = gort::stats().context_switches;
    gort_test::pingpong(static_cast<int>(scaled(4000)));
    const gort::runtime_stats st = gort::stats();
    auto ms = gort::read_metrics();
    auto m = by_name(ms);
    ASSERT_TRUE(m.count("/sched/latencies:seconds"));
    const gort::metric_histogram& h = m["/sched/latencies:seconds"]->hist;
    EXPECT_EQ(m["/sched/latencies:seconds"]->kind, gort::metric_kind::histogram);
    ASSERT_EQ(h.counts.size(), h.bounds.size() + 1);
    for (std::size_t i = 1; i < h.bounds.size(); ++i) EXPECT_LT(h.bounds[i - 1], h.bounds[i]);
    std::uint64_t total = 0;
    for (std::uint64_t c : h.counts) total += c;
    EXPECT_EQ(total, h.count);
    // One runnable period in eight is timed; thousands of readies happened.
    EXPECT_GT(h.count, 0u);
    EXPECT_LE(h.count, st.context_switches - switches0 + 8);
    EXPECT_GT(h.sum, 0.0);
    EXPECT_LT(h.sum, 60.0 * static_cast<double>(h.count));
  });
}

TEST_P(Metrics, PrometheusTextPassesPromtoolAndTheClientParser) {
  const std::string path = temp_path("metrics");
  run([&] {
    (void)gort::read_metrics();
    gort_test::pingpong(static_cast<int>(scaled(2000)));
    gort_test::with_parked_goroutines(
        7, [] {},
        [&] {
          std::ofstream f(path);
          gort::write_prometheus(f);
        });
  });
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  EXPECT_NE(body.find("# TYPE gort_goroutines gauge\ngort_goroutines 8\n"), std::string::npos);
  EXPECT_NE(body.find("# TYPE gort_sched_latencies_seconds histogram\n"), std::string::npos);
  EXPECT_NE(body.find("gort_sched_latencies_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(body.find("gort_local_runqueue{p=\"0\"}"), std::string::npos);

  int checked = 0;
  if (have("promtool")) {
    std::string out;
    EXPECT_EQ(shell("promtool check metrics < " + path, out), 0) << out;
    ++checked;
  }
  const char* py = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  std::string out;
  const int st = shell(std::string(py) + " " GORT_FIXTURES_DIR "/../check_prometheus.py " + path +
                           " gort_goroutines=8 gort_gomaxprocs=" + std::to_string(procs()),
                       out);
  if (st != 77) {
    EXPECT_EQ(st, 0) << out;
    ++checked;
  }
  std::remove(path.c_str());
  if (checked == 0) {
    GTEST_SKIP() << "neither promtool (Debian: prometheus) nor prometheus_client (Debian: "
                    "python3-prometheus-client) is installed";
  }
}

TEST(MetricsNoRuntime, ReadsZeros) {
  for (const gort::metric& m : gort::read_metrics()) {
    if (m.kind != gort::metric_kind::histogram) EXPECT_EQ(m.value, 0) << m.name;
  }
  std::ostringstream os;
  gort::write_prometheus(os);
  EXPECT_NE(os.str().find("gort_goroutines 0\n"), std::string::npos);
}

}  // namespace
