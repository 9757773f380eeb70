// gort/goroutine_local.hpp — goroutine-local storage.
//
//   gort::goroutine_local<span_context> current_span;
//   current_span->trace_id = id;          // this goroutine's own value
//
// A thread_local breaks when a goroutine moves between threads (after any call that can park),
// so libraries that keep per-request state (tracing spans, log context) need storage that
// follows the goroutine. Each goroutine_local<T> object names one slot; every goroutine (and
// every plain thread) has its own value in it, default-constructed on first use by that goroutine.
//
// Lifetime: a goroutine's values are destroyed when the goroutine's function returns, on the
// goroutine, in reverse order of their creation (their destructors may use gort). A plain thread's
// values are destroyed when the thread exits. Values of a goroutine abandoned at shutdown are,
// like the objects on its stack, freed without their destructors running (docs/api.md, "Runtime").
// Destroying a goroutine_local object does not destroy the values goroutines hold in it: each
// goroutine's value lives until that goroutine ends.
//
// Cost: get() is a call into the library (find the running goroutine, a linear scan of its few
// values: a few nanoseconds); the first get() of a goroutine allocates the value (and, for its
// first goroutine_local, a small table). Nothing is paid by goroutines that never use one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace gort {

namespace detail {
/// A fresh slot key (never reused in a process). Any thread.
std::uint64_t local_new_key() noexcept;
/// The calling goroutine's (or plain thread's) value in slot `key`, or null. Any thread.
void* local_get(std::uint64_t key) noexcept;
/// Allocates and constructs (construct(mem)) the caller's value in slot `key`, which it has none
/// in. Throws std::bad_alloc or what construct throws (nothing is then stored). Any thread.
void* local_emplace(std::uint64_t key, std::size_t size, std::size_t align, void (*construct)(void*),
                    void (*destroy)(void*) noexcept);
/// Destroys the caller's value in slot `key`, if any. Any thread.
void local_erase(std::uint64_t key) noexcept;
}  // namespace detail

/// One goroutine-local slot of type T (default-constructible). Not copyable.
template <class T>
class goroutine_local {
 public:
  goroutine_local() noexcept : key_(detail::local_new_key()) {}
  goroutine_local(const goroutine_local&) = delete;
  goroutine_local& operator=(const goroutine_local&) = delete;

  /// The caller's value, default-constructed on its first use. Throws what T() throws, or
  /// std::bad_alloc.
  T& get() {
    if (void* p = detail::local_get(key_)) return *static_cast<T*>(p);
    return *static_cast<T*>(detail::local_emplace(key_, sizeof(T), alignof(T), &construct, &destroy));
  }
  /// The caller's value, or null if it has none yet.
  T* get_if() const noexcept { return static_cast<T*>(detail::local_get(key_)); }
  /// Destroys the caller's value now (the next get() makes a fresh one).
  void reset() noexcept { detail::local_erase(key_); }

  T& operator*() { return get(); }
  T* operator->() { return &get(); }

 private:
  static void construct(void* mem) { ::new (mem) T(); }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }

  std::uint64_t key_;
};

}  // namespace gort
