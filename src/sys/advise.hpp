// sys/advise.hpp — memory advice for the runtime's own mappings: batched over scattered pages,
// and committing pages ahead of their first use.
//
// Why commit ahead. A first write to a fresh anonymous page takes a page fault: an exception, the
// kernel's allocation and zeroing, and the return. On bare metal that is ~1 µs; on a VM the
// exception and the page-table update may each exit to the hypervisor, and one fault was measured
// at 9–11 µs on a 2-vCPU VM whose kernel populated the same pages with MADV_POPULATE_WRITE at
// 0.4–0.9 µs each (the first write to a populated page then cost ~4 µs more there, against nothing
// on machines whose hypervisor maps guest page tables directly). Structures that are about to be
// written page by page — a goroutine's first stack page, a slab of goroutine records — are
// therefore committed in one call instead of one fault per page (docs/benchmarks.md).
#pragma once

#include <cstddef>

namespace gort::sys {

/// Applies madvise advice `advice` to the `n` ranges [addrs[i], addrs[i] + len), in one
/// process_madvise call on the calling process per 64 ranges. Returns how many ranges, from the
/// first, got the advice: fewer than `n` when a call failed, 0 (without further calls) once a
/// probe showed that this kernel does not take `advice` through process_madvise for the calling
/// process (older than 6.13 for most advice, 6.15 for the self handle used). The caller falls back
/// to madvise per range where it must. The ranges must be mapped read-write (the probe reads a
/// first call's EINVAL as the kernel's refusal). Any thread.
std::size_t advise_ranges(char* const* addrs, std::size_t n, std::size_t len, int advice) noexcept;

/// Commits the pages of [addrs[i], addrs[i] + len) writable and zero-filled, for all `n` ranges,
/// in as few system calls as advise_ranges allows; where the kernel cannot (no batched
/// MADV_POPULATE_WRITE) it does nothing and the pages fault in on first use as before. Only a
/// hint: pages it could not commit (memory pressure) fault in later. Any thread.
void populate_ranges(char* const* addrs, std::size_t n, std::size_t len) noexcept;

/// Commits [p, p + len) (page-aligned p) with one MADV_POPULATE_WRITE; returns false where the
/// kernel lacks it (before 5.14) or could not commit every page. Any thread.
bool populate(void* p, std::size_t len) noexcept;

/// Commits the whole pages inside [p, p + len) (any alignment) as populate does; returns false
/// where it could not, or when the range holds no whole page. Any thread.
bool populate_within(void* p, std::size_t len) noexcept;

/// The size from which a new buffer's pages are committed in one call (populate_large) rather
/// than faulted in one by one as it fills: a smaller one comes from malloc's heap, whose pages are
/// mostly resident already.
inline constexpr std::size_t k_commit_min_bytes = 64 * 1024;

/// populate_within for a new buffer of at least k_commit_min_bytes; nothing for a smaller one.
/// Any thread.
inline void populate_large(void* p, std::size_t len) noexcept {
  if (len >= k_commit_min_bytes) (void)populate_within(p, len);
}

}  // namespace gort::sys
