// trace/testing.cpp — gort::testing (gort/testing.hpp): goleak's checks on goroutine dumps.
#include "gort/testing.hpp"

#include <algorithm>
#include <mutex>
#include <thread>

#include "gort/go.hpp"
#include "gort/time.hpp"
#include "sys/clock.hpp"
#include "trace/dump.hpp"

namespace gort::sched {
extern std::atomic<bool> g_capture_abandoned;  // dump.cpp
extern std::mutex g_abandoned_lock;
extern std::vector<goroutine_report> g_abandoned;
}  // namespace gort::sched

namespace gort::testing {

namespace {

using sched::goroutine_report;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool ignored(const goroutine_report& r, const leak_options& o) {
  if (std::find(o.ignore_ids.begin(), o.ignore_ids.end(), r.id) != o.ignore_ids.end()) return true;
  for (const std::string& f : o.ignore_top_functions) {
    if (!r.top_function.empty() && starts_with(r.top_function, f)) return true;
  }
  for (const std::string& f : o.ignore_created_by) {
    if (!r.created_by.empty() && starts_with(r.created_by, f)) return true;
    if (!r.created_file.empty() && ends_with(r.created_file, f)) return true;
  }
  return false;
}

// One look: the reports of live goroutines other than the caller that `o` does not ignore.
std::string look(const leak_options& o, bool* any_runtime) {
  sched::runtime_access rt;
  sched::scheduler* s = rt.get();
  *any_runtime = s != nullptr;
  if (s == nullptr) return {};
  std::string out;
  sched::with_snapshot_stack([&](const sched::goroutine* self, const std::vector<const void*>& pcs) {
    std::vector<sched::goroutine_snapshot> snaps = sched::snapshot_goroutines(*s, true, self, pcs);
    const std::int64_t now = sys::nanotime();
    sched::symbolizer sym;
    for (const sched::goroutine_snapshot& g : snaps) {
      if (g.current) continue;
      if (std::find(o.ignore_ids.begin(), o.ignore_ids.end(), g.id) != o.ignore_ids.end()) continue;
      goroutine_report r = sched::describe(g, now, sym);
      if (ignored(r, o)) continue;
      if (!out.empty()) out += '\n';
      out += r.text;
    }
  });
  return out;
}

}  // namespace

leak_options ignore_current(leak_options o) {
  sched::runtime_access rt;
  if (sched::scheduler* s = rt.get()) {
    sched::machine* m = sched::current_machine();
    const sched::goroutine* self = m != nullptr ? m->curg : nullptr;
    for (const sched::goroutine_snapshot& g : sched::snapshot_goroutines(*s, false, self, {})) {
      if (!g.current) o.ignore_ids.push_back(g.id);
    }
  }
  return o;
}

std::string find_leaks(const leak_options& o) {
  std::chrono::microseconds pause(1);
  std::string report;
  for (int attempt = 0;; ++attempt) {
    bool any = false;
    report = look(o, &any);
    if (report.empty() || !any || attempt + 1 >= o.max_retries) return report;
    // Let the others run first: a sleep this short may end before the caller would park (with
    // one processor nothing else would run). Then park (a goroutine) or sleep (a plain thread).
    gort::yield();
    gort::sleep_for(pause);
    pause = std::min(pause * 2, o.max_sleep);
  }
}

void verify_none(const leak_options& o) {
  std::string report = find_leaks(o);
  if (!report.empty()) throw leak_error("found unexpected goroutines:\n\n" + report);
}

void capture_abandoned(bool on) noexcept {
  // release: pairs with retire's acquire load (capture_abandoned in dump.cpp).
  sched::g_capture_abandoned.store(on, std::memory_order_release);
}

std::string take_abandoned(const leak_options& o) {
  std::vector<goroutine_report> taken;
  {
    std::lock_guard<std::mutex> l(sched::g_abandoned_lock);
    taken.swap(sched::g_abandoned);
  }
  std::string out;
  leak_options filters = o;
  filters.ignore_ids.clear();  // ids belong to ended runtimes
  for (const goroutine_report& r : taken) {
    if (ignored(r, filters)) continue;
    if (!out.empty()) out += '\n';
    out += r.text;
  }
  return out;
}

}  // namespace gort::testing
