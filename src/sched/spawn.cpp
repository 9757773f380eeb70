// sched/spawn.cpp — goroutine records and stacks: allocation, caching, spawn, body, exit.
//
// Records: per-P free caches of up to 64 pointers (Go's gfget/gfput: a full cache gives 32 to the
// global list; an empty one refills up to 32 from it), backed by slabs that belong to a runtime
// until it shuts down. Slab memory is type-stable: mapped in chunks that are never unmapped while
// the process lives, handed from a retired runtime to the next one with their pages returned to
// the OS (MADV_DONTNEED) in between. A plain thread that took a goroutine record from a wait queue
// before shutdown may call ready() on it after the runtime is gone (park.cpp, ready_from_thread);
// reading the record's kind then hits mapped memory, never freed memory.
// Stacks: per-P caches of up to 32 slots exchanging halves with the stack pool. A goroutine gets
// its stack when it first runs (execute) and returns it when it exits, so recycling is immediate.
// The spawn takes a stack *promise* (stack_pool.hpp) so that exhaustion is reported to the
// spawner as std::bad_alloc, never at first run: processors hold promises as credit and refill it
// a batch at a time; a goroutine starting on a cached slot hands its promise to its processor.
// Threads without a processor (plain threads, see "Thread caches" below) keep the same three
// things a processor keeps for spawning — promises, records, ids — in a small per-thread cache.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <typeinfo>
#include <algorithm>
#include <string>

#include "gort/runtime.hpp"
#include "sched/scheduler.hpp"
#include "sys/advise.hpp"
#include "sys/clock.hpp"
#include "sys/vector_growth.hpp"

