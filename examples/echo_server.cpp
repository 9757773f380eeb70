// echo_server — a TCP echo server: one goroutine per connection, graceful shutdown on SIGTERM.
//
//   echo_server 127.0.0.1:7000      (or any "host:port"; "unix" sockets: echo_server unix:/path)
//
// Every connection gets a goroutine that reads and writes back what it read, with the server's
// context: on SIGTERM (or SIGINT) the context is cancelled, the accept loop stops, every
// connection's blocked read returns the context's error, each goroutine closes its connection,
// and the program exits 0 once all of them have finished ("shut down: N connections served").
// Signals are handled without async-signal-unsafe work: they are blocked in every thread and a
// plain thread receives them with sigwait(), then cancels the context (an ordinary call).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>

#include "gort/gort.hpp"

namespace {

void serve(const gort::context& ctx, gort::net::conn c, std::atomic<long>& bytes) {
  char buf[4096];
  for (;;) {
    auto r = c.read(ctx, buf, sizeof buf);
    if (r.n > 0) {
      if (c.write(ctx, buf, r.n).err) return;
      bytes.fetch_add(static_cast<long>(r.n), std::memory_order_relaxed);
    }
    if (r.err) return;  // EOF, a reset, or the shutdown
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ADDRESS   (host:port, or unix:/path)\n", argv[0]);
    return 2;
  }
  std::string_view address = argv[1];
  std::string_view network = "tcp";
  if (address.substr(0, 5) == "unix:") {
    network = "unix";
    address.remove_prefix(5);
  }
  // Block the shutdown signals before any thread exists: the runtime's threads inherit the mask,
  // so only sigwait() below sees them. SIGUSR1 tells the signal thread that the run is over.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  return gort::run([&] {
    auto [ln, err] = gort::net::listen(network, address);
    if (err) {
      std::fprintf(stderr, "echo_server: listen %s: %s\n", argv[1], err.message().c_str());
      return 1;
    }
    auto [ctx, cancel] = gort::with_cancel(gort::background());
    std::thread signal_thread([&signals, cancel = cancel] {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig != SIGUSR1) std::printf("echo_server: %s received, shutting down\n", strsignal(sig));
      cancel();
    });
    std::printf("echo_server: listening on %s (pid %d); SIGTERM shuts it down\n",
                ln.address().c_str(), static_cast<int>(getpid()));
    std::fflush(stdout);

    gort::wait_group connections;
    std::atomic<long> bytes{0};
    long served = 0;
    for (;;) {
      auto [c, aerr] = ln.accept(ctx);
      if (aerr == std::errc::too_many_files_open ||
          aerr == std::errc::too_many_files_open_in_system) {
        gort::sleep_for(std::chrono::milliseconds(5));  // descriptors free up as peers leave
        continue;
      }
      if (aerr) break;  // the shutdown (the context's error)
      ++served;
      connections.add(1);
      gort::go([&, ctx = ctx, c = std::move(c)]() mutable {
        serve(ctx, std::move(c), bytes);
        connections.done();
      });
    }
    ln.close();
    connections.wait();  // every connection goroutine has seen the cancellation and closed
    pthread_kill(signal_thread.native_handle(), SIGUSR1);  // no-op if it already returned
    signal_thread.join();
    std::printf("echo_server: shut down: %ld connections served, %ld bytes echoed\n", served,
                bytes.load());
    return 0;
  });
}
