// sched/steal_order.hpp — Go's randomOrder: visit every processor exactly once, in an order that
// differs between thieves so they do not all hammer the same victim.
//
// For n processors precompute every c in [1, n] with gcd(c, n) == 1. A walk starts at
// pos = r % n with stride inc = coprimes[(r / n) % len]; stepping pos = (pos + inc) % n visits all
// n positions once because inc is coprime with n. Immutable after reset(); any thread may walk.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

namespace gort::sched {

class steal_order {
 public:
  void reset(std::uint32_t n) {
    count_ = n;
    coprimes_.clear();
    for (std::uint32_t c = 1; c <= n; ++c) {
      if (std::gcd(c, n) == 1) coprimes_.push_back(c);
    }
  }

  class walk {
   public:
    walk(std::uint32_t count, std::uint32_t pos, std::uint32_t inc)
        : count_(count), pos_(pos), inc_(inc) {}
    bool done() const noexcept { return i_ == count_; }
    std::uint32_t position() const noexcept { return pos_; }
    void next() noexcept {
      ++i_;
      pos_ = (pos_ + inc_) % count_;
    }

   private:
    std::uint32_t i_ = 0;
    std::uint32_t count_;
    std::uint32_t pos_;
    std::uint32_t inc_;
  };

  walk start(std::uint32_t r) const {
    return walk(count_, r % count_, coprimes_[(r / count_) % coprimes_.size()]);
  }

  std::uint32_t count() const noexcept { return count_; }
  const std::vector<std::uint32_t>& coprimes() const noexcept { return coprimes_; }

 private:
  std::uint32_t count_ = 0;
  std::vector<std::uint32_t> coprimes_;
};

}  // namespace gort::sched
