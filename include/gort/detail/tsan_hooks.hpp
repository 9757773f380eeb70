// gort/detail/tsan_hooks.hpp — ThreadSanitizer's acquire/release entry points as weak references.
//
// gort's compiled library is usually built without -fsanitize while the application that links
// it is built with -fsanitize=thread. TSan then cannot see the atomics inside the library, and a
// lock taken in compiled code (a channel's, on a slow path) no longer orders its critical
// section, for TSan, with one taken in the application's inline code: a value or waiter record
// handed over under the lock looks raced. The locks that cross that boundary therefore announce
// their hand-offs with these calls, which resolve to the sanitizer runtime of whichever part of
// the program was built with it, and to null in a process without one (one predictable branch,
// the same code in every translation unit and every build: no macro selects them).
//
// Partners: tsan_release(addr) makes everything the caller did so far visible, for TSan, to the
// next tsan_acquire(addr) — or to an instrumented acquire operation on the atomic at addr (TSan
// keeps one synchronization clock per address for both).
#pragma once

#include <atomic>

extern "C" {
// The runtimes' declarations (compiler-rt's and libsanitizer's sanitizer/tsan_interface.h), weak.
[[gnu::weak]] void __tsan_acquire(void* addr);
[[gnu::weak]] void __tsan_release(void* addr);
}

namespace gort::detail {

/// Orders the caller after every tsan_release(addr) (and instrumented release on addr) before
/// it. Any thread; no-op without TSan.
[[gnu::always_inline]] inline void tsan_acquire(const volatile void* addr) noexcept {
  if (__builtin_expect(&__tsan_acquire != nullptr, 0)) __tsan_acquire(const_cast<void*>(addr));
}

/// Everything the caller did so far happens-before a later tsan_acquire(addr). Any thread;
/// no-op without TSan.
[[gnu::always_inline]] inline void tsan_release(const volatile void* addr) noexcept {
  if (__builtin_expect(&__tsan_release != nullptr, 0)) __tsan_release(const_cast<void*>(addr));
}

}  // namespace gort::detail

namespace gort::detail {
/// Drops one reference from a count shared between the compiled library and inline code in the
/// application; true when it was the last (the caller then destroys the object). acq_rel: the
/// release orders this owner's uses before the destruction and pairs with the last owner's
/// acquire, which makes it see every other owner's (as std::shared_ptr does). The hand-off is
/// also announced to TSan (file comment), for an application built with TSan against an
/// uninstrumented library: it sees only its own half of the atomic, and the library's delete
/// would otherwise look raced with the application's decrement. Any thread.
template <class Atomic>
[[gnu::always_inline]] inline bool drop_reference(Atomic& refs) noexcept {
  tsan_release(&refs);
  if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return false;
  tsan_acquire(&refs);
  return true;
}
}  // namespace gort::detail
