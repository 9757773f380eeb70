// trace/trace.cpp — the instrumentation hooks (instrument.hpp) and the execution trace.
//
// The trace is Chrome's trace-event JSON ({"traceEvents": [...]}), which Perfetto and
// chrome://tracing open; docs/design.md ("Execution trace") describes what each event means.
// Machines and sysmon append fixed-size records to their own buffers (trace_buffer.hpp) without a
// lock; trace_stop (or the end of the runtime) takes the buffers with the hand-shake described
// there and writes the JSON.
//
// Lock order: g_session_lock -> scheduler::lock. The hooks take no lock.
#include <algorithm>
#include <sys/mman.h>

#include <bit>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "gort/error.hpp"
#include "gort/trace.hpp"
#include "sched/scheduler.hpp"
#include "sys/clock.hpp"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace gort::sched {

std::atomic<std::uint32_t> g_instrument{0};

namespace {

// End codes of a slice (trace_kind::slice_end's c) beyond the wait reasons.
constexpr std::uint32_t k_end_yield = 1000;
constexpr std::uint32_t k_end_preempt = 1001;
constexpr std::uint32_t k_end_exit = 1002;
constexpr std::uint32_t k_end_blocking = 1003;  // returned from a blocking call without a processor

constexpr std::int64_t k_counter_period_ns = 1'000'000;

// ---- the trace session (g_session_lock) ----

struct session {
  scheduler* s = nullptr;
  std::FILE* f = nullptr;
  std::string path;
  std::int64_t t0 = 0;        // ticks() at the start
  std::int64_t t0_ns = 0;     // sys::nanotime() at the start
  std::uint64_t number = 0;  // sessions started in this process; part of every flow id
};

// Trace timestamps: the CPU's time-stamp counter where it ticks at a constant rate in every power
// state (Go's cputicks), about a third of a clock_gettime; converted to nanoseconds when the trace
// is written, from the clock and the counter read at its start and stop. Elsewhere the clock.
std::atomic<bool> g_trace_tsc{false};  // set before the trace bit (relaxed: ordered by it)

bool invariant_tsc() {
#if defined(__x86_64__)
  std::FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) return false;
  char line[4096];
  bool constant = false, nonstop = false;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "flags", 5) != 0) continue;
    constant = std::strstr(line, " constant_tsc") != nullptr;
    nonstop = std::strstr(line, " nonstop_tsc") != nullptr;
    break;
  }
  std::fclose(f);
  return constant && nonstop;
#else
  return false;
#endif
}

inline std::int64_t ticks() noexcept {
#if defined(__x86_64__)
  if (g_trace_tsc.load(std::memory_order_relaxed)) return static_cast<std::int64_t>(__rdtsc());
#endif
  return sys::nanotime();
}

std::mutex g_session_lock;
session* g_session = nullptr;  // g_session_lock
std::uint64_t g_sessions = 0;  // g_session_lock
// The running session's number, read by writers for flow ids (relaxed: set before the trace bit
// is, whose seq_cst store and load order it for every writer that appends).
std::atomic<std::uint64_t> g_session_number{0};

// ---- writers (the buffer's owner only) ----

