// sync/future.cpp — the compiled half of gort::future / gort::promise (gort/future.hpp).
#include <future>

#include "gort/future.hpp"

namespace gort::detail {

void throw_future_error(future_fault f) {
  switch (f) {
    case future_fault::no_state: throw std::future_error(std::future_errc::no_state);
    case future_fault::already_retrieved:
      throw std::future_error(std::future_errc::future_already_retrieved);
    case future_fault::already_satisfied:
      throw std::future_error(std::future_errc::promise_already_satisfied);
    case future_fault::broken: throw std::future_error(std::future_errc::broken_promise);
  }
  throw std::future_error(std::future_errc::no_state);
}

void future_core::wait() {
  goroutine* self = enter_op();
  lock_.lock();
  (void)waiters_.validate();
  if (status_ != status::empty) {
    lock_.unlock();
    return;
  }
  waiter w(self);
  waiters_.push_back(&w);
  (void)wait_for(w, wait_reason::future_wait, lock_);
  // finish_locked set the status before readying us (under the lock: visible here).
}

void future_core::finish_locked(status s) noexcept {
  (void)waiters_.validate();
  status_ = s;
  waiter* w = waiters_.take_all();
  for (waiter* x = w; x != nullptr; x = wait_queues<waiter>::next_of(x)) {
    (void)x->claim.claim(k_claim_granted);  // uncontested: only completion wakes them
  }
  lock_.unlock();
  while (w != nullptr) {
    waiter* next = wait_queues<waiter>::next_of(w);  // before ready(): w is on its stack
    ready(w->g);
    w = next;
  }
}

}  // namespace gort::detail
