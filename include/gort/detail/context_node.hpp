// gort/detail/context_node.hpp — the context tree: nodes, cancellation and wake-up links.
//
// A gort::context is a pointer to an immutable, reference-counted node (null: background):
//   node            parent (strong reference), nearest cancellable ancestor-or-self
//                   (`canceller`), deadline (the minimum along the path; cached at creation)
//   cancel_node     a with_cancel* context: lock, error, cause, lazily made done channel, and a
//                   list of links to what its cancellation must reach
//   deadline_node   a cancel_node with a runtime timer
//   value_node<T>   a with_value context; without_cancel is a plain node with no canceller
//
// Invariants
//  * A cancel_node's `err` goes from 0 to an errc value once, under `mu`; `cause` and, if not made
//    yet, `done_ch` are written under `mu` before that release store and never change again, so
//    whoever reads `err` != 0 with acquire may read `cause` without the lock.
//  * Links (cancel_link) are weak: a cancel_node lists its cancellable children and after_func
//    records in a doubly linked list guarded by its `mu`, together with each link's `linked`
//    flag. A child holds a strong reference to its parent, so a node with linked children cannot
//    be destroyed; a child unlinks itself when it is cancelled or destroyed.
//  * Goroutines and threads blocked in a context-aware operation are on the node's own waiter
//    list (`waiters`, the wait list of detail/wait_list.hpp, guarded by `mu`), separate from the
//    links: their records live on goroutine stacks, which a runtime's end frees, and only that
//    list knows how to forget them without reading them.
//  * A deadline_node whose timer is pending holds a reference to itself (the timer's). Exactly
//    one party drops it: the timer_stop() that returns true, the fire callback (which moves it
//    into the goroutine that cancels), or the runtime's shutdown (`drop`). A node that is being
//    destroyed therefore has no pending timer.
//  * Cancellation never runs on a scheduler context and never holds two node locks at once: the
//    cancelled node's lock is held while its links are detached (child nodes retained, waiters
//    claimed), then released before the done channel is closed, waiters readied, after-funcs
//    started, children cancelled (iteratively: a deep chain does not recurse) and the timer stopped.
//
// Lock order: a wait queue's lock (mutex, semaphore, wait_group) may be held while taking a node's
// `mu` (arming a waiter in park's unlock callback); `mu` is otherwise a leaf: nothing else is
// locked and nothing is readied while it is held.
//
// Who may call: any thread (goroutine or plain thread) unless a function says otherwise; the
// deadline timer's callbacks run on a scheduler context and only spawn or drop a reference.
//
// The header holds the node types and the reference counting that handles use inline; the
// cancellation engine (cancel, propagation, deadlines, done channels, waiter links) is compiled in
// the library (src/sync/context.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "gort/chan.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/thread_annotations.hpp"
#include "gort/detail/tsan_hooks.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/detail/wait_list.hpp"
#include "gort/errc.hpp"
#include "gort/source_location.hpp"