trace_chunk* new_chunk() noexcept {
  void* mem = ::mmap(nullptr, k_trace_chunk_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  (void)::madvise(mem, k_trace_chunk_bytes, MADV_HUGEPAGE);  // a hint; fine where unsupported
  return new (mem) trace_chunk;
}

void free_chunk(trace_chunk* c) noexcept { ::munmap(c, k_trace_chunk_bytes); }

trace_event* slot(trace_buffer& b) noexcept {
  trace_chunk* c = b.tail;
  if (c == nullptr || c->n == k_trace_chunk_events) {
    trace_chunk* fresh = new_chunk();
    if (fresh == nullptr) {
      ++b.lost;
      return nullptr;
    }
    if (c != nullptr) {
      c->next = fresh;
    } else {
      b.head = fresh;
    }
    b.tail = fresh;
    c = fresh;
  }
  return &c->ev[c->n++];
}

// Appends one event under the hand-shake of trace_buffer.hpp (step 1). Returns false when the
// trace is off (nothing appended).
template <class Fill>
bool emit(trace_buffer& b, Fill fill) noexcept {
  b.writing.store(true, std::memory_order_seq_cst);
  const bool on = (g_instrument.load(std::memory_order_seq_cst) & k_instr_trace) != 0;
  if (on) {
    if (trace_event* e = slot(b)) fill(*e);
  }
  b.writing.store(false, std::memory_order_release);  // pairs with trace_collect's load
  return on;
}

// A flow id: unique within the process for 2^36 readies per machine, exact in a JSON double.
std::uint64_t next_flow(machine* m) noexcept {
  const std::uint64_t seq = ++m->trace.flow_seq & ((std::uint64_t{1} << 36) - 1);
  const std::uint64_t tid = static_cast<std::uint64_t>(m->id + 1) & 0xfff;
  const std::uint64_t sess = g_session_number.load(std::memory_order_relaxed) & 0x1f;
  return (sess << 48) | (tid << 36) | seq;
}

std::uint64_t flow_session(std::uint64_t id) { return id >> 48; }

void record_latency(processor* p, std::int64_t d) noexcept {
  const auto ud = static_cast<std::uint64_t>(d < 0 ? 0 : d);
  // Bucket i holds (2^(7+i), 2^(8+i)] ns (Prometheus's le: upper bounds are inclusive).
  int i = ud == 0 ? 0 : static_cast<int>(std::bit_width(ud - 1)) - k_latency_first_shift;
  if (i < 0) i = 0;
  if (i >= k_latency_buckets) i = k_latency_buckets - 1;
  bump(p->latency_counts[i]);
  bump(p->latency_sum_ns, ud);
}

// ---- collection and output (g_session_lock held) ----

struct taken_buffer {
  std::int64_t tid;
  trace_chunk* head;
  std::uint64_t lost;
};

// Step 2 and 3 of the hand-shake, for one buffer.
taken_buffer take(trace_buffer& b, std::int64_t tid) {
  while (b.writing.load(std::memory_order_seq_cst)) std::this_thread::yield();
  taken_buffer t{tid, b.head, b.lost};
  b.head = nullptr;
  b.tail = nullptr;
  b.lost = 0;
  return t;
}

std::vector<taken_buffer> trace_collect(scheduler& s) {
  // seq_cst: step 2 of the hand-shake.
  g_instrument.fetch_and(~k_instr_trace, std::memory_order_seq_cst);
  std::vector<taken_buffer> out;
  out.push_back(take(s.sysmon_trace, 0));
  std::lock_guard<std::mutex> l(s.lock);  // allm grows under it; machines are never freed early
  for (auto& m : s.allm) out.push_back(take(m->trace, m->id + 1));
  return out;
}

const char* end_name(std::uint32_t code) {
  switch (code) {
    case k_end_yield: return "yield";
    case k_end_preempt: return "preempted";
    case k_end_exit: return "exit";
    case k_end_blocking: return "blocking call returned";
    default: break;
  }
  const char* r = detail::wait_reason_string(static_cast<detail::wait_reason>(code));
  return r[0] != '\0' ? r : "parked";
}

class json_out {
 public:
  // `scale`: nanoseconds per tick.
  json_out(std::FILE* f, std::int64_t t0, double scale) : f_(f), t0_(t0), scale_(scale) {}

  std::int64_t ns(std::int64_t ticks) const {
    return static_cast<std::int64_t>(static_cast<double>(ticks - t0_) * scale_);
  }

  // One event object; `body` is the part after the common fields (starts with a comma or empty).
  void event(const char* ph, std::int64_t tid, std::int64_t ts, const char* body_fmt, auto... args) {
    std::fputs(first_ ? "\n" : ",\n", f_);
    first_ = false;
    const std::int64_t rel = ns(ts);
    std::fprintf(f_, "{\"ph\":\"%s\",\"pid\":1,\"tid\":%" PRId64 ",\"ts\":%" PRId64 ".%03d", ph, tid,
                 rel / 1000, static_cast<int>(rel % 1000));
    if constexpr (sizeof...(args) == 0) {
      std::fputs(body_fmt, f_);
    } else {
      std::fprintf(f_, body_fmt, args...);
    }
    std::fputs("}", f_);
  }
  void raw(const char* text) {
    std::fputs(first_ ? "\n" : ",\n", f_);
    first_ = false;
    std::fputs(text, f_);
  }

 private:
  std::FILE* f_;
  std::int64_t t0_;
  double scale_;
  bool first_ = true;
};

// Writes one buffer's events; frees its chunks.
void write_buffer(json_out& out, const taken_buffer& b, std::uint64_t session_number,
                  std::int64_t t_end) {
  char meta[160];
  if (b.tid == 0) {
    std::snprintf(meta, sizeof meta,
                  "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"thread_name\",\"args\":{\"name\":"
                  "\"sysmon\"}}");
  } else {
    std::snprintf(meta, sizeof meta,
                  "{\"ph\":\"M\",\"pid\":1,\"tid\":%" PRId64
                  ",\"name\":\"thread_name\",\"args\":{\"name\":\"M%" PRId64 "\"}}",
                  b.tid, b.tid - 1);
  }
  out.raw(meta);
  bool open = false;
  std::uint64_t open_g = 0;
  std::int64_t open_ts = 0;
  bool counter_open = false;
  std::string counter_args;
  std::int64_t counter_ts = 0;
  auto flush_counter = [&] {
    if (!counter_open) return;
    out.event("C", b.tid, counter_ts, ",\"name\":\"runqueue\",\"args\":{%s}", counter_args.c_str());
    counter_open = false;
  };
  for (trace_chunk* c = b.head; c != nullptr;) {
    for (std::size_t i = 0; i < c->n; ++i) {
      const trace_event& e = c->ev[i];
      if (e.kind != trace_kind::counter_p) flush_counter();
      switch (e.kind) {
        case trace_kind::slice_begin:
          open = true;
          open_g = e.a;
          open_ts = e.ts;
          if (e.b != 0 && flow_session(e.b) == (session_number & 0x1f)) {
            out.event("f", b.tid, e.ts,
                      ",\"bp\":\"e\",\"cat\":\"ready\",\"name\":\"ready\",\"id\":%" PRIu64, e.b);
          }
          break;
        case trace_kind::slice_end:
          if (open && open_g == e.a) {
            const std::int64_t d = std::max<std::int64_t>(out.ns(e.ts) - out.ns(open_ts), 0);
            out.event("X", b.tid, open_ts,
                      ",\"dur\":%" PRId64 ".%03d,\"cat\":\"goroutine\",\"name\":\"G%" PRIu64
                      " [%s]\",\"args\":{\"goid\":%" PRIu64 ",\"end\":\"%s\"}",
                      d / 1000, static_cast<int>(d % 1000), e.a, end_name(e.c), e.a,
                      end_name(e.c));
          }
          open = false;
          break;
        case trace_kind::flow_out:
          out.event("s", b.tid, e.ts,
                    ",\"cat\":\"ready\",\"name\":\"ready\",\"id\":%" PRIu64
                    ",\"args\":{\"goid\":%" PRIu64 "}",
                    e.a, e.b);
          break;
        case trace_kind::steal:
          out.event("i", b.tid, e.ts,
                    ",\"s\":\"t\",\"cat\":\"sched\",\"name\":\"steal\",\"args\":{\"victim\":%u,"
                    "\"taken\":%" PRIu64 "}",
                    e.c, e.a);
          break;
        case trace_kind::netpoll:
          out.event("i", b.tid, e.ts,
                    ",\"s\":\"t\",\"cat\":\"netpoll\",\"name\":\"netpoll\",\"args\":{\"readied\":%" PRIu64
                    "}",
                    e.a);
          break;
        case trace_kind::block_begin:
          out.event("B", b.tid, e.ts,
                    ",\"cat\":\"blocking\",\"name\":\"blocking\",\"args\":{\"goid\":%" PRIu64 "}",
                    e.a);
          break;
        case trace_kind::block_end:
          out.event("E", b.tid, e.ts, ",\"cat\":\"blocking\",\"name\":\"blocking\"");
          break;
        case trace_kind::counter: {
          counter_open = true;
          counter_ts = e.ts;
          char buf[48];
          std::snprintf(buf, sizeof buf, "\"global\":%" PRIu64, e.a);
          counter_args = buf;
          break;
        }
        case trace_kind::counter_p:
          if (counter_open) {
            char buf[48];
            std::snprintf(buf, sizeof buf, ",\"P%u\":%" PRIu64, e.c, e.a);
            counter_args += buf;
          }
          break;
      }
    }
    trace_chunk* next = c->next;
    free_chunk(c);
    c = next;
  }
  flush_counter();
  if (open) {  // still running when the trace stopped
    const std::int64_t d = std::max<std::int64_t>(out.ns(t_end) - out.ns(open_ts), 0);
    out.event("X", b.tid, open_ts,
              ",\"dur\":%" PRId64 ".%03d,\"cat\":\"goroutine\",\"name\":\"G%" PRIu64
              " [running]\",\"args\":{\"goid\":%" PRIu64 ",\"end\":\"running\"}",
              d / 1000, static_cast<int>(d % 1000), open_g, open_g);
  }
  if (b.lost != 0) {
    out.event("i", b.tid, t_end,
              ",\"s\":\"t\",\"cat\":\"trace\",\"name\":\"events lost\",\"args\":{\"lost\":%" PRIu64
              "}",
              b.lost);
  }
}

// Stops the session, writes and closes its file. g_session_lock held; g_session non-null.
bool finish_session() {
  session* ss = g_session;
  g_session = nullptr;
  std::vector<taken_buffer> bufs = trace_collect(*ss->s);
  const std::int64_t t_end = ticks();
  const std::int64_t t_end_ns = sys::nanotime();
  const double scale = t_end > ss->t0 ? static_cast<double>(t_end_ns - ss->t0_ns) /
                                            static_cast<double>(t_end - ss->t0)
                                      : 1.0;
  json_out out(ss->f, ss->t0, scale);
  std::fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", ss->f);
  out.raw("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"gort\"}}");
  for (const taken_buffer& b : bufs) write_buffer(out, b, ss->number, t_end);
  std::fputs("\n]}\n", ss->f);
  const bool ok = std::ferror(ss->f) == 0;
  const bool closed = std::fclose(ss->f) == 0;
  delete ss;
  return ok && closed;
}

// Opens the file and switches the trace on. g_session_lock held; no session running.
void begin_session(scheduler& s, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    throw std::system_error(errno, std::generic_category(), "gort::trace_start: " + path);
  }
  auto* ss = new session;
  ss->s = &s;
  ss->f = f;
  ss->path = path;
  g_trace_tsc.store(invariant_tsc(), std::memory_order_relaxed);
  ss->t0_ns = sys::nanotime();
  ss->t0 = ticks();
  ss->number = ++g_sessions;
  g_session = ss;
  g_session_number.store(ss->number, std::memory_order_relaxed);
  // seq_cst: writers' hand-shake (trace_buffer.hpp); after the buffers were emptied by the last
  // collection, so the new trace starts with empty buffers.
  g_instrument.fetch_or(k_instr_trace, std::memory_order_seq_cst);
}

}  // namespace

