// sched/context_switch.cpp — the two switches (g0 -> goroutine, goroutine -> g0) on Boost.Context.
//
// gort uses Boost.Context's lowest layer, fcontext (make_fcontext / jump_fcontext), the same
// assembly that boost::context::fiber runs on, because it lets gort own the stack memory and the
// control record: a switch is a register save/restore and nothing else.
//
// Protocol of one goroutine time slice:
//   g0:  execute() sets m->curg = g, g->m = m, then jump_fcontext(g->ctx, m)
//   g:   resumes inside switch_to_scheduler (or starts in goroutine_entry) and receives
//        {g0's context, m}: it stores g0's context in m and m in g->m — the machine may differ
//        from the one it last ran on.
//   g:   to stop, stores its request in m->after and jump_fcontext(m->g0_ctx, nullptr)
//   g0:  resumes in switch_to_goroutine with g's context, saves it in g->ctx, and only then acts
//        on the request — this is what lets park() run `unlock` after g has left its stack.
// Direct hand-off: when g parks or exits and its processor has a runnable goroutine next, g
// jumps straight to it (marking m->direct_from) instead of going through g0; g's request is then
// performed by the next goroutine as it arrives (arrived()), on its own stack — g has left its
// stack just the same. g0 stays suspended; whichever goroutine finally switches to g0 is m->curg.
// Around every jump: sanitizer annotations, the stack canary check for unguarded stacks, and the
// C++ exception-handling globals swap (a goroutine may park inside a catch block).
#include <cxxabi.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstdio>

#include "sched/sanitizer.hpp"
#include "sched/scheduler.hpp"
#include "stack/stack_pool.hpp"

