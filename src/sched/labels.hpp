// sched/labels.hpp — goroutine labels and goroutine-local values, as the goroutine record holds
// them (labels.cpp has the rest).
//
// A label set is immutable once built and shared by reference count: the goroutine that set it,
// every goroutine spawned from it afterwards (spawn copies the pointer, Go's pprof label
// inheritance) and every gort::labels handle. Nobody changes a set in place, so readers (dumps)
// need no lock beyond holding a reference or reading a record whose goroutine holds one.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gort::detail {

struct label_data {
  // relaxed increments; the decrement that may free is acq_rel (the usual shared_ptr protocol:
  // every use by other owners happens-before the delete).
  std::atomic<std::int64_t> refs{1};
  std::vector<std::pair<std::string, std::string>> kv;  // sorted by key, keys unique
};

}  // namespace gort::detail

namespace gort::sched {

using label_data = detail::label_data;

// One goroutine_local value of a goroutine (or plain thread).
struct local_entry {
  std::uint64_t key = 0;  // the goroutine_local object's key (never reused in a process)
  void* value = nullptr;  // operator new(size, align)
  void (*destroy)(void*) noexcept = nullptr;
  std::size_t align = 0;
};

// A goroutine's goroutine_local values in order of creation (a short vector: a goroutine uses a
// few; lookup is a linear scan).
struct local_table {
  std::vector<local_entry> entries;
};

inline label_data* retain_labels(label_data* l) noexcept {
  if (l != nullptr) l->refs.fetch_add(1, std::memory_order_relaxed);
  return l;
}

}  // namespace gort::sched
