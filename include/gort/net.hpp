// gort/net.hpp — sockets for goroutines: Go's net package in C++ conventions.
//
//   auto [ln, err] = gort::net::listen("tcp", "127.0.0.1:7000");
//   for (;;) {
//     auto [c, aerr] = ln.accept();
//     if (aerr) break;
//     gort::go([c = std::move(c)]() mutable {
//       char buf[512];
//       for (;;) {
//         auto r = c.read(buf, sizeof buf);
//         if (r.n > 0 && c.write(buf, r.n).err) return;
//         if (r.err) return;                     // net::errc::eof when the peer closed
//       }
//     });
//   }
//
// Every socket is non-blocking underneath; an operation that would block parks the calling
// goroutine on the runtime's netpoller (docs/design.md, "The netpoller") and its processor runs
// other goroutines meanwhile. A plain OS thread may call everything here too: it blocks its
// thread (and starts the implicit runtime if none runs, as gort::go does).
//
// Errors are values (std::error_code), as in Go:
//   net::errc::eof       the peer closed its side (read; read_full before the buffer filled)
//   net::errc::closed    "use of closed network connection": the object was closed, also while
//                        the operation waited (close wakes every goroutine blocked on it)
//   net::errc::timeout   "i/o timeout": a deadline passed (== std::errc::timed_out)
//   a context's err()    the context given to the operation is done (gort::errc::canceled, …)
//   system errors        std::system_category(): ECONNRESET (== std::errc::connection_reset),
//                        ECONNREFUSED, EADDRINUSE, EPIPE, EMFILE, name resolution failures
//                        (net::resolve_category()), …
// Exceptions only for misuse: std::logic_error for an operation on an empty (default-constructed
// or moved-from) object. An unknown network or a malformed address is an error value, as in Go
// ("unknown network", "missing port in address"): EAFNOSUPPORT, EINVAL.
//
// Deadlines (Go's SetDeadline): an absolute time on gort::clock. A deadline in the past makes
// pending and later operations fail with net::errc::timeout; moving it later (or clearing it with
// no_deadline) lets later operations wait again, and a pending one keeps waiting under the new
// deadline. Deadlines run on the runtime's timers: nothing is armed until an operation waits.
//
// Close and reuse safety: close() marks the object closed, wakes every waiter, and the file
// descriptor number is released to the OS only when the last operation in progress on it has
// returned (Go's fdMutex reference count) — no operation ever reads or writes a descriptor number
// that the OS has handed out again. Objects are move-only handles and close when destroyed; an
// object must outlive the operations running on it (as any C++ object), but close() may be called
// from any goroutine or thread while others are blocked in it.
//
// Memory ordering: a successful write() happens-before the peer's read() that returns its bytes
// only in the sense the kernel gives; gort adds no ordering of its own between goroutines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "gort/detail/std_parts.hpp"
#include "gort/time.hpp"

namespace gort {

class context;  // gort/context.hpp

namespace net {

/// The outcomes Go's net package names (category net::net_category(), "gort.net").
enum class errc : int {
  eof = 1,      // "EOF"
  closed = 2,   // "use of closed network connection"
  timeout = 3,  // "i/o timeout"; equivalent to std::errc::timed_out
};

/// The "gort.net" error category. Any thread.
const std::error_category& net_category() noexcept;
/// Name-resolution errors (getaddrinfo's EAI_* codes, category "gort.resolve"). Any thread.
const std::error_category& resolve_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return std::error_code(static_cast<int>(e), net_category());
}

}  // namespace net
}  // namespace gort

template <>
struct std::is_error_code_enum<gort::net::errc> : std::true_type {};

