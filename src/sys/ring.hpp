// sys/ring.hpp — a growable FIFO/LIFO ring of trivially copyable values, for the runtime's queues
// of pointers that reach millions of entries (the global run queue, the stack pool's hot slots).
//
// Growth doubles a power-of-two buffer and copies the live entries once, so n pushes cost O(n)
// copies. A large new buffer has its pages committed in one call (sys::populate_large) rather
// than one page fault per page as entries fill it (sys/advise.hpp); it is not value-initialized.
// Not thread-safe: the owner's lock guards every member.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>

#include "gort/detail/dcheck.hpp"
#include "sys/advise.hpp"

namespace gort::sys {

template <class T>
class ring {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  std::size_t capacity() const noexcept { return capacity_; }

  /// Ensures room for `want` entries without a further allocation. Throws std::bad_alloc.
  /// `commit_pages`: commit a large new buffer's pages at once (the file comment); false for room
  /// reserved ahead of entries that may never come, whose pages then fault in as they fill.
  void reserve(std::size_t want, bool commit_pages = true) {
    if (want <= capacity_) return;
    std::size_t cap = capacity_ == 0 ? 1024 : capacity_;
    while (cap < want) cap *= 2;
    auto fresh = std::make_unique_for_overwrite<T[]>(cap);
    if (commit_pages) populate_large(fresh.get(), cap * sizeof(T));
    for (std::size_t i = 0; i < count_; ++i) fresh[i] = buf_[(head_ + i) & mask_];
    buf_ = std::move(fresh);
    capacity_ = cap;
    mask_ = cap - 1;
    head_ = 0;
  }

  void push_back(T v) {
    reserve(count_ + 1);
    buf_[(head_ + count_) & mask_] = v;
    ++count_;
  }
  void push_back_batch(const T* vs, std::size_t n) {
    reserve(count_ + n);
    for (std::size_t i = 0; i < n; ++i) buf_[(head_ + count_ + i) & mask_] = vs[i];
    count_ += n;
  }
  void push_front(T v) {
    reserve(count_ + 1);
    head_ = (head_ - 1) & mask_;
    buf_[head_] = v;
    ++count_;
  }

  T& front() noexcept {
    GORT_DCHECK(count_ > 0);
    return buf_[head_];
  }
  T& back() noexcept {
    GORT_DCHECK(count_ > 0);
    return buf_[(head_ + count_ - 1) & mask_];
  }
  void pop_front() noexcept {
    GORT_DCHECK(count_ > 0);
    head_ = (head_ + 1) & mask_;
    --count_;
  }
  void pop_back() noexcept {
    GORT_DCHECK(count_ > 0);
    --count_;
  }
  /// Moves up to n entries from the front into out; returns how many.
  std::size_t pop_front_batch(T* out, std::size_t n) noexcept {
    if (n > count_) n = count_;
    for (std::size_t i = 0; i < n; ++i) out[i] = buf_[(head_ + i) & mask_];
    head_ = (head_ + n) & mask_;
    count_ -= n;
    return n;
  }

 private:
  std::unique_ptr<T[]> buf_;
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace gort::sys
