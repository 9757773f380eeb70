// gort/select.hpp — Go's select statement.
//
//   std::size_t i = gort::select(
//       gort::recv(in, [&](std::optional<int> v) { ... }),   // v empty: `in` is closed
//       gort::send(out, x, [&] { ... }),
//       gort::default_case([&] { ... }));                      // optional
//
// Go's algorithm (select.go), not polling: the channels are locked in address order, the cases
// are examined in a random order so that among ready cases each fires with equal probability,
// and when none is ready (and there is no default) the goroutine waits on every case at once; the
// first case to fire claims the select and the others are withdrawn. The fired case's handler
// runs after all channel locks are released, on the calling goroutine; select returns the
// case's position (0-based, the default case included).
//
// Rules, as in Go: nil channels never fire; the same channel may appear in several cases; a
// select with no cases, or whose channels are all nil, blocks forever (or takes the default); a
// send case on a closed channel throws panic_error "send on closed channel" when it is chosen or
// when its channel is closed while the select waits. Up to 65536 cases.
//
// For a case list built at run time, see gort::select_case and select(std::span<select_case>).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "gort/chan.hpp"

namespace gort {

namespace detail {

struct no_handler {
  template <class... A>
  void operator()(A&&...) const noexcept {}
};

}  // namespace detail

/// A receive case; built by gort::recv. Refers to the channel it was built from (lvalue), or
/// owns a copy of the handle (temporary channel, e.g. gort::after(1s)).
template <class T, class F>
struct recv_case {
  detail::chan_base* c;
  F on_value;  // called with std::optional<T> (empty: closed)
  std::optional<T> value;
  chan<T> owned;  // set only for a temporary channel
};

/// A send case; built by gort::send. The value is moved into the channel only if the case fires:
/// an rvalue of type T (`gort::send(c, std::move(x))`) is referred to, so it keeps its value when
/// another case fires; an lvalue is copied into the case (the caller's object is never moved
/// from), and so is a value that must be converted to T. Pinned (not copyable or movable): `value`
/// may point into the case itself.
template <class T, class F>
struct send_case {
  struct refer_tag {};
  struct hold_tag {};
  send_case(detail::chan_base* ch, refer_tag, T& v, F f)
      : c(ch), value(&v), on_sent(std::move(f)) {}
  template <class U>
  send_case(detail::chan_base* ch, hold_tag, U&& v, F f)
      : c(ch), held(std::in_place, std::forward<U>(v)), value(&*held), on_sent(std::move(f)) {}
  send_case(const send_case&) = delete;
  send_case& operator=(const send_case&) = delete;

  detail::chan_base* c;
  std::optional<T> held;  // the copy or converted value; empty when the case refers to an rvalue
  T* value;               // what the case sends, moved from only if it fires
  F on_sent;
};

/// The default case; built by gort::default_case.
template <class F>
struct default_case_t {
  F on_default;
};

// Case builders. An lvalue channel is referenced (it outlives the select call that uses the case:
// build cases inside the select(...) call); a temporary one is kept alive by the case. A send
// case built from an rvalue refers to it likewise (see send_case).
template <class T>
recv_case<T, detail::no_handler> recv(const chan<T>& c) {
  return {c.base(), {}, {}, {}};
}
template <class T>
recv_case<T, detail::no_handler> recv(chan<T>&& c) {
  detail::chan_base* b = c.base();
  return {b, {}, {}, std::move(c)};
}
template <class T, class F>
recv_case<T, std::decay_t<F>> recv(const chan<T>& c, F&& on_value) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::optional<T>>,
                "gort::recv handler must accept std::optional<T>");
  return {c.base(), std::forward<F>(on_value), {}, {}};
}
template <class T, class F>
recv_case<T, std::decay_t<F>> recv(chan<T>&& c, F&& on_value) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::optional<T>>,
                "gort::recv handler must accept std::optional<T>");
  detail::chan_base* b = c.base();
  return {b, std::forward<F>(on_value), {}, std::move(c)};
}
namespace detail {
template <class T, class F, class U>
send_case<T, F> make_send_case(chan_base* c, U&& v, F&& f) {
  using sc = send_case<T, F>;
  if constexpr (std::is_same_v<std::remove_cvref_t<U>, T> && !std::is_lvalue_reference_v<U> &&
                !std::is_const_v<std::remove_reference_t<U>>) {
    return sc(c, typename sc::refer_tag{}, v, std::forward<F>(f));  // moved only if it fires
  } else {
    return sc(c, typename sc::hold_tag{}, std::forward<U>(v), std::forward<F>(f));
  }
}
}  // namespace detail

template <class T, class U>
send_case<T, detail::no_handler> send(const chan<T>& c, U&& v) {
  return detail::make_send_case<T>(c.base(), std::forward<U>(v), detail::no_handler{});
}
template <class T, class U, class F>
send_case<T, std::decay_t<F>> send(const chan<T>& c, U&& v, F&& on_sent) {
  return detail::make_send_case<T>(c.base(), std::forward<U>(v),
                                   std::decay_t<F>(std::forward<F>(on_sent)));
}
inline default_case_t<detail::no_handler> default_case() { return {{}}; }
template <class F>
default_case_t<std::decay_t<F>> default_case(F&& on_default) {
  return {std::forward<F>(on_default)};
}