namespace gort {
namespace net {

namespace detail {
struct netfd;       // src/net/net.cpp
struct net_access;  // src/net/net.cpp
}  // namespace detail

/// The deadline value that means "none" (Go's zero time.Time).
inline constexpr clock::time_point no_deadline = clock::time_point::max();

/// What a read or write did: `n` bytes moved, then `err` (empty when it completed). A read may
/// return n > 0 with no error and fewer bytes than asked; write and read_full report an error
/// whenever they moved fewer bytes than asked.
struct io_result {
  std::size_t n = 0;
  std::error_code err;
  explicit operator bool() const noexcept { return !err; }
};

/// A value or the error that prevented it (Go's (T, error) pair); structured bindings give both.
template <class T>
struct result {
  T value;
  std::error_code err;
  explicit operator bool() const noexcept { return !err; }
};

/// A stream connection (TCP or Unix). Move-only; closes when destroyed.
class conn {
 public:
  conn() noexcept = default;
  conn(conn&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}
  conn& operator=(conn&& o) noexcept;
  conn(const conn&) = delete;
  conn& operator=(const conn&) = delete;
  ~conn();

  /// False for an empty (default-constructed or moved-from) object.
  explicit operator bool() const noexcept { return fd_ != nullptr; }

  /// Reads up to `size` bytes; parks until at least one byte, EOF, an error, the read deadline
  /// or `ctx`. size 0 returns at once.
  [[nodiscard]] io_result read(void* buf, std::size_t size);
  [[nodiscard]] io_result read(const context& ctx, void* buf, std::size_t size);
  /// Reads exactly `size` bytes, or reports how many it got and why it stopped (Go's
  /// io.ReadFull: eof when nothing arrived, the same code after a partial read).
  [[nodiscard]] io_result read_full(void* buf, std::size_t size);
  [[nodiscard]] io_result read_full(const context& ctx, void* buf, std::size_t size);
  /// Writes all `size` bytes, or reports how many were written and why it stopped.
  [[nodiscard]] io_result write(const void* buf, std::size_t size);
  [[nodiscard]] io_result write(const context& ctx, const void* buf, std::size_t size);
  [[nodiscard]] io_result write(std::string_view s) { return write(s.data(), s.size()); }

  /// Closes: every goroutine blocked in this connection returns errc::closed, later calls too.
  /// Returns errc::closed when it was closed already.
  std::error_code close();
  /// Shuts the reading side down (later reads return eof).
  std::error_code close_read();
  /// Shuts the writing side down: the peer reads eof once it has read what was written.
  std::error_code close_write();

  /// "ip:port" ("[ip6]:port"), or the socket path for a Unix socket ("" when unnamed).
  [[nodiscard]] std::string local_address() const;
  [[nodiscard]] std::string remote_address() const;

  /// TCP_NODELAY (on by default for TCP connections, as in Go). errc::closed after close.
  std::error_code set_no_delay(bool on = true);
  /// SO_KEEPALIVE, with `period` as the idle time and probe interval when on.
  std::error_code set_keep_alive(bool on, std::chrono::seconds period = std::chrono::seconds(15));

  /// Go's SetDeadline / SetReadDeadline / SetWriteDeadline (see the file comment).
  std::error_code set_deadline(clock::time_point t);
  std::error_code set_read_deadline(clock::time_point t);
  std::error_code set_write_deadline(clock::time_point t);

  /// Parks until the connection is readable / writable (for a library that does its own reads
  /// and writes on native_handle(), such as a TLS engine). ready: {}; else the error as above.
  std::error_code wait_readable(const context* ctx = nullptr);
  std::error_code wait_writable(const context* ctx = nullptr);

  /// The socket's descriptor, -1 for an empty object. Valid until close(); do not close it.
  [[nodiscard]] int native_handle() const noexcept;

 private:
  friend struct detail::net_access;
  explicit conn(detail::netfd* fd) noexcept : fd_(fd) {}
  detail::netfd* fd_ = nullptr;
};

/// A stream listener. Move-only; closes when destroyed (a Unix listener removes its socket file).
class listener {
 public:
  listener() noexcept = default;
  listener(listener&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}
  listener& operator=(listener&& o) noexcept;
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener();

  explicit operator bool() const noexcept { return fd_ != nullptr; }

  /// Parks until a connection arrives, the deadline passes, `ctx` is done or the listener is
  /// closed. Out of descriptors (EMFILE, ENFILE), it returns that error and keeps listening: the
  /// connection stays queued and a later accept takes it once descriptors are free.
  [[nodiscard]] result<conn> accept();
  [[nodiscard]] result<conn> accept(const context& ctx);

