// sched/sanitizer.hpp — telling AddressSanitizer and ThreadSanitizer about goroutine switches
// and hand-offs, whichever part of the program is instrumented.
//
// Boost.Context's assembly switch is invisible to the sanitizers. Without these hooks ASan sees a
// stack pointer jump into memory it does not know (false stack-buffer reports, broken fake
// stacks) and TSan attributes every goroutine on a thread to that thread (missed and false races).
// An uninstrumented gort (the usual installed library) linked into an instrumented application is
// worse still: TSan cannot see the run queues' atomics, so a goroutine's closure, written by its
// spawner, or a value handed over by a channel looks raced against its reader on another thread.
//
// So the sanitizer runtimes' entry points are weak references, resolved when the program is
// loaded: to the runtime of whichever part was built with -fsanitize (gort, the application, or
// both), or to null in a process without one, where every hook is one predictable branch. No
// build setting selects them, and gort's compiled code is the same in every configuration.
//
// Protocol around every switch (context_switch.cpp): start_switch(target) before the jump,
// finish_switch() first thing after control returns; tsan_switch(target) right before the jump.
// Hand-offs (happens-before that TSan cannot see in uninstrumented code): whoever makes a
// goroutine runnable (spawn, ready: the run-queue puts in scheduler.hpp/.cpp) calls release(g)
// first, and every switch to g acquires on g right before it (tsan_switch_to_goroutine), so g
// starts or resumes with everything its wakers did; a plain thread woken by ready() does the same
// on its stand-in record (park.cpp). A stack slot is released when its goroutine's context is
// destroyed and acquired before the next one is made on it (context_switch.cpp). Every
// detail::spinlock (channels, wait lists, timer heaps, ...) announces its own lock and unlock
// (gort/detail/tsan_hooks.hpp). Timers (src/time): a stop that finds its timer already fired
// acquires what the callback released, and after()'s node drops what may be its channel's last reference
// inside ignore_accesses.
// Without a sanitizer runtime this costs a handful of never-taken branches per switch, each on an
// address that is known when the program is loaded.
#pragma once

#include <cstddef>

#include "gort/detail/tsan_hooks.hpp"  // __tsan_acquire, __tsan_release

// The runtimes' declarations (compiler-rt's and libsanitizer's sanitizer/*.h), made weak.
extern "C" {
[[gnu::weak]] void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom,
                                                  std::size_t size);
[[gnu::weak]] void __sanitizer_finish_switch_fiber(void* fake_stack_save,
                                                   const void** bottom_old,
                                                   std::size_t* size_old);
[[gnu::weak]] void __asan_unpoison_memory_region(const volatile void* addr, std::size_t size);
[[gnu::weak]] void* __tsan_get_current_fiber(void);
[[gnu::weak]] void* __tsan_create_fiber(unsigned flags);
[[gnu::weak]] void __tsan_destroy_fiber(void* fiber);
[[gnu::weak]] void __tsan_switch_to_fiber(void* fiber, unsigned flags);
[[gnu::weak]] void AnnotateIgnoreWritesBegin(const char* file, int line);
[[gnu::weak]] void AnnotateIgnoreWritesEnd(const char* file, int line);
}

namespace gort::sched::sanitizer {

// Each predicate is true when the process has the runtime that defines the entry point. Any
// thread; the answer never changes while the program runs.

/// AddressSanitizer's fiber support is present: finish_switch must run right after each switch.
[[gnu::always_inline]] inline bool asan() noexcept {
  return __builtin_expect(&__sanitizer_finish_switch_fiber != nullptr, 0);
}

/// ThreadSanitizer is present.
[[gnu::always_inline]] inline bool tsan() noexcept {
  return __builtin_expect(&__tsan_switch_to_fiber != nullptr, 0);
}

/// Before switching away: `fake_stack_save` receives the current context's fake stack (null when
/// the current context is finishing for good); [bottom, bottom+size) is the target's stack.
inline void start_switch(void** fake_stack_save, const void* bottom, std::size_t size) {
  if (__builtin_expect(&__sanitizer_start_switch_fiber != nullptr, 0)) {
    __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
  }
}

/// After being switched to: `fake_stack` is what this context saved in start_switch; receives
/// the stack bounds of the context we came from (may be null).
inline void finish_switch(void* fake_stack, const void** from_bottom, std::size_t* from_size) {
  if (asan()) __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
}

/// Clears ASan's poisoning of memory about to be reused as a fresh stack or unmapped.
inline void unpoison(void* p, std::size_t n) {
  if (__builtin_expect(&__asan_unpoison_memory_region != nullptr, 0)) {
    __asan_unpoison_memory_region(p, n);
  }
}

/// The calling thread's current TSan fiber, or null without TSan.
inline void* tsan_current() { return tsan() ? __tsan_get_current_fiber() : nullptr; }

/// A new TSan fiber for a goroutine, or null without TSan.
inline void* tsan_create() { return tsan() ? __tsan_create_fiber(0) : nullptr; }

inline void tsan_destroy(void* fiber) {
  if (fiber != nullptr && tsan()) __tsan_destroy_fiber(fiber);
}

/// Right before jumping to the context whose fiber is `fiber` (flags 0: the switch itself orders
/// the two contexts, as the jump does).
inline void tsan_switch(void* fiber) {
  if (tsan()) __tsan_switch_to_fiber(fiber, 0);
}

/// Right before jumping to goroutine `g` on `fiber`: the switching context takes what was released
/// on g (by whoever made it runnable), and the switch hands it all to g.
inline void tsan_switch_to_goroutine(void* fiber, void* g) {
  if (tsan()) {
    __tsan_acquire(g);
    __tsan_switch_to_fiber(fiber, 0);
  }
}

/// Everything the caller did so far happens-before an acquire(obj) that follows: called by
/// whoever makes goroutine (or stand-in record) `obj` runnable.
inline void release(void* obj) { detail::tsan_release(obj); }

/// Called by a plain thread's stand-in record `obj` when it wakes, and for stack slots.
inline void acquire(void* obj) { detail::tsan_acquire(obj); }

/// While it lives, TSan checks no memory access of the calling context, frees included. Only
/// around gort's release of the last reference to an object the application also used, which
/// gort's reference count makes exclusive: TSan, blind to an uninstrumented gort's atomics, would
/// report the free as racing with the application's own release of its reference.
class ignore_accesses {
 public:
  ignore_accesses() noexcept {
    if (__builtin_expect(&AnnotateIgnoreWritesBegin != nullptr, 0)) {
      AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
    }
  }
  ~ignore_accesses() {
    if (__builtin_expect(&AnnotateIgnoreWritesEnd != nullptr, 0)) {
      AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    }
  }
  ignore_accesses(const ignore_accesses&) = delete;
  ignore_accesses& operator=(const ignore_accesses&) = delete;
};

}  // namespace gort::sched::sanitizer
