// net/net.cpp — gort::net (gort/net.hpp): sockets on the netpoller.
//
// Every operation follows Go's internal/poll.FD pattern:
//  1. take an operation reference on the netfd (fails once closed: errc::closed);
//  2. check the direction's deadline (expired: errc::timeout);
//  3. try the system call on the non-blocking socket; on EAGAIN wait on the poll descriptor
//     (netpoll.hpp) and try again; other outcomes are returned;
//  4. drop the reference.
//
// Close and reuse safety (Go's fdMutex reduced to what gort needs): `state` packs a closed bit
// and the number of operations in progress. close() sets the bit (one winner), evicts the poll
// descriptor (every waiter wakes and sees `closing`), and whoever brings the count to zero with
// the bit set — close() itself when nothing was in progress, else the last operation — releases
// the poll descriptor and closes the descriptor number. So the number is never closed while an
// operation can still use it, and never used after it was closed. The netfd object itself lives
// until its handle (conn, listener) is destroyed.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "gort/blocking.hpp"
#include "gort/chan.hpp"
#include "gort/error.hpp"
#include "gort/go.hpp"
#include "gort/context.hpp"
#include "gort/net.hpp"
#include "gort/select.hpp"
#include "netpoll/netpoll.hpp"

namespace gort::net {

namespace {

class net_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gort.net"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::eof: return "EOF";
      case errc::closed: return "use of closed network connection";
      case errc::timeout: return "i/o timeout";
    }
    return "unknown gort.net error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    if (static_cast<errc>(ev) == errc::timeout) {
      return std::make_error_condition(std::errc::timed_out);
    }
    return std::error_condition(ev, *this);
  }
};

class resolve_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gort.resolve"; }
  std::string message(int ev) const override { return ::gai_strerror(ev); }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const net_category_impl c;
  return c;
}

const std::error_category& resolve_category() noexcept {
  static const resolve_category_impl c;
  return c;
}

namespace detail {

using gort::detail::io_mode;
using gort::detail::io_wait_result;
using gort::detail::poll_desc;

// One socket (see the file comment).
struct netfd {
  static constexpr std::uint64_t k_closed = std::uint64_t{1} << 63;

  netfd(int fd, int fam, bool unix_listener) : sysfd(fd), family(fam), unlink_on_close(unix_listener) {
    pd = gort::detail::poll_desc_alloc(fd);
  }

  // Step 1. Never increments a closed state: once the bit is set the count only falls, so the
  // party that sees it reach zero is the only one to release. acquire: pairs with decref's
  // release (the previous operation's use of the descriptor).
  bool incref() noexcept {
    std::uint64_t old = state.load(std::memory_order_relaxed);
    do {
      if ((old & k_closed) != 0) return false;
    } while (!state.compare_exchange_weak(old, old + 1, std::memory_order_acquire,
                                          std::memory_order_relaxed));
    return true;
  }

  // Step 4. acq_rel: the last operation's release orders its use of the descriptor before the
  // close below; its acquire sees close()'s eviction.
  void decref() noexcept {
    const std::uint64_t old = state.fetch_sub(1, std::memory_order_acq_rel);
    if (old == (k_closed | 1)) release();
  }

  std::error_code close() {
    // acq_rel: one caller wins the bit; see incref/decref.
    const std::uint64_t old = state.fetch_or(k_closed, std::memory_order_acq_rel);
    if ((old & k_closed) != 0) return errc::closed;
    gort::detail::poll_desc_evict(pd);
    if (old == 0) release();
    return {};
  }

  // The descriptor goes back to the OS: by exactly one party, once no operation is in progress.
  void release() noexcept {
    if (unlink_on_close) {
      sockaddr_un sa{};
      socklen_t len = sizeof sa;
      if (::getsockname(sysfd, reinterpret_cast<sockaddr*>(&sa), &len) == 0 &&
          len > offsetof(sockaddr_un, sun_path) && sa.sun_path[0] != '\0') {
        ::unlink(sa.sun_path);
      }
    }
    gort::detail::poll_desc_free(pd);
    ::close(sysfd);
  }

