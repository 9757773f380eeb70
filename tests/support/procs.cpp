// tests/support/procs.cpp — helpers shared by the tests.
#include "procs.hpp"

#include <dirent.h>

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

}  // namespace gort_test
