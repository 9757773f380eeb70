// gort/detail/dcheck.hpp — GORT_DCHECK: invariants written in prose, checked in debug builds.
//
//   GORT_DCHECK(w->linked);   // "a node is in the list iff linked"
//
// On when GORT_DCHECKS is 1: by default in builds without NDEBUG (Debug) and in sanitizer builds
// (ASan, TSan, UBSan's CMake option defines GORT_DCHECKS=1 for the whole tree); off in Release,
// where the condition is not evaluated. A failed check prints "fatal error: check failed: <cond>"
// with the file and line and aborts (like Go's throw). Like assert(), inline code in headers follows
// the including translation unit's setting; the library's own code follows the library's build.
#pragma once

#ifndef GORT_DCHECKS
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GORT_DCHECKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GORT_DCHECKS 1
#else
#define GORT_DCHECKS 0
#endif
#else
#define GORT_DCHECKS 0
#endif
#endif

namespace gort::detail {
/// Reports a failed GORT_DCHECK and aborts. Any thread.
[[noreturn]] void dcheck_failed(const char* cond, const char* file, int line) noexcept;
}  // namespace gort::detail

#if GORT_DCHECKS
#define GORT_DCHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::gort::detail::dcheck_failed(#cond, __FILE__, __LINE__))
#else
#define GORT_DCHECK(cond) static_cast<void>(sizeof(!(cond)))  // unevaluated
#endif
