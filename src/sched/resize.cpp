// sched/resize.cpp — changing the processor count while the runtime runs (Go's
// runtime.GOMAXPROCS(n) and procresize), and following the CPU limit (Go 1.25).
//
// Who resizes: sysmon, and only sysmon (sysmon_resize). It holds no processor, so stopping every
// processor never has to wait for itself; a set_maxprocs caller queues a request and waits on a
// channel (a goroutine parks, which frees its processor to stop like the others).
//
// The resize protocol (resize_procs):
//  1. Under the scheduler lock: set `stw` and `barrier`, and take every idle processor off the
//     idle list as stopped (status gcstop; npidle = 0). From here pidleget hands out nothing and
//     pidleput counts a processor given up as stopped (scheduler.cpp), so a processor leaves
//     service at most once and never comes back during the resize.
//  2. Wait until every current processor is stopped. A machine gives its processor up at the top
//     of find_runnable when it sees `barrier` (stop_for_resize), or wherever it would have made it
//     idle; `barrier` also turns the direct goroutine-to-goroutine hand-off off, so every park and
//     exit passes through find_runnable. A running goroutine is asked to yield at its next
//     preemption point, again every 100 µs (the goroutine running may change). A goroutine that
//     runs without preemption points delays the resize until it reaches one, as in Go before 1.14.
//     A processor left in a blocking call (status syscall) is taken as stopped at once.
//     Shutdown starting meanwhile abandons the resize (its machines are leaving anyway).
//  3. With the world stopped, without the scheduler lock (heap locks come before it,
//     docs/lock-order.md): create the records of new processors (or revive dropped ones), move the
//     timers of each dropped processor to processor (id mod n) and retire its heap, so a plain
//     thread that picked it arms on another (timers.cpp, timer_start). Every local run queue is
//     drained, runnext first.
//  4. Under the scheduler lock: the drained goroutines go to the global queue, gomaxprocs and the
//     steal order take the new count, every current processor becomes idle (or goes to a locked
//     goroutine's machine that waits for one, src/sched/locked.cpp), `stw` and `barrier` are
//     cleared (the barrier stays while locked goroutines still wait).
//  5. wakep: one spinning machine finds the global queue, and each machine that finds work wakes
//     the next (the spinning protocol, scheduler.hpp), so the queued goroutines spread over the
//     new processors. Nothing is lost: every goroutine that was runnable is in the global queue,
//     every timer in a current heap.
#include <chrono>
#include <mutex>
#include <utility>
#include <vector>

#include "gort/chan.hpp"
#include "gort/error.hpp"
#include "gort/runtime.hpp"
#include "sched/scheduler.hpp"
#include "sys/clock.hpp"
#include "sys/cpu_quota.hpp"

