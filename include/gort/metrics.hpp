// gort/metrics.hpp — the runtime's metrics as data (Go's runtime/metrics) and in Prometheus's
// text format.
//
//   for (const gort::metric& m : gort::read_metrics()) ...      // name, kind, value or histogram
//   gort::write_prometheus(std::cout);                           // a /metrics endpoint's body
//
// Every metric is a figure of gort::stats() (stats.hpp): the two views never disagree, and a
// field added to runtime_stats is exported by adding one line to the table in
// src/trace/metrics.cpp. docs/api.md lists the metrics.
//
// Scheduling latency (gort_sched_latencies_seconds, Go's /sched/latencies:seconds) is recorded
// from the first call of read_metrics() or write_prometheus() on (or from the start with
// GORTDEBUG=schedlatency=1): recording costs two clock reads per sampled runnable period, which a
// service that never reads metrics does not pay.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string_view>
#include <vector>

namespace gort {

enum class metric_kind {
  counter,    // only grows while the runtime runs (Prometheus counter, name ends in _total)
  gauge,      // a current value
  histogram,  // a distribution (metric::hist)
};

/// Cumulative-free histogram: counts[i] counts observations in (bounds[i-1], bounds[i]]
/// (bounds[-1] = 0); counts has one more entry than bounds, for observations above the last bound.
struct metric_histogram {
  std::vector<double> bounds;  // ascending upper bounds, in the metric's unit
  std::vector<std::uint64_t> counts;
  double sum = 0;          // sum of the observations, in the metric's unit
  std::uint64_t count = 0;  // total of counts
};

struct metric {
  std::string_view name;             // Go's runtime/metrics style: "/sched/goroutines:goroutines"
  std::string_view prometheus_name;  // "gort_goroutines"
  std::string_view help;
  metric_kind kind = metric_kind::gauge;
  double value = 0;       // counter and gauge
  metric_histogram hist;  // histogram
};

/// Every metric of the running runtime, read from one gort::stats() snapshot (all zero when no
/// runtime runs). Switches scheduling-latency recording on (see above). Any thread.
std::vector<metric> read_metrics();

/// read_metrics() in Prometheus's text exposition format (version 0.0.4): a # HELP and # TYPE
/// line per metric, histograms as _bucket{le="..."} (cumulative), _sum and _count, and the
/// per-processor run-queue lengths as gort_local_runqueue{p="N"}. Any thread.
void write_prometheus(std::ostream& out);

}  // namespace gort
