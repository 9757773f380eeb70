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
#include "sys/advise.hpp"
#include "sys/clock.hpp"
#include "sys/membarrier.hpp"

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

// Step 1 of the hand-shake (trace_buffer.hpp) uses a compiler barrier: the collector has
// membarrier. Set at every trace's start to sys::membarrier_ready(), which never changes, and the
// collector calls membarrier_all() whenever it is ready: a writer that reads the flag stale
// (false) takes the seq_cst path, which is correct either way (relaxed).
std::atomic<bool> g_trace_light{false};

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

[[gnu::always_inline]] inline std::int64_t ticks() noexcept {
#if defined(__x86_64__)
  if (g_trace_tsc.load(std::memory_order_relaxed)) return static_cast<std::int64_t>(__rdtsc());
#endif
  return sys::nanotime();
}

std::mutex g_session_lock;
session* g_session = nullptr;  // g_session_lock
std::uint64_t g_sessions = 0;  // g_session_lock
// The running session's number, read by writers for flow ids (relaxed: set before the trace bit
// is, which every writer that appends has seen set).
std::atomic<std::uint64_t> g_session_number{0};

// ---- the chunk pool ----
//
// Chunks that have been written once, so that a writer that fills its chunk takes memory that is
// already there: the first touch of a fresh page is what a busy trace would otherwise pay on its
// hot path (a page fault, and in a VM the host's too). Writers take from it (refill); sysmon keeps
// it stocked while a trace runs (trace_counters), in proportion to what writers took since its
// last round; a trace's start stocks it for its first chunks; the collector gives the chunks back
// and keeps k_pool_keep of them for the next trace; the end of the runtime empties it.

constexpr std::size_t k_pool_keep = 8;   // chunks kept between traces (16 MiB)
constexpr std::size_t k_pool_max = 64;   // chunks sysmon stocks at most (128 MiB)
constexpr std::size_t k_restock_round = 4;  // chunks sysmon maps at most per round

struct chunk_pool {
  std::mutex lock;
  trace_chunk* free = nullptr;  // lock
  std::size_t n = 0;            // lock: chunks in `free`
  std::size_t taken = 0;        // lock: chunks handed to writers, ever
  std::size_t taken_seen = 0;   // sysmon's: `taken` at its last round
};
chunk_pool g_pool;