namespace gort::sched {

namespace {

constexpr int k_stack_batch = k_stack_cache / 2;

// ---- type-stable record slabs (see the file comment) ----

constexpr std::size_t k_slab_bytes = k_slab_records * sizeof(goroutine);
constexpr std::size_t k_slabs_per_map = 16;  // one mmap per 2,048 records

std::mutex g_slab_lock;
std::size_t g_slabs_mapped = 0;  // guarded by g_slab_lock

// Never destroyed: a retired runtime's slabs must stay mapped for the life of the process. Its
// capacity covers every slab ever mapped, so release_record_slab never allocates.
std::vector<goroutine*>& free_slabs() {
  static auto* slabs = new std::vector<goroutine*>;
  return *slabs;
}

// A slab of k_slab_records default-constructed records. Any thread. Throws std::bad_alloc.
goroutine* acquire_record_slab() {
  goroutine* base = nullptr;
  {
    std::lock_guard<std::mutex> l(g_slab_lock);
    std::vector<goroutine*>& free = free_slabs();
    if (free.empty()) {
      sys::reserve_at_least(free, g_slabs_mapped + k_slabs_per_map);
      void* mem = ::mmap(nullptr, k_slabs_per_map * k_slab_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mem == MAP_FAILED) throw std::bad_alloc();
      g_slabs_mapped += k_slabs_per_map;
      for (std::size_t i = k_slabs_per_map; i-- > 0;) {
        free.push_back(reinterpret_cast<goroutine*>(static_cast<char*>(mem) + i * k_slab_bytes));
      }
    }
    base = free.back();
    free.pop_back();
  }
  // One call commits the slab's pages instead of a fault per page as the records are written
  // (sys/advise.hpp); where it cannot, the writes fault them in.
  (void)sys::populate(base, k_slab_bytes);
  for (std::size_t i = 0; i < k_slab_records; ++i) ::new (&base[i]) goroutine;
  return base;
}

// Only the first cache line is reset; the second is written by spawn before publication.
void reset_record(goroutine* g) {
  g->ctx.store(nullptr, std::memory_order_relaxed);  // relaxed: see goroutine::ctx
  g->m = nullptr;
  g->stack = nullptr;
  g->preempt.store(false, std::memory_order_relaxed);
  g->kind = g_kind::goroutine;
  g->reason = detail::wait_reason::zero;
  g->flags = 0;
  ++g->generation;
}

// Carves a slab and returns one record; the rest go to the global free list, whose capacity then
// covers every record of the runtime (so returning records to it never allocates). Requires
// s.gfree_lock.
goroutine* new_slab_locked(scheduler& s) {
  sys::reserve_at_least(s.slabs, s.slabs.size() + 1);
  sys::reserve_committed(s.gfree, (s.slabs.size() + 1) * k_slab_records);  // exits fill it
  goroutine* base = acquire_record_slab();
  for (std::size_t i = k_slab_records; i-- > 1;) {
    base[i].status.store(g_status::dead, std::memory_order_relaxed);
    s.gfree.push_back(&base[i]);
  }
  s.slabs.push_back(base);
  return base;
}

void publish_gfree_count(scheduler& s) {
  s.gfree_count.store(static_cast<std::int64_t>(s.gfree.size()), std::memory_order_relaxed);
}

// ---- thread caches ----
//
// A thread without a processor (a plain thread; a machine between processors) that spawns would
// otherwise take the stack pool's lock, the record list's lock and the shared id counter for every
// goroutine, and K such threads contend on all three. Each thread instead keeps, for the runtime it
// last spawned into, a few promises, records and ids, refilled a batch at a time as a processor's.
// Invariants:
//  1. The cache is used only while its runtime cannot be freed: by a plain thread between
//     gate_enter and gate_leave (spawn_prepare to spawn_commit/spawn_abort, the thread-exit flush),
//     by a machine's thread always (a runtime outlives its machines).
//  2. `serial` names the runtime the contents belong to (scheduler::serial). A cache found naming
//     another runtime is emptied without returning anything: that runtime is gone (a runtime
//     retires only after its machines exit and its gate drains), and its promises, records and
//     ids went with it.
//  3. A thread holds at most two batches of promises (thread_credit_batch: 16, fewer for large
//     stacks) and k_thread_records records, so a service's many idle threads pin few stack slots
//     (a spawn may fail while they sit there, as with the processors' caches). Its exit returns
//     them (the thread_local's destructor, through the gate).
constexpr int k_thread_batch = 16;
constexpr int k_thread_records = 2 * k_thread_batch;

// Promises a thread takes at once: the batch, but no more stack bytes than a processor's batch
// (processor.hpp: large, scarce stacks are not hoarded). It keeps at most two of them.
inline int thread_credit_batch(const scheduler& s) noexcept {
  return std::min(k_thread_batch, s.stack_credit_batch);
}

struct thread_cache {
  std::uint64_t serial = 0;  // the runtime these belong to; 0: none
  int credit = 0;            // stack promises held
  int records = 0;
  goroutine* record[k_thread_records] = {};
  std::uint64_t goid_next = 0;
  std::uint64_t goid_end = 0;

  thread_cache() = default;
  thread_cache(const thread_cache&) = delete;
  thread_cache& operator=(const thread_cache&) = delete;
  ~thread_cache() { flush(); }

