// sync/context.cpp — the context cancellation engine (see gort/detail/context_node.hpp for the
// tree, its invariants and its lock order).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "gort/context.hpp"
#include "gort/detail/context_node.hpp"
#include "gort/detail/tsan_hooks.hpp"
#include "gort/go.hpp"
#include "gort/time.hpp"

namespace gort::detail {

namespace {

/// The channel every context cancelled before anyone asked for its done() shares (Go's
/// closedchan).
const done_chan& closed_done() {
  static const done_chan c = [] {
    done_chan ch(0);
    ch.close();
    return ch;
  }();
  return c;
}

/// A cancel_node with a runtime timer (kind deadline). Only this file makes or looks at one.
struct deadline_node final : cancel_node {
  deadline_node() noexcept : cancel_node(node_kind::deadline) {}
  struct timer_t : timer_node {
    deadline_node* owner = nullptr;
  } timer;
  error deadline_cause;  // the cause when the deadline passes (immutable)
};

// Requires p->mu.
void link_locked(cancel_node* p, cancel_link* l) noexcept GORT_REQUIRES(p->mu) {
  l->prev = nullptr;
  l->next = p->first;
  if (p->first != nullptr) p->first->prev = l;
  p->first = l;
  l->linked = true;
}

// Requires p->mu and l->linked.
void unlink_locked(cancel_node* p, cancel_link* l) noexcept GORT_REQUIRES(p->mu) {
  if (l->prev != nullptr) {
    l->prev->next = l->next;
  } else {
    p->first = l->next;
  }
  if (l->next != nullptr) l->next->prev = l->prev;
  l->prev = l->next = nullptr;
  l->linked = false;
}

void unlink_from_parent(cancel_node* n) noexcept {
  cancel_node* p = n->registered_with;
  if (p == nullptr) return;
  p->mu.lock();
  if (static_cast<cancel_link*>(n)->linked) unlink_locked(p, n);
  p->mu.unlock();
}

}  // namespace

bool arm(cancel_node* c, ctx_link* w) noexcept {
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

void disarm(cancel_node* c, ctx_link* w) noexcept {
  c->mu.lock();
  c->waiters.validate();
  c->waiters.remove_if_linked(w);
  c->mu.unlock();
}

cancel_node::~cancel_node() {
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

void start_after_func(after_func_rec* r) noexcept {
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

namespace {

/// Closes a done channel and wakes everything waiting on it (chan_close's wake-up, batched for a
/// channel that may have a great many waiters: chan_wake_closed). A done channel closed already
/// (by a user who copied it: gort cannot make done() receive-only) is left alone, since
/// cancellation must not throw.
void close_done(chan_base* c) noexcept {
  c->lock.lock();
  if (c->closed()) {
    c->lock.unlock();
    return;
  }
  c->mark_closed();
  chan_wake_closed(c);
}

/// Cancels n alone with (e, cause). Requires a reference to n. Returns false when n was already
/// cancelled. n's cancellable children are retained and pushed on *work (chained through their
/// link's `next`) for the caller to cancel; everything else n's cancellation reaches is done here.
bool cancel_one(cancel_node* n, std::uint8_t e, const error& cause, cancel_link** work) noexcept {
  n->mu.lock();
  if (n->err.load(std::memory_order_relaxed) != 0) {
    n->mu.unlock();
    return false;
  }
  n->cause = cause ? cause : error(static_cast<errc>(e));
  // release: publishes `cause` (and done_ch below) to lock-free readers of err. The same for
  // TSan, whose instrumented readers (error_value() inlined into the application) pair with this
  // tsan_release when this library is not instrumented: what the canceller did before cancel()
  // happens-before a reader that sees err set, as in Go.
  detail::tsan_release(&n->err);
  n->err.store(e, std::memory_order_release);
  const bool close = n->done_ready.load(std::memory_order_relaxed);
  if (!close) {
    n->done_ch = closed_done();
    detail::tsan_release(&n->done_ready);  // for TSan, as err's above
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

}  // namespace

void cancel(cancel_node* n, std::uint8_t e, const error& cause, bool remove_from_parent) noexcept {
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

namespace {

/// Go's propagateCancel: registers a new cancellable node with its nearest cancellable ancestor,
/// or cancels it at once if that ancestor is already cancelled. Called once, at construction.
void propagate(cancel_node* child) {
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

void deadline_fire(timer_node* t, std::int64_t) noexcept {
  deadline_node* d = static_cast<deadline_node::timer_t*>(t)->owner;
  // On a scheduler context with the heap's lock held: cancelling here could stop a descendant's
  // timer in this very heap. The timer's reference moves into a goroutine that cancels (it
  // cannot throw, so its creation site is never reported).
  spawn(gort::source_location::current(), [ref = node_ref<deadline_node>(d)] {
    cancel(ref.get(), static_cast<std::uint8_t>(errc::deadline_exceeded), ref->deadline_cause,
           true);
  });
}

void deadline_drop(timer_node* t) noexcept {
  release(static_cast<deadline_node::timer_t*>(t)->owner);  // shutdown with the timer pending
}

}  // namespace

void attach(node* n, node* parent) noexcept {
  n->parent = parent;
  retain(parent);
  if (parent != nullptr) {
    if (n->canceller == nullptr && n->kind != node_kind::without_cancel) {
      n->canceller = parent->canceller;
    }
    if (n->kind != node_kind::without_cancel) n->deadline = parent->deadline;
  }
}

cancel_node* make_cancel_node(node* parent) {
  auto* c = new cancel_node;
  attach(c, parent);
  c->registered_with = parent != nullptr ? parent->canceller : nullptr;
  propagate(c);
  return c;
}

cancel_node* make_deadline_node(node* parent, std::int64_t when, error cause) {
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

node* todo_node() noexcept {
  struct static_node final : node {
    static_node() noexcept : node(node_kind::todo) { is_static = true; }
  };
  static static_node n;
  return &n;
}

std::size_t links_count(cancel_node* c) noexcept {
  std::size_t k = 0;
  c->mu.lock();
  c->waiters.validate();
  for (cancel_link* l = c->first; l != nullptr; l = l->next) ++k;
  k += c->waiters.count();
  c->mu.unlock();
  return k;
}

const done_chan& cancel_node::make_done() {
  done_chan fresh(0);  // allocated outside the lock
  mu.lock();
  if (!done_ready.load(std::memory_order_relaxed)) {
    done_ch = std::move(fresh);
    detail::tsan_release(&done_ready);  // for TSan: done()'s inline acquire may be instrumented
    done_ready.store(true, std::memory_order_release);  // pairs with done()'s acquire
  }
  mu.unlock();
  return done_ch;
}

bool register_after_func(cancel_node* c, after_func_rec* r) noexcept {
  c->mu.lock();
  if (c->err.load(std::memory_order_relaxed) != 0) {
    c->mu.unlock();
    return false;
  }
  link_locked(c, r);
  c->mu.unlock();
  return true;
}

bool unregister_after_func(cancel_node* c, after_func_rec* r) noexcept {
  c->mu.lock();
  const bool was_linked = r->linked;
  if (was_linked) unlink_locked(c, r);
  c->mu.unlock();
  return was_linked;
}

// The cancellable wait of detail/wait.hpp with no queue: only the deadline and the context can
// end it.
std::error_code sleep_until_ctx(cancel_node* c, std::int64_t when)
    GORT_NO_THREAD_SAFETY_ANALYSIS {  // wait_for "releases" a lock that does not exist
  struct no_lock {
    void unlock() noexcept {}
  } none;
  waiter self(enter_op());
  const std::uint32_t won = wait_for(self, wait_reason::sleep, none, c, when);
  return won == k_claim_timeout ? std::error_code{} : c->error_code();
}

}  // namespace gort::detail

namespace gort {

std::string context::to_string() const {
  std::vector<const detail::node*> path;
  for (const detail::node* n = n_; n != nullptr; n = n->parent) path.push_back(n);
  std::string s = "context.Background";
  for (std::size_t i = path.size(); i-- > 0;) {
    const detail::node* n = path[i];
    switch (n->kind) {
      case detail::node_kind::todo:
        s = "context.TODO";
        break;
      case detail::node_kind::cancel:
        s += ".WithCancel";
        break;
      case detail::node_kind::deadline: {
        char buf[96];
        std::snprintf(buf, sizeof buf, ".WithDeadline(steady+%.9gs [%.9gs])",
                      static_cast<double>(n->deadline) / 1e9,
                      static_cast<double>(n->deadline - detail::nanotime()) / 1e9);
        s += buf;
        break;
      }
      case detail::node_kind::value: {
        auto* v = static_cast<const detail::value_node_base*>(n);
        s += ".WithValue(";
        s += v->key_name;
        s += ", ";
        s += v->describe_value();
        s += ")";
        break;
      }
      case detail::node_kind::without_cancel:
        s += ".WithoutCancel";
        break;
    }
  }
  return s;
}

}  // namespace gort
