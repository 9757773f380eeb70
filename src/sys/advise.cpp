// sys/advise.cpp — see advise.hpp.
#include "sys/advise.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <atomic>

// Linux 5.14's populate advice and 6.13's guard markers; older headers lack the constants.
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace gort::sys {

namespace {

// process_madvise on the calling process without a pidfd (Linux 6.15's PIDFD_SELF_THREAD; for
// memory advice the thread and its process share the mm).
constexpr int k_pidfd_self = -10000;

constexpr std::size_t k_iov = 64;

// What a first batched call taught about one advice: -1 unknown, 0 refused, 1 taken. Advice the
// runtime batches has an entry; any other advice is simply tried every time.
struct capability {
  int advice;
  std::atomic<int> state{-1};
};
capability g_caps[] = {{MADV_GUARD_INSTALL}, {MADV_POPULATE_WRITE}};

capability* capability_of(int advice) noexcept {
  for (capability& c : g_caps) {
    if (c.advice == advice) return &c;
  }
  return nullptr;
}

}  // namespace

std::size_t advise_ranges(char* const* addrs, std::size_t n, std::size_t len,
                          int advice) noexcept {
  capability* cap = capability_of(advice);
  // relaxed: a cached capability probe; racing probes reach the same answer.
  if (n == 0 || (cap != nullptr && cap->state.load(std::memory_order_relaxed) == 0)) return 0;
  iovec iov[k_iov];
  std::size_t done = 0;
  while (done < n) {
    const std::size_t k = std::min(k_iov, n - done);
    for (std::size_t i = 0; i < k; ++i) iov[i] = {addrs[done + i], len};
    const long r = ::syscall(SYS_process_madvise, k_pidfd_self, iov, k, advice, 0);
    if (r != static_cast<long>(k * len)) {
      // A call refused as such (an unknown advice for process_madvise, no self handle, no system
      // call) decides that the kernel never takes this advice here; any other failure (memory
      // pressure, a range it rejects) only ends this batch. Only a first call decides (the CAS
      // from unknown), and EINVAL also answers a range the advice cannot apply to (PROT_NONE):
      // callers pass ordinary read-write memory only (the runtime: stack tops, record slabs).
      const int e = errno;
      if (cap != nullptr && r < 0 && (e == EINVAL || e == EBADF || e == ENOSYS || e == EPERM)) {
        int expected = -1;
        cap->state.compare_exchange_strong(expected, 0, std::memory_order_relaxed);
      }
      // A call that advised some ranges returns their bytes: the ranges are taken in order.
      return r > 0 ? done + static_cast<std::size_t>(r) / len : done;
    }
    if (cap != nullptr) cap->state.store(1, std::memory_order_relaxed);  // the probe's answer
    done += k;
  }
  return done;
}

void populate_ranges(char* const* addrs, std::size_t n, std::size_t len) noexcept {
  (void)advise_ranges(addrs, n, len, MADV_POPULATE_WRITE);
}

bool populate(void* p, std::size_t len) noexcept {
  return ::madvise(p, len, MADV_POPULATE_WRITE) == 0;
}

bool populate_within(void* p, std::size_t len) noexcept {
  static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto lo = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
  const auto hi = (reinterpret_cast<std::uintptr_t>(p) + len) & ~(page - 1);
  return hi > lo && populate(reinterpret_cast<void*>(lo), hi - lo);
}

}  // namespace gort::sys