  const int sysfd;
  const int family;
  const bool unlink_on_close;
  poll_desc* pd = nullptr;
  std::atomic<std::uint64_t> state{0};
};

struct net_access {
  static conn make_conn(netfd* fd) noexcept { return conn(fd); }
  static packet_conn make_packet_conn(netfd* fd) noexcept { return packet_conn(fd); }
  static listener make_listener(netfd* fd) noexcept { return listener(fd); }
};

}  // namespace detail

namespace {

using detail::netfd;
using gort::detail::cancel_node;
using gort::detail::io_mode;
using gort::detail::io_wait_result;

std::error_code sys_error(int e) { return std::error_code(e, std::system_category()); }

cancel_node* node_of(const context* ctx) {
  return ctx == nullptr ? nullptr : gort::detail::context_access::canceller(*ctx);
}

std::error_code ctx_error(cancel_node* c) {
  return c != nullptr && c->error_value() != 0 ? c->error_code() : std::error_code{};
}

std::error_code wait_error(io_wait_result r, cancel_node* c) {
  switch (r) {
    case io_wait_result::ready: return {};
    case io_wait_result::closed: return errc::closed;
    case io_wait_result::timeout: return errc::timeout;
    case io_wait_result::canceled: return c != nullptr ? c->error_code() : errc::closed;
  }
  return errc::closed;
}

// An operation reference (steps 1 and 4).
class op_ref {
 public:
  explicit op_ref(netfd* fd) : fd_(fd) {
    if (fd == nullptr) throw std::logic_error("gort::net: operation on an empty connection");
    ok_ = fd->incref();
  }
  ~op_ref() {
    if (ok_) fd_->decref();
  }
  op_ref(const op_ref&) = delete;
  op_ref& operator=(const op_ref&) = delete;
  explicit operator bool() const noexcept { return ok_; }

 private:
  netfd* fd_;
  bool ok_ = false;
};

// Step 2 and the wait of step 3.
std::error_code wait_io(netfd* fd, io_mode mode, cancel_node* c) {
  return wait_error(gort::detail::poll_desc_wait(fd->pd, mode, c), c);
}

io_result do_read(netfd* fd, cancel_node* c, void* buf, std::size_t size) {
  op_ref ref(fd);
  if (!ref) return {0, errc::closed};
  if (std::error_code e = ctx_error(c)) return {0, e};
  if (size == 0) return {};
  if (gort::detail::poll_desc_expired(fd->pd, io_mode::read)) return {0, errc::timeout};
  for (;;) {
    const ssize_t k = ::read(fd->sysfd, buf, size);
    if (k > 0) return {static_cast<std::size_t>(k), {}};
    if (k == 0) return {0, errc::eof};
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {0, sys_error(errno)};
    if (std::error_code e = wait_io(fd, io_mode::read, c)) return {0, e};
  }
}

io_result do_write(netfd* fd, cancel_node* c, const void* buf, std::size_t size) {
  op_ref ref(fd);
  if (!ref) return {0, errc::closed};
  if (std::error_code e = ctx_error(c)) return {0, e};
  if (gort::detail::poll_desc_expired(fd->pd, io_mode::write)) return {0, errc::timeout};
  std::size_t done = 0;
  while (done < size) {
    // send with MSG_NOSIGNAL: a peer that went away is EPIPE, never SIGPIPE.
    const ssize_t k = ::send(fd->sysfd, static_cast<const char*>(buf) + done, size - done,
                             MSG_NOSIGNAL);
    if (k >= 0) {
      done += static_cast<std::size_t>(k);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {done, sys_error(errno)};
    if (std::error_code e = wait_io(fd, io_mode::write, c)) return {done, e};
  }
  return {done, {}};
}

io_result do_read_full(netfd* fd, cancel_node* c, void* buf, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    io_result r = do_read(fd, c, static_cast<char*>(buf) + got, size - got);
    got += r.n;
    if (r.err) return {got, r.err};  // Go's ReadFull: EOF stays EOF (ErrUnexpectedEOF aside)
  }
  return {got, {}};
}

std::string format_address(const sockaddr* sa, socklen_t len) {
  char host[INET6_ADDRSTRLEN] = {};
  switch (sa->sa_family) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
      ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
      if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        ::inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in6->sin6_port));
      }
      ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
      return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
      if (len <= static_cast<socklen_t>(offsetof(sockaddr_un, sun_path))) return "";
      return std::string(un->sun_path,
                         ::strnlen(un->sun_path, len - offsetof(sockaddr_un, sun_path)));
    }
    default: return "";
  }
}

