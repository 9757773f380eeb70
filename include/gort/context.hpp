// gort/context.hpp — Go's context: cancellation, deadlines and request-scoped values.
//
//   auto [ctx, cancel] = gort::with_timeout(parent, 50ms);
//   gort::select(gort::recv(ctx.done(), [&](auto) { return_error(ctx.err()); }),
//                gort::recv(results, [&](auto r) { use(r); }));
//   cancel();                                   // idempotent; cancels every descendant
//   if (auto e = c.send(ctx, v)) ...            // the context-aware blocking forms (below)
//
// A gort::context is an immutable, cheaply copyable handle (one pointer, reference counted) to a
// node of a tree. Derive contexts with with_cancel, with_deadline, with_timeout (and their _cause
// forms), with_value and without_cancel; the root is background() (or todo()). Semantics are
// Go's (src/context/context.go):
//  * done() is a channel that is closed when the context is cancelled, usable in gort::select;
//    it is the nil channel (never ready) for a context that cannot be cancelled.
//  * err() is {} until done() is closed, then errc::canceled or errc::deadline_exceeded forever.
//  * Cancelling a context cancels every descendant synchronously (when cancel() returns, every
//    descendant's done() is closed and its err() set), each exactly once; the first cancellation
//    wins. A cancelled context leaves its parent's list, so creating and cancelling children in a
//    loop does not grow the parent.
//  * A child's deadline never exceeds its parent's: with_deadline past the parent's deadline is
//    with_cancel. Deadlines run on the runtime's timers (one per deadline context; none per
//    child); a context whose deadline is pending stays alive until it fires or is cancelled.
//  * cause(ctx) is the gort::error the context was cancelled with (the cancel_cause_func's
//    argument, the _cause form's cause at the deadline, else err() as an error).
//
// Differences from Go (docs/api.md has the table): there is no nil context (a default-constructed
// context is background()) and contexts are a closed type (no user implementations of the
// interface, so no propagation goroutines ever); value keys are typed objects; after_func returns
// an RAII handle; an operation never starts on an already-done context.
//
// Context-aware blocking forms — each returns {} when the operation completed and the context's
// error when the context ended the wait first; if the context is already done when called, the
// operation is not attempted:
//   chan<T>::send(ctx, v) -> std::error_code      chan<T>::recv(ctx) -> recv_result<T>
//   sleep_for(ctx, d), sleep_until(ctx, t) -> std::error_code
//   wait_group::wait(ctx), mutex::lock(ctx), semaphore::acquire(ctx, n) (gort/sync.hpp)
//
// Memory ordering: cancel() happens-before every observation of its effect: a receive from done()
// that sees the channel closed, an err() that returns non-zero, a context-aware operation that
// returns the error. Values stored with with_value are visible to every holder of the context.
//
// Thread safety: every function may be called from any thread, goroutine or not, concurrently.
// Deadlines need a running runtime (with_deadline from a plain thread with none starts one).
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "gort/detail/std_parts.hpp"
#include "gort/chan.hpp"
#include "gort/detail/context_node.hpp"
#include "gort/errc.hpp"
#include "gort/select.hpp"
#include "gort/time.hpp"

namespace gort {

/// A typed key for with_value. Its identity is its address: define each key once, e.g.
///   inline constexpr gort::context_key<std::string> request_id{"request_id"};
/// and the value stored under it has type T. Not copyable (a copy would be another key).
template <class T>
class context_key {
 public:
  explicit constexpr context_key(const char* name) noexcept : name_(name) {}
  context_key(const context_key&) = delete;
  context_key& operator=(const context_key&) = delete;
  /// The name shown by context::to_string().
  constexpr const char* name() const noexcept { return name_; }

