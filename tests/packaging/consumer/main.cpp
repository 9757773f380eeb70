// A service's use of an installed (or added) gort: only the public headers, compiled with
// -Wall -Wextra -Wpedantic -Werror. Exits 0 when every goroutine and pool task ran.
//
// GORT_EXPECTED_VERSION, when defined, is the version the build system found (the CMake package's
// or pkg-config's): the headers must say the same.
#include <gort/gort.hpp>

#include <atomic>
#include <cstdio>
#include <string_view>

#ifdef GORT_EXPECTED_VERSION
static_assert(std::string_view(GORT_VERSION_STRING) == GORT_EXPECTED_VERSION,
              "gort/version.hpp disagrees with the package version");
#endif
static_assert(GORT_VERSION == GORT_VERSION_MAJOR * 10000 + GORT_VERSION_MINOR * 100 +
                                  GORT_VERSION_PATCH);

int main() {
  std::atomic<int> ran{0};
  // Designated initializers of every options struct, as the documentation writes them.
  const int r = gort::run(
      [&] {
        gort::wait_group wg;
        for (int i = 0; i < 100; ++i) wg.go([&] { ran.fetch_add(1); });
        wg.wait();
        gort::pool p({.capacity = 4});
        gort::pool_with_func<int> pf([&](int n) { ran.fetch_add(n); }, {.capacity = 2});
        gort::multi_pool mp(2, gort::load_balancing::round_robin, {.capacity = 2});
        if (p.submit([&] { ran.fetch_add(1); }) || pf.invoke(1) ||
            mp.submit([&] { ran.fetch_add(1); })) {
          return 2;
        }
        if (p.release_timeout(std::chrono::hours(1)) || pf.release_timeout(std::chrono::hours(1)) ||
            mp.release_timeout(std::chrono::hours(1))) {
          return 3;
        }
        return ran.load() == 103 ? 0 : 1;
      },
      gort::options{.maxprocs = 2});
  std::printf("consumer: gort %s, %d tasks ran\n", GORT_VERSION_STRING, ran.load());
  return r;
}
