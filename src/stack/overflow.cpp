// stack/overflow.cpp — fatal signals on goroutines: stack overflows (never silent) and crash
// reports.
//
// One handler serves SIGSEGV, SIGBUS, SIGFPE and SIGILL. A stack overflow is reported as below
// and aborts. Any other fatal signal on a goroutine prints, like Go's panic output,
//   [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x55d0c1a2b3c4]
//
//   goroutine 7 [running]:
//   _ZN3app6workerEv+0x1d
//   	pc=0x55d0c1a2b3c4
//   ...
//   created by worker in goroutine 1
//   	/src/app.cpp:12
// (names from the ELF symbol tables through libunwind, unmangled names and file:line being out of
// reach of an async-signal-safe handler), then hands the signal on: to the handler installed
// before gort's, else to the default action. options::crash_report = false leaves only the
// overflow report. A fault on a thread running no goroutine is handed on without a report.
//
// Two detectors (stack_pool.hpp explains which slot gets which):
//  * Guarded slots (a guard marker or a PROT_NONE page): touching the guard zone raises SIGSEGV.
//    The handler runs on the machine's alternate signal stack (the goroutine's own stack is
//    exhausted) and reports a stack overflow of the running goroutine when
//      - the fault address lies in its guard zone, or its stack pointer is below its usable stack;
//      - or the fault address lies anywhere inside the stack arena (any reservation of the stack
//        pool, stack_pool::find_in_arena): a frame ran past its own slot into another slot's
//        guard zone, which only an overflow (or a stray pointer into a stack) does.
//    A fault in the arena on a thread that runs no goroutine is reported as such. Any other
//    SIGSEGV/SIGBUS goes to the handler that was installed before gort's (or the default action).
//  * Unguarded slots: switch_to_scheduler checks the canary and calls report_stack_overflow.
// The report: "goroutine N: stack overflow" plus the creation site, then abort(). The handler only
// uses async-signal-safe calls (write, abort, sigaction) and lock-free reads.
//
// A frame larger than a page can step over a guard page; the exported CMake target and gort.pc
// compile consumers with -fstack-clash-protection (GCC and Clang) so such frames probe every page
// (see docs/design.md, "Stacks").
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "sched/scheduler.hpp"
#include "stack/stack_pool.hpp"
#include "trace/unwind.hpp"