namespace gort::detail {

using done_chan = chan<std::monostate>;

enum class node_kind : std::uint8_t { todo, cancel, deadline, value, without_cancel };

struct cancel_node;

struct node {
  explicit node(node_kind k) noexcept : kind(k) {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;
  virtual ~node() = default;

  std::atomic<std::uint32_t> refs{1};
  const node_kind kind;
  bool is_static = false;            // todo(): never freed, not counted
  node* parent = nullptr;            // strong reference; null when the parent is background
  cancel_node* canceller = nullptr;  // nearest cancellable node on the way to the root, or null
  std::int64_t deadline = k_no_deadline;  // nanotime; k_no_deadline: none
};

/// Adds a reference to n (null allowed). The caller already holds one, so nothing needs ordering.
inline void retain(node* n) noexcept {
  if (n != nullptr && !n->is_static) n->refs.fetch_add(1, std::memory_order_relaxed);
}

/// Adds a reference unless n is already being destroyed. Only where n is known to be still
/// allocated (its destructor is blocked on a lock the caller holds).
inline bool try_retain(node* n) noexcept {
  std::uint32_t r = n->refs.load(std::memory_order_relaxed);
  while (r != 0) {
    // relaxed: atomicity is all that is needed; the node's fields were published to the caller
    // by the lock under which it found n.
    if (n->refs.compare_exchange_weak(r, r + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

/// Drops a reference; the last one destroys the node, then drops its parent's reference the same
/// way (a loop, so releasing a long chain does not recurse).
inline void release(node* n) noexcept {
  while (n != nullptr && !n->is_static) {
    if (!drop_reference(n->refs)) return;  // references are dropped in library and inline code
    node* p = n->parent;
    delete n;
    n = p;
  }
}

/// An owning pointer to a node (a reference count of its own).
template <class N>
class node_ref {
 public:
  node_ref() noexcept = default;
  /// Adopts a reference the caller owns.
  explicit node_ref(N* n) noexcept : n_(n) {}
  node_ref(const node_ref& o) noexcept : n_(o.n_) { retain(n_); }
  node_ref(node_ref&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  node_ref& operator=(node_ref o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~node_ref() { release(n_); }
  N* get() const noexcept { return n_; }
  N* operator->() const noexcept { return n_; }
  explicit operator bool() const noexcept { return n_ != nullptr; }
  N* detach() noexcept { return std::exchange(n_, nullptr); }

 private:
  N* n_ = nullptr;
};

// ---- links ----

/// An entry in a cancel_node's list. `prev`, `next` and `linked` are guarded by the lock of the
/// node whose list it is in (and belong to the canceller once it has detached the link).
struct cancel_link {
  enum class link_type : std::uint8_t { child, after_func };
  explicit cancel_link(link_type k) noexcept : link_kind(k) {}
  cancel_link* prev = nullptr;
  cancel_link* next = nullptr;
  const link_type link_kind;
  bool linked = false;
};

inline constexpr std::uint8_t k_after_pending = 0;
inline constexpr std::uint8_t k_after_started = 1;
inline constexpr std::uint8_t k_after_stopped = 2;

/// An after_func registration. Two references: the handle's and, while linked, the list's.
struct after_func_rec : cancel_link {
  after_func_rec() noexcept : cancel_link(link_type::after_func) {}
  after_func_rec(const after_func_rec&) = delete;
  after_func_rec& operator=(const after_func_rec&) = delete;
  virtual ~after_func_rec() = default;
  virtual void invoke() = 0;

  std::atomic<std::uint32_t> refs{1};
  std::atomic<std::uint8_t> state{k_after_pending};
  gort::source_location where;  // after_func's caller: the function's goroutine's creation site
};

inline void release(after_func_rec* r) noexcept {
  if (r != nullptr && drop_reference(r->refs)) delete r;
}

template <class F>
struct after_func_impl final : after_func_rec {
  explicit after_func_impl(F&& fn) : f(std::move(fn)) {}
  void invoke() override { f(); }
  F f;
};

// ---- cancellable nodes ----

struct cancel_node : node, cancel_link {
  explicit cancel_node(node_kind k = node_kind::cancel) noexcept
      : node(k), cancel_link(cancel_link::link_type::child) {
    canceller = this;
  }
  ~cancel_node() override;

  /// The error (0: not cancelled). acquire: pairs with the release store in cancel_one, so a
  /// reader that sees it set may read `cause`.
  std::uint8_t error_value() const noexcept { return err.load(std::memory_order_acquire); }
  std::error_code error_code() const noexcept {
    const std::uint8_t e = error_value();
    return e == 0 ? std::error_code{} : make_error_code(static_cast<errc>(e));
  }

  /// The done channel, made on first use (Go's lazy Done). The reference is valid while the node
  /// lives. Throws std::bad_alloc.
  const done_chan& done() {
    // acquire: pairs with the release store in make_done or in cancel_one; done_ch is then final.
    if (done_ready.load(std::memory_order_acquire)) return done_ch;
    return make_done();
  }
  const done_chan& make_done();  // done()'s first call

  spinlock mu;
  std::atomic<std::uint8_t> err{0};
  std::atomic<bool> done_ready{false};
  error cause;                              // final once err != 0
  done_chan done_ch;                        // final once done_ready
  cancel_link* first GORT_GUARDED_BY(mu) = nullptr;       // the list
  wait_queues<ctx_link> waiters GORT_GUARDED_BY(mu);      // blocked context-aware operations
  cancel_node* registered_with = nullptr;   // the canceller whose list holds this node (immutable)
};

struct value_node_base : node {
  value_node_base() noexcept : node(node_kind::value) {}
  const void* key = nullptr;
  const char* key_name = "";
  virtual std::string describe_value() const = 0;
};

/// A value as context::to_string() shows it: strings as they are, numbers and bools in decimal,
/// a null pointer as <nil>, anything else as <value> (C++ has no portable type name to print).
template <class T>
std::string describe(const T& v) {
  if constexpr (std::is_pointer_v<T> || std::is_null_pointer_v<T>) {
    if (v == nullptr) return "<nil>";
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      return std::string(std::string_view(v));
    } else {
      return "<pointer>";
    }
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return std::string(std::string_view(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<T>) {
    return std::to_string(v);
  } else {
    return "<value>";
  }
}

template <class T>
struct value_node final : value_node_base {
  template <class U>
  explicit value_node(U&& v) : value(std::forward<U>(v)) {}
  std::string describe_value() const override { return describe(value); }
  T value;
};

// ---- the cancellation engine (src/sync/context.cpp) ----

/// Go's cancelCtx.cancel: cancels n and every descendant, synchronously, exactly once each; with
/// `remove_from_parent`, n leaves its parent's list. Requires a reference to n. Never on a
/// scheduler context (it stops timers and may take the global run queue's lock).
void cancel(cancel_node* n, std::uint8_t e, const error& cause, bool remove_from_parent) noexcept;

/// Fills in the fields every derived node inherits from its parent (a with_value or
/// without_cancel node; cancellable ones are made by make_cancel_node / make_deadline_node).
void attach(node* n, node* parent) noexcept;

/// A with_cancel node under `parent` (registered with its nearest cancellable ancestor, or
/// cancelled at once if that one already is). Throws std::bad_alloc.
cancel_node* make_cancel_node(node* parent);

/// A deadline node for nanotime `when` (the caller has checked the parent's deadline is not
/// earlier). Starts a runtime if none runs (timers need one). Throws std::bad_alloc.
cancel_node* make_deadline_node(node* parent, std::int64_t when, error cause);

/// The static node of todo().
node* todo_node() noexcept;

/// Links waiter link `w` to c's waiter list unless c is already cancelled (false then). Any
/// thread, including a scheduler context running park's unlock callback (wait_for's step 1).
bool arm(cancel_node* c, ctx_link* w) noexcept;

/// Unlinks `w` if cancellation has not already taken it. After this returns, c's canceller no
/// longer touches `w` (it takes waiters only under c->mu).
void disarm(cancel_node* c, ctx_link* w) noexcept;

/// Registers r (whose list reference the caller has added) with c; false when c is already
/// cancelled (r is then not linked and the caller starts it itself).
bool register_after_func(cancel_node* c, after_func_rec* r) noexcept;

/// after_func_handle::stop after winning the record's state: unlinks r from c if cancellation has
/// not detached it; true when it did (the list's reference is then the caller's to drop).
bool unregister_after_func(cancel_node* c, after_func_rec* r) noexcept;

/// Runs an after_func record's function on its own goroutine (Go's AfterFunc), keeping the record
/// alive until it returns.
void start_after_func(after_func_rec* r) noexcept;

/// Parks the caller until nanotime `when` or until c is cancelled. Any thread.
std::error_code sleep_until_ctx(cancel_node* c, std::int64_t when);

/// Number of links (cancellable children, after_funcs) plus blocked waiters of c. For tests.
std::size_t links_count(cancel_node* c) noexcept;

}  // namespace gort::detail