std::string sock_address(const netfd* fd, bool peer) {
  if (fd == nullptr) throw std::logic_error("gort::net: address of an empty object");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int r = peer ? ::getpeername(fd->sysfd, reinterpret_cast<sockaddr*>(&ss), &len)
                     : ::getsockname(fd->sysfd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return "";
  return format_address(reinterpret_cast<sockaddr*>(&ss), len);
}

std::error_code set_deadline_of(netfd* fd, clock::time_point t, bool rd, bool wr) {
  op_ref ref(fd);
  if (!ref) return errc::closed;
  const std::int64_t ns = t == no_deadline ? gort::detail::k_no_deadline : gort::detail::to_ns(t);
  if (rd) gort::detail::poll_desc_set_deadline(fd->pd, io_mode::read, ns);
  if (wr) gort::detail::poll_desc_set_deadline(fd->pd, io_mode::write, ns);
  return {};
}

// ---- addresses ---------------------------------------------------------------------------------

struct endpoint {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const { return ss.ss_family; }
};

enum class net_kind { tcp, tcp4, tcp6, unix_stream };

// The stream networks; `udp` maps the datagram ones onto the same address families.
bool parse_network(std::string_view n, net_kind& k, bool* datagram = nullptr) {
  bool dgram = false;
  if (n == "tcp") k = net_kind::tcp;
  else if (n == "tcp4") k = net_kind::tcp4;
  else if (n == "tcp6") k = net_kind::tcp6;
  else if (n == "unix") k = net_kind::unix_stream;
  else if (datagram != nullptr && n == "udp") k = net_kind::tcp, dgram = true;
  else if (datagram != nullptr && n == "udp4") k = net_kind::tcp4, dgram = true;
  else if (datagram != nullptr && n == "udp6") k = net_kind::tcp6, dgram = true;
  else return false;
  if (datagram != nullptr) *datagram = dgram;
  return true;
}

// EINVAL-like failures of an address given by the caller.
std::error_code bad_address() { return sys_error(EINVAL); }

// Splits "host:port" / "[host]:port".
bool split_host_port(std::string_view a, std::string& host, std::string& port) {
  if (!a.empty() && a.front() == '[') {
    const std::size_t close = a.find(']');
    if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':') {
      return false;
    }
    host = std::string(a.substr(1, close - 1));
    port = std::string(a.substr(close + 2));
  } else {
    const std::size_t colon = a.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = std::string(a.substr(0, colon));
    if (host.find(':') != std::string::npos) return false;  // an IPv6 literal needs brackets
    port = std::string(a.substr(colon + 1));
  }
  if (port.empty() || port.size() > 5) return false;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return false;
  }
  return std::stoi(port) <= 65535;
}

// Numeric host (or empty) without resolution; false when it is a name.
bool numeric_endpoints(const std::string& host, std::uint16_t port, net_kind k, bool listening,
                       std::vector<endpoint>& out) {
  endpoint e;
  if (host.empty()) {
    // Every interface to listen on; the local host to dial (Go's behaviour for ":port").
    if (k != net_kind::tcp4) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&e.ss);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(port);
      in6->sin6_addr = listening ? in6addr_any : in6addr_loopback;
      e.len = sizeof(sockaddr_in6);
      out.push_back(e);
    }
    if (k != net_kind::tcp6) {
      endpoint e4;
      auto* in = reinterpret_cast<sockaddr_in*>(&e4.ss);
      in->sin_family = AF_INET;
      in->sin_port = htons(port);
      in->sin_addr.s_addr = htonl(listening ? INADDR_ANY : INADDR_LOOPBACK);
      e4.len = sizeof(sockaddr_in);
      out.push_back(e4);
    }
    return true;
  }
  in_addr a4{};
  in6_addr a6{};
  if (k != net_kind::tcp6 && ::inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    auto* in = reinterpret_cast<sockaddr_in*>(&e.ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr = a4;
    e.len = sizeof(sockaddr_in);
    out.push_back(e);
    return true;
  }
  if (k != net_kind::tcp4 && ::inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&e.ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = a6;
    e.len = sizeof(sockaddr_in6);
    out.push_back(e);
    return true;
  }
  return false;
}

