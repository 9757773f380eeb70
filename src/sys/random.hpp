// sys/random.hpp — seeds for the runtime's pseudo-random state (steal order, select's choice).
//
// Go seeds its fastrand from the OS at start-up (runtime/os_linux.go, getRandomData reads the
// auxv AT_RANDOM bytes, then /dev/urandom), so two processes do not make the same choices. gort
// reads getrandom(2) once per runtime; where that fails (a seccomp filter, a pre-3.17 kernel) it
// falls back to the clock, the process id and an address. Not for cryptography. Any thread.
#pragma once

#include <sys/random.h>
#include <unistd.h>

#include <cstdint>

#include "sys/clock.hpp"

namespace gort::sys {

/// SplitMix64's finalizer: spreads one seed over independent-looking 64-bit states.
inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A fresh seed from the OS (never zero).
inline std::uint64_t random_seed() noexcept {
  std::uint64_t seed = 0;
  if (::getrandom(&seed, sizeof seed, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof seed)) {
    seed = static_cast<std::uint64_t>(nanotime()) ^
           (static_cast<std::uint64_t>(::getpid()) << 32) ^
           reinterpret_cast<std::uintptr_t>(&seed);
  }
  seed = mix64(seed);
  return seed != 0 ? seed : 1;
}

/// A non-zero xorshift state for stream `n` of `seed`.
inline std::uint64_t xorshift_state(std::uint64_t seed, std::uint64_t n) noexcept {
  return mix64(seed ^ mix64(n)) | 1;
}

}  // namespace gort::sys