  /// Closes: goroutines blocked in accept return errc::closed.
  std::error_code close();
  /// The address it listens on ("127.0.0.1:41234" after listening on port 0).
  [[nodiscard]] std::string address() const;
  /// Go's TCPListener.SetDeadline: for accept.
  std::error_code set_deadline(clock::time_point t);
  [[nodiscard]] int native_handle() const noexcept;

 private:
  friend struct detail::net_access;
  explicit listener(detail::netfd* fd) noexcept : fd_(fd) {}
  detail::netfd* fd_ = nullptr;
};

/// What read_from did: `n` bytes of one datagram from `from` ("ip:port"), or `err`.
struct packet_result {
  std::size_t n = 0;
  std::string from;
  std::error_code err;
  explicit operator bool() const noexcept { return !err; }
};

/// A datagram socket (UDP). Move-only; closes when destroyed. Go's net.PacketConn.
class packet_conn {
 public:
  packet_conn() noexcept = default;
  packet_conn(packet_conn&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}
  packet_conn& operator=(packet_conn&& o) noexcept;
  packet_conn(const packet_conn&) = delete;
  packet_conn& operator=(const packet_conn&) = delete;
  ~packet_conn();

  explicit operator bool() const noexcept { return fd_ != nullptr; }

  /// Receives one datagram (truncated to `size` bytes, as recvfrom does); parks until one
  /// arrives, the read deadline passes, `ctx` is done or the socket is closed.
  [[nodiscard]] packet_result read_from(void* buf, std::size_t size);
  [[nodiscard]] packet_result read_from(const context& ctx, void* buf, std::size_t size);
  /// Sends one datagram to `address` ("ip:port"; a numeric address: no name resolution here).
  [[nodiscard]] io_result write_to(const void* buf, std::size_t size, std::string_view address);
  [[nodiscard]] io_result write_to(const context& ctx, const void* buf, std::size_t size,
                                   std::string_view address);

  std::error_code close();
  [[nodiscard]] std::string local_address() const;
  std::error_code set_deadline(clock::time_point t);
  std::error_code set_read_deadline(clock::time_point t);
  std::error_code set_write_deadline(clock::time_point t);
  [[nodiscard]] int native_handle() const noexcept;

 private:
  friend struct detail::net_access;
  explicit packet_conn(detail::netfd* fd) noexcept : fd_(fd) {}
  detail::netfd* fd_ = nullptr;
};

/// Opens a datagram socket bound to `address` for network "udp", "udp4" or "udp6" (as listen's
/// addresses; port 0 picks one). Go's net.ListenPacket.
[[nodiscard]] result<packet_conn> listen_packet(std::string_view network, std::string_view address);

/// Listens on `address` for network "tcp" (IPv4 and IPv6; an empty host means every interface),
/// "tcp4", "tcp6" ("host:port", "[ip6]:port", ":port"; port 0 picks a free one) or "unix" (a
/// socket path; the file must not exist). Host names are resolved in a goroutine
/// inside gort::blocking.
[[nodiscard]] result<listener> listen(std::string_view network, std::string_view address);

/// Connects to `address` (as for listen; each resolved address in turn until one accepts).
/// Name resolution (getaddrinfo) runs in a goroutine inside gort::blocking, so it holds a thread
/// but no processor; `ctx` bounds the whole dial.
[[nodiscard]] result<conn> dial(std::string_view network, std::string_view address);
[[nodiscard]] result<conn> dial(const context& ctx, std::string_view network,
                                std::string_view address);

}  // namespace net

/// Parks the caller until `fd` (a non-blocking descriptor gort does not own: a library's socket,
/// a pipe) is readable / writable, or `ctx` is done (its err() is returned). Each call registers
/// the descriptor with the runtime's poller for the wait only (Go's syscall.RawConn.Read/Write
/// callback in one call). For a gort connection use conn::wait_readable. Any thread.
[[nodiscard]] std::error_code wait_readable(int fd);
[[nodiscard]] std::error_code wait_readable(int fd, const context& ctx);
[[nodiscard]] std::error_code wait_writable(int fd);
[[nodiscard]] std::error_code wait_writable(int fd, const context& ctx);

}  // namespace gort
