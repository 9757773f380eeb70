// echo — gort: a TCP echo server, one goroutine per connection (gort::net). The server of the
// `echo` and `idle_conns` workloads; bench_echo_client (client.cpp) is the load and the check.
//
// Usage: bench_echo_gort PROCS ADDRESS (e.g. `bench_echo_gort 2 127.0.0.1:7000`). Listens on
// ADDRESS; for every accepted connection a goroutine reads into its own 512-byte buffer and writes
// back what it read, until the peer closes or resets the connection. The buffer is small (a
// multiple of the 64-byte message) so that idle_conns measures what the runtime spends per
// connection more than what the application does. SIGTERM and SIGINT end it (their default
// action), as the protocol allows.
//
// Server protocol (bench/README.md): argv[1] is the processor count (gort::options::maxprocs);
// argv[2] the address to listen on; ready once it accepts a connection. The soft RLIMIT_NOFILE is
// raised to the hard limit (idle_conns holds 10,000 connections). An accept that fails for want
// of descriptors is retried once a connection has closed (the listener keeps serving, as Go's).
#include <sys/resource.h>

#include <cstdio>

#include "common/bench.hpp"
#include "gort/gort.hpp"

namespace {

constexpr std::size_t k_buffer = 512;

void serve(gort::net::conn c) {
  char buf[k_buffer];
  for (;;) {
    auto r = c.read(buf, sizeof buf);
    if (r.n > 0 && c.write(buf, r.n).err) return;
    if (r.err) return;
  }
}

void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int procs = bench::procs_from_args(argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PROCS ADDRESS\n", argv[0]);
    return 2;
  }
  raise_fd_limit();
  const char* address = argv[2];
  return gort::run(
      [address] {
        auto [ln, err] = gort::net::listen("tcp", address);
        if (err) {
          std::fprintf(stderr, "echo: listen %s: %s\n", address, err.message().c_str());
          return 1;
        }
        for (;;) {
          auto [c, aerr] = ln.accept();
          if (aerr == std::errc::too_many_files_open || aerr == std::errc::too_many_files_open_in_system) {
            gort::sleep_for(std::chrono::milliseconds(5));  // Go's accept back-off
            continue;
          }
          if (aerr) {
            std::fprintf(stderr, "echo: accept: %s\n", aerr.message().c_str());
            return 1;
          }
          gort::go(serve, std::move(c));
        }
      },
      gort::options{.maxprocs = procs});
}