// getaddrinfo (it may block for seconds) in a goroutine of its own, inside gort::blocking so that
// its processor goes on without it (Go's cgo resolver does the same: a goroutine in a cgo call,
// selected on with the context). The caller parks on a channel, and gives up when `c` is done
// (the goroutine then finishes alone and its answer is dropped).
struct resolution {
  std::vector<endpoint> endpoints;
  int status = 0;
};

std::error_code resolve_host(cancel_node* c, const std::string& host, std::uint16_t port,
                             net_kind k, std::vector<endpoint>& out) {
  auto res = std::make_shared<resolution>();
  chan<int> finished(1);
  const int family = k == net_kind::tcp4 ? AF_INET : k == net_kind::tcp6 ? AF_INET6 : AF_UNSPEC;
  try {
    gort::go([res, finished, host, port, family]() mutable {
      addrinfo hints{};
      hints.ai_family = family;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* list = nullptr;
      res->status =
          gort::blocking([&] { return ::getaddrinfo(host.c_str(), nullptr, &hints, &list); });
      if (res->status == 0) {
        for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
          endpoint e;
          if (ai->ai_addrlen > sizeof e.ss) continue;
          std::memcpy(&e.ss, ai->ai_addr, ai->ai_addrlen);
          e.len = ai->ai_addrlen;
          if (e.family() == AF_INET) {
            reinterpret_cast<sockaddr_in*>(&e.ss)->sin_port = htons(port);
          } else if (e.family() == AF_INET6) {
            reinterpret_cast<sockaddr_in6*>(&e.ss)->sin6_port = htons(port);
          } else {
            continue;
          }
          res->endpoints.push_back(e);
        }
        ::freeaddrinfo(list);
      }
      (void)finished.try_send(1);  // the channel has room: never blocks
    });
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  } catch (const gort::shutdown_error&) {
    return std::make_error_code(std::errc::operation_canceled);  // a plain thread at shutdown
  }
  bool got = false;
  if (c == nullptr) {
    got = finished.recv().has_value();
  } else {
    gort::select(gort::recv(finished, [&](std::optional<int>) { got = true; }),
                 gort::recv(c->done(), [&](auto) {}));
  }
  if (!got) return c->error_code();
  if (res->status != 0) return std::error_code(res->status, resolve_category());
  if (res->endpoints.empty()) return std::error_code(EAI_NONAME, resolve_category());
  out = std::move(res->endpoints);
  return {};
}

std::error_code resolve(cancel_node* c, net_kind k, std::string_view address, bool listening,
                        std::vector<endpoint>& out) {
  if (k == net_kind::unix_stream) {
    endpoint e;
    auto* un = reinterpret_cast<sockaddr_un*>(&e.ss);
    if (address.empty() || address.size() >= sizeof un->sun_path) return bad_address();
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, address.data(), address.size());
    e.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + 1);
    out.push_back(e);
    return {};
  }
  std::string host, port;
  if (!split_host_port(address, host, port)) return bad_address();
  const auto p = static_cast<std::uint16_t>(std::stoi(port));
  if (numeric_endpoints(host, p, k, listening, out)) return {};
  return resolve_host(c, host, p, k, out);
}

int new_socket(int family, int type = SOCK_STREAM) {
  return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

void tcp_defaults(int fd, int family) {
  if (family == AF_INET || family == AF_INET6) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Go's default
  }
}

