// sync/flight_table.cpp — detail::flight_table, singleflight's key index (see its header).
#include "gort/detail/flight_table.hpp"

#include <new>

#include "gort/detail/dcheck.hpp"

namespace gort::detail {

namespace {
std::size_t index_of(std::size_t hash, std::size_t bucket_count) noexcept {
  // Mixes the high bits in: std::hash of an integer is the identity on common libraries, and a
  // power-of-two table would otherwise use only the low bits.
  hash ^= hash >> 17;
  hash *= 0x9e3779b97f4a7c15ULL;
  hash ^= hash >> 29;
  return hash & (bucket_count - 1);
}
}  // namespace

flight_table::~flight_table() {
  GORT_DCHECK(size_ == 0);
  delete[] buckets_;
}

flight_entry* flight_table::find(std::size_t hash, equal_fn eq, const void* key) const noexcept {
  if (bucket_count_ == 0) return nullptr;
  for (flight_entry* e = buckets_[index_of(hash, bucket_count_)]; e != nullptr; e = e->next) {
    if (e->hash == hash && eq(key, e)) return e;
  }
  return nullptr;
}

void flight_table::insert(flight_entry* e) {
  GORT_DCHECK(!e->linked);
  if (size_ >= bucket_count_) {  // load factor at most 1
    const std::size_t n = bucket_count_ == 0 ? 8 : bucket_count_ * 2;
    auto** grown = new flight_entry*[n]();  // may throw: nothing changed yet
    for (std::size_t b = 0; b < bucket_count_; ++b) {
      for (flight_entry* x = buckets_[b]; x != nullptr;) {
        flight_entry* next = x->next;
        flight_entry*& head = grown[index_of(x->hash, n)];
        x->next = head;
        head = x;
        x = next;
      }
    }
    delete[] buckets_;
    buckets_ = grown;
    bucket_count_ = n;
  }
  flight_entry*& head = buckets_[index_of(e->hash, bucket_count_)];
  e->next = head;
  head = e;
  e->linked = true;
  ++size_;
}

void flight_table::erase(flight_entry* e) noexcept {
  GORT_DCHECK(e->linked);
  flight_entry** link = &buckets_[index_of(e->hash, bucket_count_)];
  while (*link != e) {
    GORT_DCHECK(*link != nullptr);  // a linked node is in its hash's bucket
    link = &(*link)->next;
  }
  *link = e->next;
  e->next = nullptr;
  e->linked = false;
  --size_;
}

flight_entry* flight_table::take_any() noexcept {
  for (std::size_t b = 0; size_ > 0 && b < bucket_count_; ++b) {
    if (flight_entry* e = buckets_[b]; e != nullptr) {
      erase(e);
      return e;
    }
  }
  return nullptr;
}

}  // namespace gort::detail
