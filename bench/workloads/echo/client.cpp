// echo client — the load generator shared by every runtime's echo server (workloads `echo` and
// `idle_conns`). Plain C++ on Linux epoll, one thread, no gort: the same program drives the gort
// server and the Go server, so the servers are what differs.
//
//   bench_echo_client echo --port P --connections N [--seconds S] [--message-size B] [--host H]
//   bench_echo_client idle --port P --connections N --server-pid PID [--host H]
//
// Both modes first establish the N connections, at most k_connecting at a time so that the
// server's accept queue never overflows (an overflowing queue drops SYNs, and the kernel retries
// them only after a second): a connection counts as established once one warm-up round on it has
// come back — which also proves the server accepted it and serves it. A round is one message sent
// and its full echo received; message k on connection c carries bytes derived from (c, k), and
// every byte received is compared with the byte sent (a stale, misrouted or altered byte fails the
// run).
//
// echo (closed loop): the warm-up round is one full message (B bytes, 64 by default). Then the
// clock starts and every connection sends a message, waits for its complete echo, and sends the
// next, until S seconds (5 by default) have passed; rounds in flight at the deadline are still
// checked but not counted. Reported (config = N):
//   throughput   rounds completed within the S seconds / S          req/s
//   p50_latency  median time from a round's first byte sent to its last byte received   us
//   p99_latency  99th percentile of the same (nearest rank)         us
//
// idle: reads the server's VmRSS from /proc/PID/status, establishes N connections with a one-byte
// warm-up round each (so each is accepted and served by a handler that has gone back to reading),
// reads VmRSS again, then has every connection send one more byte and waits for all N echoes.
// Reported (config empty):
//   rss_per_connection  (VmRSS after - VmRSS before) / N            bytes
//   setup               time to establish the N connections         ms
//
// Every line follows bench/README.md's RESULT protocol. ok=1 only when every round on every
// connection came back byte for byte; any error (a refused or reset connection, early EOF, a wrong
// byte, more bytes than were sent, no progress for k_stall) is printed on stderr, the quantities
// measured so far are reported with ok=0, and the exit status is 1. Usage errors exit with 2.
//
// Connections are closed with an RST (SO_LINGER 0) so that repeated runs leave no TIME_WAIT
// sockets holding the ephemeral ports (an idle_conns run opens 10,000). The client raises its own
// RLIMIT_NOFILE soft limit to what N needs (up to the hard limit). It runs on the same cores as
// the server it measures.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/bench.hpp"

namespace {

constexpr int k_connecting = 128;                    // connections being established at once
constexpr auto k_stall = std::chrono::seconds(10);  // no event for this long fails the run
constexpr int k_max_message = 1024;

struct client_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) { throw client_error(what); }

[[noreturn]] void fail_errno(const std::string& what) {
  fail(what + ": " + std::strerror(errno));
}

/// Byte `j` of message `seq` on connection `conn`: differs between connections and messages, so
/// an echo from another connection or of an earlier message does not pass for the right one.
unsigned char message_byte(std::uint32_t conn, std::uint64_t seq, int j) {
  std::uint64_t x = (static_cast<std::uint64_t>(conn) << 32) ^ (seq * 0x9E3779B97F4A7C15ULL);
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 32;
  return static_cast<unsigned char>((x >> ((j % 8) * 8)) ^ static_cast<unsigned>(j));
}

// ---- one connection --------------------------------------------------------------------------

enum class conn_state { connecting, in_round, idle };

struct connection {
  int fd = -1;
  conn_state state = conn_state::connecting;
  std::uint64_t seq = 0;   // the message in flight (or the next one)
  int size = 0;            // its size in bytes
  int sent = 0;            // bytes of it written so far
  int received = 0;        // bytes of its echo read and checked so far
  bool want_out = false;   // EPOLLOUT armed (connecting, or a write that did not complete)
  bench::clock::time_point round_start;
  unsigned char out[k_max_message];
};

/// What a caller learns when a round completes.
using round_done_fn = void (*)(void* ctx, std::uint32_t index, connection& c,
                               bench::clock::time_point now);

