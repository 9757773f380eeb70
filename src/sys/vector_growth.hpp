// sys/vector_growth.hpp — reserving room ahead of appends without losing geometric growth.
//
// The runtime reserves a vector's room before it changes any state, so the appends that follow
// cannot throw half-way (a carved reservation, a new record slab). `v.reserve(v.size() + n)`
// allocates exactly that much, and called before every append it turns n appends into O(n^2)
// copying, each copy into freshly faulted-in memory once the vector outgrows malloc's heap.
// reserve_at_least keeps std::vector's doubling. Any thread holding whatever guards `v`.
#pragma once

#include <algorithm>
#include <cstddef>

#include "sys/advise.hpp"

namespace gort::sys {

/// Ensures v.capacity() >= want, at least doubling the capacity when it grows.
template <class Vector>
void reserve_at_least(Vector& v, std::size_t want) {
  if (want <= v.capacity()) return;
  v.reserve(std::max(want, 2 * v.capacity()));
}

/// reserve_at_least for a vector that will fill its room: a large new room's pages are committed
/// in one call rather than one page fault per page as appends reach them (sys/advise.hpp).
template <class Vector>
void reserve_committed(Vector& v, std::size_t want) {
  if (want <= v.capacity()) return;
  reserve_at_least(v, want);
  populate_large(v.data() + v.size(), (v.capacity() - v.size()) * sizeof(*v.data()));
}

}  // namespace gort::sys