 private:
  const char* name_;
};

class context;

namespace detail {
struct context_access;
/// The never-ready channel of contexts that cannot be cancelled.
inline const done_chan& nil_done() noexcept {
  static const done_chan nil;
  return nil;
}
}  // namespace detail

/// Go's context.Context. See the file comment.
class context {
 public:
  /// background().
  context() noexcept = default;
  context(const context& o) noexcept : n_(o.n_) { detail::retain(n_); }
  context(context&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  context& operator=(context o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~context() { detail::release(n_); }

  /// Closed when the context is cancelled; the nil channel when it never can be. The reference
  /// stays valid as long as this context (or any copy) exists. Throws std::bad_alloc the first
  /// time (the channel is made on first use).
  const chan<std::monostate>& done() const {
    detail::cancel_node* c = canceller();
    return c != nullptr ? c->done() : detail::nil_done();
  }

  /// {} until done() is closed; then errc::canceled or errc::deadline_exceeded, never changing.
  [[nodiscard]] std::error_code err() const noexcept {
    detail::cancel_node* c = canceller();
    return c != nullptr ? c->error_code() : std::error_code{};
  }

  /// When the context will be cancelled by a deadline, if it has one.
  [[nodiscard]] std::optional<clock::time_point> deadline() const noexcept {
    if (n_ == nullptr || n_->deadline == detail::k_no_deadline) return std::nullopt;
    return detail::to_time_point(n_->deadline);
  }

  /// The value stored under `key` by the nearest with_value on the way to the root, or null.
  template <class T>
  [[nodiscard]] const T* value(const context_key<T>& key) const noexcept {
    for (detail::node* n = n_; n != nullptr; n = n->parent) {
      if (n->kind != detail::node_kind::value) continue;
      auto* v = static_cast<const detail::value_node_base*>(n);
      if (v->key == &key) return &static_cast<const detail::value_node<T>*>(v)->value;
    }
    return nullptr;
  }

  /// Go's String(): "context.Background.WithCancel", "….WithValue(key, value)",
  /// "….WithDeadline(steady+12.5s [1.5s])", "….WithoutCancel".
  [[nodiscard]] std::string to_string() const;

  /// True when both handles refer to the same context.
  friend bool operator==(const context& a, const context& b) noexcept { return a.n_ == b.n_; }

 private:
  friend struct detail::context_access;
  explicit context(detail::node* adopted) noexcept : n_(adopted) {}
  detail::cancel_node* canceller() const noexcept {
    return n_ != nullptr ? n_->canceller : nullptr;
  }

  detail::node* n_ = nullptr;  // null: background
};

namespace detail {
struct context_access {
  static node* get(const context& c) noexcept { return c.n_; }
  static cancel_node* canceller(const context& c) noexcept { return c.canceller(); }
  static context adopt(node* n) noexcept { return context(n); }
};
}  // namespace detail

/// The root context: never cancelled, no values, no deadline. Go's context.Background().
[[nodiscard]] inline context background() noexcept { return context(); }

/// Like background(); to_string() says "context.TODO". Go's context.TODO().
[[nodiscard]] inline context todo() noexcept {
  return detail::context_access::adopt(detail::todo_node());
}

/// Cancels its context with errc::canceled (Go's CancelFunc). Copyable; calling any copy any
/// number of times from any threads cancels once. Destroying it does not cancel. A
/// default-constructed cancel_func does nothing.
class cancel_func {
 public:
  cancel_func() noexcept = default;
  void operator()() const noexcept {
    if (n_) detail::cancel(n_.get(), static_cast<std::uint8_t>(errc::canceled), {}, true);
  }

 private:
  friend struct cancel_func_access;
  explicit cancel_func(detail::node_ref<detail::cancel_node> n) noexcept : n_(std::move(n)) {}
  detail::node_ref<detail::cancel_node> n_;
};

/// Cancels its context with errc::canceled and a cause (Go's CancelCauseFunc): cause(ctx)
/// becomes `why`, or errc::canceled when `why` is nil. Only the first cancellation sets the cause.
class cancel_cause_func {
 public:
  cancel_cause_func() noexcept = default;
  void operator()(const error& why = {}) const noexcept {
    if (n_) detail::cancel(n_.get(), static_cast<std::uint8_t>(errc::canceled), why, true);
  }

 private:
  friend struct cancel_func_access;
  explicit cancel_cause_func(detail::node_ref<detail::cancel_node> n) noexcept : n_(std::move(n)) {}
  detail::node_ref<detail::cancel_node> n_;
};

struct cancel_func_access {
  template <class F>
  static F make(detail::cancel_node* n) noexcept {
    detail::retain(n);
    return F(detail::node_ref<detail::cancel_node>(n));
  }
};

/// A child of `parent` that is cancelled when the returned function is called or when `parent`
/// is cancelled, whichever happens first (Go's WithCancel). Throws std::bad_alloc.
[[nodiscard]] inline std::pair<context, cancel_func> with_cancel(const context& parent) {
  detail::cancel_node* c = detail::make_cancel_node(detail::context_access::get(parent));
  cancel_func f = cancel_func_access::make<cancel_func>(c);
  return {detail::context_access::adopt(c), std::move(f)};
}

/// with_cancel whose function records a cause (Go's WithCancelCause).
[[nodiscard]] inline std::pair<context, cancel_cause_func> with_cancel_cause(const context& parent) {
  detail::cancel_node* c = detail::make_cancel_node(detail::context_access::get(parent));
  cancel_cause_func f = cancel_func_access::make<cancel_cause_func>(c);
  return {detail::context_access::adopt(c), std::move(f)};
}

/// A child cancelled with errc::deadline_exceeded (cause: `why`, or deadline_exceeded when nil)
/// at `d`, or with errc::canceled by the returned function or its parent, whichever comes first
/// (Go's WithDeadlineCause). The function does not set a cause. When the parent's deadline is
/// earlier, this is with_cancel(parent). A deadline that has passed cancels at once.
[[nodiscard]] inline std::pair<context, cancel_func> with_deadline_cause(const context& parent,
                                                                         clock::time_point d,
                                                                         error why) {
  detail::node* p = detail::context_access::get(parent);
  const std::int64_t when = detail::to_ns(d);
  if (p != nullptr && p->deadline < when) return with_cancel(parent);
  detail::cancel_node* c = detail::make_deadline_node(p, when, std::move(why));
  cancel_func f = cancel_func_access::make<cancel_func>(c);
  return {detail::context_access::adopt(c), std::move(f)};
}

/// with_deadline_cause with no cause (Go's WithDeadline).
[[nodiscard]] inline std::pair<context, cancel_func> with_deadline(const context& parent,
                                                                   clock::time_point d) {
  return with_deadline_cause(parent, d, {});
}

/// with_deadline(parent, now + timeout), saturating (Go's WithTimeoutCause).
template <class Rep, class Period>
[[nodiscard]] std::pair<context, cancel_func> with_timeout_cause(
    const context& parent, std::chrono::duration<Rep, Period> timeout, error why) {
  const std::int64_t when = detail::deadline_after(detail::to_ns(timeout));
  return with_deadline_cause(parent, detail::to_time_point(when), std::move(why));
}

/// with_deadline(parent, now + timeout) (Go's WithTimeout).
template <class Rep, class Period>
[[nodiscard]] std::pair<context, cancel_func> with_timeout(
    const context& parent, std::chrono::duration<Rep, Period> timeout) {
  return with_timeout_cause(parent, timeout, {});
}

/// A child carrying `value` under `key`; lookups through it find this value first (shadowing
/// the parent's). Cancellation, deadline and done() are the parent's. Go's WithValue.
template <class T, class U>
[[nodiscard]] context with_value(const context& parent, const context_key<T>& key, U&& value) {
  static_assert(std::is_constructible_v<T, U&&>, "gort::with_value: the value must convert to the "
                                                 "key's type");
  auto* n = new detail::value_node<T>(std::forward<U>(value));
  n->key = &key;
  n->key_name = key.name();
  detail::attach(n, detail::context_access::get(parent));
  return detail::context_access::adopt(n);
}

/// A child that keeps the parent's values but is never cancelled and has no deadline: done() is
/// nil, err() and cause() are nil even after the parent is cancelled. Go's WithoutCancel.
[[nodiscard]] inline context without_cancel(const context& parent) {
  auto* n = new detail::node(detail::node_kind::without_cancel);
  detail::attach(n, detail::context_access::get(parent));
  return detail::context_access::adopt(n);
}

/// Why the context was cancelled (Go's Cause): nil while it is not; else the cause its
/// cancellation recorded (see the file comment). nil for contexts that cannot be cancelled.
[[nodiscard]] inline error cause(const context& ctx) noexcept {
  detail::cancel_node* c = detail::context_access::canceller(ctx);
  if (c == nullptr || c->error_value() == 0) return {};
  return c->cause;  // final once err is set (acquire above)
}

class after_func_handle;

/// Arranges for f() to run on its own goroutine once ctx is done (at once if it already is);
/// never for a context that cannot be cancelled. Cancellation does not wait for f. Go's
/// AfterFunc, with an RAII handle (see after_func_handle). `where` is the goroutine's creation
/// site (in an exception report). Throws std::bad_alloc.
template <class F>
[[nodiscard]] after_func_handle after_func(
    const context& ctx, F&& f, gort::source_location where = gort::source_location::current());

/// The registration made by after_func. RAII: destroying the handle stops the registration (as
/// stop() would); detach() keeps it alive without a handle. Move-only.
class after_func_handle {
 public:
  after_func_handle() noexcept = default;
  after_func_handle(after_func_handle&& o) noexcept
      : canceller_(std::move(o.canceller_)), rec_(std::exchange(o.rec_, nullptr)) {}
  after_func_handle& operator=(after_func_handle&& o) noexcept {
    if (this != &o) {
      reset();
      canceller_ = std::move(o.canceller_);
      rec_ = std::exchange(o.rec_, nullptr);
    }
    return *this;
  }
  after_func_handle(const after_func_handle&) = delete;
  after_func_handle& operator=(const after_func_handle&) = delete;
  ~after_func_handle() { reset(); }

  /// Go's stop(): true if this call prevented the function from running (it is then never
  /// called); false if it had already started or been stopped. Does not wait for a running
  /// function.
  bool stop() noexcept {
    if (rec_ == nullptr) return false;
    std::uint8_t pending = detail::k_after_pending;
    // acq_rel: pairs with the CAS of the cancellation that would start the function.
    if (!rec_->state.compare_exchange_strong(pending, detail::k_after_stopped,
                                             std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
      return false;
    }
    if (detail::cancel_node* c = canceller_.get()) {
      if (detail::unregister_after_func(c, rec_)) detail::release(rec_);  // the list's reference
    }
    return true;
  }

  /// Lets the registration outlive the handle: the function still runs when the context is done.
  void detach() noexcept {
    detail::release(std::exchange(rec_, nullptr));
    canceller_ = {};
  }

 private:
  template <class F>
  friend after_func_handle after_func(const context& ctx, F&& f, gort::source_location where);
  void reset() noexcept {
    (void)stop();
    detach();
  }
  detail::node_ref<detail::cancel_node> canceller_;
  detail::after_func_rec* rec_ = nullptr;
};

template <class F>
after_func_handle after_func(const context& ctx, F&& f, gort::source_location where) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "gort::after_func: f() must be callable");
  auto* rec = new detail::after_func_impl<Fn>(Fn(std::forward<F>(f)));
  rec->where = where;
  after_func_handle h;
  h.rec_ = rec;
  detail::cancel_node* c = detail::context_access::canceller(ctx);
  if (c == nullptr) return h;
  detail::retain(c);
  h.canceller_ = detail::node_ref<detail::cancel_node>(c);
  rec->refs.fetch_add(1, std::memory_order_relaxed);  // the list's reference
  if (detail::register_after_func(c, rec)) return h;
  rec->refs.fetch_sub(1, std::memory_order_relaxed);  // not linked: c is already cancelled
  rec->state.store(detail::k_after_started, std::memory_order_relaxed);  // nobody else sees it yet
  detail::start_after_func(rec);
  return h;
}

// ---- context-aware blocking forms ----

/// sleep_for that returns early with ctx.err() when ctx is cancelled first ({} after the full
/// duration). Returns ctx.err() at once if ctx is already done. A plain thread blocks.
template <class Rep, class Period>
[[nodiscard]] std::error_code sleep_for(const context& ctx, std::chrono::duration<Rep, Period> d) {
  if (std::error_code e = ctx.err()) return e;
  const std::int64_t ns = detail::to_ns(d);
  if (ns <= 0) return {};
  detail::cancel_node* c = detail::context_access::canceller(ctx);
  if (c == nullptr) {
    detail::sleep_until_ahead_ns(detail::deadline_after(ns));
    return {};
  }
  return detail::sleep_until_ctx(c, detail::deadline_after(ns));
}

/// sleep_until that returns early with ctx.err() when ctx is cancelled first.
template <class Duration>
[[nodiscard]] std::error_code sleep_until(const context& ctx,
                                          std::chrono::time_point<clock, Duration> t) {
  if (std::error_code e = ctx.err()) return e;
  const std::int64_t when = detail::to_ns(std::chrono::time_point_cast<clock::duration>(t));
  if (when <= detail::nanotime()) return {};
  detail::cancel_node* c = detail::context_access::canceller(ctx);
  if (c == nullptr) {
    detail::sleep_until_ahead_ns(when);
    return {};
  }
  return detail::sleep_until_ctx(c, when);
}

template <class T>
std::error_code chan<T>::send(const context& ctx, T&& v) const {
  if (std::error_code e = ctx.err()) return e;
  detail::cancel_node* c = detail::context_access::canceller(ctx);
  if (c == nullptr) {
    send(std::move(v));
    return {};
  }
  std::optional<std::monostate> ignored;
  detail::select_slot slots[2] = {
      {base(), detail::select_slot::kind::send, &v},
      {c->done().base(), detail::select_slot::kind::recv, &ignored},
  };
  if (detail::select_impl(slots, 2, false) == 0) return {};
  return c->error_code();
}

template <class T>
std::error_code chan<T>::send(const context& ctx, const T& v) const
  requires std::is_copy_constructible_v<T>
{
  T copy(v);
  return send(ctx, std::move(copy));
}

template <class T>
recv_result<T> chan<T>::recv(const context& ctx) const {
  recv_result<T> r;
  r.err = ctx.err();
  if (r.err) return r;
  detail::cancel_node* c = detail::context_access::canceller(ctx);
  if (c == nullptr) {
    detail::chan_recv(base(), &r.value, true);
    return r;
  }
  std::optional<std::monostate> ignored;
  detail::select_slot slots[2] = {
      {base(), detail::select_slot::kind::recv, &r.value},
      {c->done().base(), detail::select_slot::kind::recv, &ignored},
  };
  if (detail::select_impl(slots, 2, false) == 1) r.err = c->error_code();
  return r;
}

namespace detail {
/// Number of entries (cancellable children, after_func registrations, blocked context-aware
/// waiters) in the list of ctx's canceller; 0 when ctx cannot be cancelled. For tests.
inline std::size_t context_links(const context& ctx) noexcept {
  cancel_node* c = context_access::canceller(ctx);
  return c != nullptr ? links_count(c) : 0;
}
}  // namespace detail

}  // namespace gort