// Maps a chunk and writes each of its pages (a huge page where the kernel gives one). Null when
// out of memory. Any thread, no lock held.
trace_chunk* map_chunk() noexcept {
  void* mem = ::mmap(nullptr, k_trace_chunk_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  (void)::madvise(mem, k_trace_chunk_bytes, MADV_HUGEPAGE);  // a hint; fine where unsupported
  if (!sys::populate(mem, k_trace_chunk_bytes)) {
    auto* bytes = static_cast<volatile unsigned char*>(mem);
    for (std::size_t off = 0; off < k_trace_chunk_bytes; off += 4096) bytes[off] = 0;
  }
  return new (mem) trace_chunk;
}

void unmap_chunks(trace_chunk* c) noexcept {
  while (c != nullptr) {
    trace_chunk* next = c->next;
    ::munmap(c, k_trace_chunk_bytes);
    c = next;
  }
}

// A chunk for a writer: the pool's, else a fresh one. Null when out of memory. Any thread.
trace_chunk* pool_take() noexcept {
  {
    std::lock_guard<std::mutex> l(g_pool.lock);
    g_pool.taken += 1;
    if (trace_chunk* c = g_pool.free) {
      g_pool.free = c->next;
      g_pool.n -= 1;
      return c;
    }
  }
  return map_chunk();
}

// Gives a list of chunks back, then keeps at most `keep` in the pool. Any thread.
void pool_put(trace_chunk* list, std::size_t keep) noexcept {
  trace_chunk* extra = nullptr;
  {
    std::lock_guard<std::mutex> l(g_pool.lock);
    while (list != nullptr) {
      trace_chunk* next = list->next;
      list->next = g_pool.free;
      g_pool.free = list;
      g_pool.n += 1;
      list = next;
    }
    while (g_pool.n > keep) {
      trace_chunk* c = g_pool.free;
      g_pool.free = c->next;
      g_pool.n -= 1;
      c->next = extra;
      extra = c;
    }
  }
  unmap_chunks(extra);
}

// Maps chunks until the pool holds `target` (at most k_pool_max), at most `most` of them. Any
// thread.
void pool_stock(std::size_t target, std::size_t most) noexcept {
  target = std::min(target, k_pool_max);
  for (std::size_t i = 0; i < most; ++i) {
    {
      std::lock_guard<std::mutex> l(g_pool.lock);
      if (g_pool.n >= target) return;
    }
    trace_chunk* c = map_chunk();
    if (c == nullptr) return;
    pool_put(c, k_pool_max);
  }
}

// sysmon's round: enough chunks for what the writers took since the last round twice over, and
// one per processor; at most k_restock_round chunks a round, so that sysmon's other duties wait
// a few milliseconds at most (a writer that finds the pool empty maps its own). sysmon only.
void pool_restock(int procs) noexcept {
  std::size_t taken;
  {
    std::lock_guard<std::mutex> l(g_pool.lock);
    taken = g_pool.taken;
  }
  const std::size_t recent = taken - g_pool.taken_seen;
  g_pool.taken_seen = taken;
  pool_stock(2 * recent + static_cast<std::size_t>(procs) + 1, k_restock_round);
}

// ---- writers (the buffer's owner only) ----

// The writer's tail chunk is full: links a chunk from the pool. False (the event is lost) when out
// of memory. Inside a section only.
[[gnu::noinline, gnu::cold]] bool refill(trace_buffer& b) noexcept {
  trace_chunk* c = pool_take();
  if (c == nullptr) {
    ++b.lost;
    return false;
  }
  c->next = nullptr;
  c->used = 0;
  if (b.tail != nullptr) {
    b.tail->used = static_cast<std::size_t>(b.pos - b.tail->w);
    b.tail->next = c;
  } else {
    b.head = c;
  }
  b.tail = c;
  b.pos = c->w;
  b.end = c->w + k_trace_chunk_words;
  return true;
}

// Appends one event of kind K stamped `ts` (ticks()), with the words of its layout
// (trace_buffer.hpp). False when out of memory. Inside a section only.
template <trace_kind K, class... W>
[[gnu::always_inline]] inline bool put_at(trace_buffer& b, std::int64_t ts, W... args) noexcept {
  constexpr std::size_t n = 1 + sizeof...(W);
  static_assert(n == trace_words(K), "the event's layout in trace_buffer.hpp");
  if (static_cast<std::size_t>(b.end - b.pos) < n) [[unlikely]] {
    if (!refill(b)) return false;
  }
  std::uint64_t* p = b.pos;
  p[0] = (static_cast<std::uint64_t>(K) << k_trace_kind_shift) |
         (static_cast<std::uint64_t>(ts) & k_trace_ts_mask);
  std::size_t i = 1;
  ((p[i++] = static_cast<std::uint64_t>(args)), ...);
  b.pos = p + n;
  return true;
}

// put_at stamped now.
template <trace_kind K, class... W>
[[gnu::always_inline]] inline bool put(trace_buffer& b, W... args) noexcept {
  return put_at<K>(b, ticks(), args...);
}

// Runs `fill` (which appends with put and returns whether it did) under the hand-shake of
// trace_buffer.hpp (step 1) if the trace is on. Returns fill's answer, false when the trace is off.
template <class Fill>
[[gnu::always_inline]] inline bool section(trace_buffer& b, Fill fill) noexcept {
  bool on;
  if (g_trace_light.load(std::memory_order_relaxed)) {
    b.writing.store(true, std::memory_order_relaxed);
    // The StoreLoad fence is the collector's membarrier (sys/membarrier.hpp).
    std::atomic_signal_fence(std::memory_order_seq_cst);
    // acquire: pairs with begin_session's fetch_or (release part of its seq_cst), after the last
    // collection reset this buffer (take, under g_session_lock): the reset happens-before this
    // writer's use of pos and end. A plain load on x86, as relaxed.
    on = (g_instrument.load(std::memory_order_acquire) & k_instr_trace) != 0;
  } else {
    // seq_cst store and load: with trace_collect's seq_cst fetch_and and take's seq_cst load, one
    // order decides (and the load is acquire, as above).
    b.writing.store(true, std::memory_order_seq_cst);
    on = (g_instrument.load(std::memory_order_seq_cst) & k_instr_trace) != 0;
  }
  const bool done = on && fill();
  b.writing.store(false, std::memory_order_release);  // pairs with take's load
  return done;
}

// A flow id: unique within the process for 2^36 readies per machine and session, exact in a JSON
// double. The writer of the flow_out and the JSON writer, which counts a buffer's flow_outs, both
// build it from the session's number, the buffer's track and the sequence number.
std::uint64_t flow_id(std::uint64_t session_number, std::int64_t tid, std::uint64_t seq) noexcept {
  return ((session_number & 0x1f) << 48) | ((static_cast<std::uint64_t>(tid) & 0xfff) << 36) |
         (seq & ((std::uint64_t{1} << 36) - 1));
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

// Step 2's wait and step 3 of the hand-shake, for one buffer.
taken_buffer take(trace_buffer& b, std::int64_t tid) {
  // seq_cst: step 2 (the fallback's writers order their seq_cst store against it); acquire
  // part: pairs with section's release store, after which the writer's chunks and pos are ours.
  while (b.writing.load(std::memory_order_seq_cst)) std::this_thread::yield();
  if (b.tail != nullptr) b.tail->used = static_cast<std::size_t>(b.pos - b.tail->w);
  taken_buffer t{tid, b.head, b.lost};
  b.head = nullptr;
  b.tail = nullptr;
  b.pos = nullptr;
  b.end = nullptr;
  b.flows = 0;
  b.lost = 0;
  b.stop_ticks = 0;
  return t;
}

std::vector<taken_buffer> trace_collect(scheduler& s) {
  // seq_cst: step 2 of the hand-shake; its StoreLoad partner on the writers' side is their fence
  // in section(), or the membarrier below where they use a compiler barrier.
  g_instrument.fetch_and(~k_instr_trace, std::memory_order_seq_cst);
  if (sys::membarrier_ready() && !sys::membarrier_all()) {
    fatal("execution trace: membarrier failed after it was registered");
  }
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
  // `t0`: ticks() at the start; `scale`: nanoseconds per tick.
  json_out(std::FILE* f, std::int64_t t0, double scale)
      : f_(f), t0_(static_cast<std::uint64_t>(t0) & k_trace_ts_mask), scale_(scale) {}

  // Nanoseconds since the start of an event's timestamp (the 60 bits of its header), at least 0.
  std::int64_t ns(std::uint64_t ts) const {
    const std::uint64_t d = (ts - t0_) & k_trace_ts_mask;
    const std::int64_t signed_d = static_cast<std::int64_t>(d << 4) >> 4;  // 60-bit difference
    return std::max<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(signed_d) * scale_), 0);
  }

  // One event object; `body` is the part after the common fields (starts with a comma or empty).
  void event(const char* ph, std::int64_t tid, std::uint64_t ts, const char* body_fmt, auto... args) {
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
  std::uint64_t t0_;
  double scale_;
  bool first_ = true;
};

// Writes one buffer's events (the caller gives its chunks back to the pool).
void write_buffer(json_out& out, const taken_buffer& b, std::uint64_t session_number,
                  std::uint64_t t_end) {
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
  std::uint64_t open_ts = 0;
  bool counter_open = false;
  std::string counter_args;
  std::uint64_t counter_ts = 0;
  std::uint64_t flows = 0;  // flow_out events so far: the sequence number of the next one's id
  auto flush_counter = [&] {
    if (!counter_open) return;
    out.event("C", b.tid, counter_ts, ",\"name\":\"runqueue\",\"args\":{%s}", counter_args.c_str());
    counter_open = false;
  };
  for (trace_chunk* c = b.head; c != nullptr; c = c->next) {
    for (const std::uint64_t* p = c->w; p < c->w + c->used;) {
      const auto kind = static_cast<trace_kind>(p[0] >> k_trace_kind_shift);
      const std::uint64_t ts = p[0] & k_trace_ts_mask;
      const std::uint64_t a = p[1];  // the first argument word, if the layout has one
      if (kind != trace_kind::counter_p) flush_counter();
      switch (kind) {
        case trace_kind::slice_begin:
        case trace_kind::slice_begin_flow:
          open = true;
          open_g = a;
          open_ts = ts;
          if (kind == trace_kind::slice_begin_flow &&
              flow_session(p[2]) == (session_number & 0x1f)) {
            out.event("f", b.tid, ts,
                      ",\"bp\":\"e\",\"cat\":\"ready\",\"name\":\"ready\",\"id\":%" PRIu64, p[2]);
          }
          break;
        case trace_kind::slice_end: {
          const std::uint64_t goid = a & k_trace_goid_mask;
          const auto code = static_cast<std::uint32_t>(a >> 48);
          if (open && (open_g & k_trace_goid_mask) == goid) {
            const std::int64_t d = std::max<std::int64_t>(out.ns(ts) - out.ns(open_ts), 0);
            out.event("X", b.tid, open_ts,
                      ",\"dur\":%" PRId64 ".%03d,\"cat\":\"goroutine\",\"name\":\"G%" PRIu64
                      " [%s]\",\"args\":{\"goid\":%" PRIu64 ",\"end\":\"%s\"}",
                      d / 1000, static_cast<int>(d % 1000), open_g, end_name(code), open_g,
                      end_name(code));
          }
          open = false;
          break;
        }
        case trace_kind::flow_out:
          out.event("s", b.tid, ts,
                    ",\"cat\":\"ready\",\"name\":\"ready\",\"id\":%" PRIu64
                    ",\"args\":{\"goid\":%" PRIu64 "}",
                    flow_id(session_number, b.tid, ++flows), a);
          break;
        case trace_kind::steal:
          out.event("i", b.tid, ts,
                    ",\"s\":\"t\",\"cat\":\"sched\",\"name\":\"steal\",\"args\":{\"victim\":%u,"
                    "\"taken\":%u}",
                    static_cast<unsigned>(a >> 32), static_cast<unsigned>(a & 0xffffffffu));
          break;
        case trace_kind::netpoll:
          out.event("i", b.tid, ts,
                    ",\"s\":\"t\",\"cat\":\"netpoll\",\"name\":\"netpoll\",\"args\":{\"readied\":%" PRIu64
                    "}",
                    a);
          break;
        case trace_kind::block_begin:
          out.event("B", b.tid, ts,
                    ",\"cat\":\"blocking\",\"name\":\"blocking\",\"args\":{\"goid\":%" PRIu64 "}",
                    a);
          break;
        case trace_kind::block_end:
          out.event("E", b.tid, ts, ",\"cat\":\"blocking\",\"name\":\"blocking\"");
          break;
        case trace_kind::counter: {
          counter_open = true;
          counter_ts = ts;
          char buf[48];
          std::snprintf(buf, sizeof buf, "\"global\":%" PRIu64, a);
          counter_args = buf;
          break;
        }
        case trace_kind::counter_p:
          if (counter_open) {
            char buf[48];
            std::snprintf(buf, sizeof buf, ",\"P%u\":%u", static_cast<unsigned>(a >> 32),
                          static_cast<unsigned>(a & 0xffffffffu));
            counter_args += buf;
          }
          break;
      }
      p += trace_words(kind);
    }
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
  for (const taken_buffer& b : bufs) {
    write_buffer(out, b, ss->number, static_cast<std::uint64_t>(t_end) & k_trace_ts_mask);
    pool_put(b.head, k_pool_keep);
  }
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
  g_trace_light.store(sys::membarrier_ready(), std::memory_order_relaxed);
  // The first chunks of the trace: one for each machine that runs, and sysmon's.
  const auto first = static_cast<std::size_t>(s.gomaxprocs.load(std::memory_order_relaxed)) + 1;
  pool_stock(first, first);
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
      trace_buffer& b = by->trace;
      std::uint64_t id = 0;
      section(b, [&] {
        if (!put<trace_kind::flow_out>(b, g->id)) return false;
        id = flow_id(g_session_number.load(std::memory_order_relaxed), by->id + 1, ++b.flows);
        return true;
      });
      g->trace_flow = id;
    }
  }
}