// ---- hooks ----

void on_runnable(machine* by, goroutine* g, bool flow) noexcept {
  if (g->kind == g_kind::thread) return;
  const std::uint32_t bits = g_instrument.load(std::memory_order_relaxed);
  if ((bits & k_instr_latency) != 0 && g->runnable_since != 0) {
    g->runnable_since = sys::nanotime();
  }
  if ((bits & k_instr_trace) != 0) {
    g->trace_flow = 0;
    // A flow starts inside the readier's slice: only a goroutine readying another has one.
    if (flow && by != nullptr && by->curg != nullptr && by->curg != g) {
      const std::uint64_t id = next_flow(by);
      const std::uint64_t target = g->id;
      const std::int64_t now = ticks();
      if (emit(by->trace, [&](trace_event& e) {
            e = {now, id, target, 0, trace_kind::flow_out};
          })) {
        g->trace_flow = id;
      }
    }
  }
}

void on_run(machine* m, processor* p, goroutine* g) noexcept {
  const std::uint32_t bits = g_instrument.load(std::memory_order_relaxed);
  std::int64_t now = 0;
  if ((bits & k_instr_latency) != 0) {
    const std::int64_t since = g->runnable_since;
    if (since > 0) {
      now = sys::nanotime();
      record_latency(p, now - since);
    }
    // Go's tracking: time the next runnable period of one time slice in k_latency_period.
    p->latency_seq += 1;
    g->runnable_since = p->latency_seq % k_latency_period == 0 ? k_latency_track : 0;
  }
  if ((bits & k_instr_trace) != 0) {
    now = ticks();
    const std::uint64_t id = g->id;
    const std::uint64_t flow = g->trace_flow;
    g->trace_flow = 0;
    emit(m->trace, [&](trace_event& e) { e = {now, id, flow, 0, trace_kind::slice_begin}; });
  }
}

