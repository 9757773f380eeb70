// gort/singleflight.hpp — golang.org/x/sync/singleflight: duplicate call suppression.
//
//   gort::singleflight<config> sf;
//   auto [cfg, err, shared] = sf.call("cfg", [] { return load_config(); });
//
// Semantics are x/sync's (golang.org/x/sync/singleflight/singleflight.go):
//  * call(key, fn): the first caller for a key runs fn (on its own goroutine or thread); callers
//    with the same key that arrive while it runs wait for it and receive the same result.
//    `shared` is true when the result went to more than one caller (the first one included).
//    Once fn returns, the key is forgotten: the next call runs fn again.
//  * call_chan(key, fn) is Go's DoChan: it returns at once a channel (capacity 1) on which the
//    result arrives; fn runs on a new goroutine if no call for the key is in flight.
//  * forget(key): later calls for key run fn again instead of waiting for the one in flight.
// fn returns V. If fn throws, every caller of that flight receives `err` holding the exception
// (gort::error) and a value-initialized V — the exception is not rethrown (Go re-panics in every
// caller instead; C++ code gets an error value, as errgroup does). V must be copyable (each
// caller gets a copy) and default-constructible.
//
// The group must outlive the calls in flight (call_chan's goroutine uses it) until they end: once
// a caller has its result, the flight no longer touches the group. Keys are hashed with
// std::hash<K> and compared with ==.
//
// Memory ordering: fn's effects happen-before every waiting caller's return.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "gort/chan.hpp"
#include "gort/detail/flight_table.hpp"
#include "gort/detail/tsan_hooks.hpp"
#include "gort/errc.hpp"
#include "gort/go.hpp"
#include "gort/source_location.hpp"
#include "gort/sync.hpp"

namespace gort {

template <class V, class K = std::string>
class singleflight {
  static_assert(std::is_copy_constructible_v<V> && std::is_default_constructible_v<V>,
                "gort::singleflight<V>: V must be copyable and default-constructible");

 public:
  /// One caller's outcome (Go's Result).
  struct result {
    V value{};
    error err;            // the exception fn threw, as an error; nil otherwise
    bool shared = false;  // the result went to more than one caller
  };

  singleflight() = default;
  singleflight(const singleflight&) = delete;
  singleflight& operator=(const singleflight&) = delete;
  ~singleflight() {
    while (detail::flight_entry* e = calls_.take_any()) flight_ref::release(static_cast<flight*>(e));
  }

  /// Go's Do. See the file comment.
  template <class F>
  result call(const K& key, F&& fn) {
    static_assert(std::is_convertible_v<std::invoke_result_t<F&>, V>,
                  "gort::singleflight::call: fn() must return V");
    const std::size_t h = std::hash<K>{}(key);
    mu_.lock();
    if (flight* found = find_locked(h, key)) {
      flight_ref c = flight_ref::share(found);
      ++c->dups;
      mu_.unlock();
      c->wg.wait();
      return {c->value, c->err, true};
    }
    flight_ref c;
    try {
      c = flight_ref::make(h, key);
      c->wg.add(1);
      register_locked(c);
    } catch (...) {
      mu_.unlock();
      throw;
    }
    mu_.unlock();
    run(c, fn);
    // dups only changes under mu_ while the flight is registered; run() removed it under mu_.
    return {c->value, c->err, c->dups > 0};
  }

  /// Go's DoChan. See the file comment. Throws std::bad_alloc.
  template <class F>
  chan<result> call_chan(const K& key, F&& fn,
                         gort::source_location where = gort::source_location::current()) {
    static_assert(std::is_convertible_v<std::invoke_result_t<F&>, V>,
                  "gort::singleflight::call_chan: fn() must return V");
    chan<result> ch(1);
    const std::size_t h = std::hash<K>{}(key);
    mu_.lock();
    flight_ref c;
    try {
      if (flight* found = find_locked(h, key)) {
        found->chans.push_back(ch);
        ++found->dups;
        mu_.unlock();
        return ch;
      }
      c = flight_ref::make(h, key);
      c->chans.push_back(ch);
      c->wg.add(1);
      register_locked(c);
    } catch (...) {
      mu_.unlock();
      throw;
    }
    mu_.unlock();
    detail::spawn(where, [this, c, f = std::forward<F>(fn)]() mutable { run(c, f); });
    return ch;
  }

