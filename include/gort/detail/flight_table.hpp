// gort/detail/flight_table.hpp — the key index of gort::singleflight, compiled once.
//
// A chained hash set of intrusive nodes (flight_entry) that it links but does not own: the
// owner derives its node type from flight_entry, computes the hash, and passes an equality
// callback for lookups. Only the bucket array is allocated here. singleflight<V, K> is a
// template on user types; keeping the table untyped keeps <unordered_map> out of every
// translation unit that includes <gort/gort.hpp> and compiles the table once.
//
// Invariants: a node is linked at most once (its `linked` flag says whether); size() counts the
// linked nodes; the bucket count is zero or a power of two.
// Who may call: the owner, under its own lock; the table has no synchronization of its own.
#pragma once

#include <cstddef>

namespace gort::detail {

/// A node of a flight_table. The owner sets `hash` before insert().
struct flight_entry {
  std::size_t hash = 0;
  flight_entry* next = nullptr;  // bucket chain, table-owned
  bool linked = false;           // table-owned
};

class flight_table {
 public:
  using equal_fn = bool (*)(const void* key, const flight_entry* e) noexcept;

  flight_table() noexcept = default;
  flight_table(const flight_table&) = delete;
  flight_table& operator=(const flight_table&) = delete;
  /// Frees the bucket array; linked nodes are the owner's to release first (take_any()).
  ~flight_table();

  /// The linked node with this hash for which eq(key, node) holds, or nullptr.
  [[nodiscard]] flight_entry* find(std::size_t hash, equal_fn eq, const void* key) const noexcept;
  /// Links e (not linked). Throws std::bad_alloc if the table had to grow and could not; e is
  /// then not linked and the table is unchanged.
  void insert(flight_entry* e);
  /// Unlinks e (linked).
  void erase(flight_entry* e) noexcept;
  /// Unlinks and returns some linked node, or nullptr when the table is empty.
  flight_entry* take_any() noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  flight_entry** buckets_ = nullptr;
  std::size_t bucket_count_ = 0;
  std::size_t size_ = 0;
};

}  // namespace gort::detail
