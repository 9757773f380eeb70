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
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include "gort/source_location.hpp"
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "gort/chan.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/waist.hpp"
#include "gort/detail/wait.hpp"
#include "gort/errc.hpp"
#include "gort/go.hpp"
#include "gort/time.hpp"

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
    // acq_rel: release orders this owner's uses before the destruction; acquire makes the last
    // owner see every other owner's.
    if (n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
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
  // acq_rel: as for nodes.
  if (r != nullptr && r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete r;
}

template <class F>
struct after_func_impl final : after_func_rec {
  explicit after_func_impl(F&& fn) : f(std::move(fn)) {}
  void invoke() override { f(); }
  F f;
};

// ---- cancellable nodes ----

/// The channel every context cancelled before anyone asked for its done() shares (Go's
/// closedchan).
inline const done_chan& closed_done() {
  static const done_chan c = [] {
    done_chan ch(0);
    ch.close();
    return ch;
  }();
  return c;
}

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
    // acquire: pairs with the release store below or in cancel_one; done_ch is then final.
    if (done_ready.load(std::memory_order_acquire)) return done_ch;
    done_chan fresh(0);  // allocated outside the lock
    mu.lock();
    if (!done_ready.load(std::memory_order_relaxed)) {
      done_ch = std::move(fresh);
      done_ready.store(true, std::memory_order_release);
    }
    mu.unlock();
    return done_ch;
  }

  spinlock mu;
  std::atomic<std::uint8_t> err{0};
  std::atomic<bool> done_ready{false};
  error cause;                              // final once err != 0
  done_chan done_ch;                        // final once done_ready
  cancel_link* first = nullptr;             // the list; guarded by mu
  wait_queues<ctx_link> waiters;  // blocked context-aware operations; guarded by mu
  cancel_node* registered_with = nullptr;   // the canceller whose list holds this node (immutable)
};

struct deadline_node final : cancel_node {
  deadline_node() noexcept : cancel_node(node_kind::deadline) {}
  struct timer_t : timer_node {
    deadline_node* owner = nullptr;
  } timer;
  error deadline_cause;  // the cause when the deadline passes (immutable)
};

// Requires p->mu.
inline void link_locked(cancel_node* p, cancel_link* l) noexcept {
  l->prev = nullptr;
  l->next = p->first;
  if (p->first != nullptr) p->first->prev = l;
  p->first = l;
  l->linked = true;
}

// Requires p->mu and l->linked.
inline void unlink_locked(cancel_node* p, cancel_link* l) noexcept {
  if (l->prev != nullptr) {
    l->prev->next = l->next;
  } else {
    p->first = l->next;
  }
  if (l->next != nullptr) l->next->prev = l->prev;
  l->prev = l->next = nullptr;
  l->linked = false;
}

/// Links waiter link `w` to c's waiter list unless c is already cancelled (false then). Any
/// thread, including a scheduler context running park's unlock callback (wait_for's step 1).
inline bool arm(cancel_node* c, ctx_link* w) noexcept {
  c->mu.lock();
  c->waiters.validate();
  if (c->err.load(std::memory_order_relaxed) != 0) {
    c->mu.unlock();
    return false;
  }
  c->waiters.push_back(w);
  c->mu.unlock();
  return true;
}

/// Unlinks `w` if cancellation has not already taken it. After this returns, c's canceller no
/// longer touches `w` (it takes waiters only under c->mu).
inline void disarm(cancel_node* c, ctx_link* w) noexcept {
  c->mu.lock();
  c->waiters.validate();
  c->waiters.remove_if_linked(w);
  c->mu.unlock();
}

inline void unlink_from_parent(cancel_node* n) noexcept {
  cancel_node* p = n->registered_with;
  if (p == nullptr) return;
  p->mu.lock();
  if (static_cast<cancel_link*>(n)->linked) unlink_locked(p, n);
  p->mu.unlock();
}

inline cancel_node::~cancel_node() {
  unlink_from_parent(this);
  // Only after_func records can be left: a linked child holds a reference to this node, and a
  // blocked waiter holds a context handle for the duration of its call (a waiter abandoned by
  // a runtime's end may still be listed: it is forgotten, never read).
  cancel_link* l = first;
  first = nullptr;
  while (l != nullptr) {
    cancel_link* following = l->next;
    l->linked = false;
    release(static_cast<after_func_rec*>(l));
    l = following;
  }
}

/// Runs an after_func record's function on its own goroutine (Go's AfterFunc), keeping the record
/// alive until it returns.
inline void start_after_func(after_func_rec* r) noexcept {
  r->refs.fetch_add(1, std::memory_order_relaxed);  // the goroutine's reference
  struct holder {
    after_func_rec* rec;
    explicit holder(after_func_rec* x) noexcept : rec(x) {}
    holder(holder&& o) noexcept : rec(std::exchange(o.rec, nullptr)) {}
    holder(const holder&) = delete;
    ~holder() { release(rec); }
  };
  spawn(r->where, [h = holder(r)] { h.rec->invoke(); });
}

