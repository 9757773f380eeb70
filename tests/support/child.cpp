// tests/support/child.cpp — gort_test_child: small gort programs that end the process (a fatal
// signal, a deadlock, SIGQUIT), run by tests/conformance/debug_test.cpp as child processes. It
// links gort alone (no GoogleTest, no watchdog thread): a process whose only threads are the
// runtime's, which deadlock detection requires.
//
//   gort_test_child <scenario>      (the scenarios are listed in main below)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include "gort/gort.hpp"

namespace {

using namespace std::chrono_literals;

[[gnu::noinline]] void child_wait_forever_on(gort::chan<int> c) { (void)c.recv(); }

[[gnu::noinline]] void child_wait_group_waiter(gort::wait_group* wg) {
  wg->wait();
  asm volatile("" ::: "memory");  // no tail call: this frame stays on the stack
}

[[gnu::noinline]] void child_deadlock_main() {
  gort::wait_group wg;
  wg.add(1);
  gort::chan<int> c(0);
  gort::go([&wg] { child_wait_group_waiter(&wg); });
  gort::go([c] { child_wait_forever_on(c); });
  child_wait_forever_on(c);  // main: nobody will ever send
}

// Not instrumented by UBSan, which would report these before the signal.
__attribute__((noinline, no_sanitize("undefined"))) void child_crash_null() {
  volatile int* p = nullptr;
  *p = 42;
}

__attribute__((noinline, no_sanitize("undefined"))) int child_crash_divide(int zero) {
  volatile int z = zero;
  return 1000 / z;
}

[[gnu::noinline]] void child_crash_trap() { __builtin_trap(); }

void in_goroutine(void (*f)(), gort::options o = {}) {
  gort::run(
      [f] {
        gort::chan<int> done(0);
        gort::go([f, done] {
          f();
          done.send(1);
        });
        (void)done.recv();
      },
      o);
}

void previous_handler(int sig) {
  static const char msg[] = "previous handler ran\n";
  (void)::write(2, msg, sizeof msg - 1);
  std::_Exit(40 + (sig == SIGSEGV ? 2 : 0));
}

int run_scenario(const std::string& s) {
  if (s == "deadlock") {
    // Reported at once; under TSan, whose runtime has a thread of its own (a thread outside gort),
    // it is not (by design): SIGALRM then ends it.
    ::alarm(5);
    gort::run(child_deadlock_main);
    return 0;
  }
  if (s == "deadlock-locked") {
    // The same with a goroutine locked to its thread and parked: its thread asleep counts as
    // idle, the goroutine as parked (Go's nmidlelocked in checkdead).
    ::alarm(5);
    gort::run([] {
      gort::chan<int> c(0);
      gort::go([c] {
        gort::lock_os_thread();
        child_wait_forever_on(c);
      });
      child_wait_forever_on(c);
    });
    return 0;
  }
  if (s == "deadlock-off-option" || s == "deadlock-off-env") {
    ::alarm(1);  // the deadlock is not reported: SIGALRM ends it
    gort::options o;
    if (s == "deadlock-off-option") o.detect_deadlock = false;
    gort::run(child_deadlock_main, o);
    return 0;
  }
  if (s == "timer-pending") {
    // Every goroutine parked, but a timer will fire: not a deadlock.
    gort::run([] {
      gort::chan<int> c(1);
      gort::timer t(50ms, [c] { c.send(7); });
      return *c.recv() == 7 ? 0 : 1;
    });
    return 0;
  }
  if (s == "sleep-pending") {
    gort::run([] { gort::sleep_for(50ms); });
    return 0;
  }
  if (s == "io-waiter") {
    // Main waits for a pipe another process writes to later: not a deadlock.
    int fds[2];
    if (::pipe(fds) != 0) return 3;
    const pid_t writer = ::fork();
    if (writer == 0) {
      ::usleep(100'000);
      (void)::write(fds[1], "x", 1);
      std::_Exit(0);
    }
    ::close(fds[1]);
    const int r = gort::run([&] {
      std::error_code ec = gort::wait_readable(fds[0]);
      return ec ? 4 : 0;
    });
    ::waitpid(writer, nullptr, 0);
    return r;
  }
  if (s == "plain-thread-wakes") {
    // A plain thread exists and sends later: not a deadlock.
    gort::chan<int> c(0);
    std::thread t([c] {
      std::this_thread::sleep_for(100ms);  // outside gort meanwhile
      c.send(5);
    });
    const int r = gort::run([c] { return *c.recv() == 5 ? 0 : 1; });
    t.join();
    return r;
  }
  if (s == "segv") in_goroutine(child_crash_null);
  if (s == "fpe") in_goroutine([] { std::printf("%d\n", child_crash_divide(0)); });
  if (s == "ill") in_goroutine(child_crash_trap);
  if (s == "segv-chained") {
    struct sigaction sa {};
    sa.sa_handler = &previous_handler;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, nullptr);  // installed before gort's
    in_goroutine(child_crash_null);
  }
  if (s == "segv-no-report") {
    gort::options o;
    o.crash_report = false;
    in_goroutine(child_crash_null, o);
  }
  if (s == "sigquit" || s == "sigquit-off") {
    gort::options o;
    o.sigquit_dump = s == "sigquit";
    o.detect_deadlock = false;
    gort::run(
        [] {
          gort::chan<int> c(0);
          gort::go([c] {
            // Once main is parked (a dump says so), send the signal.
            for (;;) {
              std::ostringstream d;
              gort::dump_goroutines(d);
              if (d.str().find("goroutine 1 [chan receive]") != std::string::npos) break;
              gort::yield();
            }
            ::kill(::getpid(), SIGQUIT);
            child_wait_forever_on(gort::chan<int>());
          });
          child_wait_forever_on(c);
        },
        o);
    return 0;
  }
  std::fprintf(stderr, "gort_test_child: unknown scenario %s\n", s.c_str());
  return 99;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gort_test_child <scenario>\n");
    return 99;
  }
  return run_scenario(argv[1]);
}
