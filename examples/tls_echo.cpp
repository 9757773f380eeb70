// tls_echo — TLS with OpenSSL over gort connections: an echo server and a client that checks it.
//
//   tls_echo server ADDRESS CERT.pem KEY.pem     serves until killed; prints "listening on A"
//   tls_echo client ADDRESS [CONNECTIONS] [MESSAGES]
//                                                each connection (a goroutine) sends MESSAGES
//                                                messages and checks every echo; prints
//                                                "tls_echo: N messages echoed over C connections"
//
// OpenSSL does its own reads and writes on the connection's (non-blocking) socket. When it needs
// the network it returns SSL_ERROR_WANT_READ / SSL_ERROR_WANT_WRITE, and the goroutine parks on
// the netpoller with conn::wait_readable / wait_writable (Go's RawConn pattern) until the socket
// is ready, then calls OpenSSL again; its processor runs other goroutines meanwhile. Bytes OpenSSL
// already decrypted (SSL_pending) are consumed before the goroutine ever waits for the socket.
// The client does not verify the server's certificate (the test makes a throw-away one).
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "gort/gort.hpp"

namespace {

using ssl_ptr = std::unique_ptr<SSL, decltype(&SSL_free)>;

void print_ssl_errors(const char* what) {
  std::fprintf(stderr, "tls_echo: %s:", what);
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    std::fprintf(stderr, " %s", buf);
  }
  std::fprintf(stderr, "\n");
}

// Runs one OpenSSL call (`op` returns its result) until it succeeds or fails for good, parking on
// the connection whenever OpenSSL wants the socket. Returns op's last result (> 0 on success).
template <class Op>
int drive(SSL* ssl, gort::net::conn& c, Op op) {
  for (;;) {
    const int r = op();
    if (r > 0) return r;
    switch (SSL_get_error(ssl, r)) {
      case SSL_ERROR_WANT_READ:
        if (c.wait_readable()) return r;
        break;
      case SSL_ERROR_WANT_WRITE:
        if (c.wait_writable()) return r;
        break;
      default:
        return r;  // closed (SSL_ERROR_ZERO_RETURN), a protocol or socket error
    }
  }
}

bool write_all(SSL* ssl, gort::net::conn& c, const char* data, int n) {
  // SSL_write with partial writes off (the default) writes all n bytes or fails.
  return drive(ssl, c, [&] { return SSL_write(ssl, data, n); }) == n;
}

void serve(SSL_CTX* ctx, gort::net::conn c) {
  ssl_ptr ssl(SSL_new(ctx), &SSL_free);
  if (!ssl || SSL_set_fd(ssl.get(), c.native_handle()) != 1) return;
  if (drive(ssl.get(), c, [&] { return SSL_accept(ssl.get()); }) <= 0) return;
  char buf[4096];
  for (;;) {
    const int n = drive(ssl.get(), c, [&] { return SSL_read(ssl.get(), buf, sizeof buf); });
    if (n <= 0) break;
    if (!write_all(ssl.get(), c, buf, n)) break;
  }
  (void)SSL_shutdown(ssl.get());  // best effort close_notify; the peer may be gone
}

int run_server(const char* address, const char* cert, const char* key) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    print_ssl_errors("certificate or key");
    return 1;
  }
  return gort::run([&] {
    auto [ln, err] = gort::net::listen("tcp", address);
    if (err) {
      std::fprintf(stderr, "tls_echo: listen %s: %s\n", address, err.message().c_str());
      return 1;
    }
    std::printf("tls_echo: listening on %s\n", ln.address().c_str());
    std::fflush(stdout);
    for (;;) {
      auto [c, aerr] = ln.accept();
      if (aerr) {
        std::fprintf(stderr, "tls_echo: accept: %s\n", aerr.message().c_str());
        return 1;
      }
      gort::go(serve, ctx, std::move(c));
    }
  });
}

int run_client(const char* address, int connections, int messages) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    print_ssl_errors("SSL_CTX_new");
    return 1;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  std::atomic<long> echoed{0};
  std::atomic<int> failures{0};
  const int status = gort::run([&] {
    gort::wait_group wg;
    for (int i = 0; i < connections; ++i) {
      wg.go([&, i] {
        auto [c, err] = gort::net::dial("tcp", address);
        ssl_ptr ssl(err ? nullptr : SSL_new(ctx), &SSL_free);
        if (!ssl || SSL_set_fd(ssl.get(), c.native_handle()) != 1 ||
            drive(ssl.get(), c, [&] { return SSL_connect(ssl.get()); }) <= 0) {
          failures.fetch_add(1);
          return;
        }
        for (int m = 0; m < messages; ++m) {
          // Sizes vary so that some messages span several TLS records.
          const std::string msg = "connection " + std::to_string(i) + " message " +
                                  std::to_string(m) + " " + std::string((m * 977) % 20000, 'x');
          if (!write_all(ssl.get(), c, msg.data(), static_cast<int>(msg.size()))) {
            failures.fetch_add(1);
            return;
          }
          std::string back;
          char buf[4096];
          while (back.size() < msg.size()) {
            const int n =
                drive(ssl.get(), c, [&] { return SSL_read(ssl.get(), buf, sizeof buf); });
            if (n <= 0) break;
            back.append(buf, static_cast<std::size_t>(n));
          }
          if (back != msg) {
            failures.fetch_add(1);
            return;
          }
          echoed.fetch_add(1);
        }
        (void)SSL_shutdown(ssl.get());
      });
    }
    wg.wait();
    return 0;
  });
  SSL_CTX_free(ctx);
  std::printf("tls_echo: %ld messages echoed over %d connections, %d failed\n", echoed.load(),
              connections, failures.load());
  return status == 0 && failures.load() == 0 && echoed.load() == long{connections} * messages
             ? 0
             : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "server") == 0) return run_server(argv[2], argv[3], argv[4]);
  if (argc >= 3 && argc <= 5 && std::strcmp(argv[1], "client") == 0) {
    const int conns = argc >= 4 ? std::atoi(argv[3]) : 8;
    const int msgs = argc >= 5 ? std::atoi(argv[4]) : 50;
    if (conns >= 1 && msgs >= 1) return run_client(argv[2], conns, msgs);
  }
  std::fprintf(stderr,
               "usage: %s server ADDRESS CERT.pem KEY.pem\n"
               "       %s client ADDRESS [CONNECTIONS] [MESSAGES]\n",
               argv[0], argv[0]);
  return 2;
}