/// The connections and the epoll instance that drives them. Single-threaded.
class engine {
 public:
  engine(const std::string& host, int port, int count) : conns_(static_cast<std::size_t>(count)) {
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr_.sin_addr) != 1) fail("bad IPv4 address " + host);
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) fail_errno("epoll_create1");
  }
  ~engine() {
    for (auto& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    if (epfd_ >= 0) ::close(epfd_);
  }
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  std::uint32_t size() const { return static_cast<std::uint32_t>(conns_.size()); }
  connection& at(std::uint32_t i) { return conns_[i]; }

  /// Starts a non-blocking connect for connection i; its first round (of `size` bytes) starts
  /// once the connect completes.
  void open(std::uint32_t i, int size) {
    connection& c = conns_[i];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) fail_errno("socket (connection " + std::to_string(i) + ")");
    const int one = 1;
    if (setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
      fail_errno("TCP_NODELAY");
    }
    const linger abort_on_close{1, 0};  // close() sends RST: no TIME_WAIT left behind
    if (setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) != 0) {
      fail_errno("SO_LINGER");
    }
    c.size = size;
    epoll_event ev{};
    ev.data.u32 = i;
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) == 0) {
      ev.events = EPOLLIN;
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) fail_errno("epoll_ctl ADD");
      start_round(i, size, bench::clock::now());
      return;
    }
    if (errno != EINPROGRESS) fail_errno("connect (connection " + std::to_string(i) + ")");
    c.state = conn_state::connecting;
    c.want_out = true;
    ev.events = EPOLLOUT;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) fail_errno("epoll_ctl ADD");
  }

  /// Sends message c.seq (of `size` bytes) on connection i and starts waiting for its echo.
  void start_round(std::uint32_t i, int size, bench::clock::time_point now) {
    connection& c = conns_[i];
    c.state = conn_state::in_round;
    c.size = size;
    c.sent = 0;
    c.received = 0;
    for (int j = 0; j < size; ++j) c.out[j] = message_byte(i, c.seq, j);
    c.round_start = now;
    write_some(i);
  }

  /// Waits for events and handles them; calls `done` for every completed round. Returns after
  /// one epoll_wait that delivered events; fails after k_stall without any.
  void poll_once(round_done_fn done, void* ctx) {
    epoll_event events[256];
    const int timeout_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(k_stall).count());
    int n;
    do {
      n = epoll_wait(epfd_, events, 256, timeout_ms);
    } while (n < 0 && errno == EINTR);
    if (n < 0) fail_errno("epoll_wait");
    if (n == 0) fail("no progress for " + std::to_string(timeout_ms / 1000) + " s");
    for (int k = 0; k < n; ++k) {
      const std::uint32_t i = events[k].data.u32;
      connection& c = conns_[i];
      if (c.state == conn_state::connecting) {
        finish_connect(i);
        continue;
      }
      if ((events[k].events & EPOLLOUT) && c.sent < c.size) write_some(i);
      if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_some(i, done, ctx);
    }
  }

 private:
  void finish_connect(std::uint32_t i) {
    connection& c = conns_[i];
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) fail_errno("SO_ERROR");
    if (err != 0) {
      errno = err;
      fail_errno("connect (connection " + std::to_string(i) + ")");
    }
    set_want_out(i, false);
    start_round(i, c.size, bench::clock::now());
  }

  void set_want_out(std::uint32_t i, bool want) {
    connection& c = conns_[i];
    if (c.want_out == want) return;
    epoll_event ev{};
    ev.data.u32 = i;
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) fail_errno("epoll_ctl MOD");
    c.want_out = want;
  }

  void write_some(std::uint32_t i) {
    connection& c = conns_[i];
    while (c.sent < c.size) {
      const ssize_t n = ::send(c.fd, c.out + c.sent, static_cast<std::size_t>(c.size - c.sent),
                               MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<int>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_want_out(i, true);
        return;
      }
      fail_errno("send (connection " + std::to_string(i) + ")");
    }
    set_want_out(i, false);
  }

  void read_some(std::uint32_t i, round_done_fn done, void* ctx) {
    connection& c = conns_[i];
    unsigned char in[k_max_message];
    for (;;) {
      const ssize_t n = ::recv(c.fd, in, sizeof in, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0) fail_errno("recv (connection " + std::to_string(i) + ")");
      if (n == 0) fail("connection " + std::to_string(i) + ": closed by the server");
      if (c.state != conn_state::in_round || c.received + n > c.sent) {
        fail("connection " + std::to_string(i) + ": the server sent more bytes than it was sent");
      }
      for (ssize_t k = 0; k < n; ++k) {
        if (in[k] != c.out[c.received + k]) {
          char text[160];
          std::snprintf(text, sizeof text,
                        "connection %u: byte %d of message %" PRIu64 " came back as 0x%02x, "
                        "sent 0x%02x",
                        i, c.received + static_cast<int>(k), c.seq, in[k], c.out[c.received + k]);
          fail(text);
        }
      }
      c.received += static_cast<int>(n);
      if (c.received == c.size) {
        c.state = conn_state::idle;
        ++c.seq;
        done(ctx, i, c, bench::clock::now());
        if (c.state != conn_state::in_round) return;  // no new round: nothing more can arrive
      }
    }
  }

  sockaddr_in addr_{};
  int epfd_ = -1;
  std::vector<connection> conns_;
};

