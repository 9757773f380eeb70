// sync/semaphore.cpp — gort::semaphore, x/sync's semaphore.Weighted (see gort/semaphore.hpp).
#include "gort/semaphore.hpp"

#include <system_error>

#include "gort/context.hpp"
#include "gort/detail/chan_core.hpp"
#include "gort/detail/dcheck.hpp"
#include "gort/error.hpp"

namespace gort {

namespace {
void check(std::int64_t n) {
  if (n < 0) throw panic_error("semaphore: negative weight");
}
}  // namespace

semaphore::semaphore(std::int64_t size) : size_(size) {
  if (size < 0) throw panic_error("semaphore: negative weight");
}

void semaphore::acquire(std::int64_t n) { (void)acquire_impl(nullptr, n); }

std::error_code semaphore::acquire(const context& ctx, std::int64_t n) {
  return acquire_impl(detail::context_access::canceller(ctx), n);
}

bool semaphore::try_acquire(std::int64_t n) {
  check(n);
  lock_.lock();
  detail::waiter* woken = validate_locked();
  const bool ok = size_ - cur_ >= n && q_.empty();
  if (ok) cur_ += n;
  lock_.unlock();
  ready_all(woken);
  return ok;
}

void semaphore::release(std::int64_t n) {
  check(n);
  lock_.lock();
  (void)q_.validate();  // the grant below serves whoever a rebuild left at the front
  if (cur_ - n < 0) {
    lock_.unlock();
    throw panic_error("semaphore: released more than held");
  }
  cur_ -= n;
  GORT_DCHECK(cur_ >= 0 && cur_ <= size_);
  detail::waiter* woken = grant_locked();
  lock_.unlock();
  ready_all(woken);
}

std::error_code semaphore::acquire_impl(detail::cancel_node* c, std::int64_t n) {
  check(n);
  detail::goroutine* const me = detail::enter_op();
  lock_.lock();
  if (detail::waiter* woken = validate_locked()) {
    lock_.unlock();
    ready_all(woken);
    lock_.lock();
    (void)q_.validate();
  }
  if (c != nullptr && c->error_value() != 0) {  // x/sync: a done context never acquires
    lock_.unlock();
    return c->error_code();
  }
  if (size_ - cur_ >= n && q_.empty()) {
    cur_ += n;
    lock_.unlock();
    return {};
  }
  if (n > size_) {
    // Can never be satisfied: wait for the context without taking a place in the queue.
    lock_.unlock();
    if (c == nullptr) detail::block_forever(detail::wait_reason::semacquire);
    (void)c->done().recv();
    return c->error_code();
  }
  waiter self(me, n);
  q_.push_back(&self);
  if (detail::wait_for(self, detail::wait_reason::semacquire, lock_, c) ==
          detail::k_claim_granted &&
      c == nullptr) {
    return {};  // only a grant wakes a wait without a context
  }
  lock_.lock();
  detail::waiter* woken = validate_locked();  // our node is a live one: it stays
  std::error_code result;
  if (self.granted) {
    if (c->error_value() != 0) {
      // Granted, but the context is done by now: give the tokens back (x/sync).
      cur_ -= n;
      woken = append(woken, grant_locked());
      result = c->error_code();
    }
  } else {
    // Still queued: leave; if we were first, the waiters behind us may fit now.
    const bool front = q_.front() == &self;
    q_.remove(&self);
    if (front && size_ > cur_) woken = append(woken, grant_locked());
    result = c->error_code();
  }
  lock_.unlock();
  ready_all(woken);
  return result;
}

// Requires lock_. Validates the list (wait_list.hpp); when a runtime's end made it forget
// waiters at the front, the ones left may fit now: they are granted (returned for ready_all).
// Tokens held by an abandoned goroutine stay held.
detail::waiter* semaphore::validate_locked() noexcept {
  return q_.validate() ? grant_locked() : nullptr;
}

detail::waiter* semaphore::append(detail::waiter* a, detail::waiter* b) noexcept {
  if (a == nullptr) return b;
  detail::waiter* t = a;
  while (t->chain != nullptr) t = t->chain;
  t->chain = b;
  return a;
}

// Grants front waiters while they fit (no barging past one that does not). Requires lock_.
// Returns the ones to ready (chained through `chain`) once the lock is released.
detail::waiter* semaphore::grant_locked() noexcept {
  detail::waiter* woken = nullptr;
  while (!q_.empty() && size_ - cur_ >= q_.front()->n) {
    waiter* w = q_.pop_front();
    cur_ += w->n;
    GORT_DCHECK(cur_ <= size_);  // tokens held never exceed the size
    w->granted = true;
    // Losing the claim means the context readied the waiter; it finds the grant under the lock.
    if (w->claim.claim(detail::k_claim_granted)) {
      w->chain = woken;
      woken = w;
    }
  }
  return woken;
}

void semaphore::ready_all(detail::waiter* w) {
  while (w != nullptr) {
    detail::waiter* next = w->chain;  // read before ready(): the waiter lives on its stack
    detail::ready(w->g);
    w = next;
  }
}

}  // namespace gort
