// trace/dump.cpp — goroutine dumps, deadlock detection and the SIGQUIT dump (dump.hpp).
#include "trace/dump.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <ostream>
#include <string_view>
#include <system_error>
#include <thread>

#include "gort/debug.hpp"
#include "sys/clock.hpp"

namespace gort::sched {

namespace {

constexpr auto k_scanned = static_cast<g_status>(static_cast<std::uint32_t>(g_status::waiting) | k_g_scan);

const char* status_word(g_status st) {
  switch (st) {
    case g_status::idle: return "idle";
    case g_status::runnable: return "runnable";
    case g_status::running: return "running";
    case g_status::syscall: return "syscall";
    case g_status::waiting: return "waiting";
    case g_status::dead: return "dead";
  }
  return "unknown";
}

// Fields that are fixed while the goroutine lives (the caller makes sure it cannot change:
// parked under the scan bit, or it is the caller itself).
void copy_identity(const scheduler& s, const goroutine* g, goroutine_snapshot& out) {
  out.id = g->id;
  out.main = g == s.main_g;  // not g->flags: the first run rewrites them
  out.parent_id = g->parent_id;
  out.created_at = g->created_at;
  out.created_pc = g->created_pc;
  // Go's goroutineheader prints "locked to thread" for gp.lockedm != 0. A snapshot like the fields
  // above (the goroutine itself writes kind; see goroutine.hpp).
  out.locked_to_thread = g->kind == g_kind::locked;
}

void copy_labels(const goroutine* g, goroutine_snapshot& out) {
  if (g->labels != nullptr) out.labels = g->labels->kv;
}

std::vector<goroutine*> copy_slabs(scheduler& s) {
  std::lock_guard<std::mutex> l(s.gfree_lock);
  return s.slabs;
}

// The qualified name of a demangled function: a function template's demangled name starts with
// its return type ("unsigned int gort::detail::wait_for<...>(...)"), which is skipped (the first
// space outside <> and () before the parameter list ends it).
std::string_view qualified_name(std::string_view f) {
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '(' && depth == 0) break;
    if (c == '<' || c == '(') {
      ++depth;
    } else if (c == '>' || c == ')') {
      --depth;
    } else if (c == ' ' && depth == 0) {
      start = i + 1;  // the last space outside brackets ends the return type
    }
  }
  return f.substr(start);
}

bool has_prefix(std::string_view f, std::string_view p) { return f.substr(0, p.size()) == p; }

// Frames that belong to the runtime, not to the goroutine's own code (Go hides runtime.* frames
// the same way unless GOTRACEBACK=system): by namespace, or, for inlined frames that DWARF names
// without their namespace, by the runtime header they are in.
bool runtime_frame(const source_frame& f) {
  static constexpr std::string_view k_hidden[] = {
      "gort::sched::", "gort::detail::", "boost::context::", "jump_fcontext", "make_fcontext",
      "std::__invoke", "std::invoke", "std::__apply_impl", "std::apply"};
  const std::string_view q = qualified_name(f.function);
  for (std::string_view h : k_hidden) {
    if (has_prefix(q, h)) return true;
  }
  return f.file.find("/gort/detail/") != std::string::npos;
}

// gort::go and the spawn template are inlined into the creating function: skip their frames.
bool spawn_frame(std::string_view f) {
  const std::string_view q = qualified_name(f);
  return has_prefix(q, "gort::go<") || has_prefix(q, "gort::detail::spawn<") ||
         has_prefix(q, "go<") || has_prefix(q, "spawn<");
}

void append_location(std::string& out, const std::string& file, int line, std::uintptr_t off) {
  out += '\t';
  out += file.empty() ? "?" : file;
  out += ':';
  out += std::to_string(line);
  if (off != 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " +0x%llx", static_cast<unsigned long long>(off));
    out += buf;
  }
  out += '\n';
}

}  // namespace

std::string format_header(std::uint64_t id, const char* state, std::int64_t waited_ns,
                          bool locked_to_thread) {
  std::string h = "goroutine " + std::to_string(id) + " [" + state;
  // Go's goroutineheader: whole minutes, from one minute on.
  const std::int64_t minutes = waited_ns / 60'000'000'000;
  if (minutes >= 1) h += ", " + std::to_string(minutes) + " minutes";
  if (locked_to_thread) h += ", locked to thread";
  h += "]:";
  return h;
}

