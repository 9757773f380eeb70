// trace/schedtrace.cpp — GORTDEBUG=schedtrace=N[,scheddetail=1] output, Go 1.19's format.
//
//   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=4 spinningthreads=1 idlethreads=1 runqueue=0 [3 0] blocking=0 retakes=0
//
// Go 1.19's line, then gort's two blocking-call figures (goroutines inside gort::blocking now,
// processors sysmon took from blocking calls so far).
// T counts from the first line (which says 0ms). The per-P list is each local ring's length
// (runnext not counted). With scheddetail=1 the bracket list is replaced by Go's detail fields and
// one line per P, M and live G. Called by sysmon only. Figures are a snapshot taken without
// stopping the world, so they may be mutually inconsistent by a goroutine or two, as in Go; the
// detail lines read some fields of running machines without synchronization (debugging aid).
#include <cstdio>
#include <string>

#include "sched/scheduler.hpp"

namespace gort::sched {

namespace {

void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[256];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out.append(buf, static_cast<std::size_t>(std::min<int>(n, sizeof buf - 1)));
}

// gort's addition to Go's line: goroutines inside gort::blocking now, and processors sysmon took
// from blocking calls so far.
void append_blocking(std::string& out, scheduler& s) {
  appendf(out, " blocking=%lld retakes=%llu",
          static_cast<long long>(s.nblocking.load(std::memory_order_relaxed)),
          static_cast<unsigned long long>(s.retakes.load(std::memory_order_relaxed)));
}

}  // namespace

void print_schedtrace(scheduler& s, bool detail, std::int64_t now) {
  if (s.trace_start == 0) s.trace_start = now;
  print_sched_state(s, detail, (now - s.trace_start) / 1'000'000);
}

void print_sched_state(scheduler& s, bool detail, std::int64_t ms) {
  std::string out;
  appendf(out,
          "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
          "idlethreads=%d runqueue=%lld",
          static_cast<long long>(ms), s.gomaxprocs.load(std::memory_order_relaxed),
          s.npidle.load(std::memory_order_relaxed), s.mcount.load(std::memory_order_relaxed),
          s.nmspinning.load(std::memory_order_relaxed), s.nmidle.load(std::memory_order_relaxed),
          static_cast<long long>(s.runq.size()));
  if (!detail) {
    out += " [";
    const auto n = static_cast<std::size_t>(s.gomaxprocs.load(std::memory_order_acquire));
    for (std::size_t i = 0; i < n; ++i) {
      appendf(out, i == 0 ? "%u" : " %u", s.allp[i]->runq.size());
    }
    out += "]";
    append_blocking(out, s);
    out += "\n";
    std::fwrite(out.data(), 1, out.size(), stderr);
    return;
  }
  appendf(out, " gcwaiting=0 nmidlelocked=%d stopwait=0 sysmonwait=%d",
          s.nmidlelocked.load(std::memory_order_relaxed),
          s.sysmon_sleeping.load(std::memory_order_relaxed) ? 1 : 0);
  append_blocking(out, s);
  out += "\n";
  std::lock_guard<std::mutex> l(s.lock);
  for (auto& pp : s.allp) {
    processor* p = pp.get();
    machine* owner = p->m.load(std::memory_order_relaxed);
    appendf(out,
            "  P%d: status=%u schedtick=%u syscalltick=0 m=%lld runqsize=%u gfreecnt=%d "
            "timerslen=%zu\n",
            p->id, static_cast<unsigned>(p->status.load(std::memory_order_relaxed)),
            p->schedtick.load(std::memory_order_relaxed),
            owner != nullptr ? static_cast<long long>(owner->id) : -1LL, p->runq.size(),
            p->gfree_count, p->timers.size());
  }
  for (auto it = s.allm.rbegin(); it != s.allm.rend(); ++it) {  // newest first, as Go walks allm
    machine* m = it->get();
    processor* p = m->p;
    goroutine* g = p != nullptr ? p->curg.load(std::memory_order_acquire) : nullptr;
    // A snapshot like the detail lines' other fields (records are type-stable): the goroutine
    // locked to the machine (src/sched/locked.cpp).
    const goroutine* locked = m->lockedg;
    appendf(out,
            "  M%lld: p=%d curg=%lld mallocing=0 throwing=0 preemptoff= locks=0 dying=0 "
            "spinning=%s blocked=%s lockedg=%lld\n",
            static_cast<long long>(m->id), p != nullptr ? p->id : -1,
            g != nullptr ? static_cast<long long>(g->id) : -1LL, m->spinning ? "true" : "false",
            m->blocked.load(std::memory_order_relaxed) ? "true" : "false",
            locked != nullptr ? static_cast<long long>(locked->id) : -1LL);
  }
  std::lock_guard<std::mutex> gl(s.gfree_lock);
  for (goroutine* slab : s.slabs) {
    for (std::size_t j = 0; j < k_slab_records; ++j) {
      goroutine* g = &slab[j];
      // Without the scan bit a dump may hold (goroutine.hpp): Go's status numbers.
      const auto st = static_cast<g_status>(
          static_cast<std::uint32_t>(g->status.load(std::memory_order_relaxed)) & ~k_g_scan);
      if (st == g_status::dead || st == g_status::idle) continue;
      const machine* m = st == g_status::running ? g->m : nullptr;
      // A locked goroutine's `m` is its machine whatever its status (locked.cpp).
      const machine* lm = g->kind == g_kind::locked ? g->m : nullptr;
      appendf(out, "  G%llu: status=%u(%s) m=%lld lockedm=%lld\n",
              static_cast<unsigned long long>(g->id), static_cast<unsigned>(st),
              st == g_status::waiting ? detail::wait_reason_string(g->reason) : "",
              m != nullptr ? static_cast<long long>(m->id) : -1LL,
              lm != nullptr ? static_cast<long long>(lm->id) : -1LL);
    }
  }
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace gort::sched
