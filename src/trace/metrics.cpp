// trace/metrics.cpp — gort::read_metrics and gort::write_prometheus, on top of gort::stats().
//
// One table maps runtime_stats fields to metrics; both outputs walk it, so a new stats field is a
// new metric by one added line. Counters get Prometheus's _total suffix in the table itself.
#include "gort/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>

#include "gort/stats.hpp"
#include "trace/instrument.hpp"

namespace gort {

namespace {

template <auto Field>
double field(const runtime_stats& s) {
  return static_cast<double>(s.*Field);
}

struct scalar_metric {
  std::string_view name;
  std::string_view prometheus_name;
  std::string_view help;
  metric_kind kind;
  double (*get)(const runtime_stats&);
};

using rs = runtime_stats;
constexpr metric_kind counter = metric_kind::counter;
constexpr metric_kind gauge = metric_kind::gauge;

// clang-format off
constexpr scalar_metric k_scalars[] = {
  {"/sched/goroutines:goroutines", "gort_goroutines", "Goroutines that currently exist.", gauge, field<&rs::goroutines>},
  {"/sched/threads:threads", "gort_threads", "OS threads of the runtime (machines and sysmon).", gauge, field<&rs::threads>},
  {"/sched/gomaxprocs:threads", "gort_gomaxprocs", "Processors: goroutines running at once (GOMAXPROCS).", gauge, field<&rs::gomaxprocs>},
  {"/sched/idle-procs:threads", "gort_idle_procs", "Processors with nothing to run.", gauge, field<&rs::idleprocs>},
  {"/sched/spinning-threads:threads", "gort_spinning_threads", "Threads looking for work.", gauge, field<&rs::spinningthreads>},
  {"/sched/idle-threads:threads", "gort_idle_threads", "Threads parked for want of work.", gauge, field<&rs::idlethreads>},
  {"/sched/locked-threads:threads", "gort_locked_threads", "Threads locked to a goroutine (lock_os_thread).", gauge, field<&rs::locked_threads>},
  {"/sched/global-runqueue:goroutines", "gort_global_runqueue", "Goroutines in the global run queue.", gauge, field<&rs::runqueue>},
  {"/sched/goroutines-created:goroutines", "gort_goroutines_created_total", "Goroutines created.", counter, field<&rs::spawned>},
  {"/sched/parks:events", "gort_parks_total", "Goroutines that parked (blocked).", counter, field<&rs::parks>},
  {"/sched/context-switches:events", "gort_context_switches_total", "Goroutines started or resumed on a thread.", counter, field<&rs::context_switches>},
  {"/sched/steals:events", "gort_steals_total", "Successful steals from another processor's run queue.", counter, field<&rs::steals>},
  {"/sched/stolen:goroutines", "gort_stolen_goroutines_total", "Goroutines taken by steals.", counter, field<&rs::stolen>},
  {"/sched/preemptions:events", "gort_preemptions_total", "Preemption requests to goroutines running over 10 ms.", counter, field<&rs::preemptions>},
  {"/sched/blocking:goroutines", "gort_blocking_goroutines", "Goroutines inside a blocking call (gort::blocking) now.", gauge, field<&rs::blocking>},
  {"/sched/blocking-calls:calls", "gort_blocking_calls_total", "Blocking calls (gort::blocking, gort::blocking_long) begun.", counter, field<&rs::blocking_calls>},
  {"/sched/retakes:events", "gort_retakes_total", "Processors sysmon took from a blocking call and handed off.", counter, field<&rs::retakes>},
  {"/sched/handoffs:events", "gort_handoffs_total", "Processors handed off at once by gort::blocking_long.", counter, field<&rs::handoffs>},
  {"/sched/runaway-handoffs:events", "gort_runaway_handoffs_total", "Processors sysmon took from a goroutine running 10 ms without a scheduling point.", counter, field<&rs::runaway_handoffs>},
  {"/memory/stack-size:bytes", "gort_stack_size_bytes", "Virtual size of one goroutine stack.", gauge, field<&rs::stack_size>},
  {"/memory/stacks-reserved:stacks", "gort_stacks_reserved", "Stack slots carved from reservations.", gauge, field<&rs::stacks_reserved>},
  {"/memory/stacks-in-use:stacks", "gort_stacks_in_use", "Stacks held by live goroutines.", gauge, field<&rs::stacks_in_use>},
  {"/memory/stacks-guarded:stacks", "gort_stacks_guarded", "Stack slots with a guard page.", gauge, field<&rs::stacks_guarded>},
  {"/memory/stack-released:bytes", "gort_stack_released_bytes_total", "Stack memory returned to the OS.", counter, field<&rs::stack_bytes_released>},
  {"/time/timers:timers", "gort_timers", "Pending timers (sleeps, timers, tickers, deadlines).", gauge, field<&rs::timers>},
  {"/net/io-waiters:goroutines", "gort_netpoll_waiters", "Goroutines and threads waiting for a descriptor.", gauge, field<&rs::io_waiters>},
  {"/net/polls:calls", "gort_netpoll_polls_total", "Calls of the poller (epoll_wait).", counter, field<&rs::polls>},
  {"/net/blocking-polls:calls", "gort_netpoll_blocking_polls_total", "Poller calls that blocked.", counter, field<&rs::blocking_polls>},
  {"/pool/pools:pools", "gort_pools", "Live worker pools.", gauge, field<&rs::pools>},
  {"/pool/workers:goroutines", "gort_pool_workers", "Live pool workers.", gauge, field<&rs::pool_workers>},
  {"/pool/busy-workers:goroutines", "gort_pool_busy_workers", "Pool workers running a task.", gauge, field<&rs::pool_busy>},
  {"/pool/waiting-submitters:goroutines", "gort_pool_waiting_submitters", "Submitters blocked for room in a pool.", gauge, field<&rs::pool_waiting>},
  {"/pool/submitted:tasks", "gort_pool_submitted_tasks_total", "Tasks accepted by live pools.", counter, field<&rs::pool_submitted>},
  {"/pool/completed:tasks", "gort_pool_completed_tasks_total", "Accepted tasks that finished.", counter, field<&rs::pool_completed>},
  {"/pool/failed:tasks", "gort_pool_failed_tasks_total", "Finished tasks that threw.", counter, field<&rs::pool_failed>},
  {"/pool/rejected:tasks", "gort_pool_rejected_tasks_total", "Submissions refused (overload, closed, canceled).", counter, field<&rs::pool_rejected>},
};
// clang-format on

constexpr std::string_view k_latency_name = "/sched/latencies:seconds";
constexpr std::string_view k_latency_prom = "gort_sched_latencies_seconds";
constexpr std::string_view k_latency_help =
    "Time goroutines spent runnable before running (one runnable period in eight).";

metric_histogram latency_histogram(const runtime_stats& s) {
  metric_histogram h;
  for (int i = 0; i + 1 < k_sched_latency_buckets; ++i) {
    h.bounds.push_back(std::ldexp(1.0, sched::k_latency_first_shift + i) * 1e-9);
  }
  h.counts.assign(static_cast<std::size_t>(k_sched_latency_buckets), 0);
  for (std::size_t i = 0; i < s.sched_latency_counts.size() && i < h.counts.size(); ++i) {
    h.counts[i] = s.sched_latency_counts[i];
    h.count += s.sched_latency_counts[i];
  }
  h.sum = static_cast<double>(s.sched_latency_sum_ns) * 1e-9;
  return h;
}

// Shortest text that reads back as v for counts; bucket bounds (powers of two in ns) print with
// the nanosecond precision they have.
std::string number(double v, int digits = 17) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::vector<metric> metrics_of(const runtime_stats& s) {
  std::vector<metric> out;
  out.reserve(std::size(k_scalars) + 1);
  for (const scalar_metric& d : k_scalars) {
    metric m;
    m.name = d.name;
    m.prometheus_name = d.prometheus_name;
    m.help = d.help;
    m.kind = d.kind;
    m.value = d.get(s);
    out.push_back(std::move(m));
  }
  metric lat;
  lat.name = k_latency_name;
  lat.prometheus_name = k_latency_prom;
  lat.help = k_latency_help;
  lat.kind = metric_kind::histogram;
  lat.hist = latency_histogram(s);
  out.push_back(std::move(lat));
  return out;
}

}  // namespace

std::vector<metric> read_metrics() {
  sched::enable_latency();
  return metrics_of(stats());
}

void write_prometheus(std::ostream& os) {
  sched::enable_latency();
  const runtime_stats s = stats();
  std::string out;
  for (const metric& m : metrics_of(s)) {
    const std::string name(m.prometheus_name);
    out += "# HELP " + name + " " + std::string(m.help) + "\n";
    switch (m.kind) {
      case metric_kind::counter:
        out += "# TYPE " + name + " counter\n" + name + " " + number(m.value) + "\n";
        break;
      case metric_kind::gauge:
        out += "# TYPE " + name + " gauge\n" + name + " " + number(m.value) + "\n";
        break;
      case metric_kind::histogram: {
        out += "# TYPE " + name + " histogram\n";
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < m.hist.counts.size(); ++i) {
          cumulative += m.hist.counts[i];
          const std::string le =
              i < m.hist.bounds.size() ? number(m.hist.bounds[i], 10) : std::string("+Inf");
          out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += name + "_sum " + number(m.hist.sum) + "\n";
        out += name + "_count " + std::to_string(m.hist.count) + "\n";
        break;
      }
    }
  }
  out += "# HELP gort_local_runqueue Goroutines in a processor's local run queue.\n";
  out += "# TYPE gort_local_runqueue gauge\n";
  for (std::size_t i = 0; i < s.local_runq.size(); ++i) {
    out += "gort_local_runqueue{p=\"" + std::to_string(i) + "\"} " +
           std::to_string(s.local_runq[i]) + "\n";
  }
  os << out;
}

}  // namespace gort
