// Uses only the installed public headers; exits 0 when 100 goroutines all ran.
#include <gort/gort.hpp>

#include <atomic>
#include <cstdio>

int main() {
  std::atomic<int> ran{0};
  const int r = gort::run([&] {
    gort::wait_group wg;
    for (int i = 0; i < 100; ++i) wg.go([&] { ran.fetch_add(1); });
    wg.wait();
    return ran.load() == 100 ? 0 : 1;
  });
  std::printf("consumer: %d goroutines ran\n", ran.load());
  return r;
}
