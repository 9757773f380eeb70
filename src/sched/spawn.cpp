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
#include "sys/clock.hpp"

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
      free.reserve(g_slabs_mapped + k_slabs_per_map);
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
  for (std::size_t i = 0; i < k_slab_records; ++i) ::new (&base[i]) goroutine;
  return base;
}

// Only the first cache line is reset; the second is written by spawn before publication.
void reset_record(goroutine* g) {
  g->ctx = nullptr;
  g->m = nullptr;
  g->stack = nullptr;
  g->preempt.store(false, std::memory_order_relaxed);
  g->kind = g_kind::goroutine;
  g->reason = detail::wait_reason::zero;
  g->flags = 0;
  ++g->generation;
}

// Carves a slab and returns one record; the rest go to the global free list. Requires
// s.gfree_lock.
goroutine* new_slab_locked(scheduler& s) {
  s.slabs.reserve(s.slabs.size() + 1);
  s.gfree.reserve(s.gfree.size() + k_slab_records);
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

// Refills p's stack credit (p null: a plain thread takes one promise for itself). Throws
// std::bad_alloc when the address space holds no stack for another goroutine. The spawner.
[[gnu::noinline]] void take_stack_promise_slow(scheduler& s, processor* p) {
  if (p == nullptr) {
    if (s.stacks.promise(1) == 0) throw std::bad_alloc();
    return;
  }
  std::size_t n = s.stacks.promise(static_cast<std::size_t>(s.stack_credit_batch));
  if (n == 0) {
    // Slots cached here are outside the promise accounting: hand them back and try again.
    const int cached = p->stack_count.load(std::memory_order_relaxed);
    if (cached > 0) {
      s.stacks.put_batch(p->stacks, static_cast<std::size_t>(cached), sys::nanotime());
      p->stack_count.store(0, std::memory_order_relaxed);
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
    s.stacks.unpromise(1);
    return;
  }
  if (++p->stack_credit > s.stack_credit_max) {
    p->stack_credit -= s.stack_credit_batch;
    s.stacks.unpromise(static_cast<std::size_t>(s.stack_credit_batch));
  }
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
    std::lock_guard<std::mutex> l(s.gfree_lock);
    if (!s.gfree.empty()) {
      g = s.gfree.back();
      s.gfree.pop_back();
    } else {
      g = new_slab_locked(s);
    }
    publish_gfree_count(s);
  }
  reset_record(g);
  g->status.store(g_status::idle, std::memory_order_relaxed);
  return g;
}

void gfput(scheduler& s, processor* p, goroutine* g) {
  g->status.store(g_status::dead, std::memory_order_relaxed);
  if (p == nullptr) {
    std::lock_guard<std::mutex> l(s.gfree_lock);
    s.gfree.push_back(g);
    publish_gfree_count(s);
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
  if (p == nullptr) return s.goid_gen.fetch_add(1, std::memory_order_relaxed);
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
  } else {
    give_stack_promise(s, p);  // a cached slot: the promise becomes this processor's credit
  }
  --n;
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
  }
  p->stacks[n++] = st;
  p->stack_count.store(n, std::memory_order_relaxed);
}

void goroutine_exited(scheduler& s, machine* m, goroutine* g) {
  processor* p = m->p;
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
  std::fprintf(stderr, "\ncreated by %s\n\t%s:%u\n", g->created_at.function_name(),
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
}

}  // namespace gort::sched

// ---- public spawn entry points (gort/detail/waist.hpp) ----

namespace gort::detail {

using namespace gort::sched;

// A spawn from a goroutine (or a machine's scheduler context) uses the running runtime; from a
// plain thread it holds the gate (runtime.cpp) from spawn_prepare to spawn_commit or spawn_abort,
// so the runtime cannot be freed in between; the caller's thread tells which (a plain thread stays
// one, a goroutine stays on some machine across a park in the closure's constructor).
void* spawn_prepare(goroutine** out, std::size_t size, std::size_t align) {
  machine* m = current_machine();
  // acquire: pairs with the start's release store (a machine's runtime outlives it).
  scheduler& s = m != nullptr ? *g_sched.load(std::memory_order_acquire)
                              : gate_enter_or_start("gort::go");
  processor* p = m != nullptr ? m->p : nullptr;
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
  *out = g;
  return mem;
}

void spawn_commit(goroutine* g, void (*run)(void*), void (*destroy)(void*) noexcept,
                  const gort::source_location& where) noexcept {
  scheduler& s = *g_sched.load(std::memory_order_acquire);
  g->run_fn = run;
  g->destroy_fn = destroy;
  g->created_at = where;
  // Re-read: constructing the closure may have parked and moved us to another machine.
  machine* m = current_machine();
  processor* p = m != nullptr ? m->p : nullptr;
  goroutine* self = m != nullptr ? m->curg : nullptr;
  g->id = next_goid(s, p);
  g->status.store(g_status::runnable, std::memory_order_relaxed);
  if (instrumenting()) [[unlikely]] on_runnable(m, g, true);
  if (p != nullptr) {
    bump(p->spawned);
    runq_put_next(s, p, g);  // release: publishes every field written above
    wakep(s);
    if (self != nullptr && self->preempt.load(std::memory_order_relaxed)) {
      switch_to_scheduler(self, after_switch::preempt);
    }
  } else {
    s.thread_spawned.fetch_add(1, std::memory_order_relaxed);
    global_put(s, g);
    if (m == nullptr) gate_leave();
  }
}

void spawn_abort(goroutine* g) noexcept {
  scheduler& s = *g_sched.load(std::memory_order_acquire);
  free_heap_closure(g);
  machine* m = current_machine();
  processor* p = m != nullptr ? m->p : nullptr;
  gfput(s, p, g);
  give_stack_promise(s, p);
  if (m == nullptr) gate_leave();
}

}  // namespace gort::detail
