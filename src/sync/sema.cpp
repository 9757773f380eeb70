// sync/sema.cpp — the wake-up semaphore (gort/detail/sema.hpp): acquire with and without a
// context, release, and the reconciliation of an owner with a runtime's end.
#include "gort/detail/sema.hpp"

#include "gort/detail/dcheck.hpp"

namespace gort::detail {

bool wakeup_sema::take_token_or_lock() noexcept {
  lock_.lock();
  validate();
  if (tokens_ == 0) return false;
  --tokens_;
  lock_.unlock();
  return true;
}

void wakeup_sema::acquire(wait_reason why, bool lifo) {
  goroutine* const me = current();
  if (take_token_or_lock()) return;
  node self(me);
  push(&self, lifo);
  (void)wait_for(self, why, lock_);  // only a release wakes it, with a token
  if (self.thread) resumed();
}

bool wakeup_sema::acquire(wait_reason why, bool lifo, cancel_node* c,
                          bool (*uncount)(void*, bool), void* arg) {
  goroutine* const me = current();
  if (take_token_or_lock()) return true;
  node self(me);
  push(&self, lifo);
  if (wait_for(self, why, lock_, c) == k_claim_granted) {
    if (self.thread) resumed();
    return true;
  }
  lock_.lock();
  validate();
  if (self.has_token) {  // a release raced with the context and handed us the token anyway
    if (self.thread) --thread_grants_;
    lock_.unlock();
    return true;
  }
  if (uncount(arg, q_.front() == &self)) {
    remove(&self);
    lock_.unlock();
    return false;
  }
  // A token for us is on its way (our owner already counted us out): wait for it without the
  // context. Still queued; the release that brings it claims us again.
  self.claim.reset();
  (void)wait_for(self, why, lock_);
  if (self.thread) resumed();
  return true;
}

void wakeup_sema::release(std::uint32_t n) {
  lock_.lock();
  validate();
  hand_out_locked(n);
}

void wakeup_sema::reconcile(std::atomic<std::uint32_t>& stamp, void (*fix)(void*, survivors&),
                            void* arg) {
  lock_.lock();
  validate();
  // acquire: as validate()'s. relaxed stamp: written under this lock.
  const std::uint32_t e = g_wait_epoch.load(std::memory_order_acquire);
  std::uint32_t wake = 0;
  if (stamp.load(std::memory_order_relaxed) != e) {
    survivors s{queued_, thread_grants_, dropped_};
    dropped_ = 0;
    fix(arg, s);
    wake = s.wake;
    stamp.store(e, std::memory_order_relaxed);
  }
  hand_out_locked(wake);
}

// The first thing under the lock: a list found stale is rebuilt from the plain threads' nodes;
// the tokens stored for goroutines that were on their way here are gone with them (none of the
// owners lets a goroutine be abandoned between counting itself and queuing).
void wakeup_sema::validate() noexcept {
  if (!q_.validate()) return;
  std::uint32_t left = 0;
  for (node* n = q_.front(); n != nullptr; n = wait_queues<node>::next_of(n)) ++left;
  dropped_ += queued_ - left;
  queued_ = left;
  tokens_ = 0;
}

// The waiters' nodes lie on their goroutines' stacks, a cold line each once many wait: popping
// a million of them under one hold of the lock would keep every other processor idle until the
// last pop (and any acquire spinning) before the first goroutine could run. A batch at a time,
// the goroutines of one batch run elsewhere while the next is popped, as they do in Go, whose
// semrelease hands out one token per call (sync.WaitGroup.Done loops over it). The tokens still
// owed between two batches are neither stored nor granted: a waiter its context wakes meanwhile
// finds no token, and its owner, which has counted it out, keeps it queued for one (the file
// comment's cancellation rule), which a later batch brings. The lock is taken again only while
// waiters owed a token are still queued: they are inside the owner's wait, so the owner (and this
// semaphore) cannot be gone then, though the goroutines already readied may have returned.
void wakeup_sema::hand_out_locked(std::uint32_t n) {
  for (;;) {
    goroutine* woken[k_grant_batch];
    const std::size_t count = grant_locked(n, woken);
    const bool last = n == 0 || q_.empty();
    if (last) {
      tokens_ += n;
      GORT_DCHECK(tokens_ == 0 || q_.empty());  // tokens are stored only while nobody waits
    }
    lock_.unlock();
    for (std::size_t i = 0; i < count; ++i) ready(woken[i]);  // in the order they queued
    if (last) return;
    lock_.lock();
    validate();
  }
}

// Pops up to n waiters, at most k_grant_batch, giving each a token (n is decremented per token);
// stores in `woken` the goroutines of the ones whose claim this call won (for hand_out_locked to
// ready once the lock is released: nothing touches their nodes again) and returns their count.
std::size_t wakeup_sema::grant_locked(std::uint32_t& n, goroutine** woken) noexcept {
  std::size_t count = 0;
  for (std::size_t popped = 0; n > 0 && popped < k_grant_batch; ++popped) {
    node* w = q_.pop_front();
    if (w == nullptr) break;
    --queued_;
    --n;
    w->has_token = true;
    if (w->thread) ++thread_grants_;
    // Losing the claim means the context readied the waiter; it finds the token under the lock.
    if (w->claim.claim(k_claim_granted)) woken[count++] = w->g;
  }
  return count;
}

// A plain thread handed a token has run again. Threads only (goroutines need not say so).
void wakeup_sema::resumed() noexcept {
  lock_.lock();
  GORT_DCHECK(thread_grants_ > 0);
  --thread_grants_;
  lock_.unlock();
}

void wakeup_sema::push(node* w, bool front) noexcept {
  GORT_DCHECK(tokens_ == 0);  // a waiter queues only when no token is stored
  if (front) {
    q_.push_front(w);
  } else {
    q_.push_back(w);
  }
  ++queued_;
}

void wakeup_sema::remove(node* w) noexcept {
  q_.remove(w);
  --queued_;
}

}  // namespace gort::detail