/// Cancels n alone with (e, cause). Requires a reference to n. Returns false when n was already
/// cancelled. n's cancellable children are retained and pushed on *work (chained through their
/// link's `next`) for the caller to cancel; everything else n's cancellation reaches is done here.
/// Closes a done channel and wakes everything waiting on it: chan_close for a channel that may
/// have a great many waiters (a context watched by thousands of goroutines). Each waiter node is
/// on its own cold goroutine stack, so touching it costs a miss to memory: the waiters are
/// dequeued in batches into a local array of goroutine records, which are then readied from the
/// array (prefetched a few ahead) without touching the nodes again. Once the channel is marked
/// closed nobody can queue on it any more, so the lock may be dropped between batches.
/// A done channel closed already (by a user who copied it: gort cannot make done() receive-only)
/// is left alone, since cancellation must not throw.
inline void close_done(chan_base* c) noexcept {
  constexpr std::size_t k_batch = 256;
  constexpr std::size_t k_ahead = 8;
  goroutine* batch[k_batch];
  goroutine* me = nullptr;
  c->lock.lock();
  if (c->closed()) {
    c->lock.unlock();
    return;
  }
  c->mark_closed();
  for (;;) {
    std::size_t n = 0;
    while (n < k_batch) {
      chan_waiter* w = c->dequeue(k_recvq);
      if (w == nullptr) w = c->dequeue(k_sendq);  // a sender then throws "send on closed channel"
      if (w == nullptr) break;
      w->success = false;  // woken by close: a receive gets no value
      batch[n++] = w->g;
    }
    c->lock.unlock();
    if (n == 0) return;
    if (me == nullptr) me = current();
    for (std::size_t i = 0; i < n && i < k_ahead; ++i) __builtin_prefetch(batch[i], 1);
    for (std::size_t i = 0; i < n; ++i) {
      if (i + k_ahead < n) __builtin_prefetch(batch[i + k_ahead], 1);  // ready() CASes its status
      ready(me, batch[i]);
    }
    if (n < k_batch) return;
    c->lock.lock();
  }
}