netfd* adopt(int fd, int family, bool unix_listener) {
  try {
    return new netfd(fd, family, unix_listener);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

result<listener> listen_on(const endpoint& e, net_kind k) {
  const int fd = new_socket(e.family());
  if (fd < 0) return {listener(), sys_error(errno)};
  const int one = 1;
  if (e.family() != AF_UNIX) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (e.family() == AF_INET6) {
    // "tcp" on the IPv6 wildcard also takes IPv4 (dual stack); "tcp6" only IPv6.
    const int v6only = k == net_kind::tcp6 ? 1 : 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&e.ss), e.len) != 0 ||
      ::listen(fd, 4096) != 0) {  // the kernel caps the backlog at net.core.somaxconn
    const int err = errno;
    ::close(fd);
    return {listener(), sys_error(err)};
  }
  return {detail::net_access::make_listener(adopt(fd, e.family(), e.family() == AF_UNIX)), {}};
}

result<conn> dial_one(cancel_node* c, const endpoint& e) {
  const int fd = new_socket(e.family());
  if (fd < 0) return {conn(), sys_error(errno)};
  netfd* nfd = adopt(fd, e.family(), false);
  conn cn = detail::net_access::make_conn(nfd);
  int r;
  do {
    r = ::connect(fd, reinterpret_cast<const sockaddr*>(&e.ss), e.len);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return {conn(), sys_error(errno)};
    // Go's connect: wait writable, then SO_ERROR says how it went (a spurious wake reads 0 with
    // the connection still in progress: wait again).
    for (;;) {
      if (std::error_code we = wait_io(nfd, io_mode::write, c)) return {conn(), we};
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
      if (soerr == 0) {
        sockaddr_storage peer{};
        socklen_t plen = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) break;
        continue;  // not connected yet
      }
      if (soerr != EINPROGRESS && soerr != EALREADY && soerr != EINTR) {
        return {conn(), sys_error(soerr)};
      }
    }
  }
  tcp_defaults(fd, e.family());
  return {std::move(cn), {}};
}

result<conn> dial_impl(cancel_node* c, std::string_view network, std::string_view address) {
  net_kind k;
  if (!parse_network(network, k)) return {conn(), sys_error(EAFNOSUPPORT)};
  if (std::error_code e = ctx_error(c)) return {conn(), e};
  std::vector<endpoint> eps;
  if (std::error_code e = resolve(c, k, address, false, eps)) return {conn(), e};
  std::error_code first;
  for (const endpoint& e : eps) {
    result<conn> r = dial_one(c, e);
    if (!r.err) return r;
    if (!first) first = r.err;
    if (ctx_error(c)) return {conn(), ctx_error(c)};
  }
  return {conn(), first};
}

}  // namespace

// ---- conn ------------------------------------------------------------------------------------

conn& conn::operator=(conn&& o) noexcept {
  if (this != &o) {
    conn old(std::exchange(fd_, std::exchange(o.fd_, nullptr)));
  }
  return *this;
}

conn::~conn() {
  if (fd_ == nullptr) return;
  (void)fd_->close();
  delete fd_;
}

io_result conn::read(void* buf, std::size_t size) { return do_read(fd_, nullptr, buf, size); }
io_result conn::read(const context& ctx, void* buf, std::size_t size) {
  return do_read(fd_, node_of(&ctx), buf, size);
}
io_result conn::read_full(void* buf, std::size_t size) {
  return do_read_full(fd_, nullptr, buf, size);
}
io_result conn::read_full(const context& ctx, void* buf, std::size_t size) {
  return do_read_full(fd_, node_of(&ctx), buf, size);
}
io_result conn::write(const void* buf, std::size_t size) {
  return do_write(fd_, nullptr, buf, size);
}
io_result conn::write(const context& ctx, const void* buf, std::size_t size) {
  return do_write(fd_, node_of(&ctx), buf, size);
}

std::error_code conn::close() {
  if (fd_ == nullptr) throw std::logic_error("gort::net: close of an empty connection");
  return fd_->close();
}