  // Thread exit: hands promises and records back to their runtime if it still runs.
  void flush() noexcept;
};

thread_local thread_cache t_cache;

// The calling thread's cache, emptied if it belonged to another runtime (invariant 2). Not
// inlined: a goroutine may migrate between threads, and the address of a thread_local must not be
// cached across a switch (the callers do not switch while they use it). Invariant 1's callers.
[[gnu::noinline]] thread_cache& thread_cache_for(scheduler& s) noexcept {
  thread_cache& c = t_cache;
  if (c.serial != s.serial) {
    c.serial = s.serial;
    c.credit = 0;
    c.records = 0;
    c.goid_next = c.goid_end = 0;
  }
  return c;
}

// Refills p's stack credit (p null: the calling thread's cache). Throws std::bad_alloc when the
// address space holds no stack for another goroutine. The spawner.
[[gnu::noinline]] void take_stack_promise_slow(scheduler& s, processor* p) {
  if (p == nullptr) {
    thread_cache& c = thread_cache_for(s);
    if (c.credit > 0) {
      --c.credit;
      return;
    }
    const std::size_t got = s.stacks.promise(static_cast<std::size_t>(thread_credit_batch(s)));
    if (got == 0) throw std::bad_alloc();
    c.credit = static_cast<int>(got) - 1;
    return;
  }
  std::size_t n = s.stacks.promise(static_cast<std::size_t>(s.stack_credit_batch));
  if (n == 0) {
    // Slots cached here are outside the promise accounting: hand them back and try again.
    const int cached = p->stack_count.load(std::memory_order_relaxed);
    if (cached > 0) {
      s.stacks.put_batch(p->stacks, static_cast<std::size_t>(cached), sys::nanotime());
      p->stack_count.store(0, std::memory_order_relaxed);
      p->stack_fresh = 0;
      n = s.stacks.promise(static_cast<std::size_t>(s.stack_credit_batch));
    }
    if (n == 0) throw std::bad_alloc();
  }
  p->stack_credit = static_cast<int>(n) - 1;
}

// p's owner, or any thread when p is null.
inline void take_stack_promise(scheduler& s, processor* p) {
  if (p != nullptr && p->stack_credit > 0) {
    --p->stack_credit;
    return;
  }
  take_stack_promise_slow(s, p);
}

// A promise comes back to p (a goroutine started on a cached slot, or a spawn was abandoned).
// p's owner, or any thread when p is null.
inline void give_stack_promise(scheduler& s, processor* p) noexcept {
  if (p == nullptr) {
    thread_cache& c = thread_cache_for(s);
    const int batch = thread_credit_batch(s);
    if (++c.credit > 2 * batch) {
      c.credit -= batch;
      s.stacks.unpromise(static_cast<std::size_t>(batch));
    }
    GORT_DCHECK(c.credit <= 2 * batch);  // invariant 3
    return;
  }
  if (++p->stack_credit > s.stack_credit_max) {
    p->stack_credit -= s.stack_credit_batch;
    s.stacks.unpromise(static_cast<std::size_t>(s.stack_credit_batch));
  }
}

void thread_cache::flush() noexcept {
  if (serial == 0 || (credit == 0 && records == 0)) return;
  // A machine's thread exits only while its runtime runs or after shutdown closed the gate: the
  // gate is the one test that serves both, and a plain thread needs it anyway (invariant 1).
  scheduler* s = gate_enter();
  if (s != nullptr && s->serial == serial) {
    if (credit > 0) s->stacks.unpromise(static_cast<std::size_t>(credit));
    if (records > 0) {
      std::lock_guard<std::mutex> l(s->gfree_lock);
      // Within capacity: every record ever carved has room in gfree (new_slab_locked reserves it).
      s->gfree.insert(s->gfree.end(), record, record + records);
      publish_gfree_count(*s);
    }
  }
  if (s != nullptr) gate_leave();
  serial = 0;
  credit = 0;
  records = 0;
}

}  // namespace

// Retiring a runtime only (runtime.cpp, retire): nothing else refers to the slab's records.
void release_record_slab(goroutine* base) noexcept {
  for (std::size_t i = 0; i < k_slab_records; ++i) base[i].~goroutine();
  ::madvise(base, k_slab_bytes, MADV_DONTNEED);  // zero-filled when read again
  std::lock_guard<std::mutex> l(g_slab_lock);
  free_slabs().push_back(base);  // within the capacity reserved when the slab was mapped
}

void free_heap_closure(goroutine* g) noexcept {
  if ((g->flags & goroutine::k_overaligned_closure) != 0) {
    std::size_t align;
    std::memcpy(&align, g->inline_closure, sizeof align);
    ::operator delete(g->closure, std::align_val_t(align));
  } else if ((g->flags & goroutine::k_heap_closure) != 0) {
    ::operator delete(g->closure);
  }
  g->flags &= static_cast<std::uint8_t>(~(goroutine::k_heap_closure | goroutine::k_overaligned_closure));
  g->closure = nullptr;
}

goroutine* gfget(scheduler& s, processor* p) {
  goroutine* g = nullptr;
  if (p != nullptr) {
    if (p->gfree_count == 0 && s.gfree_count.load(std::memory_order_relaxed) > 0) {
      std::lock_guard<std::mutex> l(s.gfree_lock);
      const std::size_t n = std::min<std::size_t>(k_gfree_keep, s.gfree.size());
      std::memcpy(p->gfree, s.gfree.data() + s.gfree.size() - n, n * sizeof(goroutine*));
      s.gfree.resize(s.gfree.size() - n);
      p->gfree_count = static_cast<int>(n);
      publish_gfree_count(s);
    }
    if (p->gfree_count > 0) g = p->gfree[--p->gfree_count];
  }
  if (g == nullptr) {
    // A thread without a processor: its cache, refilled a batch at a time.
    thread_cache& c = thread_cache_for(s);
    if (c.records == 0) {
      std::lock_guard<std::mutex> l(s.gfree_lock);
      if (s.gfree.empty()) c.record[c.records++] = new_slab_locked(s);
      const std::size_t n =
          std::min<std::size_t>(static_cast<std::size_t>(k_thread_batch - c.records), s.gfree.size());
      std::memcpy(c.record + c.records, s.gfree.data() + s.gfree.size() - n, n * sizeof(goroutine*));
      s.gfree.resize(s.gfree.size() - n);
      c.records += static_cast<int>(n);
      publish_gfree_count(s);
    }
    g = c.record[--c.records];
  }
  reset_record(g);
  g->status.store(g_status::idle, std::memory_order_relaxed);
  return g;
}

void gfput(scheduler& s, processor* p, goroutine* g) {
  g->status.store(g_status::dead, std::memory_order_relaxed);
  if (p == nullptr) {
    thread_cache& c = thread_cache_for(s);
    if (c.records == k_thread_records) {
      std::lock_guard<std::mutex> l(s.gfree_lock);
      s.gfree.insert(s.gfree.end(), c.record + k_thread_batch, c.record + k_thread_records);
      c.records = k_thread_batch;
      publish_gfree_count(s);
    }
    c.record[c.records++] = g;
    return;
  }
  if (p->gfree_count == k_gfree_max) {
    // Go's gfput: a full cache gives half to the global list.
    constexpr int move = k_gfree_max - k_gfree_keep;
    std::lock_guard<std::mutex> l(s.gfree_lock);
    s.gfree.insert(s.gfree.end(), p->gfree + k_gfree_keep, p->gfree + k_gfree_max);
    p->gfree_count -= move;
    publish_gfree_count(s);
  }
  p->gfree[p->gfree_count++] = g;
}

std::uint64_t next_goid(scheduler& s, processor* p) {
  if (p == nullptr) {
    thread_cache& c = thread_cache_for(s);
    if (c.goid_next == c.goid_end) {
      c.goid_next = s.goid_gen.fetch_add(k_goid_batch, std::memory_order_relaxed);
      c.goid_end = c.goid_next + k_goid_batch;
    }
    return c.goid_next++;
  }
  if (p->goid_next == p->goid_end) {
    p->goid_next = s.goid_gen.fetch_add(k_goid_batch, std::memory_order_relaxed);
    p->goid_end = p->goid_next + k_goid_batch;
  }
  return p->goid_next++;
}

stack_slot* stack_get(scheduler& s, processor* p) {
  // The goroutine holds a promise (taken at spawn).
  int n = p->stack_count.load(std::memory_order_relaxed);
  if (n == 0) {
    // Redeems the promise: at least one slot is guaranteed (stack_pool.hpp, "Promises").
    n = static_cast<int>(s.stacks.get_batch(p->stacks, k_stack_batch, 1));
    if (n == 0) fatal("stack pool: a promised goroutine stack was not available");
    // The pool hands out ascending addresses; the cache pops from its end, so reverse it to keep
    // using them in ascending order (stack_pool.hpp: canaries and TLB shootdowns).
    std::reverse(p->stacks, p->stacks + n);
    p->stack_fresh = n;  // maybe untouched (a pool slot's pages may have been released)
  } else {
    give_stack_promise(s, p);  // a cached slot: the promise becomes this processor's credit
  }
  --n;
  p->stack_fresh = std::min(p->stack_fresh, n);
  p->stack_count.store(n, std::memory_order_relaxed);
  stack_slot* st = p->stacks[n];
  stack_pool::commit_canary(st);
  return st;
}

void stack_put(scheduler& s, processor* p, stack_slot* st) {
  int n = p->stack_count.load(std::memory_order_relaxed);
  if (n == k_stack_cache) {
    n -= k_stack_batch;
    s.stacks.put_batch(p->stacks + n, k_stack_batch, sys::nanotime());
    p->stack_fresh = std::min(p->stack_fresh, n);
  }
  GORT_DCHECK(p->stack_fresh <= n);
  p->stacks[n++] = st;
  p->stack_count.store(n, std::memory_order_relaxed);
}

void goroutine_exited(scheduler& s, machine* m, goroutine* g) {
  processor* p = m->p;
  GORT_DCHECK((g->flags & goroutine::k_extras) != 0 || g->labels == nullptr);
  // The field itself is rewritten by the record's next spawn.
  if ((g->flags & goroutine::k_extras) != 0) release_labels(g->labels);
  destroy_goroutine_context(g);
  stack_put(s, p, g->stack);
  g->stack = nullptr;
  free_heap_closure(g);
  bump(p->exited);
  const bool was_main = g->is_main();
  gfput(s, p, g);
  if (was_main) begin_shutdown(s);
}

// ---- the goroutine body and uncaught exceptions ----

namespace {

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
  }
  return "unknown exception (not derived from std::exception)";
}

