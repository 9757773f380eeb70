// gort/chan.hpp — Go's channels.
//
//   gort::chan<int> c(16);            // buffered; chan<int>(0) is unbuffered; chan<int>{} is nil
//   c.send(1);                        // blocks while full (parks a goroutine, blocks a thread)
//   std::optional<int> v = c.recv();  // empty once closed and drained
//   c.close();
//   for (int x : c) { ... }           // until closed and drained
//
// A chan<T> is a cheap copyable handle, like Go's reference type: copies share one channel and
// compare equal; operations are const (they act on the channel, not the handle). Semantics are
// Go's (src/runtime/chan.go), with Go's panics as gort::panic_error:
//   send on a closed channel           "send on closed channel" (also a sender blocked at close)
//   close of a closed / nil channel    "close of closed channel" / "close of nil channel"
//   negative or absurd capacity        "makechan: size out of range"
// A nil channel's send and recv block forever; in a select its cases never fire. Waiters are
// served in FIFO order; a send to a waiting receiver hands the value over directly; every value
// buffered before close() is still delivered. Goroutines and plain threads mix freely.
//
// Memory ordering: a send happens-before the corresponding receive completes; close()
// happens-before a receive that observes the channel closed.
//
// Element types must be nothrow-move-constructible: values move under the channel's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "gort/detail/std_parts.hpp"
#include "gort/detail/chan_core.hpp"

namespace gort {

/// The outcome of a non-blocking receive.
enum class recv_status : std::uint8_t {
  value,   // a value was received
  empty,   // nothing to receive now (the channel is open)
  closed,  // the channel is closed and drained
};

template <class T>
struct try_recv_result {
  recv_status status = recv_status::empty;
  std::optional<T> value;  // engaged iff status == recv_status::value
  explicit operator bool() const noexcept { return status == recv_status::value; }
};

class context;  // gort/context.hpp

/// The outcome of a context-aware receive, chan<T>::recv(ctx) (defined in gort/context.hpp).
template <class T>
struct recv_result {
  std::optional<T> value;  // engaged iff a value was received
  std::error_code err;     // the context's error when it ended the wait (value then empty)
  explicit operator bool() const noexcept { return value.has_value(); }
  /// The channel is closed and drained: no value and no context error.
  bool closed() const noexcept { return !value.has_value() && !err; }
};

namespace detail {

template <class T>
class chan_state final : public chan_base {
 public:
  /// A channel with one reference (the caller's). Throws std::bad_alloc.
  static chan_state* make(std::size_t cap) {
    unsigned char* buf = nullptr;
    if (cap > 0) {
      buf = static_cast<unsigned char*>(::operator new(cap * sizeof(T), std::align_val_t(alignof(T))));
    }
    try {
      return new chan_state(cap, buf);
    } catch (...) {
      if (buf != nullptr) ::operator delete(buf, std::align_val_t(alignof(T)));
      throw;
    }
  }
  ~chan_state() {
    destroy_buffered();
    if (buf_ != nullptr) ::operator delete(buf_, std::align_val_t(alignof(T)));
  }