void on_stop(machine* m, goroutine* g, after_switch what) noexcept {
  if ((g_instrument.load(std::memory_order_relaxed) & k_instr_trace) == 0) return;
  std::uint32_t code = 0;
  switch (what) {
    case after_switch::park: code = static_cast<std::uint32_t>(g->reason); break;
    case after_switch::yield: code = k_end_yield; break;
    case after_switch::preempt: code = k_end_preempt; break;
    case after_switch::exit: code = k_end_exit; break;
    case after_switch::exit_blocking: code = k_end_blocking; break;
    case after_switch::locked:  // g0's internal request (switch_to_scheduler gets the real one)
    case after_switch::none: break;
  }
  const std::int64_t now = ticks();
  const std::uint64_t id = g->id;
  emit(m->trace, [&](trace_event& e) { e = {now, id, 0, code, trace_kind::slice_end}; });
}

void trace_steal(machine* m, int victim, std::uint32_t taken) noexcept {
  const std::int64_t now = ticks();
  emit(m->trace, [&](trace_event& e) {
    e = {now, taken, 0, static_cast<std::uint32_t>(victim), trace_kind::steal};
  });
}

void trace_netpoll(machine* m, std::size_t n) noexcept {
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (s == nullptr) return;
  trace_buffer& b = m != nullptr ? m->trace : s->sysmon_trace;
  const std::int64_t now = ticks();
  emit(b, [&](trace_event& e) { e = {now, n, 0, 0, trace_kind::netpoll}; });
}