// Go's panic report: the exception, then (when the on_exception handler itself threw) the
// handler's, then where the goroutine was created.
void print_uncaught(const goroutine* g, const std::exception_ptr& e,
                    const std::exception_ptr& from_handler) {
  const std::string what = describe(e);
  std::fprintf(stderr, "goroutine %llu [exception]: %s\n", static_cast<unsigned long long>(g->id),
               what.c_str());
  if (from_handler) {
    const std::string again = describe(from_handler);
    std::fprintf(stderr, "gort::options::on_exception threw while handling it: %s\n",
                 again.c_str());
  }
  std::string in;
  if (g->parent_id != 0) in = " in goroutine " + std::to_string(g->parent_id);
  std::fprintf(stderr, "\ncreated by %s%s\n\t%s:%u\n", g->created_at.function_name(), in.c_str(),
               g->created_at.file_name(), static_cast<unsigned>(g->created_at.line()));
  std::fflush(stderr);
}

}  // namespace

void run_goroutine_body(goroutine* g) {
  try {
    g->run_fn(g->closure);
  } catch (...) {
    scheduler* s = g_sched.load(std::memory_order_acquire);
    if (g->is_main()) {
      s->main_exception = std::current_exception();  // rethrown by run() after shutdown
    } else if (!s->cfg.on_exception) {
      print_uncaught(g, std::current_exception(), nullptr);
      std::terminate();  // inside the handler: the terminate handler sees the exception
    } else {
      goroutine_exception info{g->id, std::current_exception(), g->created_at};
      try {
        s->cfg.on_exception(info);
      } catch (...) {
        // Both are reported; the process ends as for an unhandled exception.
        print_uncaught(g, info.error, std::current_exception());
        std::terminate();
      }
    }
  }
  g->destroy_fn(g->closure);
  // goroutine_local values die with their goroutine, on it (their destructors may use gort).
  GORT_DCHECK((g->flags & goroutine::k_extras) != 0 || g->locals == nullptr);
  if ((g->flags & goroutine::k_extras) != 0 && g->locals != nullptr) destroy_locals(g);
}

}  // namespace gort::sched

