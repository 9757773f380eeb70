// gort/detail/pool_task.hpp — the type-erased, move-only `void()` callable a gort::pool runs.
//
// Invariants
//  * A pool_task is empty (no callable) or holds exactly one callable, stored inline in `buf_`
//    when it fits (k_inline_size bytes, alignment <= 8) and is nothrow-move-constructible, else
//    on the heap (buf_ then holds the pointer).
//  * Moving a pool_task never throws and never allocates: an inline callable is relocated (a
//    memcpy when it is trivially copyable), a heap one changes owner. The pool relies on this to
//    move tasks between a submitter's frame, a worker's slot and a spawn closure with no failure
//    path.
//  * run() invokes the callable once and leaves the task empty, also when the callable throws.
//
// Why not std::function: it must be copyable (move-only lambdas are common as tasks: they own a
// promise or a buffer), it allocates above 16 bytes in libstdc++, and its move is not noexcept.
// k_inline_size is 40 (five words: a task capturing a few references and an index) so that a
// worker's spawn closure — the pool pointer plus one task — is 56 bytes and fits the goroutine
// record's inline closure storage (no allocation per spawn).
//
// Who may call: any thread; a pool_task is not shared (one owner at a time, moved under the
// pool's protocol), so it has no synchronization of its own.
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace gort::detail {

/// Ends the lifetime of *p (std::destroy_at without <memory>; a named function, since clang
/// before 16 rejects f->~Fn() on a template parameter inside a lambda).
template <class U>
void destroy_object(U* p) noexcept {
  p->~U();
}

class pool_task {
 public:
  static constexpr std::size_t k_inline_size = 40;
  static constexpr std::size_t k_inline_align = 8;

  /// True when a callable of type F is stored inline (no allocation).
  template <class F>
  static constexpr bool stored_inline = sizeof(F) <= k_inline_size &&
                                        alignof(F) <= k_inline_align &&
                                        std::is_nothrow_move_constructible_v<F>;

  pool_task() noexcept = default;

  /// Stores a decayed copy of f (moved from an rvalue). Throws what F's constructor throws, or
  /// std::bad_alloc for a callable stored on the heap.
  template <class F, class Fn = std::decay_t<F>>
    requires(!std::is_same_v<Fn, pool_task> && std::is_invocable_v<Fn&>)
  explicit pool_task(F&& f) {
    if constexpr (stored_inline<Fn>) {
      ::new (static_cast<void*>(buf_)) Fn(std::forward<F>(f));
      vt_ = &inline_vtable<Fn>;
    } else {
      Fn* p = new Fn(std::forward<F>(f));
      std::memcpy(buf_, &p, sizeof p);
      vt_ = &heap_vtable<Fn>;
    }
  }

  pool_task(pool_task&& o) noexcept { take(o); }
  pool_task& operator=(pool_task&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  pool_task(const pool_task&) = delete;
  pool_task& operator=(const pool_task&) = delete;
  ~pool_task() { reset(); }

  explicit operator bool() const noexcept { return vt_ != nullptr; }

  /// dst = std::move(src) for a dst known to be empty (the pool's worker slots): no reset.
  static void move_into_empty(pool_task& dst, pool_task& src) noexcept { dst.take(src); }

  /// Invokes the callable once and leaves this task empty (the callable is destroyed even when it
  /// throws; the exception propagates). Precondition: not empty.
  void run() {
    const vtable* vt = vt_;
    vt_ = nullptr;
    vt->run(buf_);
  }

  /// Destroys the callable without running it.
  void reset() noexcept {
    if (vt_ != nullptr) {
      const vtable* vt = vt_;
      vt_ = nullptr;
      vt->destroy(buf_);
    }
  }

 private:
  struct vtable {
    void (*run)(void* storage);                       // invoke, then destroy (also on a throw)
    void (*relocate)(void* dst, void* src) noexcept;  // null: memcpy the storage
    void (*destroy)(void* storage) noexcept;
  };

  template <class Fn>
  static Fn* heap_ptr(void* storage) noexcept {
    Fn* p;
    std::memcpy(&p, storage, sizeof p);
    return p;
  }

  template <class Fn>
  static constexpr vtable inline_vtable{
      [](void* s) {
        Fn* f = std::launder(static_cast<Fn*>(s));
        struct destroy_after {
          Fn* f;
          ~destroy_after() { destroy_object(f); }
        } guard{f};
        (*f)();  // INVOKE with no arguments is a plain call
      },
      std::is_trivially_copyable_v<Fn>
          ? nullptr
          : +[](void* dst, void* src) noexcept {
              Fn* from = std::launder(static_cast<Fn*>(src));
              ::new (dst) Fn(std::move(*from));
              destroy_object(from);
            },
      [](void* s) noexcept { destroy_object(std::launder(static_cast<Fn*>(s))); }};

  template <class Fn>
  static constexpr vtable heap_vtable{
      [](void* s) {
        struct destroy_after {
          Fn* f;
          ~destroy_after() { delete f; }
        } guard{heap_ptr<Fn>(s)};
        (*guard.f)();
      },
      nullptr,  // the pointer itself is what moves
      [](void* s) noexcept { delete heap_ptr<Fn>(s); }};

  void take(pool_task& o) noexcept {
    vt_ = o.vt_;
    if (vt_ == nullptr) return;
    if (vt_->relocate == nullptr) {
      std::memcpy(buf_, o.buf_, k_inline_size);
    } else {
      vt_->relocate(buf_, o.buf_);
    }
    o.vt_ = nullptr;
  }

  const vtable* vt_ = nullptr;
  alignas(k_inline_align) unsigned char buf_[k_inline_size];
};

static_assert(sizeof(pool_task) == 8 + pool_task::k_inline_size,
              "pool_task: a pointer plus the inline storage");

}  // namespace gort::detail