  /// Go's Forget: the call in flight for key (if any) no longer absorbs new calls.
  void forget(const K& key) {
    const std::size_t h = std::hash<K>{}(key);
    mu_.lock();
    if (flight* found = find_locked(h, key)) unregister_locked(found);  // drops a count only
    mu_.unlock();
  }

 private:
  struct flight : detail::flight_entry {
    explicit flight(std::size_t h, const K& k) : key(k) { hash = h; }
    const K key;
    std::atomic<int> refs{1};
    wait_group wg;
    V value{};
    error err;
    int dups = 0;                    // mu_
    std::vector<chan<result>> chans;  // mu_ (call_chan callers)
  };

  /// A counted reference to a flight (the map's, the runner's, each waiting caller's).
  class flight_ref {
   public:
    flight_ref() noexcept = default;
    static flight_ref make(std::size_t h, const K& key) { return flight_ref(new flight(h, key)); }
    /// A new reference to f, which the caller knows is alive (the table holds one).
    static flight_ref share(flight* f) noexcept {
      // relaxed: the table's reference keeps f alive while the caller holds mu_.
      f->refs.fetch_add(1, std::memory_order_relaxed);
      return flight_ref(f);
    }
    /// Drops the reference that the table held on f.
    static void release(flight* f) noexcept { flight_ref dropped(f); }
    flight* get() const noexcept { return f_; }
    flight_ref(const flight_ref& o) noexcept : f_(o.f_) {
      // relaxed: the copier holds a reference already.
      if (f_ != nullptr) f_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    flight_ref(flight_ref&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    flight_ref& operator=(flight_ref o) noexcept {
      std::swap(f_, o.f_);
      return *this;
    }
    ~flight_ref() {
      // acq_rel: the last owner sees every other owner's writes before deleting.
      if (f_ != nullptr && detail::drop_reference(f_->refs)) delete f_;
    }
    flight* operator->() const noexcept { return f_; }
    friend bool operator==(const flight_ref& a, const flight_ref& b) noexcept {
      return a.f_ == b.f_;
    }

   private:
    explicit flight_ref(flight* f) noexcept : f_(f) {}
    flight* f_ = nullptr;
  };

  template <class F>
  void run(const flight_ref& c, F& fn) {
    try {
      c->value = fn();
    } catch (...) {
      c->err = error::from_current_exception();
    }
    mu_.lock();
    // Still registered means forget() did not replace it: the key's entry is this flight.
    if (c->linked) unregister_locked(c.get());
    mu_.unlock();
    // Unregistered, the flight takes no more callers: dups and chans are final, and from here on
    // only the flight (counted) and its channels are touched, not the group. A caller that has
    // its result may destroy the group at once.
    c->wg.done();
    for (const chan<result>& ch : c->chans) {
      (void)ch.try_send(result{c->value, c->err, c->dups > 0});  // capacity 1: never full
    }
  }

  // The table holds one reference on each registered flight. Callers hold mu_.
  flight* find_locked(std::size_t h, const K& key) const noexcept {
    auto eq = [](const void* k, const detail::flight_entry* e) noexcept {
      return static_cast<const flight*>(e)->key == *static_cast<const K*>(k);
    };
    return static_cast<flight*>(calls_.find(h, eq, &key));
  }
  void register_locked(const flight_ref& c) {  // throws std::bad_alloc; then not registered
    calls_.insert(c.get());
    // relaxed: the caller holds a reference already.
    c->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void unregister_locked(flight* f) noexcept {
    calls_.erase(f);
    flight_ref::release(f);
  }

  mutex mu_;
  detail::flight_table calls_;  // guarded by mu_
};

}  // namespace gort
