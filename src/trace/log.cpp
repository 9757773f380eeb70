// trace/log.cpp — the runtime's message sink (gort/log.hpp).
//
// The sink is a shared_ptr swapped under a mutex and called outside it, so a sink that logs again
// (or is replaced while it runs) neither deadlocks nor runs after it was freed.
#include "gort/log.hpp"

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace gort {

namespace {

std::mutex& sink_lock() {
  static auto* m = new std::mutex;  // never destroyed: messages may come from exit handlers
  return *m;
}

std::shared_ptr<const log_sink>& current_sink() {  // guarded by sink_lock()
  static auto* s = new std::shared_ptr<const log_sink>;
  return *s;
}

void default_sink(std::string_view message) noexcept {
  std::string line = "gort: ";
  line.append(message);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);  // one call: lines of threads do not mix
}

}  // namespace

log_sink set_log_sink(log_sink sink) {
  auto next = sink ? std::make_shared<const log_sink>(std::move(sink)) : nullptr;
  std::shared_ptr<const log_sink> old;
  {
    std::lock_guard<std::mutex> l(sink_lock());
    old = std::exchange(current_sink(), std::move(next));
  }
  return old ? *old : log_sink{};
}

void log(std::string_view message) noexcept {
  std::shared_ptr<const log_sink> s;
  {
    std::lock_guard<std::mutex> l(sink_lock());
    s = current_sink();
  }
  if (!s) {
    default_sink(message);
    return;
  }
  try {
    (*s)(message);
  } catch (...) {
    // Dropped, as documented: a report must not take the runtime down.
  }
}

}  // namespace gort
