// gort/labels.hpp — goroutine labels (Go's runtime/pprof labels).
//
//   gort::with_labels({{"request", id}}, [&] { handle(req); });   // pprof.Do
//   gort::go(worker);            // inherits the spawner's labels, like Go
//   gort::dump_goroutines(std::cerr);   // shows them: labels: {"request":"42"}
//
// A goroutine carries one immutable set of key/value pairs. gort::go copies the spawner's set to
// the new goroutine (a pointer and a reference count; nothing when the spawner has none), and
// goroutine dumps print it under the goroutine's header. Plain threads have no labels.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gort {

namespace detail {
struct label_data;
}

/// An immutable set of labels (keys unique, iterated in key order). Copying shares it.
class labels {
 public:
  labels() noexcept = default;
  /// Later pairs win over earlier ones with the same key.
  labels(std::initializer_list<std::pair<std::string_view, std::string_view>> kv);
  labels(const labels& o) noexcept;
  labels(labels&& o) noexcept : d_(o.d_) { o.d_ = nullptr; }
  labels& operator=(labels o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }
  ~labels();

  /// This set with `key` added or replaced.
  [[nodiscard]] labels with(std::string_view key, std::string_view value) const;
  /// This set with every label of `o` added or replaced (o's values win).
  [[nodiscard]] labels merged(const labels& o) const;
  /// The value of `key`, if present (valid while this set lives).
  std::optional<std::string_view> get(std::string_view key) const;
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  /// The pairs in key order.
  std::vector<std::pair<std::string, std::string>> items() const;

  /// For the runtime: adopts/exposes the shared representation.
  explicit labels(detail::label_data* adopt) noexcept : d_(adopt) {}
  detail::label_data* data() const noexcept { return d_; }

 private:
  detail::label_data* d_ = nullptr;
};

namespace this_goroutine {
/// The calling goroutine's labels (empty on a plain thread). Any thread.
labels get_labels();
/// Replaces the calling goroutine's labels (Go's pprof.SetGoroutineLabels); goroutines it spawns
/// from now on inherit them. On a plain thread: no effect. Any thread.
void set_labels(const labels& l);
}  // namespace this_goroutine

/// Runs f() with the calling goroutine's labels merged with `add` (add's values win), then
/// restores the previous set, also when f throws (Go's pprof.Do).
template <class F>
decltype(auto) with_labels(const labels& add, F&& f) {
  struct restore {
    labels old;
    ~restore() { this_goroutine::set_labels(old); }
  } r{this_goroutine::get_labels()};
  this_goroutine::set_labels(r.old.merged(add));
  return std::forward<F>(f)();
}

}  // namespace gort
