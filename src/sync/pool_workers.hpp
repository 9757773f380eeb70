// sync/pool_workers.hpp — the containers a gort::pool keeps its workers in.
//
//  * worker_stack<W>       idle workers, LIFO (ants' workerStack, the default): the most recently
//                          used worker is reused first, so hot workers (warm stacks and caches)
//                          take the work and cold ones age towards expiry.
//  * worker_loop_queue<W>  idle workers, FIFO in a ring allocated once (ants' loopQueue, the
//                          pre_alloc mode): the least recently used worker is reused first; the
//                          pool never allocates for its idle list.
//  * pointer_set           the goroutines that are workers of one pool (to recognise a task
//                          submitting into its own pool, ants #197).
//
// Expiry without timestamps. ants stamps a worker with a cached clock when it goes idle and each
// purge pass binary-searches the stamps. These containers instead remember, per purge pass, how
// many entries were present at the previous pass and how many of those have been taken since
// (the stack's low-water mark, the queue's pop count). An entry present at the previous pass and
// never taken since has been idle for at least one whole pass interval: refresh() hands exactly
// those out, oldest first. With passes one `expiry` apart a worker is stopped after between one
// and two `expiry` of idleness — ants' own granularity (its ticker also runs every `expiry`) —
// and the idle path pays one comparison instead of a clock read.
//
// Invariants (worker_stack): items_[0, size) are ordered oldest idle first; entries below
// min(pass_len_, low_) have been idle since the previous pass. (worker_loop_queue): the ring's
// entries from head_ in order are oldest first; the first pass_len_ - popped_ of them (if
// positive) have been idle since the previous pass.
//
// Who may call: the owner of the container's lock (the pool's spinlock); nothing here is
// synchronized. Nothing allocates under that lock: storage is made beforehand without it
// (make_storage, which may throw std::bad_alloc) and adopted under it (adopt, noexcept); insert()
// requires room. reserve() is both steps for an owner holding no lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace gort::detail {

template <class W>
class worker_stack {
 public:
  worker_stack() = default;

  std::size_t len() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }

  /// Entries insert() can hold without allocating.
  std::size_t room() const noexcept { return items_.capacity(); }

  /// make_storage + adopt, for an owner that may allocate where it stands (no lock held).
  void reserve(std::size_t n) {
    if (room() >= n) return;
    std::vector<W*> fresh = make_storage(n);
    adopt(fresh);
  }

  /// Storage for at least n entries, allocated by the caller without the container's lock. May
  /// throw std::bad_alloc.
  static std::vector<W*> make_storage(std::size_t n) {
    std::vector<W*> v;
    v.reserve(n);
    return v;
  }

  /// Moves the entries into `fresh` (room for them: no allocation) and keeps it; `fresh` is left
  /// with the old storage, for the caller to free after releasing the lock.
  void adopt(std::vector<W*>& fresh) noexcept {
    fresh.assign(items_.begin(), items_.end());  // fits: capacity checked by the caller
    items_.swap(fresh);
  }

  /// Pushes w as the most recently used worker. Precondition: room() > len() (no allocation).
  void insert(W* w) noexcept { items_.push_back(w); }

  /// Pops the most recently used worker, or null.
  W* detach() noexcept {
    if (items_.empty()) return nullptr;
    W* w = items_.back();
    items_.pop_back();
    if (items_.size() < low_) low_ = items_.size();
    return w;
  }

  /// A purge pass: calls out(w) for up to `limit` workers idle since the previous pass, oldest
  /// first, removes them, and starts a new interval. Returns how many it removed.
  template <class Out>
  std::size_t refresh(std::size_t limit, Out&& out) noexcept {
    std::size_t n = pass_len_ < low_ ? pass_len_ : low_;
    if (n > limit) n = limit;
    for (std::size_t i = 0; i < n; ++i) out(items_[i]);
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(n));
    pass_len_ = low_ = items_.size();
    return n;
  }

  /// Calls out(w) for every worker and empties the container (release).
  template <class Out>
  void reset(Out&& out) noexcept {
    for (W* w : items_) out(w);
    items_.clear();
    pass_len_ = low_ = 0;
  }

  /// Removes up to n of the oldest workers (shrinking the pool): out(w) for each.
  template <class Out>
  std::size_t remove_oldest(std::size_t n, Out&& out) noexcept {
    if (n > items_.size()) n = items_.size();
    const std::size_t old = pass_len_ < low_ ? pass_len_ : low_;
    for (std::size_t i = 0; i < n; ++i) out(items_[i]);
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(n));
    // The removed entries were the oldest: what stays old is the rest of the old range.
    pass_len_ = old > n ? old - n : 0;
    low_ = items_.size();
    return n;
  }

 private:
  std::vector<W*> items_;
  std::size_t pass_len_ = 0;  // entries present at the previous pass
  std::size_t low_ = 0;       // the fewest entries since the previous pass
};

template <class W>
class worker_loop_queue {
 public:
  /// A ring of `size` entries, allocated now. size == 0 makes an unusable queue (every insert
  /// fails), like ants' loopQueue of size 0.
  explicit worker_loop_queue(std::size_t size)
      : items_(size == 0 ? nullptr : std::make_unique<W*[]>(size)), size_(size) {}

  std::size_t len() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  bool full() const noexcept { return count_ == size_; }
  std::size_t size() const noexcept { return size_; }

  /// Appends w as the most recently used worker; false when the ring is full (ants'
  /// errQueueIsFull — the pool never lets that happen: idle workers <= workers <= capacity).
  bool insert(W* w) noexcept {
    if (count_ == size_) return false;
    items_[tail_] = w;
    tail_ = tail_ + 1 == size_ ? 0 : tail_ + 1;
    ++count_;
    return true;
  }

