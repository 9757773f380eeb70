// gort/detail/thread_annotations.hpp — clang's thread-safety annotations, spelled GORT_*.
//
//   class foo {
//     detail::spinlock lock_;
//     int count_ GORT_GUARDED_BY(lock_);
//     void bump_locked() GORT_REQUIRES(lock_);
//   };
//
// With clang and -Wthread-safety the compiler proves that every access to a guarded field holds
// its lock and that every *_locked function is called with it (the test command has a pass that
// makes these errors); with other compilers the macros are empty. A function whose locking the
// analysis cannot follow — a lock released by park's unlock callback on the scheduler context,
// one released on some paths only — says so with GORT_NO_THREAD_SAFETY_ANALYSIS and a comment,
// and keeps its ACQUIRE/RELEASE contract for its callers.
#pragma once

#if defined(__clang__)
#define GORT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define GORT_THREAD_ANNOTATION(x)
#endif

#define GORT_CAPABILITY(name) GORT_THREAD_ANNOTATION(capability(name))
#define GORT_SCOPED_CAPABILITY GORT_THREAD_ANNOTATION(scoped_lockable)
#define GORT_GUARDED_BY(x) GORT_THREAD_ANNOTATION(guarded_by(x))
#define GORT_PT_GUARDED_BY(x) GORT_THREAD_ANNOTATION(pt_guarded_by(x))
#define GORT_REQUIRES(...) GORT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define GORT_ACQUIRE(...) GORT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define GORT_RELEASE(...) GORT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define GORT_TRY_ACQUIRE(...) GORT_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define GORT_EXCLUDES(...) GORT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define GORT_RETURN_CAPABILITY(x) GORT_THREAD_ANNOTATION(lock_returned(x))
#define GORT_NO_THREAD_SAFETY_ANALYSIS GORT_THREAD_ANNOTATION(no_thread_safety_analysis)
