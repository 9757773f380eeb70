// examples/tour.cpp — the flagship demo: goroutines, work stealing and schedtrace in one program.
//
//   ./tour                 # GORTDEBUG=schedtrace=200 is the default here; set it to change
//
// Three phases, each printing what the scheduler did (gort::stats) while sysmon prints Go's SCHED
// lines on stderr:
//  1. fork-join: a parallel merge sort of 4,000,000 integers, one goroutine per split — the tree of
//     goroutines starts on one processor and idle processors steal from it;
//  2. a burst of 200,000 goroutines parked on one wait_group, then released — cheap stacks;
//  3. imbalance: one goroutine spawns 2,000 CPU-heavy tasks; its 256-slot ring overflows into the
//     global queue (Go's runqputslow), where the other processors pick them up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "gort/gort.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

void print_stats(const char* phase, const gort::runtime_stats& before) {
  const gort::runtime_stats s = gort::stats();
  std::printf(
      "  %-10s spawned %8llu  context switches %8llu  parks %8llu  steals %6llu (%llu goroutines)"
      "  threads %d\n",
      phase, static_cast<unsigned long long>(s.spawned - before.spawned),
      static_cast<unsigned long long>(s.context_switches - before.context_switches),
      static_cast<unsigned long long>(s.parks - before.parks),
      static_cast<unsigned long long>(s.steals - before.steals),
      static_cast<unsigned long long>(s.stolen - before.stolen), s.threads);
}

// Sorts v[lo, hi) using tmp; halves run as goroutines down to `cutoff` elements.
void merge_sort(std::vector<int>& v, std::vector<int>& tmp, std::size_t lo, std::size_t hi,
                std::size_t cutoff) {
  if (hi - lo <= cutoff) {
    std::sort(v.begin() + static_cast<std::ptrdiff_t>(lo), v.begin() + static_cast<std::ptrdiff_t>(hi));
    return;
  }
  const std::size_t mid = lo + (hi - lo) / 2;
  gort::wait_group wg;
  wg.go([&] { merge_sort(v, tmp, lo, mid, cutoff); });
  merge_sort(v, tmp, mid, hi, cutoff);
  wg.wait();
  std::merge(v.begin() + static_cast<std::ptrdiff_t>(lo), v.begin() + static_cast<std::ptrdiff_t>(mid),
             v.begin() + static_cast<std::ptrdiff_t>(mid), v.begin() + static_cast<std::ptrdiff_t>(hi),
             tmp.begin() + static_cast<std::ptrdiff_t>(lo));
  std::copy(tmp.begin() + static_cast<std::ptrdiff_t>(lo), tmp.begin() + static_cast<std::ptrdiff_t>(hi),
            v.begin() + static_cast<std::ptrdiff_t>(lo));
}

int tour() {
  std::printf("gort tour: %d processors (GORTMAXPROCS, cgroup CPU limit or affinity mask)\n\n",
              gort::maxprocs());

  // 1. Fork-join merge sort.
  {
    std::vector<int> v(4'000'000);
    std::mt19937 rng(42);
    for (int& x : v) x = static_cast<int>(rng());
    std::vector<int> tmp(v.size());
    // Filling the vector took main's whole time slice; start the sort on a fresh one, so the first
    // spawns are not where sysmon's preemption request makes main yield (then the other processor
    // would simply take main from the global queue instead of stealing from it).
    gort::yield();
    const gort::runtime_stats before = gort::stats();
    const auto t0 = clock_type::now();
    merge_sort(v, tmp, 0, v.size(), 16 * 1024);
    const double ms = ms_since(t0);
    const bool sorted = std::is_sorted(v.begin(), v.end());
    std::printf("1. merge sort of %zu ints: %.1f ms, %s\n", v.size(), ms,
                sorted ? "sorted" : "NOT SORTED");
    print_stats("fork-join", before);
    if (!sorted) return 1;
  }

  // 2. A burst of parked goroutines.
  {
    constexpr int n = 200'000;
    const gort::runtime_stats before = gort::stats();
    const auto t0 = clock_type::now();
    gort::wait_group started;
    gort::wait_group gate;
    gort::wait_group finished;
    started.add(n);
    gate.add(1);
    finished.add(n);
    for (int i = 0; i < n; ++i) {
      gort::go([&] {
        started.done();
        gate.wait();
        finished.done();
      });
    }
    started.wait();
    const double spawn_ms = ms_since(t0);
    const gort::runtime_stats parked = gort::stats();
    std::printf("\n2. %d goroutines parked in %.1f ms: %lld goroutines exist, %llu stacks in use "
                "(%llu KiB reserved each, committed only when touched)\n",
                n, spawn_ms, static_cast<long long>(parked.goroutines),
                static_cast<unsigned long long>(parked.stacks_in_use),
                static_cast<unsigned long long>(parked.stack_size / 1024));
    gate.done();
    finished.wait();
    std::printf("   released and finished in %.1f ms total\n", ms_since(t0));
    print_stats("burst", before);
  }

  // 3. Imbalance: all work appears on one processor; the others take it, from the global queue
  //    the spawner's full local queue overflows into (half of it at a time) or by stealing.
  {
    constexpr int tasks = 2'000;
    const gort::runtime_stats before = gort::stats();
    const auto t0 = clock_type::now();
    std::vector<double> out(tasks);
    gort::wait_group wg;
    wg.go([&] {
      gort::wait_group inner;
      for (int i = 0; i < tasks; ++i) {
        inner.go([&out, i] {
          double x = i;
          for (int k = 0; k < 200'000; ++k) x = x * 0.999999 + 1.0;
          out[static_cast<std::size_t>(i)] = x;
        });
      }
      inner.wait();
    });
    wg.wait();
    std::printf("\n3. %d CPU-bound tasks spawned by one goroutine: %.1f ms\n", tasks, ms_since(t0));
    print_stats("stealing", before);
  }
  return 0;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // interleave with the SCHED lines on stderr
  gort::options opts;
  if (std::getenv("GORTDEBUG") == nullptr) opts.debug = "schedtrace=200";
  return gort::run(tour, opts);
}
