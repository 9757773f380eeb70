// gort/singleflight.hpp — golang.org/x/sync/singleflight: duplicate call suppression.
//
//   gort::singleflight<config> sf;
//   auto [cfg, err, shared] = sf.call("cfg", [] { return load_config(); });
//
// Semantics are x/sync's (go-semantics.md §4.4):
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
// The group must outlive the calls in flight (call_chan's goroutine uses it). Keys are hashed
// with std::hash<K> and compared with ==.
//
// Memory ordering: fn's effects happen-before every waiting caller's return.
#pragma once

#include <memory>
#include <mutex>
#include "gort/source_location.hpp"
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gort/chan.hpp"
#include "gort/errc.hpp"
#include "gort/go.hpp"
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

  /// Go's Do. See the file comment.
  template <class F>
  result call(const K& key, F&& fn) {
    static_assert(std::is_convertible_v<std::invoke_result_t<F&>, V>,
                  "gort::singleflight::call: fn() must return V");
    std::unique_lock<mutex> lock(mu_);
    if (auto it = calls_.find(key); it != calls_.end()) {
      std::shared_ptr<flight> c = it->second;
      ++c->dups;
      lock.unlock();
      c->wg.wait();
      return {c->value, c->err, true};
    }
    auto c = std::make_shared<flight>();
    c->wg.add(1);
    calls_.emplace(key, c);
    lock.unlock();
    run(c, key, fn);
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
    std::unique_lock<mutex> lock(mu_);
    if (auto it = calls_.find(key); it != calls_.end()) {
      ++it->second->dups;
      it->second->chans.push_back(ch);
      return ch;
    }
    auto c = std::make_shared<flight>();
    c->chans.push_back(ch);
    c->wg.add(1);
    calls_.emplace(key, c);
    lock.unlock();
    detail::spawn(where, [this, c, key, f = std::forward<F>(fn)]() mutable { run(c, key, f); });
    return ch;
  }

  /// Go's Forget: the call in flight for key (if any) no longer absorbs new calls.
  void forget(const K& key) {
    std::lock_guard<mutex> lock(mu_);
    calls_.erase(key);
  }

 private:
  struct flight {
    wait_group wg;
    V value{};
    error err;
    int dups = 0;                    // mu_
    std::vector<chan<result>> chans;  // mu_ (call_chan callers)
  };

  template <class F>
  void run(const std::shared_ptr<flight>& c, const K& key, F& fn) {
    try {
      c->value = fn();
    } catch (...) {
      c->err = error::from_current_exception();
    }
    std::lock_guard<mutex> lock(mu_);
    c->wg.done();
    if (auto it = calls_.find(key); it != calls_.end() && it->second == c) calls_.erase(it);
    for (const chan<result>& ch : c->chans) {
      (void)ch.try_send(result{c->value, c->err, c->dups > 0});  // capacity 1: never full
    }
  }

  mutex mu_;
  std::unordered_map<K, std::shared_ptr<flight>> calls_;  // guarded by mu_
};

}  // namespace gort