namespace {
std::error_code shutdown_side(netfd* fd, int how) {
  op_ref ref(fd);
  if (!ref) return errc::closed;
  if (::shutdown(fd->sysfd, how) != 0) return sys_error(errno);
  return {};
}
}  // namespace

std::error_code conn::close_read() { return shutdown_side(fd_, SHUT_RD); }
std::error_code conn::close_write() { return shutdown_side(fd_, SHUT_WR); }

std::string conn::local_address() const { return sock_address(fd_, false); }
std::string conn::remote_address() const { return sock_address(fd_, true); }

std::error_code conn::set_no_delay(bool on) {
  op_ref ref(fd_);
  if (!ref) return errc::closed;
  const int v = on ? 1 : 0;
  if (::setsockopt(fd_->sysfd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
    return sys_error(errno);
  }
  return {};
}

std::error_code conn::set_keep_alive(bool on, std::chrono::seconds period) {
  op_ref ref(fd_);
  if (!ref) return errc::closed;
  const int v = on ? 1 : 0;
  if (::setsockopt(fd_->sysfd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) != 0) {
    return sys_error(errno);
  }
  if (on) {
    const int secs = static_cast<int>(std::max<std::int64_t>(1, period.count()));
    if (::setsockopt(fd_->sysfd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs) != 0 ||
        ::setsockopt(fd_->sysfd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof secs) != 0) {
      return sys_error(errno);
    }
  }
  return {};
}

std::error_code conn::set_deadline(clock::time_point t) {
  return set_deadline_of(fd_, t, true, true);
}
std::error_code conn::set_read_deadline(clock::time_point t) {
  return set_deadline_of(fd_, t, true, false);
}
std::error_code conn::set_write_deadline(clock::time_point t) {
  return set_deadline_of(fd_, t, false, true);
}

std::error_code conn::wait_readable(const context* ctx) {
  op_ref ref(fd_);
  if (!ref) return errc::closed;
  return wait_io(fd_, io_mode::read, node_of(ctx));
}

std::error_code conn::wait_writable(const context* ctx) {
  op_ref ref(fd_);
  if (!ref) return errc::closed;
  return wait_io(fd_, io_mode::write, node_of(ctx));
}

int conn::native_handle() const noexcept { return fd_ == nullptr ? -1 : fd_->sysfd; }

// ---- listener --------------------------------------------------------------------------------

listener& listener::operator=(listener&& o) noexcept {
  if (this != &o) {
    listener old(std::exchange(fd_, std::exchange(o.fd_, nullptr)));
  }
  return *this;
}

listener::~listener() {
  if (fd_ == nullptr) return;
  (void)fd_->close();
  delete fd_;
}

namespace {

result<conn> do_accept(netfd* fd, cancel_node* c) {
  op_ref ref(fd);
  if (!ref) return {conn(), errc::closed};
  if (std::error_code e = ctx_error(c)) return {conn(), e};
  if (gort::detail::poll_desc_expired(fd->pd, io_mode::read)) return {conn(), errc::timeout};
  for (;;) {
    const int nfd = ::accept4(fd->sysfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (nfd >= 0) {
      tcp_defaults(nfd, fd->family);
      return {detail::net_access::make_conn(adopt(nfd, fd->family, false)), {}};
    }
    // A connection reset while queued is not the listener's failure (Go's accept retries).
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN) return {conn(), sys_error(errno)};
    if (std::error_code e = wait_io(fd, io_mode::read, c)) return {conn(), e};
  }
}

}  // namespace

result<conn> listener::accept() { return do_accept(fd_, nullptr); }
result<conn> listener::accept(const context& ctx) { return do_accept(fd_, node_of(&ctx)); }

std::error_code listener::close() {
  if (fd_ == nullptr) throw std::logic_error("gort::net: close of an empty listener");
  return fd_->close();
}

std::string listener::address() const { return sock_address(fd_, false); }

std::error_code listener::set_deadline(clock::time_point t) {
  return set_deadline_of(fd_, t, true, false);
}

int listener::native_handle() const noexcept { return fd_ == nullptr ? -1 : fd_->sysfd; }

// ---- packet_conn ------------------------------------------------------------------------------

packet_conn& packet_conn::operator=(packet_conn&& o) noexcept {
  if (this != &o) {
    packet_conn old(std::exchange(fd_, std::exchange(o.fd_, nullptr)));
  }
  return *this;
}

packet_conn::~packet_conn() {
  if (fd_ == nullptr) return;
  (void)fd_->close();
  delete fd_;
}

namespace {

packet_result do_read_from(netfd* fd, cancel_node* c, void* buf, std::size_t size) {
  op_ref ref(fd);
  if (!ref) return {0, {}, errc::closed};
  if (std::error_code e = ctx_error(c)) return {0, {}, e};
  if (gort::detail::poll_desc_expired(fd->pd, io_mode::read)) return {0, {}, errc::timeout};
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t k = ::recvfrom(fd->sysfd, buf, size, 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (k >= 0) {
      return {static_cast<std::size_t>(k), format_address(reinterpret_cast<sockaddr*>(&ss), len),
              {}};
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {0, {}, sys_error(errno)};
    if (std::error_code e = wait_io(fd, io_mode::read, c)) return {0, {}, e};
  }
}

io_result do_write_to(netfd* fd, cancel_node* c, const void* buf, std::size_t size,
                      std::string_view address) {
  op_ref ref(fd);
  if (!ref) return {0, errc::closed};
  if (std::error_code e = ctx_error(c)) return {0, e};
  if (gort::detail::poll_desc_expired(fd->pd, io_mode::write)) return {0, errc::timeout};
  std::string host, port;
  std::vector<endpoint> eps;
  if (!split_host_port(address, host, port) ||
      !numeric_endpoints(host, static_cast<std::uint16_t>(std::stoi(port)), net_kind::tcp, false,
                         eps)) {
    return {0, bad_address()};
  }
  endpoint to = eps.front();
  if (fd->family == AF_INET6 && to.family() == AF_INET) {
    // A dual-stack socket reaches an IPv4 peer through its v4-mapped IPv6 address.
    const auto in = *reinterpret_cast<const sockaddr_in*>(&to.ss);
    endpoint m;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&m.ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = in.sin_port;
    in6->sin6_addr.s6_addr[10] = 0xff;
    in6->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&in6->sin6_addr.s6_addr[12], &in.sin_addr, 4);
    m.len = sizeof(sockaddr_in6);
    to = m;
  }
  for (;;) {
    const ssize_t k = ::sendto(fd->sysfd, buf, size, MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&to.ss), to.len);
    if (k >= 0) return {static_cast<std::size_t>(k), {}};
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {0, sys_error(errno)};
    if (std::error_code e = wait_io(fd, io_mode::write, c)) return {0, e};
  }
}

}  // namespace