void on_run(machine* m, processor* p, goroutine* g, bool direct) noexcept {
  const std::uint32_t bits = g_instrument.load(std::memory_order_relaxed);
  if ((bits & k_instr_latency) != 0) {
    const std::int64_t since = g->runnable_since;
    if (since > 0) record_latency(p, sys::nanotime() - since);
    // Go's tracking: time the next runnable period of one time slice in k_latency_period.
    p->latency_seq += 1;
    g->runnable_since = p->latency_seq % k_latency_period == 0 ? k_latency_track : 0;
  }
  if ((bits & k_instr_trace) != 0) {
    const std::uint64_t id = g->id;
    const std::uint64_t flow = g->trace_flow;
    g->trace_flow = 0;
    trace_buffer& b = m->trace;
    section(b, [&] {
      // A direct hand-off begins the slice at the stamp of the slice that just ended on this
      // machine (context_switch.cpp: nothing runs between them): a time-stamp read is most of an
      // event's cost.
      std::int64_t ts = b.stop_ticks;
      b.stop_ticks = 0;
      if (!direct || ts == 0) ts = ticks();
      return flow != 0 ? put_at<trace_kind::slice_begin_flow>(b, ts, id, flow)
                       : put_at<trace_kind::slice_begin>(b, ts, id);
    });
  }
}