/// Opens every connection of `e` with one warm-up round of `size` bytes, at most k_connecting
/// at a time; returns once every warm-up round has come back.
void establish(engine& e, int size) {
  struct progress {
    engine* e;
    std::uint32_t next = 0;  // the next connection to open
    std::uint32_t done = 0;  // connections whose warm-up round came back
  } p{&e};
  const auto on_done = [](void* ctx, std::uint32_t, connection&, bench::clock::time_point) {
    ++static_cast<progress*>(ctx)->done;
  };
  while (p.done < e.size()) {
    while (p.next < e.size() && p.next - p.done < k_connecting) e.open(p.next++, size);
    e.poll_once(on_done, &p);
  }
}

// ---- modes -------------------------------------------------------------------------------------

struct arguments {
  std::string mode;
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 0;
  double seconds = 5.0;
  int message_size = 64;
  long server_pid = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench_echo_client: %s\n"
               "usage: bench_echo_client echo --port P --connections N [--seconds S] "
               "[--message-size B] [--host H]\n"
               "       bench_echo_client idle --port P --connections N --server-pid PID "
               "[--host H]\n",
               why);
  std::exit(2);
}

arguments parse(int argc, char** argv) {
  arguments a;
  if (argc < 2) usage("no mode");
  a.mode = argv[1];
  if (a.mode != "echo" && a.mode != "idle") usage("the mode is echo or idle");
  for (int k = 2; k < argc; k += 2) {
    const std::string key = argv[k];
    if (k + 1 >= argc) usage(("no value after " + key).c_str());
    const char* value = argv[k + 1];
    char* end = nullptr;
    errno = 0;
    const double number = std::strtod(value, &end);
    const bool numeric = end != value && *end == '\0' && errno == 0;
    if (key == "--host") {
      a.host = value;
    } else if (!numeric) {
      usage((key + " needs a number").c_str());
    } else if (key == "--port") {
      a.port = static_cast<int>(number);
    } else if (key == "--connections") {
      a.connections = static_cast<int>(number);
    } else if (key == "--seconds") {
      a.seconds = number;
    } else if (key == "--message-size") {
      a.message_size = static_cast<int>(number);
    } else if (key == "--server-pid") {
      a.server_pid = static_cast<long>(number);
    } else {
      usage(("unknown option " + key).c_str());
    }
  }
  if (a.port < 1 || a.port > 65535) usage("--port must be 1..65535");
  if (a.connections < 1 || a.connections > 1'000'000) usage("--connections must be 1..1000000");
  if (!(a.seconds > 0 && a.seconds <= 3600)) usage("--seconds must be in (0, 3600]");
  if (a.message_size < 1 || a.message_size > k_max_message) usage("--message-size must be 1..1024");
  if (a.mode == "idle" && a.server_pid <= 0) usage("idle needs --server-pid");
  return a;
}

/// Raises the soft RLIMIT_NOFILE so that `fds` descriptors fit.
void raise_fd_limit(int fds) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) fail_errno("getrlimit");
  const auto need = static_cast<rlim_t>(fds) + 64;  // + stdio, epoll, slack
  if (lim.rlim_cur >= need) return;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
    fail("RLIMIT_NOFILE hard limit " + std::to_string(lim.rlim_max) + " is below the " +
         std::to_string(need) + " descriptors needed (raise it, e.g. ulimit -Hn)");
  }
  lim.rlim_cur = need;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) fail_errno("setrlimit RLIMIT_NOFILE");
}