void with_snapshot_stack(const std::function<void(const goroutine* self,
                                                  const std::vector<const void*>& self_pcs)>& f) {
  machine* m = current_machine();
  const goroutine* self = m != nullptr ? m->curg : nullptr;
  if (self == nullptr) {
    f(nullptr, {});
    return;
  }
  const void* pcs[k_max_frames];
  const std::size_t n = unwind_here(pcs, k_max_frames);
  const std::vector<const void*> own(pcs, pcs + n);
  // libdw's DWARF readers need far more stack than a goroutine has: a thread's 8 MiB.
  try {
    std::thread helper([&] { f(self, own); });
    helper.join();
  } catch (const std::system_error&) {
    f(self, own);  // no thread to be had: on our own stack, at the risk of its size
  }
}

std::vector<goroutine_snapshot> snapshot_goroutines(scheduler& s, bool stacks, const goroutine* self,
                                                    const std::vector<const void*>& self_pcs) {
  std::vector<goroutine_snapshot> out;
  for (goroutine* slab : copy_slabs(s)) {
    for (std::size_t j = 0; j < k_slab_records; ++j) {
      goroutine* g = &slab[j];
      g_status st = g->status.load(std::memory_order_acquire);
      if (st == g_status::dead || st == g_status::idle) continue;
      goroutine_snapshot snap;
      if (g == self) {
        copy_identity(s, g, snap);
        copy_labels(g, snap);
        snap.status = g_status::running;
        snap.current = true;
        if (stacks) {
          snap.pcs = self_pcs;
          snap.stack_known = !self_pcs.empty();
        }
        out.push_back(std::move(snap));
        continue;
      }
      g_status expected = g_status::waiting;
      // acquire: pairs with the park's release store of `waiting` (finish_request): the saved
      // context, the identity and the stack are complete.
      if (st == g_status::waiting &&
          g->status.compare_exchange_strong(expected, k_scanned, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
        copy_identity(s, g, snap);
        copy_labels(g, snap);
        snap.status = g_status::waiting;
        snap.reason = g->reason;
        snap.waiting_since = g->waiting_since;
        // relaxed: the scan bit keeps the parked goroutine (and its saved context) still.
        void* const ctx = g->ctx.load(std::memory_order_relaxed);
        if (stacks && ctx != nullptr) {
          const void* pcs[k_max_frames];
          const std::size_t n = unwind_parked(ctx, pcs, k_max_frames);
          snap.pcs.assign(pcs, pcs + n);
          snap.stack_known = n > 0;
        }
        // release: pairs with the waker's acquire CAS (claim_scanned): our reads of its stack
        // happen before it runs again.
        g->status.store(g_status::waiting, std::memory_order_release);
        out.push_back(std::move(snap));
        continue;
      }
      st = expected == g_status::waiting ? st : expected;
      if (st == g_status::dead || st == g_status::idle) continue;
      // Running or runnable elsewhere (see the file comment of dump.hpp).
      copy_identity(s, g, snap);
      snap.status = static_cast<g_status>(static_cast<std::uint32_t>(st) & ~k_g_scan);
      out.push_back(std::move(snap));
    }
  }
  std::sort(out.begin(), out.end(), [](const goroutine_snapshot& a, const goroutine_snapshot& b) {
    if (a.current != b.current) return a.current;
    return a.id < b.id;
  });
  return out;
}

goroutine_report describe(const goroutine_snapshot& g, std::int64_t now, symbolizer& sym) {
  goroutine_report r;
  r.id = g.id;
  const char* state = status_word(g.status);
  if (g.status == g_status::waiting) {
    const char* why = detail::wait_reason_string(g.reason);
    if (why[0] != '\0') state = why;
  }
  const std::int64_t waited =
      g.status == g_status::waiting && g.waiting_since > 0 ? now - g.waiting_since : 0;
  r.text = format_header(g.id, state, waited, g.locked_to_thread);
  r.text += '\n';
  if (!g.labels.empty()) {
    r.text += "labels: {";
    for (std::size_t i = 0; i < g.labels.size(); ++i) {
      if (i != 0) r.text += ", ";
      r.text += '"' + g.labels[i].first + "\":\"" + g.labels[i].second + '"';
    }
    r.text += "}\n";
  }
  if (g.stack_known) {
    std::string frames;
    std::string all;
    for (const void* pc : g.pcs) {
      for (const source_frame& f : sym.resolve(pc, true)) {
        std::string one = f.function + "\n";
        append_location(one, f.file, f.line, f.inlined ? 0 : f.offset);
        all += one;
        if (runtime_frame(f)) continue;
        if (r.top_function.empty()) r.top_function = f.function;
        frames += one;
      }
    }
    // Nothing but runtime frames (a goroutine of gort's own, say a pool worker): show them all.
    r.text += frames.empty() ? all : frames;
  } else if (g.status == g_status::running || g.status == g_status::runnable) {
    r.text += "\t(stack unavailable: the goroutine is not parked)\n";
  } else if (!can_unwind()) {
    r.text += "\t(stack unavailable: gort was built without libunwind)\n";
  }
  if (g.main || (g.created_pc == nullptr && g.parent_id == 0 && g.created_at.line() == 0)) return r;
  // The function: the creation return address symbolized (the innermost frame that is not
  // gort::go itself); file:line: the source location gort::go recorded, which is exact.
  std::string fn;
  std::uintptr_t off = 0;
  if (g.created_pc != nullptr) {
    for (const source_frame& f : sym.resolve(g.created_pc, true)) {
      if (spawn_frame(f.function)) continue;
      fn = f.function;
      off = f.inlined ? 0 : f.offset;
      break;
    }
  }
  if (fn.empty() || fn == "?") fn = g.created_at.function_name();
  const std::string file = g.created_at.file_name();
  const int line = static_cast<int>(g.created_at.line());
  r.created_by = fn;
  r.created_file = file + ":" + std::to_string(line);
  r.text += "created by " + fn;
  if (g.parent_id != 0) r.text += " in goroutine " + std::to_string(g.parent_id);
  r.text += '\n';
  append_location(r.text, file, line, off);
  return r;
}

std::string dump_text(scheduler& s, const goroutine* self, const std::vector<const void*>& self_pcs) {
  const std::vector<goroutine_snapshot> snaps = snapshot_goroutines(s, true, self, self_pcs);
  const std::int64_t now = sys::nanotime();
  symbolizer sym;
  std::string out;
  for (std::size_t i = 0; i < snaps.size(); ++i) {
    if (i != 0) out += '\n';
    out += describe(snaps[i], now, sym).text;
  }
  return out;
}

// ---- deadlock detection (Go's checkdead) ----

namespace {

// Threads of this process (/proc/self/stat, field 20), or -1.
int process_threads() {
  const int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  int field = 2;
  for (++p; *p != '\0' && field < 20; ++p) {
    if (*p == ' ') ++field;
  }
  return field == 20 ? std::atoi(p) : -1;
}

}  // namespace

void check_dead(scheduler& s, std::unique_lock<std::mutex>& held) {
  // The predicate, cheapest checks first; every "return" means "something may still wake a
  // goroutine" (a false negative is always preferred). Under s.lock no machine leaves the idle
  // list (startm and begin_shutdown take it), so once no thread but the runtime's own exists,
  // nothing below can change while we look.
  //  1. Every machine but sysmon is parked here or, locked to a goroutine that cannot run, in
  //     stop_locked (Go's nmidlelocked; the poller, a machine between its last look and its park,
  //     or one running a goroutine is not): the last one to park decides.
  if (s.stopping || s.main_g == nullptr) return;
  if (s.mcount.load(std::memory_order_relaxed) - 1 !=
      s.nmidle.load(std::memory_order_relaxed) + s.nmidlelocked.load(std::memory_order_relaxed)) {
    return;
  }
  //  2. No processor holds work (an idle machine with queued work would be a scheduler bug: not
  //     ours to report here).
  if (s.npidle.load(std::memory_order_relaxed) != s.gomaxprocs || s.runq.size() != 0) return;
  for (auto& p : s.allp) {
    if (!p->runq.empty()) return;
  }
  //  3. No timer is armed (it would ready a goroutine or run a callback).
  if (earliest_timer(s) != k_never) return;
  //  4. No goroutine or thread waits on a descriptor (I/O may arrive).
  if (g_io_waiters.load(std::memory_order_seq_cst) != 0) return;
  //  5. No goroutine is inside a blocking call (it may return and wake others).
  if (blocking_calls_in_progress(s) != 0) return;
  //  6. No thread but the runtime's own exists: its machines (the run() caller's included) and
  //     sysmon. Any other thread may call into gort later — send on a channel, ready a goroutine,
  //     spawn — whether or not it holds a gort object now, so its existence alone suppresses the
  //     report (docs/design.md, "Deadlock detection").
  if (process_threads() != s.mcount.load(std::memory_order_relaxed)) return;
  //  7. Every goroutine, main included, is parked (none runnable, running or being created).
  bool main_parked = false;
  {
    std::lock_guard<std::mutex> gl(s.gfree_lock);  // after s.lock (docs/lock-order.md)
    for (goroutine* slab : s.slabs) {
      for (std::size_t j = 0; j < k_slab_records; ++j) {
        const goroutine* g = &slab[j];
        const auto st = static_cast<std::uint32_t>(g->status.load(std::memory_order_acquire)) & ~k_g_scan;
        if (st == static_cast<std::uint32_t>(g_status::dead) ||
            st == static_cast<std::uint32_t>(g_status::idle)) {
          continue;
        }
        if (st != static_cast<std::uint32_t>(g_status::waiting)) return;
        if (g == s.main_g) main_parked = true;
      }
    }
  }
  if (!main_parked) return;
  held.unlock();  // nothing can change any more; the dump takes gfree_lock itself
  std::string report = "fatal error: all goroutines are asleep - deadlock!\n\n" + dump_text(s);
  std::fwrite(report.data(), 1, report.size(), stderr);
  std::fflush(stderr);
  std::abort();
}

// ---- SIGQUIT ----

namespace {

std::atomic<bool> g_sigquit_pending{false};
struct sigaction g_prev_quit;
bool g_quit_installed = false;  // guarded by g_start_lock (start and retire paths)

void on_sigquit(int) {
  // Async-signal-safe: an atomic store and a futex wake. sysmon prints (sysmon_check_sigquit).
  // seq_cst: the flag is stored before the wake-up, against sysmon's clear-then-look (sysmon.cpp).
  g_sigquit_pending.store(true, std::memory_order_seq_cst);
  if (scheduler* s = g_sched.load(std::memory_order_acquire)) s->sysmon_note.wakeup();
}

}  // namespace

void install_sigquit(scheduler& s) {
  if (!s.cfg.sigquit_dump || g_quit_installed) return;
  struct sigaction sa {};
  sa.sa_handler = &on_sigquit;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGQUIT, &sa, &g_prev_quit) == 0) g_quit_installed = true;
}