void on_stop(machine* m, goroutine* g, after_switch what) noexcept {
  if ((g_instrument.load(std::memory_order_relaxed) & k_instr_trace) == 0) return;
  std::uint64_t code = 0;
  switch (what) {
    case after_switch::park: code = static_cast<std::uint64_t>(g->reason); break;
    case after_switch::yield: code = k_end_yield; break;
    case after_switch::preempt: code = k_end_preempt; break;
    case after_switch::exit: code = k_end_exit; break;
    case after_switch::exit_blocking: code = k_end_blocking; break;
    case after_switch::locked:  // g0's internal request (switch_to_scheduler gets the real one)
    case after_switch::none: break;
  }
  const std::uint64_t word = (code << 48) | (g->id & k_trace_goid_mask);
  trace_buffer& b = m->trace;
  section(b, [&] {
    const std::int64_t ts = ticks();
    b.stop_ticks = ts;
    return put_at<trace_kind::slice_end>(b, ts, word);
  });
}

void trace_steal(machine* m, int victim, std::uint32_t taken) noexcept {
  const std::uint64_t word = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(victim)) << 32) | taken;
  trace_buffer& b = m->trace;
  section(b, [&] { return put<trace_kind::steal>(b, word); });
}

void trace_netpoll(machine* m, std::size_t n) noexcept {
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (s == nullptr) return;
  trace_buffer& b = m != nullptr ? m->trace : s->sysmon_trace;
  section(b, [&] { return put<trace_kind::netpoll>(b, n); });
}

