// sched/sanitizer.hpp — telling AddressSanitizer and ThreadSanitizer about fiber switches.
//
// Boost.Context's assembly switch is invisible to the sanitizers. Without these hooks ASan sees a
// stack pointer jump into memory it does not know (false stack-buffer reports, broken fake
// stacks) and TSan attributes every goroutine on a thread to that thread (missed and false races).
// Each function compiles to nothing in a build without the corresponding sanitizer.
//
// Protocol around every switch (context_switch.cpp): start_switch(target) before the jump,
// finish_switch() first thing after control returns; tsan_switch(target) right before the jump.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif

#ifdef GORT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef GORT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace gort::sched::sanitizer {

#ifdef GORT_ASAN
inline constexpr bool asan = true;
#else
inline constexpr bool asan = false;
#endif
#ifdef GORT_TSAN
inline constexpr bool tsan = true;
#else
inline constexpr bool tsan = false;
#endif

/// Before switching away: `fake_stack_save` receives the current context's fake stack (null when
/// the current context is finishing for good); [bottom, bottom+size) is the target's stack.
inline void start_switch([[maybe_unused]] void** fake_stack_save,
                         [[maybe_unused]] const void* bottom, [[maybe_unused]] std::size_t size) {
#ifdef GORT_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#endif
}

/// After being switched to: `fake_stack` is what this context saved in start_switch; receives
/// the stack bounds of the context we came from (may be null).
inline void finish_switch([[maybe_unused]] void* fake_stack,
                          [[maybe_unused]] const void** from_bottom,
                          [[maybe_unused]] std::size_t* from_size) {
#ifdef GORT_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
#endif
}

/// Clears ASan's poisoning of memory about to be reused as a fresh stack or unmapped.
inline void unpoison([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) {
#ifdef GORT_ASAN
  __asan_unpoison_memory_region(p, n);
#endif
}

inline void* tsan_current() {
#ifdef GORT_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

inline void* tsan_create() {
#ifdef GORT_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}

inline void tsan_destroy([[maybe_unused]] void* fiber) {
#ifdef GORT_TSAN
  if (fiber != nullptr) __tsan_destroy_fiber(fiber);
#endif
}

inline void tsan_switch([[maybe_unused]] void* fiber) {
#ifdef GORT_TSAN
  __tsan_switch_to_fiber(fiber, 0);
#endif
}

}  // namespace gort::sched::sanitizer
