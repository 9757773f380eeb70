// sched/park.cpp — the waist: park, ready, current; plus yield, preemption points and identity.
//
// Goroutines park by switching to their machine's scheduler context, which runs the unlock
// callback (scheduler.cpp, execute). Plain threads park on a futex in a thread-local stand-in
// record; ready() tells the two apart by the record's kind.
//
// Status protocol (any thread):
//   park:  running -> waiting (release), after which `unlock` publishes the record to wakers.
//   ready: CAS waiting -> runnable (acq_rel); failure means the record was not parked — a double
//          ready or a ready of a running goroutine — which is reported as a fatal error.
// A plain thread readying a goroutine holds the runtime's gate (runtime.cpp) around the CAS and
// the global-queue push; with the gate closed (shutdown began, or the runtime is gone) the
// goroutine is abandoned like every goroutine alive at shutdown and the ready does nothing.
#include <cstddef>
#include <cstdio>
#include <thread>
#include <type_traits>

#include "gort/detail/wait.hpp"
#include "gort/go.hpp"
#include "gort/stats.hpp"
#include "sched/scheduler.hpp"
#include "sys/clock.hpp"
#include "sys/random.hpp"

namespace gort::sched {

namespace {

[[noreturn]] void bad_ready(const goroutine* g, g_status st) {
  char msg[160];
  std::snprintf(msg, sizeof msg, "ready of goroutine %llu in status %u (it was not parked)",
                static_cast<unsigned long long>(g->id), static_cast<unsigned>(st));
  fatal(msg);
}

}  // namespace

void claim_scanned(goroutine* g, g_status to, g_status seen) {
  for (;;) {
    if (static_cast<std::uint32_t>(seen) != (static_cast<std::uint32_t>(g_status::waiting) | k_g_scan)) {
      bad_ready(g, seen);
    }
    // A dump is reading g's stack (trace/dump.cpp): it lets go within the time one unwind takes.
    std::this_thread::yield();
    seen = g_status::waiting;
    // acq_rel as in claim_parked; acquire also pairs with the dump's release store.
    if (g->status.compare_exchange_strong(seen, to, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
      return;
    }
  }
}

[[gnu::noinline]] void claim_vetoed(goroutine* g) {
  g_status seen = g_status::waiting;
  // acquire: pairs with a dump's release of the scan bit (the dump no longer reads the stack).
  if (!g->status.compare_exchange_strong(seen, g_status::runnable, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
    claim_scanned(g, g_status::runnable, seen);
  }
}

namespace {

// The calling plain thread's stand-in record (never a machine's thread while it is on g0 running
// goroutines; see current()).
goroutine& thread_record() {
  thread_local goroutine rec;
  rec.kind = g_kind::thread;  // a plain store each call is cheaper than a guard variable
  return rec;
}


void park_thread(goroutine* g, detail::wait_reason why, bool (*unlock)(void*), void* arg) {
  g->reason = why;
  g->wake_word.store(0, std::memory_order_relaxed);
  // release: ordered before unlock() publishes the record.
  g->status.store(g_status::waiting, std::memory_order_release);
  if (!unlock(arg)) {
    g->status.store(g_status::running, std::memory_order_relaxed);
    g->reason = detail::wait_reason::zero;
    return;
  }
  // acquire: pairs with ready()'s release store, so the waker's writes are visible.
  while (g->wake_word.load(std::memory_order_acquire) == 0) {
    check_not_forked();  // in a fork child no goroutine would ever run to wake us
    sys::futex_wait(g->wake_word, 0);
  }
  sanitizer::acquire(g);  // the same edge for TSan, which cannot see an uninstrumented gort
  g->status.store(g_status::running, std::memory_order_relaxed);
  g->reason = detail::wait_reason::zero;
}

}  // namespace

}  // namespace gort::sched

namespace gort::detail {

using namespace gort::sched;

const char* wait_reason_string(wait_reason r) noexcept {
  switch (r) {
    case wait_reason::zero: return "";
    case wait_reason::wait_group: return "sync.WaitGroup.Wait";
    case wait_reason::chan_receive: return "chan receive";
    case wait_reason::chan_send: return "chan send";
    case wait_reason::chan_receive_nil: return "chan receive (nil chan)";
    case wait_reason::chan_send_nil: return "chan send (nil chan)";
    case wait_reason::select: return "select";
    case wait_reason::select_no_cases: return "select (no cases)";
    case wait_reason::sleep: return "sleep";
    case wait_reason::sync_mutex_lock: return "sync.Mutex.Lock";
    case wait_reason::sync_rw_mutex_rlock: return "sync.RWMutex.RLock";
    case wait_reason::sync_rw_mutex_lock: return "sync.RWMutex.Lock";
    case wait_reason::sync_cond_wait: return "sync.Cond.Wait";
    case wait_reason::semacquire: return "semacquire";
    case wait_reason::io_wait: return "IO wait";
    case wait_reason::forever: return "forever";
    case wait_reason::pool_worker_idle: return "pool worker idle";
    case wait_reason::pool_submit: return "pool submit";
    case wait_reason::future_wait: return "future wait";
  }
  return "";
}

goroutine* current() noexcept {
  machine* m = current_machine();
  if (m != nullptr && m->curg != nullptr) return m->curg;
  return &thread_record();
}

bool on_goroutine() noexcept {
  machine* m = current_machine();
  return m != nullptr && m->curg != nullptr;
}

std::uint64_t goroutine_id(const goroutine* g) noexcept { return g->id; }

static_assert(std::is_standard_layout_v<goroutine> &&
                  offsetof(goroutine, kind) == k_record_kind_offset &&
                  static_cast<unsigned char>(g_kind::thread) == k_record_kind_thread &&
                  sizeof(g_kind) == 1,
              "waist.hpp's is_plain_thread reads the record's kind at this offset");

namespace {

// Both forms of park for goroutine g running on m: the wait's record, then the switch, which
// clears `reason` as g resumes. Called last, so that the switch is a tail call: no frame of park's
// lies between the waiter's and the switch's (docs/design.md). park() only.
[[gnu::always_inline]] inline void park_goroutine(machine* m, goroutine* g, wait_reason why,
                                                  bool (*unlock)(void*), void* arg) {
  g->reason = why;
  g->waiting_since = coarse_now();
  m->after_unlock = unlock;
  m->after_arg = arg;
  switch_to_scheduler(g, after_switch::park);
}

}  // namespace

void park(wait_reason why, bool (*unlock)(void*), void* arg) {
  machine* m = current_machine();
  if (m != nullptr) {
    goroutine* g = m->curg;
    if (g == nullptr) fatal("park called from a scheduler context");
    park_goroutine(m, g, why, unlock, arg);
    return;
  }
  park_thread(&thread_record(), why, unlock, arg);
}

goroutine* enter_op() noexcept {
  machine* m = current_machine();
  if (m != nullptr) {
    goroutine* g = m->curg;
    if (g != nullptr) {
      // A goroutine inside gort::blocking holds no processor to give up.
      if (g->preempt.load(std::memory_order_relaxed)) {
        if (g->status.load(std::memory_order_relaxed) != g_status::syscall) {
          switch_to_scheduler(g, after_switch::preempt);
        }
      } else if (m->shuffle && (m->fastrand() & 7) == 0 &&
                 g->status.load(std::memory_order_relaxed) != g_status::syscall) [[unlikely]] {
        switch_to_scheduler(g, after_switch::yield);  // GORTDEBUG=shuffle: an extra yield
      }
      return g;
    }
  }
  return &thread_record();
}

namespace {

// park() by a plain thread's stand-in record. Out of line, so that a goroutine's park saves no
// registers. park() only.
[[gnu::noinline]] void park_plain_thread(goroutine* self, wait_reason why, bool (*unlock)(void*),
                                         void* arg) {
  if (current_machine() != nullptr) fatal("park called from a scheduler context");
  park_thread(self, why, unlock, arg);
}

}  // namespace

void park(goroutine* self, wait_reason why, bool (*unlock)(void*), void* arg) {
  if (self->kind == g_kind::thread) [[unlikely]] {
    park_plain_thread(self, why, unlock, arg);
    return;
  }
  park_goroutine(self->m, self, why, unlock, arg);  // self->m: current while self runs
}

namespace {

// The ready() status change: waiting -> runnable, or a fatal error for a record that was not
// parked. acq_rel: acquire pairs with park's release (the parker's state is complete); release
// makes the waker's writes visible to the woken goroutine along with its publication.
inline void claim_parked(goroutine* g) {
  g_status expected = g_status::waiting;
  if (!g->status.compare_exchange_strong(expected, g_status::runnable, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) [[unlikely]] {
    claim_scanned(g, g_status::runnable, expected);
  }
  if (instrumenting()) [[unlikely]] on_runnable(current_machine(), g, true);
}

// Wakes a plain thread parked in park_thread (after claim_parked).
inline void wake_thread(goroutine* g) {
  sanitizer::release(g);  // pairs with park_thread's sanitizer::acquire
  // release: pairs with the acquire loop in park_thread.
  g->wake_word.store(1, std::memory_order_release);
  sys::futex_wake(g->wake_word, 1);
}

// ready() from a plain thread. Records are type-stable (spawn.cpp), so reading `kind` is safe even
// for a record of a runtime that has shut down since the caller took it from a wait queue.
[[gnu::noinline]] void ready_from_thread(goroutine* g) {
  if (g->kind == g_kind::thread) {
    claim_parked(g);
    wake_thread(g);
    return;
  }
  scheduler* s = gate_enter();
  if (s == nullptr) return;  // shutdown began: g is abandoned (see the file comment)
  claim_parked(g);
  if (g->kind == g_kind::locked) {
    ready_locked(*s, g);  // to its own machine (locked.cpp)
  } else {
    global_put(*s, g);
  }
  gate_leave();
}

// The record claimed runnable is not an ordinary goroutine: a plain thread's stand-in, or a
// goroutine locked to its machine's thread (locked.cpp), which goes to that machine. Out of line:
// the test that brings ready() here is the one it always made for plain threads. A machine's
// thread, or sysmon (its poll).
[[gnu::noinline]] void ready_special(goroutine* g) {
  if (g->kind == g_kind::thread) {
    wake_thread(g);
    return;
  }
  ready_locked(*g_sched.load(std::memory_order_acquire), g);  // a machine's runtime is running
}

// The shared part of both ready() forms: `m` is the waker's machine, or null off goroutines.
inline void make_ready(machine* m, goroutine* g) {
  if (m == nullptr) {
    ready_from_thread(g);
    return;
  }
  claim_parked(g);
  if (g->kind != g_kind::goroutine) [[unlikely]] {
    ready_special(g);
    return;
  }
  scheduler* s = g_sched.load(std::memory_order_acquire);  // a machine's runtime is running
  if (processor* p = own_p(m)) {
    runq_put_next(*s, p, g);  // Go's ready(gp, next=true): the wakee runs next
    wakep(*s);
  } else {
    global_put(*s, g);  // inside gort::blocking, or sysmon took the processor (own_p)
  }
  disown_p(m);
}

}  // namespace

}  // namespace gort::detail

namespace gort::sched {

bool make_runnable(goroutine* g) {
  detail::claim_parked(g);
  if (g->kind != g_kind::goroutine) [[unlikely]] {
    detail::ready_special(g);  // a plain thread, or a locked goroutine: not queued by the caller
    return false;
  }
  return true;
}

}  // namespace gort::sched

namespace gort::detail {

void ready(goroutine* self, goroutine* g) {
  // A running goroutine's `m` is its machine. The stand-in record (a plain thread, or a machine's
  // scheduler context running a callback such as a timer) has none: look the machine up, so that a
  // scheduler context still readies into its own processor's runnext as Go's timers do.
  make_ready(self->kind == g_kind::goroutine ? self->m : current_machine(), g);
}

void ready(goroutine* g) { make_ready(current_machine(), g); }

std::uint32_t fastrand() noexcept {
  machine* m = current_machine();
  if (m != nullptr) return m->fastrand();
  thread_local std::uint64_t state = 0;
  std::uint64_t x = state;
  if (x == 0) {
    // Each plain thread its own stream of one per-process seed from the OS (sys/random.hpp).
    static const std::uint64_t process_seed = sys::random_seed();
    x = sys::xorshift_state(process_seed, reinterpret_cast<std::uintptr_t>(&state));
  }
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  state = x;
  return static_cast<std::uint32_t>(x >> 32);
}

void preempt_point() noexcept {
  machine* m = current_machine();
  if (m == nullptr) return;
  goroutine* g = m->curg;
  if (g != nullptr && g->preempt.load(std::memory_order_relaxed) &&
      g->status.load(std::memory_order_relaxed) != g_status::syscall) {
    switch_to_scheduler(g, after_switch::preempt);
  }
}

}  // namespace gort::detail

namespace gort {

using namespace gort::sched;

void preempt_point() noexcept { detail::preempt_point(); }

void yield() noexcept {
  machine* m = current_machine();
  if (m == nullptr || m->curg == nullptr) {
    std::this_thread::yield();
    return;
  }
  switch_to_scheduler(m->curg, after_switch::yield);
}

namespace this_goroutine {
std::uint64_t id() noexcept {
  machine* m = current_machine();
  return (m != nullptr && m->curg != nullptr) ? m->curg->id : 0;
}
}  // namespace this_goroutine

std::int64_t num_goroutines() noexcept {
  runtime_access rt;
  scheduler* s = rt.get();
  if (s == nullptr) return 0;
  std::int64_t n = static_cast<std::int64_t>(s->thread_spawned.load(std::memory_order_relaxed));
  for (auto& p : s->allp) {
    n += static_cast<std::int64_t>(p->spawned.load(std::memory_order_relaxed));
    n -= static_cast<std::int64_t>(p->exited.load(std::memory_order_relaxed));
  }
  return n;
}

}  // namespace gort