void remove_sigquit(scheduler&) {
  if (!g_quit_installed) return;
  ::sigaction(SIGQUIT, &g_prev_quit, nullptr);
  g_quit_installed = false;
}

void sysmon_check_sigquit(scheduler& s) {
  // seq_cst: see on_sigquit.
  if (!g_sigquit_pending.load(std::memory_order_seq_cst)) return;
  std::string report = "SIGQUIT: quit\n\n" + dump_text(s);
  std::fwrite(report.data(), 1, report.size(), stderr);
  std::fflush(stderr);
  std::_Exit(2);  // Go's exit status after a SIGQUIT dump
}

// ---- abandoned goroutines (gort::testing; trace/testing.cpp reads these) ----

std::atomic<bool> g_capture_abandoned{false};
std::mutex g_abandoned_lock;
std::vector<goroutine_report> g_abandoned;  // guarded by g_abandoned_lock

void capture_abandoned(scheduler& s) {
  if (!g_capture_abandoned.load(std::memory_order_acquire)) return;
  // No machine runs: every record is still (parked, runnable or never started).
  const std::vector<goroutine_snapshot> snaps = snapshot_goroutines(s, true, nullptr, {});
  if (snaps.empty()) return;
  const std::int64_t now = sys::nanotime();
  symbolizer sym;
  std::lock_guard<std::mutex> l(g_abandoned_lock);
  for (const goroutine_snapshot& g : snaps) {
    // Only a parked goroutine is blocked for good. One still runnable when main returned was
    // making progress (a sender main's receive just readied, on its way out): which goroutines
    // are still runnable then depends on the schedule, and reporting them would make a leak
    // check fail by scheduling order (GORTDEBUG=shuffle finds such orders).
    if (g.status != g_status::waiting) continue;
    g_abandoned.push_back(describe(g, now, sym));
  }
}

}  // namespace gort::sched

namespace gort {

void dump_goroutines(std::ostream& out) {
  sched::runtime_access rt;
  sched::scheduler* s = rt.get();
  if (s == nullptr) {
    out << "(no gort runtime is running)\n";
    return;
  }
  std::string text;
  sched::with_snapshot_stack([&](const sched::goroutine* self, const std::vector<const void*>& pcs) {
    text = sched::dump_text(*s, self, pcs);
  });
  out << text;
  out.flush();
}

}  // namespace gort