packet_result packet_conn::read_from(void* buf, std::size_t size) {
  return do_read_from(fd_, nullptr, buf, size);
}
packet_result packet_conn::read_from(const context& ctx, void* buf, std::size_t size) {
  return do_read_from(fd_, node_of(&ctx), buf, size);
}
io_result packet_conn::write_to(const void* buf, std::size_t size, std::string_view address) {
  return do_write_to(fd_, nullptr, buf, size, address);
}
io_result packet_conn::write_to(const context& ctx, const void* buf, std::size_t size,
                                std::string_view address) {
  return do_write_to(fd_, node_of(&ctx), buf, size, address);
}

std::error_code packet_conn::close() {
  if (fd_ == nullptr) throw std::logic_error("gort::net: close of an empty packet_conn");
  return fd_->close();
}
std::string packet_conn::local_address() const { return sock_address(fd_, false); }
std::error_code packet_conn::set_deadline(clock::time_point t) {
  return set_deadline_of(fd_, t, true, true);
}
std::error_code packet_conn::set_read_deadline(clock::time_point t) {
  return set_deadline_of(fd_, t, true, false);
}
std::error_code packet_conn::set_write_deadline(clock::time_point t) {
  return set_deadline_of(fd_, t, false, true);
}
int packet_conn::native_handle() const noexcept { return fd_ == nullptr ? -1 : fd_->sysfd; }