namespace gort::sched {

[[noreturn]] void report_stack_overflow(const goroutine* g, const void* fault) noexcept;

namespace {

struct sigaction g_prev_segv;
struct sigaction g_prev_bus;
struct sigaction g_prev_fpe;
struct sigaction g_prev_ill;
std::atomic<bool> g_crash_reported{false};  // one report per process: a fault while reporting
                                            // goes straight on

constexpr std::size_t k_altstack_size = 64 * 1024;

// Async-signal-safe formatting into a fixed buffer.
struct writer {
  char buf[1024];
  std::size_t n = 0;
  void put(const char* s) {
    while (*s != '\0' && n < sizeof buf) buf[n++] = *s++;
  }
  void put(unsigned long long v) {
    char tmp[24];
    int i = 0;
    do {
      tmp[i++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && i < 24);
    while (i > 0 && n < sizeof buf) buf[n++] = tmp[--i];
  }
  void hex(std::uintptr_t v) {
    put("0x");
    char tmp[16];
    int i = 0;
    do {
      tmp[i++] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v != 0 && i < 16);
    while (i > 0 && n < sizeof buf) buf[n++] = tmp[--i];
  }
  void flush() {
    std::size_t off = 0;
    while (off < n) {
      const ssize_t w = ::write(2, buf + off, n - off);
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
  }
};

// "created by F in goroutine P\n\tfile:line\n" from the source location gort::go recorded (static
// strings: async-signal-safe). Nothing for main.
void put_created_by(const goroutine* g) noexcept {
  if (g->is_main()) return;
  writer w;
  w.put("created by ");
  w.put(g->created_at.function_name());
  if (g->parent_id != 0) {
    w.put(" in goroutine ");
    w.put(static_cast<unsigned long long>(g->parent_id));
  }
  w.put("\n\t");
  w.put(g->created_at.file_name());
  w.put(":");
  w.put(static_cast<unsigned long long>(g->created_at.line()));
  w.put("\n");
  w.flush();
}

// The running goroutine overflowed its own stack: the fault is in its guard zone, or its stack
// pointer went below its usable stack.
bool is_overflow(const goroutine* g, const void* addr, const void* sp) {
  if (g == nullptr || g->stack == nullptr) return false;
  const char* lo = g->stack->lo;
  const char* usable = g->stack->usable;
  const auto* a = static_cast<const char*>(addr);
  const auto* p = static_cast<const char*>(sp);
  const bool fault_in_guard = a >= lo && a < usable;
  // The stack pointer below the usable region: a frame overran the stack. Within one slot, or
  // anywhere in the arena (it may have run through the slots underneath).
  arena_hit hit;
  const bool sp_below = p != nullptr && p < usable &&
                        (p >= lo - g->stack->size || stack_pool::find_in_arena(p, &hit));
  return fault_in_guard || sp_below;
}

[[noreturn]] void report_arena_fault(const void* addr, const arena_hit& hit) noexcept {
  writer w;
  w.put("fatal error: fault at ");
  w.hex(reinterpret_cast<std::uintptr_t>(addr));
  w.put(hit.in_guard ? " in the guard page of the goroutine stack slot at "
                     : " in the goroutine stack slot at ");
  w.hex(reinterpret_cast<std::uintptr_t>(hit.slot_lo));
  w.put(" on a thread running no goroutine (a stack overflow or a pointer into a stack)\n");
  w.flush();
  std::abort();
}

void chain(int sig, siginfo_t* info, void* ctx, const struct sigaction& prev) {
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, ctx);
    return;
  }
  if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler != nullptr) {
    prev.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction runs again and the kernel
  // delivers the signal with the default disposition (core dump). A signal sent with kill()
  // (si_code <= 0) would not come again by itself: raise it, to be delivered on return.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  if (info != nullptr && info->si_code <= 0) ::raise(sig);
}

const struct sigaction& previous(int sig) {
  switch (sig) {
    case SIGBUS: return g_prev_bus;
    case SIGFPE: return g_prev_fpe;
    case SIGILL: return g_prev_ill;
    default: return g_prev_segv;
  }
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV: segmentation violation";
    case SIGBUS: return "SIGBUS: bus error";
    case SIGFPE: return "SIGFPE: floating-point exception";
    case SIGILL: return "SIGILL: illegal instruction";
    default: return "signal";
  }
}

// Go's report of a fatal signal in a goroutine (see the file comment). Async-signal-safe.
void report_crash(int sig, const siginfo_t* info, void* ctx, const goroutine* g) noexcept {
  writer w;
  w.put("[signal ");
  w.put(signal_name(sig));
  w.put(" code=");
  w.hex(static_cast<std::uintptr_t>(static_cast<unsigned>(info->si_code)));
  w.put(" addr=");
  w.hex(reinterpret_cast<std::uintptr_t>(info->si_addr));
  const void* pcs[k_max_frames];
  const std::size_t n = unwind_signal(ctx, pcs, k_max_frames);
  if (n > 0) {
    w.put(" pc=");
    w.hex(reinterpret_cast<std::uintptr_t>(pcs[0]));
  }
  w.put("]\n\ngoroutine ");
  w.put(static_cast<unsigned long long>(g->id));
  w.put(" [running]:\n");
  w.flush();
  for (std::size_t i = 0; i < n; ++i) {
    writer f;
    char name[256];
    f.put(signal_safe_symbol(pcs[i], i != 0, name, sizeof name) ? name : "?");
    f.put("\n\tpc=");
    f.hex(reinterpret_cast<std::uintptr_t>(pcs[i]));
    f.put("\n");
    f.flush();
  }
  if (n == 0) {
    w.n = 0;
    w.put("\t(stack unavailable)\n");
    w.flush();
  }
  put_created_by(g);
}

void on_fault(int sig, siginfo_t* info, void* ctx) {
  machine* m = current_machine();
  goroutine* g = m != nullptr ? m->curg : nullptr;
  const void* sp = nullptr;
#if defined(__x86_64__)
  sp = reinterpret_cast<const void*>(static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  sp = reinterpret_cast<const void*>(static_cast<ucontext_t*>(ctx)->uc_mcontext.sp);
#endif
  if (sig == SIGSEGV || sig == SIGBUS) {
    if (is_overflow(g, info->si_addr, sp)) report_stack_overflow(g, info->si_addr);
    arena_hit hit;
    if (stack_pool::find_in_arena(info->si_addr, &hit)) {
      if (g != nullptr && g->stack != nullptr) report_stack_overflow(g, info->si_addr);
      report_arena_fault(info->si_addr, hit);
    }
  }
  // relaxed: only the flag itself matters (one report), nothing is published through it.
  if (g != nullptr && !g_crash_reported.exchange(true, std::memory_order_relaxed)) {
    scheduler* s = g_sched.load(std::memory_order_acquire);
    if (s != nullptr && s->cfg.crash_report) report_crash(sig, info, ctx, g);
  }
  chain(sig, info, ctx, previous(sig));
}

}  // namespace

void report_stack_overflow(const goroutine* g, const void* fault) noexcept {
  writer w;
  w.put("goroutine ");
  w.put(static_cast<unsigned long long>(g->id));
  w.put(": stack overflow (");
  w.put(static_cast<unsigned long long>(g->stack->usable_size()));
  w.put("-byte stack; raise gort::options::stack_size)\n");
  const auto* a = static_cast<const char*>(fault);
  if (a != nullptr && a < g->stack->lo) {
    // The frame jumped past this goroutine's own guard zone into the slots underneath.
    w.put("fault at ");
    w.hex(reinterpret_cast<std::uintptr_t>(fault));
    w.put(", ");
    w.put(static_cast<unsigned long long>(g->stack->lo - a));
    w.put(" bytes below the stack's guard page\n");
  }
  w.put("\n");
  w.flush();
  put_created_by(g);
  w.n = 0;
  w.put("fatal error: stack overflow\n");
  w.flush();
  std::abort();
}

void install_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &g_prev_segv);
    ::sigaction(SIGBUS, &sa, &g_prev_bus);
    ::sigaction(SIGFPE, &sa, &g_prev_fpe);
    ::sigaction(SIGILL, &sa, &g_prev_ill);
  });
}

void install_overflow_altstack(machine* m) {
  void* mem = ::mmap(nullptr, k_altstack_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return;  // no report on overflow then, but the fault still kills
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = k_altstack_size;
  stack_t old{};
  if (::sigaltstack(&ss, &old) != 0) {
    ::munmap(mem, k_altstack_size);
    return;
  }
  m->altstack = mem;
  m->altstack_size = k_altstack_size;
  m->old_altstack_sp = old.ss_sp;
  m->old_altstack_size = old.ss_size;
  m->old_altstack_flags = old.ss_flags;
}

void remove_overflow_altstack(machine* m) {
  if (m->altstack == nullptr) return;
  stack_t old{};
  old.ss_sp = m->old_altstack_sp;
  old.ss_size = m->old_altstack_size;
  old.ss_flags = (m->old_altstack_flags & SS_DISABLE) != 0 ? SS_DISABLE : 0;
  ::sigaltstack(&old, nullptr);
  ::munmap(m->altstack, m->altstack_size);
  m->altstack = nullptr;
}

}  // namespace gort::sched
