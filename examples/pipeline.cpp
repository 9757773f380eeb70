// examples/pipeline.cpp — a fan-out/fan-in pipeline with select, a quit channel and timeouts.
//
//   ./pipeline [jobs] [workers] [deadline-ms] [slow-fetch-ms]
//              (defaults: 400 jobs, 8 workers, 250 ms deadline, 200 ms slow fetches)
//
// The shape of a Go service's batch stage, in gort:
//
//   generate ──jobs──► worker ×W ──results──► collect (main)
//        ▲                  ▲                     │
//        └──────── quit (closed by main) ─────────┘
//
//  * generate sends job ids on an unbuffered channel until all are sent or `quit` is closed;
//  * each worker ranges over `jobs`, "fetches" the job (a timer standing in for an I/O call of
//    1–20 ms; every 50th job is slow: 200 ms, or slow-fetch-ms) and counts the primes in the job's block of numbers,
//    then sends the result. The fetch and the send are selects on `quit` as well: a worker gives
//    up the moment `quit` closes, even in the middle of a slow fetch;
//  * a closer goroutine closes `results` once every worker has returned (wait_group), so main's
//    receive loop ends by itself;
//  * main collects with a select over the results, a progress ticker, a per-result stall timeout
//    (gort::after) and the stage's overall deadline (a gort::timer). At the deadline it closes
//    `quit`: the generator and the workers stop, and whatever they had in flight is dropped.
//
// Everything shuts down in order before main returns: no goroutine is left behind. The summary
// accounts for every job: completed, cancelled in its fetch, dropped with its result computed, or
// never handed out by the generator, e.g.
//   done in 252 ms: 121 of 400 jobs completed, 8 fetches cancelled, 0 results dropped, 271 never
//   started (stopped at the deadline), ...
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "gort/gort.hpp"

namespace {

using namespace std::chrono_literals;

struct result {
  int job = 0;
  int primes = 0;
  std::uint64_t worker = 0;  // the goroutine that computed it
};

constexpr int k_block = 20'000;  // numbers per job

int count_primes(int lo, int hi) {
  int n = 0;
  for (int x = lo < 2 ? 2 : lo; x < hi; ++x) {
    bool prime = true;
    for (int d = 2; d * d <= x; ++d) {
      if (x % d == 0) {
        prime = false;
        break;
      }
    }
    n += prime ? 1 : 0;
  }
  return n;
}

// What happened to the jobs that did not complete: each job is counted exactly once, by the
// goroutine that gave it up.
struct losses {
  std::atomic<int> generated{0};  // handed to a worker
  std::atomic<int> cancelled{0};  // quit closed during its fetch
  std::atomic<int> dropped{0};    // quit closed while its result waited to be sent
};

// Sends 0..jobs-1 on `out` until done or `quit` is closed, then closes `out`.
void generate(int jobs, gort::chan<int> out, gort::chan<int> quit, losses& l) {
  for (int j = 0; j < jobs; ++j) {
    bool stop = false;
    gort::select(gort::send(out, j), gort::recv(quit, [&](auto) { stop = true; }));
    if (stop) break;
    l.generated.fetch_add(1, std::memory_order_relaxed);
  }
  out.close();
}

// The stand-in for an I/O call: waits `d`, or gives up when `quit` closes first. The timer is
// stopped when it goes out of scope, so a cancelled fetch leaves nothing behind.
bool fetch(std::chrono::milliseconds d, const gort::chan<int>& quit) {
  gort::timer t(d);
  bool fetched = false;
  gort::select(gort::recv(t.c(), [&](auto) { fetched = true; }), gort::recv(quit));
  return fetched;
}

// Processes jobs until `jobs` is closed or `quit` is closed; every 50th job's fetch takes `slow`.
void work(gort::chan<int> jobs, gort::chan<result> results, gort::chan<int> quit,
          std::chrono::milliseconds slow, losses& l) {
  for (int j : jobs) {
    if (!fetch(j % 50 == 49 ? slow : std::chrono::milliseconds(1 + j * 7 % 20), quit)) {
      l.cancelled.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    result r{j, count_primes(j * k_block, (j + 1) * k_block), gort::this_goroutine::id()};
    bool stop = false;
    gort::select(gort::send(results, r), gort::recv(quit, [&](auto) { stop = true; }));
    if (stop) {
      l.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
}

int pipeline(int jobs, int workers, std::chrono::milliseconds deadline,
             std::chrono::milliseconds slow) {
  std::printf("pipeline: %d jobs, %d workers, %lld ms deadline, %d processors\n", jobs, workers,
              static_cast<long long>(deadline.count()), gort::maxprocs());
  gort::chan<int> job_ids(0);
  gort::chan<result> results(16);
  gort::chan<int> quit(0);  // never sent on: closing it broadcasts "stop"

  losses lost;
  gort::wait_group working;
  working.go([&] { generate(jobs, job_ids, quit, lost); });
  for (int w = 0; w < workers; ++w) working.go([&] { work(job_ids, results, quit, slow, lost); });
  gort::go([&working, results] {
    working.wait();
    results.close();
  });

  const auto t0 = gort::clock::now();
  gort::timer stage_deadline(deadline);
  gort::ticker progress(50ms);
  int received = 0;
  int stalls = 0;
  long long primes = 0;
  bool open = true;
  bool quitting = false;
  while (open) {
    gort::select(
        gort::recv(results,
                   [&](std::optional<result> r) {
                     if (!r) {
                       open = false;  // every worker has returned
                       return;
                     }
                     ++received;
                     primes += r->primes;
                   }),
        gort::recv(progress.c(),
                   [&](auto) {
                     std::printf("  %4lld ms: %d results, %lld goroutines\n",
                                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     gort::clock::now() - t0).count()),
                                 received, static_cast<long long>(gort::num_goroutines()));
                   }),
        gort::recv(stage_deadline.c(),
                   [&](auto) {
                     std::printf("  deadline: closing quit, dropping work in flight\n");
                     quit.close();
                     quitting = true;
                   }),
        gort::recv(gort::after(30ms), [&](auto) { ++stalls; }));  // no result for 30 ms
  }
  progress.stop();
  if (!quitting) stage_deadline.stop();

  // `results` is closed: the generator and every worker have returned, so the counts are final.
  const double ms =
      std::chrono::duration<double, std::milli>(gort::clock::now() - t0).count();
  std::printf("done in %.0f ms: %d of %d jobs completed, %d fetches cancelled, %d results "
              "dropped, %d never started (%s), %lld primes found, %d stalls of 30 ms, %lld "
              "goroutines left\n",
              ms, received, jobs, lost.cancelled.load(), lost.dropped.load(),
              jobs - lost.generated.load(), quitting ? "stopped at the deadline" : "all of them",
              primes, stalls, static_cast<long long>(gort::num_goroutines()));
  return received > 0 ? 0 : 1;
}

int arg(int argc, char** argv, int i, int fallback) {
  if (argc <= i) return fallback;
  const int v = std::atoi(argv[i]);
  if (v <= 0) {
    std::fprintf(stderr,
                 "usage: %s [jobs] [workers] [deadline-ms] [slow-fetch-ms]   (positive integers)\n",
                 argv[0]);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = arg(argc, argv, 1, 400);
  const int workers = arg(argc, argv, 2, 8);
  const int deadline_ms = arg(argc, argv, 3, 250);
  const int slow_ms = arg(argc, argv, 4, 200);
  return gort::run([&] {
    return pipeline(jobs, workers, std::chrono::milliseconds(deadline_ms),
                    std::chrono::milliseconds(slow_ms));
  });
}