inline bool cancel_one(cancel_node* n, std::uint8_t e, const error& cause,
                       cancel_link** work) noexcept {
  n->mu.lock();
  if (n->err.load(std::memory_order_relaxed) != 0) {
    n->mu.unlock();
    return false;
  }
  n->cause = cause ? cause : error(static_cast<errc>(e));
  // release: publishes `cause` (and done_ch below) to lock-free readers of err.
  n->err.store(e, std::memory_order_release);
  const bool close = n->done_ready.load(std::memory_order_relaxed);
  if (!close) {
    n->done_ch = closed_done();
    n->done_ready.store(true, std::memory_order_release);  // pairs with done()'s acquire
  }
  n->waiters.validate();
  waiter* woken = nullptr;  // claimed waiters, chained through `chain`
  while (ctx_link* link = n->waiters.pop_front()) {
    // Losing the claim means the waiter's primitive (or its deadline) already woke it.
    waiter* w = link->w;
    if (w->claim.claim(k_claim_canceled)) {
      w->chain = woken;
      woken = w;
    }
  }
  cancel_link* l = n->first;
  n->first = nullptr;
  cancel_link* funcs = nullptr;  // after_func records (the list's reference), chained through next
  while (l != nullptr) {
    cancel_link* next = l->next;
    l->linked = false;
    l->prev = nullptr;
    switch (l->link_kind) {
      case cancel_link::link_type::child:
        // A child whose count already dropped to zero is being destroyed: its destructor waits
        // for this lock and will find itself unlinked.
        if (try_retain(static_cast<cancel_node*>(l))) {
          l->next = *work;
          *work = l;
        }
        break;
      case cancel_link::link_type::after_func:
        l->next = funcs;
        funcs = l;
        break;
    }
    l = next;
  }
  n->mu.unlock();

  if (close) close_done(n->done_ch.base());
  while (woken != nullptr) {
    waiter* w = woken;
    woken = w->chain;  // read before ready(): the waiter lives on the woken goroutine's stack
    ready(w->g);
  }
  while (funcs != nullptr) {
    auto* r = static_cast<after_func_rec*>(funcs);
    funcs = r->next;
    std::uint8_t pending = k_after_pending;
    // acq_rel: pairs with stop()'s CAS; exactly one of them moves the record out of pending.
    if (r->state.compare_exchange_strong(pending, k_after_started, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      start_after_func(r);
    }
    release(r);
  }
  if (n->kind == node_kind::deadline) {
    auto* d = static_cast<deadline_node*>(n);
    // Always through timer_stop (it locks the timer): a lock-free "is it pending?" peek could
    // miss a timer being armed concurrently while its creator misses this cancellation, and the
    // node would then live until its deadline.
    if (timer_stop(&d->timer)) release(n);  // the timer's reference
  }
  return true;
}

/// Go's cancelCtx.cancel: cancels n and every descendant, synchronously, exactly once each; with
/// `remove_from_parent`, n leaves its parent's list. Requires a reference to n. Never on a
/// scheduler context (it stops timers and may take the global run queue's lock).
inline void cancel(cancel_node* n, std::uint8_t e, const error& cause,
                   bool remove_from_parent) noexcept {
  cancel_link* work = nullptr;
  if (!cancel_one(n, e, cause, &work)) return;
  if (remove_from_parent) unlink_from_parent(n);
  const error& resolved = n->cause;  // final now
  while (work != nullptr) {
    auto* child = static_cast<cancel_node*>(work);
    work = work->next;
    cancel_one(child, e, resolved, &work);
    release(child);
  }
}

/// Go's propagateCancel: registers a new cancellable node with its nearest cancellable ancestor,
/// or cancels it at once if that ancestor is already cancelled. Called once, at construction.
inline void propagate(cancel_node* child) {
  cancel_node* p = child->registered_with;
  if (p == nullptr) return;
  p->mu.lock();
  const std::uint8_t e = p->err.load(std::memory_order_relaxed);
  if (e == 0) {
    link_locked(p, child);
    p->mu.unlock();
    return;
  }
  p->mu.unlock();
  cancel(child, e, p->cause, false);
}

/// Fills in the fields every derived node inherits from its parent.
inline void attach(node* n, node* parent) noexcept {
  n->parent = parent;
  retain(parent);
  if (parent != nullptr) {
    if (n->canceller == nullptr && n->kind != node_kind::without_cancel) {
      n->canceller = parent->canceller;
    }
    if (n->kind != node_kind::without_cancel) n->deadline = parent->deadline;
  }
}

inline cancel_node* make_cancel_node(node* parent) {
  auto* c = new cancel_node;
  attach(c, parent);
  c->registered_with = parent != nullptr ? parent->canceller : nullptr;
  propagate(c);
  return c;
}

inline void deadline_fire(timer_node* t, std::int64_t) noexcept {
  deadline_node* d = static_cast<deadline_node::timer_t*>(t)->owner;
  // On a scheduler context with the heap's lock held: cancelling here could stop a descendant's
  // timer in this very heap. The timer's reference moves into a goroutine that cancels.
  spawn(gort::source_location::current(), [ref = node_ref<deadline_node>(d)] {
    cancel(ref.get(), static_cast<std::uint8_t>(errc::deadline_exceeded), ref->deadline_cause,
           true);
  });
}

inline void deadline_drop(timer_node* t) noexcept {
  release(static_cast<deadline_node::timer_t*>(t)->owner);  // shutdown with the timer pending
}

/// A deadline node for `when` (the caller has checked the parent's deadline is not earlier).
/// Starts a runtime if none runs (timers need one).
inline deadline_node* make_deadline_node(node* parent, std::int64_t when, error cause) {
  when = std::min(when, k_no_deadline - 1);  // a saturated "now + forever" is still a deadline
  auto* d = new deadline_node;
  attach(d, parent);
  d->deadline = when;
  d->deadline_cause = std::move(cause);
  d->registered_with = parent != nullptr ? parent->canceller : nullptr;
  d->timer.owner = d;
  d->timer.stoppable = true;
  d->timer.fire = &deadline_fire;
  d->timer.drop = &deadline_drop;
  propagate(d);
  if (when <= nanotime()) {
    cancel(d, static_cast<std::uint8_t>(errc::deadline_exceeded), d->deadline_cause, true);
    return d;
  }
  if (d->error_value() != 0) return d;  // the parent was already cancelled
  retain(d);  // the pending timer's reference
  try {
    timer_start(&d->timer, when);
  } catch (...) {
    release(d);
    release(d);
    throw;
  }
  // A cancellation that ran before the timer was armed could not stop it: do it now. Exactly one
  // of this stop, cancel_one's and the firing gets the timer's reference.
  if (d->error_value() != 0 && timer_stop(&d->timer)) release(d);
  return d;
}

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

/// The static node of todo().
inline node* todo_node() noexcept {
  struct static_node final : node {
    static_node() noexcept : node(node_kind::todo) { is_static = true; }
  };
  static static_node n;
  return &n;
}

/// Number of links (cancellable children, after_funcs) plus blocked waiters of c. For tests.
inline std::size_t links_count(cancel_node* c) noexcept {
  std::size_t k = 0;
  c->mu.lock();
  c->waiters.validate();
  for (cancel_link* l = c->first; l != nullptr; l = l->next) ++k;
  k += c->waiters.count();
  c->mu.unlock();
  return k;
}

}  // namespace gort::detail
