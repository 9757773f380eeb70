// sys/debug_settings.cpp — see debug_settings.hpp.
#include "sys/debug_settings.hpp"

#include <charconv>

namespace gort::sys {

namespace {

bool parse_int(std::string_view v, std::int64_t& out) {
  if (v.empty()) return false;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size();
}

}  // namespace

debug_settings parse_debug_settings(std::string_view text) {
  debug_settings s;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::size_t eq = item.find('=');
    if (item.empty() || eq == std::string_view::npos) continue;
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    std::int64_t n = 0;
    if (key == "schedtrace") {
      if (parse_int(value, n) && n >= 0 && n <= 3'600'000) {
        s.schedtrace_ms = n;
      } else {
        s.errors.push_back("GORTDEBUG: schedtrace=" + std::string(value) +
                           ": want milliseconds in [0, 3600000]");
      }
    } else if (key == "stackguard") {
      if (parse_int(value, n) && n >= 0 && n <= 2) {
        s.stackguard = static_cast<int>(n);
      } else {
        s.errors.push_back("GORTDEBUG: stackguard=" + std::string(value) + ": want 0, 1 or 2");
      }
    } else if (key == "shuffle") {
      if (parse_int(value, n) && n >= 0) {
        s.shuffle = static_cast<std::uint64_t>(n);
      } else {
        s.errors.push_back("GORTDEBUG: shuffle=" + std::string(value) +
                           ": want a seed, a non-negative integer (0: off)");
      }
    } else if (key == "asyncpreemptoff") {
      if (parse_int(value, n) && (n == 0 || n == 1)) {
        s.asyncpreemptoff = n == 1;
      } else {
        s.errors.push_back("GORTDEBUG: asyncpreemptoff=" + std::string(value) + ": want 0 or 1");
      }
    } else if (key == "sigquit" || key == "deadlock") {
      if (parse_int(value, n) && (n == 0 || n == 1)) {
        (key == "sigquit" ? s.sigquit : s.deadlock) = static_cast<int>(n);
      } else {
        s.errors.push_back("GORTDEBUG: " + std::string(key) + "=" + std::string(value) +
                           ": want 0 or 1");
      }
    } else if (key == "trace") {
      if (!value.empty()) {
        s.trace = std::string(value);
      } else {
        s.errors.push_back("GORTDEBUG: trace=: want a file path");
      }
    } else if (key == "schedlatency") {
      if (parse_int(value, n) && (n == 0 || n == 1)) {
        s.schedlatency = n == 1;
      } else {
        s.errors.push_back("GORTDEBUG: schedlatency=" + std::string(value) + ": want 0 or 1");
      }
    } else if (key == "scheddetail") {
      if (parse_int(value, n) && (n == 0 || n == 1)) {
        s.scheddetail = n == 1;
      } else {
        s.errors.push_back("GORTDEBUG: scheddetail=" + std::string(value) + ": want 0 or 1");
      }
    }
  }
  return s;
}

}  // namespace gort::sys