result<packet_conn> listen_packet(std::string_view network, std::string_view address) {
  net_kind k;
  bool datagram = false;
  if (!parse_network(network, k, &datagram) || !datagram) {
    return {packet_conn(), sys_error(EAFNOSUPPORT)};
  }
  std::vector<endpoint> eps;
  if (std::error_code e = resolve(nullptr, k, address, true, eps)) return {packet_conn(), e};
  std::error_code first;
  for (const endpoint& e : eps) {
    const int fd = new_socket(e.family(), SOCK_DGRAM);
    if (fd < 0) return {packet_conn(), sys_error(errno)};
    if (e.family() == AF_INET6) {
      const int v6only = k == net_kind::tcp6 ? 1 : 0;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&e.ss), e.len) != 0) {
      if (!first) first = sys_error(errno);
      ::close(fd);
      continue;
    }
    return {detail::net_access::make_packet_conn(adopt(fd, e.family(), false)), {}};
  }
  return {packet_conn(), first};
}

// ---- listen, dial ----------------------------------------------------------------------------

result<listener> listen(std::string_view network, std::string_view address) {
  net_kind k;
  if (!parse_network(network, k)) return {listener(), sys_error(EAFNOSUPPORT)};
  std::vector<endpoint> eps;
  if (std::error_code e = resolve(nullptr, k, address, true, eps)) return {listener(), e};
  std::error_code first;
  for (const endpoint& e : eps) {
    result<listener> r = listen_on(e, k);
    if (!r.err) return r;
    if (!first) first = r.err;
  }
  return {listener(), first};
}

result<conn> dial(std::string_view network, std::string_view address) {
  return dial_impl(nullptr, network, address);
}

result<conn> dial(const context& ctx, std::string_view network, std::string_view address) {
  return dial_impl(node_of(&ctx), network, address);
}

}  // namespace gort::net

namespace gort {

namespace {

// A one-off registration of a descriptor gort does not own (see gort/net.hpp). A descriptor
// already registered with the runtime's epoll (EEXIST, e.g. waited on for both directions at
// once) is waited on through a duplicate, which has its own registration.
std::error_code wait_foreign(int fd, detail::io_mode mode, const context* ctx) {
  if (fd < 0) return std::error_code(EBADF, std::system_category());
  detail::cancel_node* c =
      ctx == nullptr ? nullptr : detail::context_access::canceller(*ctx);
  if (c != nullptr && c->error_value() != 0) return c->error_code();
  // A descriptor that cannot be polled (a regular file: EPERM) or is registered already (EEXIST)
  // makes poll_desc_wait throw before it waits.
  auto wait_on = [&](int which, detail::io_wait_result& r) -> std::error_code {
    detail::poll_desc* pd = detail::poll_desc_alloc(which);
    try {
      r = detail::poll_desc_wait(pd, mode, c);
    } catch (const std::system_error& e) {
      detail::poll_desc_free(pd);
      return e.code();
    }
    detail::poll_desc_free(pd);
    return {};
  };
  detail::io_wait_result r = detail::io_wait_result::ready;
  std::error_code err = wait_on(fd, r);
  if (err == std::errc::file_exists) {
    const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return std::error_code(errno, std::system_category());
    err = wait_on(dup, r);
    ::close(dup);
  }
  if (err) return err;
  switch (r) {
    case detail::io_wait_result::ready: return {};
    case detail::io_wait_result::canceled: return c->error_code();
    default: return net::errc::closed;
  }
}

}  // namespace

std::error_code wait_readable(int fd) { return wait_foreign(fd, detail::io_mode::read, nullptr); }
std::error_code wait_readable(int fd, const context& ctx) {
  return wait_foreign(fd, detail::io_mode::read, &ctx);
}
std::error_code wait_writable(int fd) { return wait_foreign(fd, detail::io_mode::write, nullptr); }
std::error_code wait_writable(int fd, const context& ctx) {
  return wait_foreign(fd, detail::io_mode::write, &ctx);
}

}  // namespace gort