  /// Pops the least recently used worker, or null.
  W* detach() noexcept {
    if (count_ == 0) return nullptr;
    W* w = pop_head();
    ++popped_;
    return w;
  }

  /// A purge pass (see worker_stack::refresh): the expired workers are at the head.
  template <class Out>
  std::size_t refresh(std::size_t limit, Out&& out) noexcept {
    std::size_t n = pass_len_ > popped_ ? pass_len_ - popped_ : 0;
    if (n > count_) n = count_;
    if (n > limit) n = limit;
    for (std::size_t i = 0; i < n; ++i) out(pop_head());
    pass_len_ = count_;
    popped_ = 0;
    return n;
  }

  template <class Out>
  void reset(Out&& out) noexcept {
    while (count_ > 0) out(pop_head());
    head_ = tail_ = 0;
    pass_len_ = popped_ = 0;
  }

  /// Removes up to n of the oldest workers: out(w) for each.
  template <class Out>
  std::size_t remove_oldest(std::size_t n, Out&& out) noexcept {
    if (n > count_) n = count_;
    for (std::size_t i = 0; i < n; ++i) {
      out(pop_head());
      ++popped_;
    }
    return n;
  }

  /// The ring position of the head (for tests of a rotated ring).
  std::size_t head_index() const noexcept { return head_; }

 private:
  W* pop_head() noexcept {
    W* w = items_[head_];
    items_[head_] = nullptr;
    head_ = head_ + 1 == size_ ? 0 : head_ + 1;
    --count_;
    return w;
  }

  std::unique_ptr<W*[]> items_;
  std::size_t size_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
  std::size_t count_ = 0;
  std::size_t pass_len_ = 0;  // entries present at the previous pass
  std::size_t popped_ = 0;    // entries taken from the head since the previous pass
};

/// A set of non-null pointers: open addressing, linear probing, backward-shift deletion (no
/// tombstones), at most half full. Used for the goroutine records of one pool's workers.
class pointer_set {
 public:
  std::size_t size() const noexcept { return count_; }

  bool contains(const void* p) const noexcept {
    if (cap_ == 0) return false;
    for (std::size_t i = slot_of(p);; i = (i + 1) & (cap_ - 1)) {
      if (slots_[i] == p) return true;
      if (slots_[i] == nullptr) return false;
    }
  }

  /// Entries insert() can hold without allocating (the set stays at most half full).
  std::size_t room() const noexcept { return cap_ / 2; }

  /// make_storage + adopt, for an owner that may allocate where it stands (no lock held).
  void reserve(std::size_t n) {
    if (room() >= n) return;
    storage fresh = make_storage(n);
    adopt(fresh);
  }

  /// Slots for at least n entries, allocated by the caller without the set's lock.
  struct storage {
    std::unique_ptr<const void*[]> slots;
    std::size_t cap = 0;
  };
  static storage make_storage(std::size_t n) {
    std::size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    return {std::make_unique<const void*[]>(cap), cap};  // value-initialized: all null
  }

  /// Rehashes the entries into `fresh` (room for them: no allocation) and keeps it; `fresh` is
  /// left with the old slots, for the caller to free after releasing the lock.
  void adopt(storage& fresh) noexcept {
    std::unique_ptr<const void*[]> old = std::exchange(slots_, std::move(fresh.slots));
    const std::size_t ocap = std::exchange(cap_, fresh.cap);
    rehash_from(old.get(), ocap);
    fresh.slots = std::move(old);
    fresh.cap = ocap;
  }

  /// Adds p (no effect if present). Precondition: room() > size() (no allocation).
  void insert(const void* p) noexcept {
    std::size_t i = slot_of(p);
    while (slots_[i] != nullptr) {
      if (slots_[i] == p) return;
      i = (i + 1) & (cap_ - 1);
    }
    slots_[i] = p;
    ++count_;
  }

  /// Removes every entry (keeps the capacity).
  void clear() noexcept {
    for (std::size_t i = 0; i < cap_; ++i) slots_[i] = nullptr;
    count_ = 0;
  }

  /// Removes p if present.
  void erase(const void* p) noexcept {
    if (cap_ == 0) return;
    std::size_t i = slot_of(p);
    while (slots_[i] != p) {
      if (slots_[i] == nullptr) return;
      i = (i + 1) & (cap_ - 1);
    }
    // Backward shift: move later entries of the probe run into the hole when their home slot is
    // not between the hole and them.
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & (cap_ - 1); slots_[j] != nullptr; j = (j + 1) & (cap_ - 1)) {
      const std::size_t home = slot_of(slots_[j]);
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = nullptr;
    --count_;
  }

 private:
  std::size_t slot_of(const void* p) const noexcept {
    // Fibonacci hashing of the address (records are 128-byte aligned: the low bits say nothing).
    const auto x = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p));
    return static_cast<std::size_t>((x * 0x9E3779B97F4A7C15ull) >> (64 - bits_));
  }

  // Fills the (empty) current slots from old[0..ocap).
  void rehash_from(const void* const* old, std::size_t ocap) noexcept {
    bits_ = 0;
    while ((std::size_t{1} << bits_) < cap_) ++bits_;
    count_ = 0;
    for (std::size_t i = 0; i < ocap; ++i) {
      if (old[i] != nullptr) {
        std::size_t j = slot_of(old[i]);
        while (slots_[j] != nullptr) j = (j + 1) & (cap_ - 1);
        slots_[j] = old[i];
        ++count_;
      }
    }
  }

  std::unique_ptr<const void*[]> slots_;
  std::size_t cap_ = 0;
  unsigned bits_ = 0;
  std::size_t count_ = 0;
};

}  // namespace gort::detail
