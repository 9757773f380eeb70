// sys/advise: batched advice over scattered pages, and committing pages ahead of first use
// (checked with mincore).
#include "sys/advise.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <vector>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace {

std::size_t page() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

std::vector<bool> residency(const void* p, std::size_t pages) {
  std::vector<unsigned char> vec(pages);
  EXPECT_EQ(::mincore(const_cast<void*>(p), pages * page(), vec.data()), 0);
  std::vector<bool> out;
  for (unsigned char c : vec) out.push_back((c & 1) != 0);
  return out;
}

struct mapping {
  explicit mapping(std::size_t pages) : bytes(pages * page()) {
    mem = static_cast<char*>(
        ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_NE(mem, MAP_FAILED);
  }
  ~mapping() { ::munmap(mem, bytes); }
  std::size_t bytes;
  char* mem;
};

// Every third page of 200 (67 ranges: two system calls) gets committed, and no other page.
TEST(Advise, PopulateRangesCommitsExactlyTheGivenPages) {
  mapping m(200);
  std::vector<char*> ranges;
  for (std::size_t i = 0; i < 200; i += 3) ranges.push_back(m.mem + i * page());
  const std::size_t done =
      gort::sys::advise_ranges(ranges.data(), ranges.size(), page(), MADV_POPULATE_WRITE);
  if (done == 0) GTEST_SKIP() << "this kernel does not take MADV_POPULATE_WRITE in process_madvise";
  EXPECT_EQ(done, ranges.size());
  const std::vector<bool> r = residency(m.mem, 200);
  for (std::size_t i = 0; i < 200; ++i) EXPECT_EQ(r[i], i % 3 == 0) << "page " << i;
  // Committed pages read zero and keep what is written.
  EXPECT_EQ(m.mem[3 * page() + 7], 0);
  m.mem[3 * page() + 7] = 5;
  EXPECT_EQ(m.mem[3 * page() + 7], 5);
}

// A range the kernel rejects ends the batch: the count says how many ranges, from the first, got
// the advice. Here the second batch's first range is a page of our own mapping that may not be
// accessed (PROT_NONE: populating it fails). An unmapped page would do too, but another thread
// (a sanitizer's allocator) may map something there between the unmap and the call.
TEST(Advise, AFailedCallReportsThePrefixThatGotTheAdvice) {
  mapping m(70);
  char* const forbidden = m.mem + 64 * page();
  ASSERT_EQ(::mprotect(forbidden, page(), PROT_NONE), 0);
  std::vector<char*> ranges;
  for (std::size_t i = 0; i < 64; ++i) ranges.push_back(m.mem + i * page());
  ranges.push_back(forbidden);
  ranges.push_back(m.mem + 65 * page());
  const std::size_t done =
      gort::sys::advise_ranges(ranges.data(), ranges.size(), page(), MADV_POPULATE_WRITE);
  if (done == 0) GTEST_SKIP() << "this kernel does not take MADV_POPULATE_WRITE in process_madvise";
  EXPECT_EQ(done, 64u);
  EXPECT_FALSE(residency(forbidden, 2)[0]);
  EXPECT_FALSE(residency(forbidden, 2)[1]);
}

// An advice the kernel does not know is refused, never half-applied.
TEST(Advise, AnUnknownAdviceIsRefused) {
  mapping m(2);
  char* ranges[2] = {m.mem, m.mem + page()};
  EXPECT_EQ(gort::sys::advise_ranges(ranges, 2, page(), 0x7fff), 0u);
  EXPECT_EQ(gort::sys::advise_ranges(ranges, 0, page(), MADV_POPULATE_WRITE), 0u);
}

TEST(Advise, PopulateCommitsAWholeRange) {
  mapping m(16);
  if (!gort::sys::populate(m.mem, m.bytes)) GTEST_SKIP() << "no MADV_POPULATE_WRITE (Linux 5.14+)";
  for (bool resident : residency(m.mem, 16)) EXPECT_TRUE(resident);
}

}  // namespace
