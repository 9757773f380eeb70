// jobqueue — a service-style job queue on a bounded gort::pool.
//
//   jobqueue [--jobs N] [--workers W] [--deadline-ms D] [--grace-ms G]
//
// A producer (the main goroutine) feeds N jobs into a pool of W workers. Every job has its own
// deadline, D ms from its arrival (a context made with with_timeout): a job that cannot get a
// worker before its deadline is refused by submit(ctx, ...) — the submitter stops waiting (ants
// #237) — and a job whose work outlasts its deadline gives up mid-way (the context-aware sleep that
// stands in for its work returns deadline_exceeded). Work takes 1–1.5·D ms, so some jobs miss.
//
// Shutdown is graceful on SIGINT/SIGTERM, and after the N jobs: the producer stops taking jobs,
// then release_timeout(G) lets every accepted job finish (and every worker exit) for up to G ms;
// past that, or on a second signal, the jobs still running are told to abort (their contexts are
// cancelled), and the pool's destructor waits for them. Signals are handled without any
// async-signal-unsafe work: they are blocked in every thread (the runtime's threads inherit the
// mask) and a dedicated plain thread takes them with sigwait(), then cancels a context — an
// ordinary call, outside any signal handler.
//
// Prints one summary line once every job has finished (and exits 0); the counts add up to the
// jobs, and done + past deadline + aborted to the jobs the pool accepted, e.g.
//   jobqueue: 1000 jobs: 690 done, 310 past deadline, 0 aborted, 0 refused (no worker in time),
//   0 not started (shutdown); drained in time; pool: accepted 1000
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "gort/gort.hpp"

namespace {

using namespace std::chrono_literals;

struct settings {
  long jobs = 1000;
  long workers = 8;
  long deadline_ms = 20;
  long grace_ms = 2000;
};

bool parse(int argc, char** argv, settings& s) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    long* target = nullptr;
    if (arg == "--jobs") target = &s.jobs;
    if (arg == "--workers") target = &s.workers;
    if (arg == "--deadline-ms") target = &s.deadline_ms;
    if (arg == "--grace-ms") target = &s.grace_ms;
    if (target == nullptr || i + 1 >= argc) return false;
    char* end = nullptr;
    *target = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || *target <= 0) return false;
  }
  return true;
}

struct tallies {
  std::atomic<long> done{0};
  std::atomic<long> late{0};     // the deadline passed while the job was working
  std::atomic<long> refused{0};  // no worker before the deadline
  std::atomic<long> aborted{0};  // told to abort: the drain outlasted the grace period
};

/// The job itself: "work" for `cost`, giving up at the job's deadline.
void work_on(const gort::context& ctx, std::chrono::milliseconds cost, tallies& t) {
  const std::error_code e = gort::sleep_for(ctx, cost);
  if (!e) {
    t.done.fetch_add(1, std::memory_order_relaxed);
  } else if (e == gort::errc::deadline_exceeded) {
    t.late.fetch_add(1, std::memory_order_relaxed);
  } else {
    t.aborted.fetch_add(1, std::memory_order_relaxed);  // canceled: abort
  }
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  if (!parse(argc, argv, s)) {
    std::fprintf(stderr,
                 "usage: %s [--jobs N] [--workers W] [--deadline-ms D] [--grace-ms G]\n", argv[0]);
    return 2;
  }

  // Block the shutdown signals before any thread exists, so that only sigwait() sees them.
  // SIGUSR1 is the signal thread's own "the run is over" wake-up.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // From here on a SIGINT/SIGTERM is a graceful shutdown (a supervisor may wait for this line).
  std::printf("jobqueue: running %lld jobs (pid %d); SIGINT or SIGTERM shuts it down\n",
              static_cast<long long>(s.jobs), static_cast<int>(getpid()));
  std::fflush(stdout);

  return gort::run([&s, &signals] {
    // `intake` ends when shutdown is asked for: the producer stops. `work` ends only if the
    // drain outlasts the grace period (or on a second signal): jobs still running then abort.
    auto [intake, stop_intake] = gort::with_cancel(gort::background());
    auto [work, abort_work] = gort::with_cancel(gort::background());

    std::atomic<int> received{0};
    std::thread signal_thread([&, stop_intake = stop_intake, abort_work = abort_work] {
      for (int count = 0;;) {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig == SIGUSR1) return;  // the run is over
        received = sig;
        (++count == 1 ? stop_intake : abort_work)();  // any thread may cancel a context
      }
    });

    tallies t;
    long not_started = 0;
    std::uint64_t accepted = 0;
    std::error_code drained;
    {
      gort::pool pool({.capacity = s.workers});
      const auto deadline = std::chrono::milliseconds(s.deadline_ms);
      std::uint32_t seed = 12345;
      for (long i = 0; i < s.jobs; ++i) {
        if (intake.err()) {  // shutting down: stop producing
          not_started = s.jobs - i;
          break;
        }
        seed = seed * 1103515245u + 12345u;
        const auto cost = std::chrono::milliseconds(1 + (seed >> 16) % (3 * s.deadline_ms / 2));
        // The deadline runs from the job's arrival: waiting for a worker counts against it. The
        // task owns copies of the job's context and cancel function (both are shared handles).
        auto [job_ctx, job_done] = gort::with_timeout(work, deadline);
        const std::error_code e = pool.submit(job_ctx, [&t, ctx = job_ctx, done = job_done, cost] {
          work_on(ctx, cost, t);
          done();  // release the deadline timer early
        });
        if (e == gort::errc::deadline_exceeded) {
          t.refused.fetch_add(1, std::memory_order_relaxed);
        } else if (e) {
          not_started += 1;  // canceled (abort) or closed
        }
        if (e) job_done();
      }
      // Every submit() has returned: the number of accepted jobs is final.
      accepted = pool.stats().submitted;

      // Graceful shutdown: accepted jobs finish; past the grace period, they are told to abort.
      drained = pool.release_timeout(std::chrono::milliseconds(s.grace_ms));
      if (drained) abort_work();
    }  // destroying the pool waits for every accepted job, the aborted ones included

    // Every job is accounted for: done, past deadline or aborted (the accepted ones), refused,
    // or not started.
    if (received != 0) std::printf("jobqueue: %s received, shut down\n", strsignal(received));
    const std::string drain = drained ? "not drained: " + drained.message() : "drained in time";
    std::printf(
        "jobqueue: %ld jobs: %ld done, %ld past deadline, %ld aborted, %ld refused (no worker in "
        "time), %ld not started (shutdown); %s; pool: accepted %llu\n",
        s.jobs, t.done.load(), t.late.load(), t.aborted.load(), t.refused.load(), not_started,
        drain.c_str(), static_cast<unsigned long long>(accepted));
    std::fflush(stdout);

    pthread_kill(signal_thread.native_handle(), SIGUSR1);
    signal_thread.join();
    stop_intake();
    abort_work();
    return 0;
  });
}