namespace gort::sched {

struct resize_request {
  int n = 0;              // the count asked for; 0: the CPUs' default, read by sysmon
  gort::chan<int> reply;  // receives the count before the resize (capacity 1)
};

namespace {

constexpr std::int64_t k_stw_poke_ns = 100'000;
constexpr std::int64_t k_follow_period_ns = 1'000'000'000;  // Go 1.25: about once a second

// Steps 1 and 2. Returns false when shutdown began (nothing is stopped then). sysmon only.
bool stop_the_world(scheduler& s, int current) {
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (s.stopping) return false;
    GORT_DCHECK(!s.stw);
    s.stw = true;
    s.stw_stopped = 0;
    // seq_cst: a machine that misses it gives its processor up through pidleput under the lock.
    s.barrier.store(true, std::memory_order_seq_cst);
    while (processor* p = s.pidle) {
      s.pidle = p->idle_link;
      p->idle_link = nullptr;
      p->status.store(p_status::gcstop, std::memory_order_relaxed);
      ++s.stw_stopped;
    }
    s.npidle.store(0, std::memory_order_seq_cst);
  }
  for (;;) {
    s.stw_note.clear();
    {
      std::lock_guard<std::mutex> l(s.lock);
      // A processor left in a blocking call stops here (Go's stopTheWorld takes _Psyscall
      // processors the same way): its goroutine, on return, finds it taken and no idle one, and
      // waits in the global queue (blocking.cpp, step 3c).
      for (int i = 0; i < current; ++i) {
        processor* p = s.allp[static_cast<std::size_t>(i)].get();
        p_status expected = p_status::syscall;
        // acquire: pairs with blocking_enter's release store of status syscall, as retake's CAS.
        if (p->status.load(std::memory_order_relaxed) == p_status::syscall &&
            p->status.compare_exchange_strong(expected, p_status::gcstop, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
          ++s.stw_stopped;
        }
      }
      if (s.stw_stopped == current) return true;
      if (s.stopping) {
        s.stw = false;
        return false;
      }
    }
    for (int i = 0; i < current; ++i) {
      // acquire: pairs with prepare_run's release store of curg.
      if (goroutine* g = s.allp[static_cast<std::size_t>(i)]->curg.load(std::memory_order_acquire)) {
        g->preempt.store(true, std::memory_order_relaxed);
      }
    }
    check_not_forked();
    s.stw_note.sleep_for(k_stw_poke_ns, &sys::nanotime);
  }
}

// Steps 3 to 5: the world is stopped at `current` processors. sysmon only.
void resize_stopped(scheduler& s, int current, int n) {
  // 3. Records, timers, run queues.
  for (int i = current; i < n; ++i) {
    if (static_cast<std::size_t>(i) >= s.allp.size()) {
      auto p = std::make_unique<processor>();
      p->id = i;
      p->status.store(p_status::gcstop, std::memory_order_relaxed);
      s.allp.add(std::move(p));
    }
    processor* p = s.allp[static_cast<std::size_t>(i)].get();
    p->timers.lock.lock();
    p->timers.set_retired_locked(false);
    p->timers.lock.unlock();
  }
  for (int i = n; i < current; ++i) {
    processor* p = s.allp[static_cast<std::size_t>(i)].get();
    processor* heir = s.allp[static_cast<std::size_t>(i % n)].get();
    p->timers.lock.lock();
    heir->timers.lock.lock();
    p->timers.move_all_locked(heir->timers);
    p->timers.set_retired_locked(true);
    heir->timers.lock.unlock();
    p->timers.lock.unlock();
  }
  std::vector<goroutine*> queued;
  for (int i = 0; i < current; ++i) {
    processor* p = s.allp[static_cast<std::size_t>(i)].get();
    bool inherit = false;
    while (goroutine* g = p->runq.get(inherit)) queued.push_back(g);
  }
  // 4. Back in service.
  {
    std::lock_guard<std::mutex> l(s.lock);
    if (!queued.empty()) s.runq.push_back_batch(queued.data(), queued.size());
    for (int i = n; i < current; ++i) {
      s.allp[static_cast<std::size_t>(i)]->status.store(p_status::dead, std::memory_order_relaxed);
    }
    // release: pairs with the acquire loads that bound walks of allp.
    s.gomaxprocs.store(n, std::memory_order_release);
    s.order.reset(static_cast<std::uint32_t>(n));
    s.stw = false;
    s.stw_stopped = 0;
    // pidleput hands a processor to a locked goroutine that queued meanwhile (locked.cpp).
    for (int i = n - 1; i >= 0; --i) pidleput(s, s.allp[static_cast<std::size_t>(i)].get());
    update_barrier(s);  // stays set for shutdown, or for locked goroutines still waiting
  }
  // 5.
  wakep(s);
}

// Resizes to n; returns the count before. sysmon only.
int resize_procs(scheduler& s, int n) {
  const int current = s.gomaxprocs.load(std::memory_order_relaxed);
  if (n == current) return current;
  if (!stop_the_world(s, current)) return current;
  resize_stopped(s, current, n);
  return current;
}

// The count the CPUs allow now (Go 1.25's default): the calling thread's affinity mask and the
// cgroup limit. sysmon only (the CPUs are always read on one thread).
int cpu_procs() {
  int cpus = 0;
  const sys::cpu_quota q = read_cpu_limit(&cpus);
  return sys::default_maxprocs(cpus, q);
}

std::mutex g_limit_lock;
cpu_limit_source g_limit;  // under g_limit_lock

}  // namespace

void set_cpu_limit_source(cpu_limit_source src) {
  std::lock_guard<std::mutex> l(g_limit_lock);
  g_limit = std::move(src);
}

sys::cpu_quota read_cpu_limit(int* cpus) {
  cpu_limit_source src;
  {
    std::lock_guard<std::mutex> l(g_limit_lock);
    src = g_limit;
  }
  *cpus = src.cpus > 0 ? src.cpus : sys::affinity_cpu_count();
  return sys::read_cpu_quota(src.sysroot);
}

void sysmon_resize(scheduler& s, std::int64_t now) {
  // relaxed: a request queued after this load is seen on the next round (sysmon_wake).
  while (s.resize_pending.load(std::memory_order_relaxed) != 0) {
    resize_request* r = nullptr;
    {
      std::lock_guard<std::mutex> l(s.lock);
      if (s.resize_requests.empty()) break;
      r = s.resize_requests.front();
      s.resize_requests.erase(s.resize_requests.begin());
      s.resize_pending.fetch_sub(1, std::memory_order_relaxed);
    }
    gort::chan<int> reply = r->reply;  // r lives on the waiter's stack until it is answered
    (void)reply.try_send(resize_procs(s, r->n != 0 ? r->n : cpu_procs()));
  }
  if (s.maxprocs_explicit.load(std::memory_order_relaxed)) return;
  if (now - s.follow_last < k_follow_period_ns) return;
  s.follow_last = now;
  const int want = cpu_procs();
  if (want != s.gomaxprocs.load(std::memory_order_relaxed)) resize_procs(s, want);
}

void fail_resize_requests(scheduler& s) {
  std::vector<resize_request*> left;
  {
    std::lock_guard<std::mutex> l(s.lock);
    left.swap(s.resize_requests);
    s.resize_pending.store(0, std::memory_order_relaxed);
  }
  for (resize_request* r : left) {
    gort::chan<int> reply = r->reply;
    (void)reply.try_send(s.gomaxprocs.load(std::memory_order_relaxed));
  }
}

}  // namespace gort::sched

