// http_server — an HTTP/1.1 keep-alive "hello" server: one goroutine per connection, requests
// parsed by Boost.Beast's http::parser over the connection's own buffer.
//
//   http_server 127.0.0.1:8080        (GORTMAXPROCS sets the processor count)
//
// GET /metrics answers with the runtime's metrics in Prometheus's text format
// (gort::write_prometheus), for a Prometheus server to scrape. Every other request (any method,
// any path, with or without a body) gets
//
//   HTTP/1.1 200 OK
//   Content-Length: 5
//   Content-Type: text/plain
//   Date: <now, RFC 9110's IMF-fixdate>
//
//   hello
//
// and the connection stays open unless the request asked otherwise (HTTP/1.0 without keep-alive,
// "Connection: close"). A malformed request gets "400 Bad Request" and the connection is closed.
// Beast's parser needs each message's header whole in one buffer: a connection's buffer is 8 KiB,
// which is also the header limit; bytes past one request (pipelining) stay for the next.
// This is the gort server of bench/compare's `http` workload (bench/README.md); SIGTERM ends it.
#include <sys/resource.h>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>

#include "gort/gort.hpp"

namespace {

namespace http = boost::beast::http;

constexpr std::size_t k_buffer = 8192;
constexpr std::size_t k_body_limit = 1 << 20;

// The Date header's value, formatted once per second (per connection: no shared state).
struct date_cache {
  std::time_t second = 0;
  char text[64] = {};

  const char* now() {
    const std::time_t t = std::time(nullptr);
    if (t != second) {
      second = t;
      std::tm tm{};
      ::gmtime_r(&t, &tm);
      std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    }
    return text;
  }
};

void serve(gort::net::conn c) {
  char buf[k_buffer];
  std::size_t used = 0;  // bytes in buf not yet consumed by a parser
  date_cache date;
  std::string response;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(k_body_limit);
    parser.header_limit(k_buffer);
    boost::beast::error_code ec;
    // Feed the parser until the message is complete, reading more only when it made no progress
    // on what the buffer holds (a header arrives whole or not at all; a body in pieces).
    for (;;) {
      if (used > 0) {
        const std::size_t consumed = parser.put(boost::asio::buffer(buf, used), ec);
        std::memmove(buf, buf + consumed, used - consumed);
        used -= consumed;
        if (ec == http::error::need_more) {
          ec = {};
        } else if (ec) {
          (void)c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          return;
        } else if (parser.is_done()) {
          break;
        } else if (consumed > 0) {
          continue;
        }
      }
      if (used == sizeof buf) return;  // a header larger than the buffer: give up
      auto r = c.read(buf + used, sizeof buf - used);
      used += r.n;
      if (r.err) return;  // the peer left (EOF, reset) mid-request or between requests
    }
    const bool keep_alive = parser.get().keep_alive();
    if (parser.get().method() == http::verb::get && parser.get().target() == "/metrics") {
      std::ostringstream body;
      gort::write_prometheus(body);
      const std::string text = body.str();
      response.assign("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: ");
      response.append(std::to_string(text.size()));
      response.append("\r\nDate: ");
      response.append(date.now());
      if (!keep_alive) response.append("\r\nConnection: close");
      response.append("\r\n\r\n");
      response.append(text);
      if (c.write(response).err || !keep_alive) return;
      continue;
    }
    response.assign("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nDate: ");
    response.append(date.now());
    if (!keep_alive) response.append("\r\nConnection: close");
    response.append("\r\n\r\nhello");
    if (c.write(response).err || !keep_alive) return;
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
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ADDRESS   (host:port; GORTMAXPROCS sets the processors)\n",
                 argv[0]);
    return 2;
  }
  raise_fd_limit();
  const char* address = argv[1];
  return gort::run([address] {
    auto [ln, err] = gort::net::listen("tcp", address);
    if (err) {
      std::fprintf(stderr, "http_server: listen %s: %s\n", address, err.message().c_str());
      return 1;
    }
    std::printf("http_server: listening on %s\n", ln.address().c_str());
    std::fflush(stdout);
    for (;;) {
      auto [c, aerr] = ln.accept();
      if (aerr == std::errc::too_many_files_open ||
          aerr == std::errc::too_many_files_open_in_system) {
        gort::sleep_for(std::chrono::milliseconds(5));  // descriptors free up as peers leave
        continue;
      }
      if (aerr) {
        std::fprintf(stderr, "http_server: accept: %s\n", aerr.message().c_str());
        return 1;
      }
      gort::go(serve, std::move(c));
    }
  });
}