void trace_blocking(bool begin) noexcept {
  if ((g_instrument.load(std::memory_order_relaxed) & k_instr_trace) == 0) return;
  machine* m = current_machine();
  if (m == nullptr || m->curg == nullptr) return;
  const std::int64_t now = ticks();
  const std::uint64_t id = m->curg->id;
  emit(m->trace, [&](trace_event& e) {
    e = {now, id, 0, 0, begin ? trace_kind::block_begin : trace_kind::block_end};
  });
}

void trace_counters(scheduler& s, std::int64_t sysmon_now) noexcept {
  if ((g_instrument.load(std::memory_order_relaxed) & k_instr_trace) == 0) return;
  if (sysmon_now - s.sysmon_trace_last < k_counter_period_ns) return;
  s.sysmon_trace_last = sysmon_now;
  const std::int64_t now = ticks();
  const auto global = static_cast<std::uint64_t>(s.runq.size());
  if (!emit(s.sysmon_trace, [&](trace_event& e) { e = {now, global, 0, 0, trace_kind::counter}; })) {
    return;
  }
  const int n = s.gomaxprocs.load(std::memory_order_acquire);
  for (auto& p : s.allp) {
    if (p->id >= n) break;
    const std::uint64_t len = p->runq.size();
    const auto id = static_cast<std::uint32_t>(p->id);
    emit(s.sysmon_trace, [&](trace_event& e) { e = {now, len, 0, id, trace_kind::counter_p}; });
  }
}

// ---- lifecycle ----

void enable_latency() noexcept {
  if ((g_instrument.load(std::memory_order_relaxed) & k_instr_latency) == 0) {
    g_instrument.fetch_or(k_instr_latency, std::memory_order_seq_cst);
  }
}

void instrument_begin(scheduler& s) noexcept {
  if (s.cfg.debug.schedlatency) enable_latency();
  if (s.cfg.debug.trace.empty()) return;
  std::lock_guard<std::mutex> l(g_session_lock);
  if (g_session != nullptr) return;  // a trace of an earlier runtime cannot still run
  try {
    begin_session(s, s.cfg.debug.trace);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gort: GORTDEBUG=trace: %s\n", e.what());
  }
}

void instrument_end(scheduler& s) noexcept {
  {
    std::lock_guard<std::mutex> l(g_session_lock);
    if (g_session != nullptr && g_session->s == &s) {
      const std::string path = g_session->path;
      if (!finish_session()) std::fprintf(stderr, "gort: writing trace %s failed\n", path.c_str());
    }
  }
  // The histogram lives in this runtime's processors: the next runtime starts without it.
  g_instrument.fetch_and(~k_instr_latency, std::memory_order_seq_cst);
}

}  // namespace gort::sched

namespace gort {

using namespace gort::sched;

void trace_start(const std::string& path) {
  runtime_access rt;
  scheduler* s = rt.get();
  if (s == nullptr) throw config_error("gort::trace_start: no runtime is running");
  std::lock_guard<std::mutex> l(g_session_lock);
  if (g_session != nullptr) throw config_error("gort::trace_start: a trace is already running");
  begin_session(*s, path);
}

void trace_stop() {
  runtime_access rt;
  scheduler* s = rt.get();
  if (s == nullptr) return;  // the runtime's end wrote it
  std::lock_guard<std::mutex> l(g_session_lock);
  if (g_session == nullptr || g_session->s != s) return;
  const std::string path = g_session->path;
  if (!finish_session()) {
    throw std::system_error(errno != 0 ? errno : EIO, std::generic_category(),
                            "gort::trace_stop: writing " + path);
  }
}

bool tracing() noexcept {
  return (g_instrument.load(std::memory_order_relaxed) & k_instr_trace) != 0;
}

}  // namespace gort