namespace gort {

using namespace gort::sched;

namespace {

// Queues a resize to n for sysmon and waits for it; returns the count before. The caller holds
// the runtime (runtime_access).
int request_resize(scheduler* s, int n) {
  resize_request r;
  r.n = n;
  r.reply = gort::chan<int>(1);
  {
    std::lock_guard<std::mutex> l(s->lock);
    if (s->stopping) return s->gomaxprocs.load(std::memory_order_acquire);
    s->resize_requests.push_back(&r);
    s->resize_pending.fetch_add(1, std::memory_order_seq_cst);
  }
  sysmon_wake(*s);
  // Answered by sysmon, or by shutdown (fail_resize_requests) after sysmon stopped.
  return r.reply.recv().value_or(n);
}

}  // namespace

int set_maxprocs(int n) {
  if (n < 0 || n > sys::k_max_procs) {
    throw config_error("gort::set_maxprocs(" + std::to_string(n) + "): want 0 (query) or 1.." +
                       std::to_string(sys::k_max_procs));
  }
  runtime_access rt;
  scheduler* s = rt.get();
  if (s == nullptr) return maxprocs();
  if (n == 0) return s->gomaxprocs.load(std::memory_order_acquire);
  s->maxprocs_explicit.store(true, std::memory_order_relaxed);  // sysmon stops following
  return request_resize(s, n);
}

int set_default_maxprocs() {
  runtime_access rt;
  scheduler* s = rt.get();
  if (s == nullptr) return maxprocs();
  s->maxprocs_explicit.store(false, std::memory_order_relaxed);  // sysmon follows again
  return request_resize(s, 0);  // read on sysmon's thread, like the following
}

}  // namespace gort