 private:
  chan_state(std::size_t cap, unsigned char* buf) noexcept
      : chan_base(&chan_ops_for<T>, cap, buf), buf_(buf) {}
  unsigned char* buf_;
};

}  // namespace detail

template <class T>
class chan {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "gort::chan<T>: T must be nothrow-move-constructible (values move under the "
                "channel lock); wrap it in std::unique_ptr otherwise");
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T>, "gort::chan<T>: T must be a "
                                                                  "non-const object type");

 public:
  using value_type = T;

  /// The largest capacity accepted (and never more than 2^40 bytes of buffer).
  static constexpr std::int64_t max_capacity =
      (std::int64_t{1} << 40) / std::int64_t{sizeof(T)} < INT32_MAX
          ? (std::int64_t{1} << 40) / std::int64_t{sizeof(T)}
          : INT32_MAX;

  /// The nil channel.
  chan() noexcept = default;
  chan(const chan& o) noexcept : state_(o.state_) {
    if (state_ != nullptr) state_->retain();
  }
  chan(chan&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  chan& operator=(chan o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~chan() {
    if (state_ != nullptr && state_->release()) delete state_;
  }

  /// A channel with room for `capacity` buffered values (0: unbuffered). Throws panic_error
  /// "makechan: size out of range" when capacity < 0 or > max_capacity; std::bad_alloc when the
  /// buffer cannot be allocated.
  explicit chan(std::int64_t capacity) {
    if (capacity < 0 || capacity > max_capacity) throw panic_error("makechan: size out of range");
    state_ = detail::chan_state<T>::make(static_cast<std::size_t>(capacity));
  }

  /// Sends v, blocking until a receiver takes it or the buffer has room.
  void send(const T& v) const requires std::is_copy_constructible_v<T> {
    T copy(v);
    detail::chan_send(base(), &copy, true);
  }
  void send(T&& v) const { detail::chan_send(base(), &v, true); }

  /// Context-aware send (defined in gort/context.hpp): {} once v is handed over; ctx.err() when
  /// the context is done first (v is then not moved from), or already done when called. Throws
  /// on a closed channel like send().
  [[nodiscard]] std::error_code send(const context& ctx, const T& v) const
    requires std::is_copy_constructible_v<T>;
  [[nodiscard]] std::error_code send(const context& ctx, T&& v) const;

  /// Sends without blocking: false (and v untouched) when no receiver waits and the buffer is
  /// full. An rvalue is moved from only when this returns true. Throws on a closed channel.
  [[nodiscard]] bool try_send(const T& v) const requires std::is_copy_constructible_v<T> {
    T copy(v);
    return detail::chan_send(base(), &copy, false);
  }
  [[nodiscard]] bool try_send(T&& v) const { return detail::chan_send(base(), &v, false); }

  /// Receives, blocking until a value arrives; empty once the channel is closed and drained.
  std::optional<T> recv() const {
    std::optional<T> out;
    detail::chan_recv(base(), &out, true);
    return out;
  }

  /// Context-aware receive (defined in gort/context.hpp): a value, or closed (no value, no
  /// error), or the context's error when it is done first or already done when called.
  [[nodiscard]] recv_result<T> recv(const context& ctx) const;

  /// Receives without blocking.
  [[nodiscard]] try_recv_result<T> try_recv() const {
    try_recv_result<T> r;
    const detail::recv_outcome o = detail::chan_recv(base(), &r.value, false);
    r.status = !o.selected ? recv_status::empty : o.received ? recv_status::value : recv_status::closed;
    return r;
  }

  /// Closes the channel: blocked receivers wake empty-handed, blocked senders throw.
  void close() const { detail::chan_close(base()); }

  /// Values buffered now (0 for a nil or unbuffered channel).
  std::size_t size() const noexcept { return state_ ? state_->size() : 0; }
  /// Buffer capacity (0 for a nil or unbuffered channel).
  std::size_t capacity() const noexcept { return state_ ? state_->capacity() : 0; }

  /// False for the nil channel.
  explicit operator bool() const noexcept { return state_ != nullptr; }
  friend bool operator==(const chan& a, const chan& b) noexcept { return a.state_ == b.state_; }

  /// Input iterator for range-for: each increment receives; the range ends when the channel is
  /// closed and drained (never, for a nil channel).
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(const chan* c) : c_(c) { ++*this; }
    T& operator*() noexcept { return *cur_; }
    T* operator->() noexcept { return &*cur_; }
    iterator& operator++() {
      cur_ = c_->recv();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.cur_.has_value();
    }

   private:
    const chan* c_ = nullptr;
    std::optional<T> cur_;
  };
  iterator begin() const { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

  /// The type-erased core (null for the nil channel); used by select.
  detail::chan_base* base() const noexcept { return state_; }

 private:
  detail::chan_state<T>* state_ = nullptr;  // one reference (chan_base's count), or nil
};

}  // namespace gort