namespace gort::sched {

namespace bctx = boost::context::detail;

[[noreturn]] void report_stack_overflow(const goroutine* g, const void* fault) noexcept;  // overflow.cpp

namespace {

// The Itanium C++ ABI's per-thread exception state (libstdc++ and libc++abi share the layout).
struct cxa_eh_globals_layout {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

// The calling thread's exception globals, looked up once per machine: __cxa_get_globals goes
// through __tls_get_addr (libstdc++ is a shared library), which cost ~40 instructions per switch.
inline cxa_eh_globals_layout* eh_globals(machine* m) noexcept {
  return static_cast<cxa_eh_globals_layout*>(m->eh_globals);
}

// The exception state of a goroutine that switches away lives in its own switch frame (a local of
// switch_to_scheduler, on its stack, which stays put until it resumes): no other memory is touched
// per switch. A goroutine starts with none.
struct eh_state {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};

// Takes the thread's exception state away from it (the next goroutine starts clean).
inline eh_state save_eh(machine* m) noexcept {
  cxa_eh_globals_layout* e = eh_globals(m);
  const eh_state saved{e->caught_exceptions, e->uncaught_exceptions};
  if (saved.caught != nullptr || saved.uncaught != 0) {
    e->caught_exceptions = nullptr;
    e->uncaught_exceptions = 0;
  }
  return saved;
}

inline void restore_eh(machine* m, const eh_state& saved) noexcept {
  if (saved.caught == nullptr && saved.uncaught == 0) return;
  cxa_eh_globals_layout* e = eh_globals(m);
  e->caught_exceptions = saved.caught;
  e->uncaught_exceptions = saved.uncaught;
}

// No guard page: the stack pointer must still be inside the usable stack, and the canary below
// the guard zone must be untouched (stack_pool.hpp).
[[gnu::always_inline]] inline void check_canary(goroutine* g, stack_slot* st) noexcept {
  const auto* sp = static_cast<const char*>(__builtin_frame_address(0));
  if (sp < st->usable || !stack_pool::canary_intact(st)) report_stack_overflow(g, nullptr);
}

// Every goroutine arrives here (or in goroutine_entry) right after a jump to it, with t.data its
// machine. Normally g0 switched to it and t.fctx is g0's context. After a direct switch,
// m->direct_from is set and t.fctx is the previous goroutine's context: its request is finished
// here, on this goroutine's stack (the previous one has left its own), and g0's saved context
// stays as it was.
inline void arrived(bctx::transfer_t t) noexcept {
  auto* m = static_cast<machine*>(t.data);
  goroutine* from = m->direct_from;
  if (from == nullptr) {
    m->g0_ctx = t.fctx;
    return;
  }
  m->direct_from = nullptr;
  from->ctx.store(t.fctx, std::memory_order_relaxed);  // relaxed: see goroutine::ctx
  scheduler& s = *g_sched.load(std::memory_order_relaxed);
  if (finish_request(s, m, from)) {
    // A vetoed park (finish_request made it runnable): right after the goroutine now running.
    runq_put(s, m->p, from, true);
  }
}

// A goroutine resumes (possibly on another machine): note where it came from, and bring back its
// exception state.
inline void resumed(goroutine* g, const eh_state& saved, bctx::transfer_t t) noexcept {
  if (sanitizer::asan()) sanitizer::finish_switch(g->stack->asan_fake_stack, nullptr, nullptr);
  g->reason = detail::wait_reason::zero;  // a park's wait is over (park.cpp leaves this here)
  arrived(t);
  auto* m = static_cast<machine*>(t.data);
  restore_eh(m, saved);
  disown_p(m);  // closes the section the switch away from g0's side opened (scheduler.hpp)
}

// First frame of every goroutine. Never returns: the exit switch abandons this stack.
void goroutine_entry(bctx::transfer_t t) {
  sanitizer::finish_switch(nullptr, nullptr, nullptr);
  auto* m = static_cast<machine*>(t.data);
  arrived(t);
  disown_p(m);  // the goroutine's own code runs outside the runtime
  goroutine* g = m->curg;
  run_goroutine_body(g);
  switch_to_scheduler(g, after_switch::exit);
  fatal("a finished goroutine was resumed");
}

}  // namespace

void* thread_eh_globals() noexcept { return abi::__cxa_get_globals(); }

void make_goroutine_context(goroutine* g) {
  stack_slot* st = g->stack;
  // The slot's previous goroutine (its last frames, and whatever others wrote into them) is
  // finished for TSan too: it released on the slot in destroy_goroutine_context. Acquired before
  // the fiber is created, which starts from its creator's clock.
  sanitizer::acquire(st);
  sanitizer::unpoison(st->usable, st->usable_size());
  GORT_DCHECK(st->color < k_stack_colors);
  char* const top = st->frames_top();  // below the slot's top by its color (stack_pool.hpp)
  g->ctx.store(bctx::make_fcontext(top, static_cast<std::size_t>(top - st->usable), &goroutine_entry),
               std::memory_order_relaxed);  // relaxed: see goroutine::ctx
  st->tsan_fiber = sanitizer::tsan_create();
  st->asan_fake_stack = nullptr;
  // Read at every switch away: kept in the record so the switch need not touch the slot.
  if (st->guarded) {
    g->flags &= static_cast<std::uint8_t>(~goroutine::k_unguarded_stack);
  } else {
    g->flags |= goroutine::k_unguarded_stack;
  }
}

void destroy_goroutine_context(goroutine* g) {
  // Only TSan has state in the slot's record: without it the record is not read here (a cold line
  // per goroutine when a million exit at once).
  if (g->stack != nullptr && sanitizer::tsan()) {
    sanitizer::release(g->stack);  // the caller follows g's last switch away: see above
    sanitizer::tsan_destroy(g->stack->tsan_fiber);
    g->stack->tsan_fiber = nullptr;
  }
  g->ctx.store(nullptr, std::memory_order_relaxed);  // relaxed: see goroutine::ctx
}

void switch_to_goroutine(machine* m, goroutine* g) {
  stack_slot* st = g->stack;
  sanitizer::start_switch(&m->g0_fake_stack, st->usable, st->usable_size());
  sanitizer::tsan_switch_to_goroutine(st->tsan_fiber, g);
  bctx::transfer_t t = bctx::jump_fcontext(g->ctx.load(std::memory_order_relaxed), m);
  sanitizer::finish_switch(m->g0_fake_stack, nullptr, nullptr);
  // The goroutine that switched back (goroutines may have handed the machine on directly).
  m->curg->ctx.store(t.fctx, std::memory_order_relaxed);  // relaxed: see goroutine::ctx
}

namespace {

// The switch to g0, with m->after already set. The goroutine's side of switch_to_scheduler.
inline void jump_to_g0(goroutine* g, machine* m, after_switch what) {
  const bool unguarded = (g->flags & goroutine::k_unguarded_stack) != 0;
  const eh_state saved = save_eh(m);
  if (unguarded) check_canary(g, g->stack);
  // A finishing goroutine passes no fake-stack slot: ASan then frees its fake stack.
  if (sanitizer::asan()) {
    sanitizer::start_switch(what == after_switch::exit ? nullptr : &g->stack->asan_fake_stack,
                            m->g0_stack_bottom, m->g0_stack_size);
  }
  sanitizer::tsan_switch(m->g0_tsan_fiber);
  bctx::transfer_t t = bctx::jump_fcontext(m->g0_ctx, nullptr);
  resumed(g, saved, t);
}

// A switch found m without a processor: inside gort::blocking (misuse), or sysmon took it from a
// runaway goroutine (scheduler.hpp, own_p). Takes an idle processor (true: the switch goes on
// normally), or performs the switch to g0 without one — g0 does what needs no processor
// (finish_request) and schedule() parks m — and returns false once g runs again. An exit first
// waits in the global queue (as a yield): recycling its stack and record needs a processor.
void check_not_in_blocking(goroutine* g) {
  if (g->status.load(std::memory_order_relaxed) == g_status::syscall) {
    fatal("goroutine switched inside gort::blocking (its function must not block on gort "
          "primitives or yield)");
  }
}

[[gnu::noinline]] bool switch_without_p(goroutine* g, machine* m, after_switch what) {
  check_not_in_blocking(g);
  scheduler& s = *g_sched.load(std::memory_order_relaxed);
  if (acquire_idle_p(s, m)) return true;
  if (what == after_switch::exit) {
    disown_p(m);
    switch_to_scheduler(g, after_switch::yield);
    switch_to_scheduler(g, after_switch::exit);
    fatal("a finished goroutine was resumed");
  }
  m->after = what;
  jump_to_g0(g, m, what);
  return false;
}

}  // namespace

// Outside the anonymous namespace (like switch_to_scheduler): goroutine dumps hide frames of
// gort::sched by their qualified names, and a parked locked goroutine's innermost frame is here.

// The switch of m's locked goroutine g (locked.cpp, step 1): always to g0, which performs the
// request as after_switch::locked (finish_locked). The section is open. Returns once g runs again.
// g itself, from switch_revoked.
void switch_locked(goroutine* g, machine* m, after_switch what) {
  if (m->p == nullptr && what != after_switch::exit_blocking) {
    check_not_in_blocking(g);
    // sysmon took the processor before g locked (a runaway): finish_locked copes without one,
    // but recycling a finished goroutine needs one: wait for it as a yield, then end.
    if (what == after_switch::exit &&
        !acquire_idle_p(*g_sched.load(std::memory_order_relaxed), m)) {
      disown_p(m);
      switch_to_scheduler(g, after_switch::yield);
      switch_to_scheduler(g, after_switch::exit);
      fatal("a finished goroutine was resumed");
    }
  }
  m->locked_after = what;
  m->after = after_switch::locked;
  jump_to_g0(g, m, what);
}

// The revoke word was non-zero as the switch opened its section: sysmon asked for (or took) the
// processor, or m is locked to g. True: the switch is done (g runs again); false: go on with the
// usual switch. The section is open. g itself, from switch_to_scheduler.
[[gnu::noinline]] bool switch_revoked(goroutine* g, machine* m, after_switch what) {
  own_p_slow(m);
  if (m->lockedg == g) {
    switch_locked(g, m, what);
    return true;
  }
  if (m->p == nullptr && what != after_switch::exit_blocking) return !switch_without_p(g, m, what);
  return false;
}

void switch_to_scheduler(goroutine* g, after_switch what) {
  machine* m = g->m;
  if (instrumenting()) [[unlikely]] on_stop(m, g, what);  // the trace's slice ends here
  // A section that the goroutine resumed next on m closes (resumed()). Only the end of a blocking
  // call switches without a processor by design (blocking.cpp). A non-zero revoke word (own_p's
  // slow case) also routes a locked goroutine's switches to g0 (locked.cpp): no test of its own.
  if (open_section(m)) [[unlikely]] {
    if (switch_revoked(g, m, what)) return;
  } else if (m->p == nullptr && what != after_switch::exit_blocking) [[unlikely]] {
    if (!switch_without_p(g, m, what)) return;
  }
  m->after = what;
  // Direct hand-off (Boost.Fiber-style): skip the scheduler context when this processor already
  // has the next goroutine. Not under ASan, which needs finish_switch_fiber right after a switch.
  if (!sanitizer::asan()) {
    if (what == after_switch::park || what == after_switch::exit) {
      scheduler& s = *g_sched.load(std::memory_order_relaxed);
      bool inherit = false;
      if (goroutine* next = take_direct_successor(s, m, inherit)) {
        // The stack test first: a successor that ran before (the common case) decides alone.
        if (next->stack == nullptr && what == after_switch::park && !next_stack_warm(m->p))
            [[unlikely]] {
          // A park's unlock callback runs only once the switch is done, so everything before
          // it happens under the parking goroutine's wait lock. A goroutine that never ran gets
          // its stack here, and the first write to a fresh slot is a page fault (microseconds
          // on a VM): every other processor parking on the same lock would queue behind it
          // (measured in docs/benchmarks.md, parked). Give it back as the next to run and let
          // g0 release the lock before attaching the stack. A slot left by a goroutine that
          // ended here takes no fault: that successor runs at once.
          runq_put_next(s, m->p, next);
          jump_to_g0(g, m, what);
          return;
        }
        m->direct_from = g;
        prepare_run(s, m, next, inherit, true);
        const eh_state saved = save_eh(m);
        if ((g->flags & goroutine::k_unguarded_stack) != 0) check_canary(g, g->stack);
        sanitizer::tsan_switch_to_goroutine(next->stack->tsan_fiber, next);
        bctx::transfer_t t = bctx::jump_fcontext(next->ctx.load(std::memory_order_relaxed), m);
        resumed(g, saved, t);
        return;
      }
    }
  }
  jump_to_g0(g, m, what);
}

}  // namespace gort::sched