// ---- public spawn entry points (gort/detail/waist.hpp) ----

namespace gort::detail {

using namespace gort::sched;

// A spawn from a goroutine (or a machine's scheduler context) uses the running runtime; from a
// plain thread it holds the gate (runtime.cpp) from spawn_prepare to spawn_commit or spawn_abort,
// so the runtime cannot be freed in between; the caller's thread tells which (a plain thread stays
// one, a goroutine stays on some machine across a park in the closure's constructor).
namespace {
// A runtime section (scheduler.hpp, own_p) for the span of a spawn step on a machine.
struct spawn_section {
  machine* m;
  processor* p;
  explicit spawn_section(machine* mm) noexcept : m(mm), p(mm != nullptr ? own_p(mm) : nullptr) {}
  ~spawn_section() {
    if (m != nullptr) disown_p(m);
  }
  spawn_section(const spawn_section&) = delete;
  spawn_section& operator=(const spawn_section&) = delete;
};
}  // namespace

prepared_spawn spawn_prepare(std::size_t size, std::size_t align) {
  machine* m = current_machine();
  // acquire: pairs with the start's release store (a machine's runtime outlives it).
  scheduler& s = m != nullptr ? *g_sched.load(std::memory_order_acquire)
                              : gate_enter_or_start("gort::go");
  const spawn_section section(m);
  processor* p = section.p;
  goroutine* g = nullptr;
  try {
    take_stack_promise(s, p);
    try {
      g = gfget(s, p);
    } catch (...) {
      give_stack_promise(s, p);
      throw;
    }
  } catch (...) {
    if (m == nullptr) gate_leave();
    throw;
  }
  void* mem = g->inline_closure;
  if (size > k_inline_closure || align > sched::k_inline_closure_align) {
    try {
      if (align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
        mem = ::operator new(size, std::align_val_t(align));
        std::memcpy(g->inline_closure, &align, sizeof align);
        g->flags |= goroutine::k_overaligned_closure;
      } else {
        mem = ::operator new(size);
        g->flags |= goroutine::k_heap_closure;
      }
    } catch (...) {
      gfput(s, p, g);
      give_stack_promise(s, p);
      if (m == nullptr) gate_leave();
      throw;
    }
  }
  g->closure = mem;
  return {g, mem};
}

// noinline: its return address is the creation site (gort::go and detail::spawn are always
// inlined into the function that calls gort::go).
[[gnu::noinline]] void spawn_commit(goroutine* g, void (*run)(void*), void (*destroy)(void*) noexcept,
                                    const char* file, const char* function,
                                    std::uint64_t line_column) noexcept {
  scheduler& s = *g_sched.load(std::memory_order_acquire);
  g->run_fn = run;
  g->destroy_fn = destroy;
  g->created_at = gort::source_location::current(file, function,
                                                 static_cast<std::uint32_t>(line_column >> 32),
                                                 static_cast<std::uint32_t>(line_column));
  g->created_pc = __builtin_return_address(0);  // symbolized only by dumps and reports
  // Re-read: constructing the closure may have parked and moved us to another machine.
  machine* m = current_machine();
  processor* p = m != nullptr ? own_p(m) : nullptr;
  goroutine* self = m != nullptr ? m->curg : nullptr;
  g->parent_id = self != nullptr ? self->id : 0;
  g->labels = self != nullptr ? retain_labels(self->labels) : nullptr;
  if (g->labels != nullptr) g->flags |= goroutine::k_extras;  // flags: reset by gfget
  // g->locals is null: a fresh record's is, and a goroutine's end (or its abandonment) clears it.
  GORT_DCHECK(g->locals == nullptr);
  g->id = next_goid(s, p);
  // release: pairs with a goroutine dump's acquire load (trace/dump.cpp), which then reads the
  // identity written above (a plain store on x86, as relaxed).
  g->status.store(g_status::runnable, std::memory_order_release);
  if (instrumenting()) [[unlikely]] on_runnable(m, g, true);
  if (p != nullptr) {
    bump(p->spawned);
    runq_put_next(s, p, g);  // release: publishes every field written above
    wakep(s);
    disown_p(m);
    if (self != nullptr && self->preempt.load(std::memory_order_relaxed)) {
      switch_to_scheduler(self, after_switch::preempt);
    }
  } else {
    s.thread_spawned.fetch_add(1, std::memory_order_relaxed);
    global_put(s, g);
    if (m == nullptr) {
      gate_leave();
    } else {
      disown_p(m);  // inside gort::blocking, or sysmon took the processor
      // A preemption point too for a goroutine whose processor sysmon took: it gets one back.
      if (self != nullptr && self->preempt.load(std::memory_order_relaxed) &&
          self->status.load(std::memory_order_relaxed) != g_status::syscall) {
        switch_to_scheduler(self, after_switch::preempt);
      }
    }
  }
}

void spawn_abort(goroutine* g) noexcept {
  scheduler& s = *g_sched.load(std::memory_order_acquire);
  free_heap_closure(g);
  machine* m = current_machine();
  {
    const spawn_section section(m);
    gfput(s, section.p, g);
    give_stack_promise(s, section.p);
  }
  if (m == nullptr) gate_leave();
}

}  // namespace gort::detail
