// sys/clock.hpp — monotonic time in nanoseconds (Go's nanotime). Any thread.
#pragma once

#include <cstdint>
#include <ctime>

namespace gort::sys {

inline std::int64_t nanotime() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace gort::sys