namespace detail {

template <class C>
struct case_traits : std::false_type {};
template <class T, class F>
struct case_traits<recv_case<T, F>> : std::true_type {
  static constexpr bool is_default = false;
};
template <class T, class F>
struct case_traits<send_case<T, F>> : std::true_type {
  static constexpr bool is_default = false;
};
template <class F>
struct case_traits<default_case_t<F>> : std::true_type {
  static constexpr bool is_default = true;
};

template <class C>
concept select_case_type = case_traits<std::remove_cvref_t<C>>::value;

template <class T, class F>
select_slot slot_of(recv_case<T, F>& c) {
  return {c.c, select_slot::kind::recv, &c.value};
}
template <class T, class F>
select_slot slot_of(send_case<T, F>& c) {
  return {c.c, select_slot::kind::send, c.value};
}

template <class T, class F>
void run_handler(recv_case<T, F>& c) {
  c.on_value(std::move(c.value));
}
template <class T, class F>
void run_handler(send_case<T, F>& c) {
  c.on_sent();
}
template <class F>
void run_handler(default_case_t<F>& c) {
  c.on_default();
}

/// select's first pass over its cases, argument position I: a channel case takes the next slot,
/// the default case is remembered. (A function rather than a lambda in the pack expansion, which
/// g++ 11 cannot compile.)
template <std::size_t I, class Case>
void add_case(Case& c, select_slot* slots, std::size_t* position, std::size_t& nslots,
              std::size_t& default_position) {
  if constexpr (case_traits<std::remove_cvref_t<Case>>::is_default) {
    default_position = I;
  } else {
    slots[nslots] = slot_of(c);
    position[nslots] = I;
    ++nslots;
  }
}

}  // namespace detail

/// Waits until one case can proceed, performs it, runs its handler and returns its position.
template <detail::select_case_type... Cases>
std::size_t select(Cases&&... cases) {
  constexpr std::size_t defaults =
      (std::size_t{0} + ... + (detail::case_traits<std::remove_cvref_t<Cases>>::is_default ? 1 : 0));
  static_assert(defaults <= 1, "gort::select: at most one default case");
  auto all = std::forward_as_tuple(cases...);  // lvalue references to the case objects
  constexpr std::size_t n = sizeof...(Cases);
  detail::select_slot slots[n > 0 ? n : 1];
  std::size_t position[n > 0 ? n : 1] = {};  // slot -> argument position
  std::size_t default_position = n;
  std::size_t nslots = 0;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (detail::add_case<I>(std::get<I>(all), slots, position, nslots, default_position), ...);
  }(std::make_index_sequence<n>{});
  const std::size_t fired = detail::select_impl(slots, nslots, defaults == 1);
  const std::size_t chosen = fired == nslots ? default_position : position[fired];
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((I == chosen ? detail::run_handler(std::get<I>(all)) : void()), ...);
  }(std::make_index_sequence<n>{});
  return chosen;
}

/// One case of a select whose case list is built at run time (Go's reflect.SelectCase). The
/// channel and the referenced storage must outlive the select call.
class select_case {
 public:
  /// Receive from c into out (left empty if c is closed).
  template <class T>
  static select_case recv(const chan<T>& c, std::optional<T>& out) {
    return select_case(detail::select_slot{c.base(), detail::select_slot::kind::recv, &out});
  }
  /// Send value to c; value is moved from only if this case fires.
  template <class T>
  static select_case send(const chan<T>& c, T& value) {
    return select_case(detail::select_slot{c.base(), detail::select_slot::kind::send, &value});
  }
  /// The default case: chosen when no other case is ready.
  static select_case default_case() {
    select_case s(detail::select_slot{});
    s.is_default_ = true;
    return s;
  }

 private:
  explicit select_case(detail::select_slot s) : slot_(s) {}
  friend std::size_t select(std::span<select_case> cases);
  detail::select_slot slot_;
  bool is_default_ = false;
};

/// select over a runtime list; returns the position of the case that fired. At most one default.
inline std::size_t select(std::span<select_case> cases) {
  std::vector<detail::select_slot> slots;
  std::vector<std::size_t> position;
  slots.reserve(cases.size());
  position.reserve(cases.size());
  std::size_t default_position = cases.size();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].is_default_) {
      if (default_position != cases.size()) throw panic_error("select: multiple default cases");
      default_position = i;
      continue;
    }
    slots.push_back(cases[i].slot_);
    position.push_back(i);
  }
  const std::size_t fired =
      detail::select_impl(slots.data(), slots.size(), default_position != cases.size());
  return fired == slots.size() ? default_position : position[fired];
}

}  // namespace gort