void trace_blocking(bool begin) noexcept {
  if ((g_instrument.load(std::memory_order_relaxed) & k_instr_trace) == 0) return;
  machine* m = current_machine();
  if (m == nullptr || m->curg == nullptr) return;
  const std::uint64_t id = m->curg->id;
  trace_buffer& b = m->trace;
  section(b, [&] {
    return begin ? put<trace_kind::block_begin>(b, id) : put<trace_kind::block_end>(b);
  });
}

void trace_counters(scheduler& s, std::int64_t sysmon_now) noexcept {
  if ((g_instrument.load(std::memory_order_relaxed) & k_instr_trace) == 0) return;
  const int n = s.gomaxprocs.load(std::memory_order_acquire);
  pool_restock(n);
  if (sysmon_now - s.sysmon_trace_last < k_counter_period_ns) return;
  s.sysmon_trace_last = sysmon_now;
  trace_buffer& b = s.sysmon_trace;
  const auto global = static_cast<std::uint64_t>(s.runq.size());
  if (!section(b, [&] { return put<trace_kind::counter>(b, global); })) return;
  for (auto& p : s.allp) {
    if (p->id >= n) break;
    const std::uint64_t word =
        (static_cast<std::uint64_t>(static_cast<std::uint32_t>(p->id)) << 32) |
        static_cast<std::uint32_t>(p->runq.size());
    section(b, [&] { return put<trace_kind::counter_p>(b, word); });
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
  pool_put(nullptr, 0);  // no writer runs any more: the chunks kept for a next trace go
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
