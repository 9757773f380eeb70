// tests/support/procs.cpp — helpers shared by the tests.
#include "procs.hpp"

#include <dirent.h>
#include <sys/mman.h>

#include <fstream>
#include <string>

namespace gort_test {

int thread_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
  }
  return n;
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

int map_count() {
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

bool reads_map_zero_page() {
  static const bool zero_page = [] {
    constexpr std::size_t pages = 1024;
    const std::size_t bytes = pages * 4096;
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    const long before = rss_kib();
    unsigned long acc = 0;
    for (std::size_t i = 0; i < pages; ++i) acc += static_cast<volatile unsigned char*>(p)[i * 4096];
    const long grown = rss_kib() - before;
    ::munmap(p, bytes);
    return acc == 0 && grown < static_cast<long>(pages) * 4 / 4;  // < a quarter committed
  }();
  return zero_page;
}

}  // namespace gort_test