/// The closed-loop measurement. Returns true when every round was right.
bool run_echo(const arguments& a) {
  engine e(a.host, a.port, a.connections);
  const std::string config = std::to_string(a.connections);

  struct window {
    engine* e;
    int size;
    bench::clock::time_point deadline;
    std::vector<std::uint64_t> latencies_ns;  // rounds completed by the deadline
    std::uint32_t finished = 0;               // connections past the deadline and drained
  } w{&e, a.message_size, {}, {}};
  w.latencies_ns.reserve(1 << 20);
  double elapsed_s = 0;
  bench::clock::time_point start;

  const auto report = [&](bool ok) {
    std::vector<std::uint64_t>& v = w.latencies_ns;
    std::sort(v.begin(), v.end());
    const auto rank = [&v](double q) -> double {  // nearest rank, in microseconds
      if (v.empty()) return 0;
      auto k = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
      k = std::clamp<std::size_t>(k, 1, v.size());
      return static_cast<double>(v[k - 1]) / 1e3;
    };
    const double rate = elapsed_s > 0 ? static_cast<double>(v.size()) / elapsed_s : 0;
    bench::report("throughput", rate, "req/s", ok, config.c_str());
    bench::report("p50_latency", rank(0.50), "us", ok, config.c_str());
    bench::report("p99_latency", rank(0.99), "us", ok, config.c_str());
  };

  try {
    establish(e, a.message_size);
    start = bench::clock::now();
    w.deadline = start + std::chrono::duration_cast<bench::clock::duration>(
                             std::chrono::duration<double>(a.seconds));
    for (std::uint32_t i = 0; i < e.size(); ++i) e.start_round(i, a.message_size, start);
    const auto on_done = [](void* ctx, std::uint32_t i, connection& c,
                            bench::clock::time_point now) {
      auto& w = *static_cast<window*>(ctx);
      if (now <= w.deadline) {
        w.latencies_ns.push_back(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.round_start).count()));
        w.e->start_round(i, w.size, now);
      } else {
        ++w.finished;  // this connection's last round; it stays idle
      }
    };
    while (w.finished < e.size()) e.poll_once(on_done, &w);
    elapsed_s = a.seconds;
  } catch (const client_error& err) {
    std::fprintf(stderr, "bench_echo_client: %s\n", err.what());
    if (start != bench::clock::time_point{}) {
      elapsed_s = std::chrono::duration<double>(bench::clock::now() - start).count();
    }
    report(false);
    return false;
  }
  report(true);
  return true;
}

/// The idle-connections measurement. Returns true when every round was right.
bool run_idle(const arguments& a) {
  const std::string status = "/proc/" + std::to_string(a.server_pid) + "/status";
  engine e(a.host, a.port, a.connections);
  long long rss_before = -1;
  long long rss_after = -1;
  double setup_ms = 0;
  const auto report = [&](bool ok) {
    const double per_conn =
        rss_before >= 0 && rss_after >= 0
            ? static_cast<double>(rss_after - rss_before) / a.connections
            : 0;
    bench::report("rss_per_connection", per_conn, "bytes", ok);
    bench::report("setup", setup_ms, "ms", ok);
  };
  try {
    rss_before = bench::vm_rss_bytes(status);
    if (rss_before < 0) fail("cannot read VmRSS from " + status);
    const auto start = bench::clock::now();
    establish(e, 1);
    setup_ms = bench::elapsed_ms(start, bench::clock::now());
    rss_after = bench::vm_rss_bytes(status);
    if (rss_after < 0) fail("cannot read VmRSS from " + status + " (did the server exit?)");

    // Every connection sends one more byte; all N echoes must come back.
    std::uint32_t echoed = 0;
    const auto now = bench::clock::now();
    for (std::uint32_t i = 0; i < e.size(); ++i) e.start_round(i, 1, now);
    const auto on_done = [](void* ctx, std::uint32_t, connection&, bench::clock::time_point) {
      ++*static_cast<std::uint32_t*>(ctx);
    };
    while (echoed < e.size()) e.poll_once(on_done, &echoed);
  } catch (const client_error& err) {
    std::fprintf(stderr, "bench_echo_client: %s\n", err.what());
    report(false);
    return false;
  }
  report(true);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const arguments a = parse(argc, argv);
  try {
    raise_fd_limit(a.connections);
  } catch (const client_error& err) {
    std::fprintf(stderr, "bench_echo_client: %s\n", err.what());
    return 1;
  }
  const bool ok = a.mode == "echo" ? run_echo(a) : run_idle(a);
  return ok ? 0 : 1;
}
