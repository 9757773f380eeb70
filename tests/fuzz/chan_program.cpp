// tests/fuzz/chan_program.cpp — decoding, running and checking a channel program (see
// chan_program.hpp for the encoding and the oracle, docs/fuzzing.md for the reasoning).
//
// Invariants of the harness itself:
//  * Every log field is written and read under `mu_` (a std::mutex, never held across a gort
//    call: gort preempts only at its own calls, so a goroutine never parks holding it).
//  * An operation's `start` stamp is taken before it is called and its `end` stamp after it
//    returns, both from `seq_`; so a.end < b.start implies a's linearization point precedes b's.
//  * Every worker finishes before main returns (step 3 of the oracle releases them all), so no
//    goroutine is abandoned and nothing the closures own leaks.
#include "chan_program.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "gort/gort.hpp"

namespace gort_fuzz {

namespace {

constexpr int k_max_ops = 64;
constexpr int k_max_ops_per_worker = 32;
constexpr std::size_t k_max_arms = 4;  // three decoded, plus the root's done() decode() may add
constexpr int k_duration_us[4] = {0, 50, 200, 1000};
/// No progress at all for this long while an operation the model can release waits is a lost
/// wake-up (a correct runtime completes such an operation within microseconds; the margin covers
/// sanitizers and a loaded machine).
constexpr auto k_stall = std::chrono::seconds(20);

struct reader {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos = 0;
  bool at_end() const { return pos >= size; }
  std::uint8_t next() { return pos < size ? data[pos++] : 0; }
};

const char* kind_name(op_kind k) {
  switch (k) {
    case op_kind::send:
      return "send";
    case op_kind::recv:
      return "recv";
    case op_kind::try_send:
      return "try_send";
    case op_kind::try_recv:
      return "try_recv";
    case op_kind::close:
      return "close";
    case op_kind::select:
      return "select";
    case op_kind::select_default:
      return "select+default";
    case op_kind::ctx_send:
      return "ctx_send";
    case op_kind::ctx_recv:
      return "ctx_recv";
    case op_kind::cancel:
      return "cancel";
    case op_kind::timer_reset:
      return "timer_reset";
    case op_kind::timer_stop:
      return "timer_stop";
    case op_kind::timer_wait:
      return "timer_wait";
    case op_kind::count:
      break;
  }
  return "?";
}

const char* ctx_name(int k) { return k == 0 ? "root" : "child"; }

std::string describe_op(const op& o) {
  std::ostringstream s;
  s << kind_name(o.kind);
  switch (o.kind) {
    case op_kind::send:
    case op_kind::try_send:
      s << " c" << o.chan << " v=" << o.value;
      break;
    case op_kind::recv:
    case op_kind::try_recv:
    case op_kind::close:
      s << " c" << o.chan;
      break;
    case op_kind::ctx_send:
      s << " c" << o.chan << " v=" << o.value << " ctx=" << ctx_name(o.ctx);
      break;
    case op_kind::ctx_recv:
      s << " c" << o.chan << " ctx=" << ctx_name(o.ctx);
      break;
    case op_kind::cancel:
      s << " " << ctx_name(o.ctx);
      break;
    case op_kind::timer_reset:
      s << " " << o.duration_us << "us";
      break;
    case op_kind::select:
    case op_kind::select_default:
    case op_kind::timer_wait:
      s << (o.variadic ? " (variadic)" : "") << " {";
      for (std::size_t i = 0; i < o.arms.size(); ++i) {
        const select_arm& a = o.arms[i];
        s << (i ? ", " : "") << i << ":";
        switch (a.kind) {
          case case_kind::recv:
            s << "recv c" << a.chan;
            break;
          case case_kind::send:
            s << "send c" << a.chan << " v=" << o.value + static_cast<int>(i);
            break;
          case case_kind::timer:
            s << "timer";
            break;
          case case_kind::done:
            s << "done " << ctx_name(a.ctx);
            break;
        }
      }
      s << "}";
      break;
    case op_kind::timer_stop:
    case op_kind::count:
      break;
  }
  return s.str();
}

// ---- the log ----

enum class outcome : std::uint8_t {
  pending,      // not returned (or not yet logged)
  ok,           // sent / closed / cancelled / timer call returned / a select arm without value
  value,        // received `got`
  closed,       // a receive that found its channel closed and drained
  empty,        // try_send false, try_recv empty, or the default case
  ctx_err,      // a context-aware operation returned errc::canceled
  panic_send,   // panic_error "send on closed channel"
  panic_close,  // panic_error "close of closed channel"
  unexpected,   // anything else (described in `error`)
};

const char* outcome_name(outcome o) {
  switch (o) {
    case outcome::pending:
      return "pending";
    case outcome::ok:
      return "ok";
    case outcome::value:
      return "value";
    case outcome::closed:
      return "closed";
    case outcome::empty:
      return "empty/default";
    case outcome::ctx_err:
      return "ctx_err";
    case outcome::panic_send:
      return "panic(send on closed channel)";
    case outcome::panic_close:
      return "panic(close of closed channel)";
    case outcome::unexpected:
      return "UNEXPECTED";
  }
  return "?";
}

struct record {
  std::uint64_t start = 0;  // 0: not started
  std::uint64_t end = 0;    // 0: not returned
  outcome out = outcome::pending;
  int fired = -1;     // selects: the arm that fired; arms.size() for the default
  int got = 0;        // out == value: the value received
  bool flag = false;  // timer_stop / timer_reset: what it returned
  std::string error;  // out == unexpected
};

struct worker_log {
  std::vector<op> ops;
  std::vector<record> rec;
  int current = -1;  // the operation started and not yet logged as returned
  bool finished = false;
};

/// What a returned operation did to the model's state.
struct effects {
  int sent_chan = -1;  // a send that was accepted: value `sent_value` entered channel sent_chan
  int sent_value = 0;
  int recv_chan = -1;  // a receive that took `recv_value` from recv_chan
  int recv_value = 0;
  int closed_recv_chan = -1;  // a receive that found its channel closed and drained
  int closed_chan = -1;       // a close that succeeded
  int cancelled_ctx = -1;
  int timer_arms = 0;      // armings of the timer
  int timer_resolved = 0;  // armings delivered (received) or reported prevented
};

effects effects_of(const op& o, const record& r) {
  effects e;
  if (r.end == 0) return e;
  switch (o.kind) {
    case op_kind::send:
    case op_kind::try_send:
    case op_kind::ctx_send:
      if (r.out == outcome::ok) {
        e.sent_chan = o.chan;
        e.sent_value = o.value;
      }
      break;
    case op_kind::recv:
    case op_kind::try_recv:
    case op_kind::ctx_recv:
      if (r.out == outcome::value) {
        e.recv_chan = o.chan;
        e.recv_value = r.got;
      } else if (r.out == outcome::closed) {
        e.closed_recv_chan = o.chan;
      }
      break;
    case op_kind::close:
      if (r.out == outcome::ok) e.closed_chan = o.chan;
      break;
    case op_kind::cancel:
      e.cancelled_ctx = o.ctx;
      break;
    case op_kind::timer_reset:
      e.timer_arms = 1;
      e.timer_resolved = r.flag ? 1 : 0;
      break;
    case op_kind::timer_stop:
      e.timer_resolved = r.flag ? 1 : 0;
      break;
    case op_kind::select:
    case op_kind::select_default:
    case op_kind::timer_wait:
      if (r.fired >= 0 && r.fired < static_cast<int>(o.arms.size())) {
        const select_arm& a = o.arms[static_cast<std::size_t>(r.fired)];
        if (a.kind == case_kind::recv && r.out == outcome::value) {
          e.recv_chan = a.chan;
          e.recv_value = r.got;
        } else if (a.kind == case_kind::recv && r.out == outcome::closed) {
          e.closed_recv_chan = a.chan;
        } else if (a.kind == case_kind::send && r.out == outcome::ok) {
          e.sent_chan = a.chan;
          e.sent_value = o.value + r.fired;
        } else if (a.kind == case_kind::timer && r.out == outcome::ok) {
          e.timer_resolved = 1;
        }
      }
      break;
    case op_kind::count:
      break;
  }
  return e;
}

std::string dump(const program& p, const std::vector<worker_log>& logs) {
  std::ostringstream s;
  s << "program: procs=" << p.procs << " shuffle=" << (p.shuffle ? std::to_string(p.seed) : "off")
    << " caps=[";
  for (std::size_t c = 0; c < p.caps.size(); ++c) s << (c ? "," : "") << p.caps[c];
  s << "] timer=" << p.timer_us << "us\n";
  for (std::size_t w = 0; w < logs.size(); ++w) {
    const bool is_main = w + 1 == logs.size();
    s << (is_main ? "main" : "w" + std::to_string(w)) << (logs[w].finished ? "" : " (unfinished)")
      << ":\n";
    for (std::size_t k = 0; k < logs[w].ops.size(); ++k) {
      const record& r = logs[w].rec[k];
      if (is_main && r.start == 0) continue;
      s << "  #" << k << " " << describe_op(logs[w].ops[k]) << "  [" << r.start << ","
        << (r.end ? std::to_string(r.end) : "-") << "] " << outcome_name(r.out);
      if (r.fired >= 0) s << " fired=" << r.fired;
      if (r.out == outcome::value) s << " got=" << r.got;
      if (logs[w].ops[k].kind == op_kind::timer_reset ||
          logs[w].ops[k].kind == op_kind::timer_stop) {
        s << " returned=" << (r.flag ? "true" : "false");
      }
      if (!r.error.empty()) s << " (" << r.error << ")";
      s << "\n";
    }
  }
  return s.str();
}

[[noreturn]] void fail(const program& p, const std::vector<worker_log>& logs,
                       const std::vector<std::string>& why) {
  std::string text = "chan_fuzz: the run broke the channel model\n" + dump(p, logs);
  for (const std::string& w : why) text += "VIOLATION: " + w + "\n";
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  std::abort();
}

// ---- the sequential model's state, derived from the returned operations ----

struct derived {
  std::vector<std::set<int>> accepted;  // per channel
  std::vector<std::vector<int>> received;
  std::vector<bool> closed;
  std::vector<long> count;  // buffered values
  bool cancelled[2] = {false, false};
  long timer_arms = 1;  // the constructor arms it
  long timer_resolved = 0;
  bool consistent = true;  // false while a hand-off is logged on one side only
};

derived derive(const program& p, const std::vector<worker_log>& logs) {
  const std::size_t nc = p.caps.size();
  derived d;
  d.accepted.resize(nc);
  d.received.resize(nc);
  d.closed.assign(nc, false);
  d.count.assign(nc, 0);
  for (const worker_log& l : logs) {
    for (std::size_t k = 0; k < l.ops.size(); ++k) {
      const effects e = effects_of(l.ops[k], l.rec[k]);
      if (e.sent_chan >= 0) d.accepted[static_cast<std::size_t>(e.sent_chan)].insert(e.sent_value);
      if (e.recv_chan >= 0)
        d.received[static_cast<std::size_t>(e.recv_chan)].push_back(e.recv_value);
      if (e.closed_chan >= 0) d.closed[static_cast<std::size_t>(e.closed_chan)] = true;
      if (e.cancelled_ctx == 0) d.cancelled[0] = d.cancelled[1] = true;
      if (e.cancelled_ctx == 1) d.cancelled[1] = true;
      d.timer_arms += e.timer_arms;
      d.timer_resolved += e.timer_resolved;
    }
  }
  for (std::size_t c = 0; c < nc; ++c) {
    for (int v : d.received[c]) {
      if (d.accepted[c].count(v) == 0) d.consistent = false;
    }
    d.count[c] = static_cast<long>(d.accepted[c].size()) - static_cast<long>(d.received[c].size());
    if (d.count[c] < 0 || d.count[c] > p.caps[c]) d.consistent = false;
  }
  return d;
}

/// True if worker `w`'s pending operation `o` could proceed in the model's state `d`, in which
/// the other workers' pending operations are waiting.
bool enabled(const program& p, const std::vector<worker_log>& logs, const derived& d, std::size_t w,
             const op& o) {
  // Another worker waiting to send (want_sender) or receive on channel c.
  auto peer_waits = [&](int c, bool want_sender) {
    for (std::size_t v = 0; v < logs.size(); ++v) {
      if (v == w || logs[v].finished || logs[v].current < 0) continue;
      const op& q = logs[v].ops[static_cast<std::size_t>(logs[v].current)];
      switch (q.kind) {
        case op_kind::send:
        case op_kind::ctx_send:
          if (want_sender && q.chan == c) return true;
          break;
        case op_kind::recv:
        case op_kind::ctx_recv:
          if (!want_sender && q.chan == c) return true;
          break;
        case op_kind::select:
        case op_kind::timer_wait:
          for (const select_arm& a : q.arms) {
            if (a.chan == c && a.kind == (want_sender ? case_kind::send : case_kind::recv))
              return true;
          }
          break;
        default:
          break;  // never waits
      }
    }
    return false;
  };
  auto recv_ready = [&](int c) {
    const auto i = static_cast<std::size_t>(c);
    return d.count[i] > 0 || d.closed[i] || peer_waits(c, true);
  };
  auto send_ready = [&](int c) {
    const auto i = static_cast<std::size_t>(c);
    return d.closed[i] || d.count[i] < p.caps[i] || peer_waits(c, false);
  };
  auto cancelled = [&](int k) { return d.cancelled[k]; };
  switch (o.kind) {
    case op_kind::send:
      return send_ready(o.chan);
    case op_kind::recv:
      return recv_ready(o.chan);
    case op_kind::ctx_send:
      return cancelled(o.ctx) || send_ready(o.chan);
    case op_kind::ctx_recv:
      return cancelled(o.ctx) || recv_ready(o.chan);
    case op_kind::select:
    case op_kind::timer_wait:
      for (const select_arm& a : o.arms) {
        switch (a.kind) {
          case case_kind::recv:
            if (recv_ready(a.chan)) return true;
            break;
          case case_kind::send:
            if (send_ready(a.chan)) return true;
            break;
          case case_kind::timer:
            if (d.timer_arms > d.timer_resolved) return true;  // armed: it fires
            break;
          case case_kind::done:
            if (cancelled(a.ctx)) return true;
            break;
        }
      }
      return false;
    default:
      return true;  // never blocks
  }
}

// ---- the run ----

class harness {
 public:
  harness(const program& p, std::vector<worker_log>& logs) : p_(p), logs_(logs) {
    for (int cap : p.caps) chans_.emplace_back(cap);
    auto [root, cancel_root] = gort::with_cancel(gort::background());
    auto [child, cancel_child] = gort::with_cancel(root);
    ctx_[0] = root;
    ctx_[1] = child;
    cancel_[0] = cancel_root;
    cancel_[1] = cancel_child;
    logs_.assign(p.workers.size() + 1, {});
    for (std::size_t w = 0; w < p.workers.size(); ++w) {
      logs_[w].ops = p.workers[w];
      logs_[w].rec.resize(p.workers[w].size());
    }
    // Main's operations: the release (close every channel, cancel the root), the timer's final
    // stop, then drains of at most capacity + 1 receives per channel.
    worker_log& m = logs_.back();
    for (std::size_t c = 0; c < p.caps.size(); ++c)
      m.ops.push_back(op{.kind = op_kind::close, .chan = int(c)});
    m.ops.push_back(op{.kind = op_kind::cancel, .ctx = 0});
    m.ops.push_back(op{.kind = op_kind::timer_stop});
    for (std::size_t c = 0; c < p.caps.size(); ++c) {
      for (int i = 0; i <= p.caps[c]; ++i)
        m.ops.push_back(op{.kind = op_kind::recv, .chan = int(c)});
    }
    m.rec.resize(m.ops.size());
  }

  /// Runs on goroutine 1.
  void run() {
    timer_.emplace(std::chrono::microseconds(p_.timer_us));
    for (std::size_t w = 0; w < p_.workers.size(); ++w) {
      gort::go([this, w] { work(w); });
    }
    // 2. The stable point.
    wait_until([this] { return stable_locked(); },
               "lost wake-up: an operation the model can release made no progress");
    // 3. The release, then every worker must finish.
    const std::size_t me = logs_.size() - 1;
    const std::size_t nc = p_.caps.size();
    for (std::size_t k = 0; k <= nc; ++k) step(me, k);  // closes, cancel(root)
    wait_until([this] { return all_finished_locked(); },
               "a goroutine stayed blocked after every channel was closed and the root context "
               "cancelled");
    step(me, nc + 1);  // timer_stop
    std::size_t base = nc + 2;
    for (std::size_t c = 0; c < nc; ++c) {
      const auto drains = static_cast<std::size_t>(p_.caps[c]) + 1;
      for (std::size_t i = 0; i < drains; ++i) {
        step(me, base + i);
        if (logs_[me].rec[base + i].out != outcome::value) break;
      }
      base += drains;
    }
    timer_.reset();  // inside the runtime, like every other use of it
    std::lock_guard<std::mutex> g(mu_);
    logs_[me].finished = true;
  }

 private:
  void work(std::size_t w) {
    for (std::size_t k = 0; k < logs_[w].ops.size(); ++k) step(w, k);
    {
      std::lock_guard<std::mutex> g(mu_);
      logs_[w].finished = true;
    }
    (void)progress_.try_send(0);
  }

  /// Runs operation k of worker w (main is the last "worker") and logs it.
  void step(std::size_t w, std::size_t k) {
    const op& o = logs_[w].ops[k];
    {
      std::lock_guard<std::mutex> g(mu_);
      logs_[w].current = static_cast<int>(k);
      // acq_rel on one counter: each stamp synchronizes with the earlier ones (a chain of
      // read-modify-writes), so a.end < b.start orders a's effects before b's start.
      logs_[w].rec[k].start = seq_.fetch_add(1, std::memory_order_acq_rel);
    }
    (void)progress_.try_send(0);  // the operation may wait: main re-checks the stable point
    record r;
    perform(o, r);
    const std::uint64_t end = seq_.fetch_add(1, std::memory_order_acq_rel);
    {
      std::lock_guard<std::mutex> g(mu_);
      record& dst = logs_[w].rec[k];
      r.start = dst.start;
      r.end = end;
      dst = std::move(r);
      logs_[w].current = -1;
    }
    (void)progress_.try_send(0);
  }

  void perform(const op& o, record& r) {
    try {
      chan_op(o, r);
    } catch (const gort::panic_error& e) {
      const std::string what = e.what();
      if (what == "send on closed channel") {
        r.out = outcome::panic_send;
      } else if (what == "close of closed channel") {
        r.out = outcome::panic_close;
      } else {
        r.out = outcome::unexpected;
        r.error = "panic_error: " + what;
      }
    } catch (const std::exception& e) {
      r.out = outcome::unexpected;
      r.error = std::string("exception: ") + e.what();
    }
  }

  static void set_received(record& r, std::optional<int>& v) {
    if (v) {
      r.out = outcome::value;
      r.got = *v;
    } else {
      r.out = outcome::closed;
    }
  }

  void chan_op(const op& o, record& r) {
    const gort::chan<int>& c = chans_[static_cast<std::size_t>(o.chan)];
    switch (o.kind) {
      case op_kind::send:
        c.send(int(o.value));
        r.out = outcome::ok;
        break;
      case op_kind::recv: {
        std::optional<int> v = c.recv();
        set_received(r, v);
        break;
      }
      case op_kind::try_send: {
        int v = o.value;
        r.out = c.try_send(std::move(v)) ? outcome::ok : outcome::empty;
        break;
      }
      case op_kind::try_recv: {
        gort::try_recv_result<int> t = c.try_recv();
        if (t.status == gort::recv_status::empty) {
          r.out = outcome::empty;
        } else {
          set_received(r, t.value);
          if ((t.status == gort::recv_status::value) != t.value.has_value()) {
            r.out = outcome::unexpected;
            r.error = "try_recv: status and value disagree";
          }
        }
        break;
      }
      case op_kind::close:
        c.close();
        r.out = outcome::ok;
        break;
      case op_kind::select:
      case op_kind::select_default:
      case op_kind::timer_wait:
        if (o.variadic) {
          variadic_select(o, r);
        } else {
          list_select(o, r);
        }
        break;
      case op_kind::ctx_send: {
        int v = o.value;
        const std::error_code e = c.send(ctx_[o.ctx], std::move(v));
        ctx_outcome(r, e, outcome::ok);
        break;
      }
      case op_kind::ctx_recv: {
        gort::recv_result<int> res = c.recv(ctx_[o.ctx]);
        if (res.err) {
          ctx_outcome(r, res.err, outcome::ok);
          if (res.value) {
            r.out = outcome::unexpected;
            r.error = "recv(ctx): a value and an error";
          }
        } else {
          set_received(r, res.value);
        }
        break;
      }
      case op_kind::cancel:
        cancel_[o.ctx]();
        r.out = outcome::ok;
        if (ctx_[o.ctx].err() != gort::errc::canceled) {
          r.out = outcome::unexpected;
          r.error = "err() after cancel: " + ctx_[o.ctx].err().message();
        }
        break;
      case op_kind::timer_reset:
        r.flag = timer_->reset(std::chrono::microseconds(o.duration_us));
        r.out = outcome::ok;
        break;
      case op_kind::timer_stop:
        r.flag = timer_->stop();
        r.out = outcome::ok;
        break;
      case op_kind::count:
        break;
    }
  }

  static void ctx_outcome(record& r, const std::error_code& e, outcome if_none) {
    if (!e) {
      r.out = if_none;
    } else if (e == gort::errc::canceled) {
      r.out = outcome::ctx_err;
    } else {
      r.out = outcome::unexpected;
      r.error = "context error " + e.message();
    }
  }

  /// gort::select(std::span<select_case>) over any arms.
  void list_select(const op& o, record& r) {
    const std::size_t n = o.arms.size();
    if (n > k_max_arms) throw std::length_error("chan_fuzz: a select with too many arms");
    std::optional<int> got[k_max_arms];
    int values[k_max_arms] = {};
    std::optional<gort::clock::time_point> tick[k_max_arms];
    std::optional<std::monostate> done[k_max_arms];
    std::vector<gort::select_case> cases;
    for (std::size_t i = 0; i < n; ++i) {
      const select_arm& a = o.arms[i];
      switch (a.kind) {
        case case_kind::recv:
          cases.push_back(
              gort::select_case::recv(chans_[static_cast<std::size_t>(a.chan)], got[i]));
          break;
        case case_kind::send:
          values[i] = o.value + static_cast<int>(i);
          cases.push_back(
              gort::select_case::send(chans_[static_cast<std::size_t>(a.chan)], values[i]));
          break;
        case case_kind::timer:
          cases.push_back(gort::select_case::recv(timer_->c(), tick[i]));
          break;
        case case_kind::done:
          cases.push_back(gort::select_case::recv(ctx_[a.ctx].done(), done[i]));
          break;
      }
    }
    if (o.kind == op_kind::select_default) cases.push_back(gort::select_case::default_case());
    const std::size_t f = gort::select(std::span<gort::select_case>(cases));
    r.fired = static_cast<int>(f);
    if (f == n) {
      r.out = o.kind == op_kind::select_default ? outcome::empty : outcome::unexpected;
      if (o.kind != op_kind::select_default) r.error = "the default of a select without one";
      return;
    }
    if (f > n) {
      r.out = outcome::unexpected;
      r.error = "select returned a case out of range";
      return;
    }
    switch (o.arms[f].kind) {
      case case_kind::recv:
        set_received(r, got[f]);
        break;
      case case_kind::send:
        r.out = outcome::ok;
        break;
      case case_kind::timer:
        r.out = tick[f] ? outcome::ok : outcome::unexpected;
        if (!tick[f]) r.error = "the timer's channel reported closed";
        break;
      case case_kind::done:
        r.out = done[f] ? outcome::unexpected : outcome::ok;
        if (done[f]) r.error = "done() delivered a value";
        break;
    }
  }

  /// Builds one arm of the variadic select (channel arms only) and passes it to f.
  template <class F>
  void with_arm(const select_arm& a, int value, std::optional<int>& out, bool& ran, F&& f) {
    const gort::chan<int>& c = chans_[static_cast<std::size_t>(a.chan)];
    if (a.kind == case_kind::recv) {
      f(gort::recv(c, [&out, &ran](std::optional<int> v) {
        out = std::move(v);
        ran = true;
      }));
    } else {
      f(gort::send(c, value, [&ran] { ran = true; }));
    }
  }

  /// gort::select(cases...) with one or two channel arms (decode() guarantees it), and the
  /// check that exactly the fired case's handler ran.
  void variadic_select(const op& o, record& r) {
    const bool def = o.kind == op_kind::select_default;
    std::optional<int> got[2];
    bool ran[3] = {false, false, false};
    std::size_t f = 0;
    const select_arm& a0 = o.arms[0];
    if (o.arms.size() == 1) {
      with_arm(a0, o.value, got[0], ran[0], [&](auto&& c0) {
        f = def ? gort::select(c0, gort::default_case([&] { ran[1] = true; })) : gort::select(c0);
      });
    } else {
      with_arm(a0, o.value, got[0], ran[0], [&](auto&& c0) {
        with_arm(o.arms[1], o.value + 1, got[1], ran[1], [&](auto&& c1) {
          f = def ? gort::select(c0, c1, gort::default_case([&] { ran[2] = true; }))
                  : gort::select(c0, c1);
        });
      });
    }
    const std::size_t n = o.arms.size();
    r.fired = static_cast<int>(f);
    for (std::size_t i = 0; i <= n; ++i) {
      if (ran[i] != (i == f) && (i < n || def)) {
        r.out = outcome::unexpected;
        r.error = "select ran the handler of case " + std::to_string(i) + ", returned " +
                  std::to_string(f);
        return;
      }
    }
    if (f == n) {
      r.out = def ? outcome::empty : outcome::unexpected;
      if (!def) r.error = "the default of a select without one";
    } else if (f > n) {
      r.out = outcome::unexpected;
      r.error = "select returned a case out of range";
    } else if (o.arms[f].kind == case_kind::recv) {
      set_received(r, got[f]);
    } else {
      r.out = outcome::ok;
    }
  }

  bool stable_locked() {
    const derived d = derive(p_, logs_);
    if (!d.consistent) return false;
    for (std::size_t w = 0; w + 1 < logs_.size(); ++w) {
      const worker_log& l = logs_[w];
      if (l.finished) continue;
      if (l.current < 0) return false;  // between operations, or not yet started
      if (enabled(p_, logs_, d, w, l.ops[static_cast<std::size_t>(l.current)])) return false;
    }
    return true;
  }

  bool all_finished_locked() {
    for (std::size_t w = 0; w + 1 < logs_.size(); ++w) {
      if (!logs_[w].finished) return false;
    }
    return true;
  }

  /// Parks main until pred() (called under mu_) holds, re-checking at each progress
  /// notification; fails the run after k_stall without any.
  template <class Pred>
  void wait_until(Pred pred, const char* what) {
    gort::timer stall(k_stall);
    for (;;) {
      {
        std::lock_guard<std::mutex> g(mu_);
        if (pred()) return;
      }
      bool timed_out = false;
      gort::select(gort::recv(progress_), gort::recv(stall.c(), [&](auto) { timed_out = true; }));
      if (timed_out) {
        std::lock_guard<std::mutex> g(mu_);
        if (pred()) return;
        std::vector<std::string> why{what};
        const derived d = derive(p_, logs_);
        for (std::size_t w = 0; w + 1 < logs_.size(); ++w) {
          const worker_log& l = logs_[w];
          if (l.finished || l.current < 0) continue;
          const op& o = l.ops[static_cast<std::size_t>(l.current)];
          if (enabled(p_, logs_, d, w, o)) {
            why.push_back("w" + std::to_string(w) + " #" + std::to_string(l.current) + " " +
                          describe_op(o) + " can proceed in the model but has not returned");
          }
        }
        fail(p_, logs_, why);
      }
      (void)stall.reset(k_stall);
    }
  }

  const program& p_;
  std::vector<worker_log>& logs_;
  std::vector<gort::chan<int>> chans_;
  gort::context ctx_[2];
  gort::cancel_func cancel_[2];
  std::optional<gort::timer> timer_;
  gort::chan<int> progress_{1};  // a token per logged step (coalesced): main re-checks
  std::mutex mu_;
  std::atomic<std::uint64_t> seq_{1};
};

// ---- the checks (every interleaving satisfies them) ----

struct stamped_op {
  std::size_t w, k;
  const op* o;
  const record* r;
};

std::vector<std::string> check(const program& p, const std::vector<worker_log>& logs) {
  std::vector<std::string> bad;
  const std::size_t nc = p.caps.size();
  auto name = [&](const stamped_op& s) {
    return (s.w + 1 == logs.size() ? std::string("main") : "w" + std::to_string(s.w)) + " #" +
           std::to_string(s.k) + " " + describe_op(*s.o);
  };
  constexpr std::uint64_t never = UINT64_MAX;

  std::vector<stamped_op> all;
  for (std::size_t w = 0; w < logs.size(); ++w) {
    if (!logs[w].finished) bad.push_back("worker " + std::to_string(w) + " did not finish");
    for (std::size_t k = 0; k < logs[w].ops.size(); ++k) {
      const record& r = logs[w].rec[k];
      if (r.start == 0) continue;  // main's unused drains
      all.push_back({w, k, &logs[w].ops[k], &r});
      if (r.end == 0 || r.out == outcome::pending)
        bad.push_back(name(all.back()) + ": never returned");
      if (r.out == outcome::unexpected) bad.push_back(name(all.back()) + ": " + r.error);
    }
  }

  // Closes: exactly one succeeds per channel; the others panic.
  std::vector<const record*> close_ok(nc, nullptr);
  for (const stamped_op& s : all) {
    if (s.o->kind == op_kind::close && s.r->out == outcome::ok) {
      if (close_ok[static_cast<std::size_t>(s.o->chan)] != nullptr) {
        bad.push_back(name(s) + ": a second close succeeded");
      }
      close_ok[static_cast<std::size_t>(s.o->chan)] = s.r;
    }
  }
  auto close_start = [&](int c) { return close_ok[c] ? close_ok[c]->start : never; };
  auto close_end = [&](int c) { return close_ok[c] ? close_ok[c]->end : never; };
  for (std::size_t c = 0; c < nc; ++c) {
    if (close_ok[c] == nullptr) bad.push_back("c" + std::to_string(c) + ": no close succeeded");
  }

  // Cancellations: the earliest start and end of a cancel reaching context k.
  std::uint64_t cancel_start[2] = {never, never}, cancel_end[2] = {never, never};
  for (const stamped_op& s : all) {
    if (s.o->kind != op_kind::cancel) continue;
    for (int k = s.o->ctx; k < 2; ++k) {  // cancelling the root cancels the child
      cancel_start[k] = std::min(cancel_start[k], s.r->start);
      cancel_end[k] = std::min(cancel_end[k], s.r->end);
    }
  }

  // Values: where each was accepted and received.
  struct sent_at {
    int chan;
    const stamped_op* s;
  };
  std::map<int, sent_at> sent;
  std::map<int, sent_at> received;
  long timer_arms = 1, timer_resolved = 0;
  for (const stamped_op& s : all) {
    const effects e = effects_of(*s.o, *s.r);
    timer_arms += e.timer_arms;
    timer_resolved += e.timer_resolved;
    if (e.sent_chan >= 0) sent[e.sent_value] = {e.sent_chan, &s};
  }
  for (const stamped_op& s : all) {
    const effects e = effects_of(*s.o, *s.r);
    if (e.recv_chan < 0) continue;
    const auto it = sent.find(e.recv_value);
    if (it == sent.end() || it->second.chan != e.recv_chan) {
      bad.push_back(name(s) + ": received " + std::to_string(e.recv_value) + " on c" +
                    std::to_string(e.recv_chan) + ", which was never accepted on that channel");
      continue;
    }
    if (!received.emplace(e.recv_value, sent_at{e.recv_chan, &s}).second) {
      bad.push_back(name(s) + ": received " + std::to_string(e.recv_value) + " a second time");
      continue;
    }
    if (!(it->second.s->r->start < s.r->end)) {
      bad.push_back(name(s) + ": received " + std::to_string(e.recv_value) +
                    " before its send started");
    }
  }
  for (const auto& [v, at] : sent) {
    if (received.count(v) == 0) {
      bad.push_back(name(*at.s) + ": value " + std::to_string(v) + " accepted on c" +
                    std::to_string(at.chan) + " was never received");
    }
  }
  // FIFO: a value whose send returned before another's started is received first.
  for (const auto& [a, sa] : sent) {
    for (const auto& [b, sb] : sent) {
      if (sa.chan != sb.chan || !(sa.s->r->end < sb.s->r->start)) continue;
      const auto ra = received.find(a), rb = received.find(b);
      if (ra == received.end() || rb == received.end()) continue;
      if (rb->second.s->r->end < ra->second.s->r->start) {
        bad.push_back("c" + std::to_string(sa.chan) + ": " + std::to_string(b) +
                      " was received before " + std::to_string(a) + ", which was sent first (" +
                      name(*sa.s) + ")");
      }
    }
  }

  // Per operation: panics, closed receives, defaults, contexts.
  auto buffered_throughout = [&](int c, const record& r) -> int {
    for (const auto& [v, at] : sent) {
      if (at.chan != c || !(at.s->r->end < r.start)) continue;
      const auto rv = received.find(v);
      if (rv != received.end() && rv->second.s->r->start > r.end) return v;
    }
    return 0;
  };
  for (const stamped_op& s : all) {
    const op& o = *s.o;
    const record& r = *s.r;
    const bool is_select = o.kind == op_kind::select || o.kind == op_kind::select_default ||
                           o.kind == op_kind::timer_wait;
    const effects e = effects_of(o, r);
    if (r.out == outcome::panic_close && o.kind != op_kind::close) {
      bad.push_back(name(s) + ": panicked with close of closed channel");
    }
    if (o.kind == op_kind::close && r.out == outcome::panic_close &&
        !(close_start(o.chan) < r.end)) {
      bad.push_back(name(s) + ": close of closed channel before any close had started");
    }
    if (r.out == outcome::panic_send) {
      bool explained = false;
      if (is_select) {
        for (const select_arm& a : o.arms) {
          explained |= a.kind == case_kind::send && close_start(a.chan) < r.end;
        }
      } else if (o.kind == op_kind::send || o.kind == op_kind::try_send ||
                 o.kind == op_kind::ctx_send) {
        explained = close_start(o.chan) < r.end;
      }
      if (!explained)
        bad.push_back(name(s) + ": send on closed channel before the channel's close started");
    }
    if (e.sent_chan >= 0 && close_end(e.sent_chan) < r.start) {
      bad.push_back(name(s) + ": a send on c" + std::to_string(e.sent_chan) +
                    " was accepted after its close had returned");
    }
    if (e.closed_recv_chan >= 0) {
      const int c = e.closed_recv_chan;
      if (!(close_start(c) < r.end))
        bad.push_back(name(s) + ": reported c" + std::to_string(c) +
                      " closed before its close started");
      for (const auto& [v, at] : sent) {
        if (at.chan != c || !(at.s->r->end < r.start)) continue;
        const auto rv = received.find(v);
        if (rv != received.end() && !(rv->second.s->r->start < r.end)) {
          bad.push_back(name(s) + ": reported c" + std::to_string(c) + " closed while " +
                        std::to_string(v) + ", sent before it started, was still buffered");
        }
      }
    }
    // An empty try_recv / failed try_send / default never ignores a case ready throughout.
    if (r.out == outcome::empty) {
      auto recv_arm = [&](int c, const char* what) {
        if (close_end(c) < r.start)
          bad.push_back(name(s) + ": " + what + " although c" + std::to_string(c) + " was closed");
        if (const int v = buffered_throughout(c, r)) {
          bad.push_back(name(s) + ": " + what + " although " + std::to_string(v) +
                        " was buffered in c" + std::to_string(c) + " throughout");
        }
      };
      if (o.kind == op_kind::try_recv) recv_arm(o.chan, "empty");
      if (o.kind == op_kind::try_send && close_end(o.chan) < r.start) {
        bad.push_back(name(s) + ": try_send returned false on a closed channel");
      }
      if (o.kind == op_kind::select_default) {
        for (const select_arm& a : o.arms) {
          if (a.kind == case_kind::recv) recv_arm(a.chan, "took the default");
          if (a.kind == case_kind::send && close_end(a.chan) < r.start) {
            bad.push_back(name(s) + ": took the default over a send on closed c" +
                          std::to_string(a.chan));
          }
          if (a.kind == case_kind::done && cancel_end[a.ctx] < r.start) {
            bad.push_back(name(s) + ": took the default although " + ctx_name(a.ctx) +
                          " was cancelled");
          }
        }
      }
    }
    if (is_select && r.fired >= 0 && r.fired < static_cast<int>(o.arms.size())) {
      const select_arm& a = o.arms[static_cast<std::size_t>(r.fired)];
      if (a.kind == case_kind::done && !(cancel_start[a.ctx] < r.end)) {
        bad.push_back(name(s) + ": done() of " + ctx_name(a.ctx) +
                      " fired before any cancel started");
      }
    }
    if (o.kind == op_kind::ctx_send || o.kind == op_kind::ctx_recv) {
      if (r.out == outcome::ctx_err && !(cancel_start[o.ctx] < r.end)) {
        bad.push_back(name(s) + ": context error before any cancel started");
      }
      if (r.out != outcome::ctx_err && cancel_end[o.ctx] < r.start) {
        bad.push_back(name(s) + ": attempted although its context was cancelled before it started");
      }
    }
  }

  // Drains: a channel holds at most its capacity, so main's last drain reports closed.
  const worker_log& m = logs.back();
  for (std::size_t k = 0; k < m.ops.size(); ++k) {
    if (m.ops[k].kind != op_kind::recv || m.rec[k].start == 0) continue;
    const bool last =
        k + 1 == m.ops.size() || m.ops[k + 1].chan != m.ops[k].chan || m.rec[k + 1].start == 0;
    if (last && m.rec[k].out != outcome::closed) {
      bad.push_back("main: c" + std::to_string(m.ops[k].chan) + " still held values after " +
                    std::to_string(p.caps[static_cast<std::size_t>(m.ops[k].chan)] + 1) +
                    " receives");
    }
  }

  // The timer: every arming delivered once or reported prevented once.
  if (timer_arms != timer_resolved) {
    bad.push_back("timer: armed " + std::to_string(timer_arms) + " times, but " +
                  std::to_string(timer_resolved) +
                  " were received or reported prevented by stop/reset");
  }
  return bad;
}

}  // namespace

program decode(const std::uint8_t* data, std::size_t size) {
  reader in{data, size};
  program p;
  const std::uint8_t b0 = in.next();
  p.procs = (b0 & 1) ? 2 : 1;
  p.shuffle = (b0 & 2) == 0;
  const int nworkers = 1 + ((b0 >> 2) & 3);
  const int nchans = std::min(3, 1 + ((b0 >> 4) & 3));
  const std::uint32_t lo = in.next();
  const std::uint32_t hi = in.next();
  p.seed = 1 + (lo | (hi << 8));
  const std::uint8_t b3 = in.next();
  for (int c = 0; c < nchans; ++c) p.caps.push_back((b3 >> (2 * c)) & 3);
  p.timer_us = k_duration_us[in.next() & 3];
  p.workers.resize(static_cast<std::size_t>(nworkers));
  int total = 0;
  while (!in.at_end() && total < k_max_ops) {
    const std::uint8_t a = in.next();
    const std::uint8_t b = in.next();
    const auto w = static_cast<std::size_t>((a & 3) % nworkers);
    op o;
    o.kind = static_cast<op_kind>((a >> 2) % static_cast<int>(op_kind::count));
    o.chan = (b & 3) % nchans;
    o.ctx = (b >> 2) & 1;
    o.duration_us = k_duration_us[(b >> 3) & 3];
    o.variadic = ((b >> 5) & 1) != 0;
    const int narms = 1 + ((b >> 6) & 3) % 3;
    if (o.kind == op_kind::select || o.kind == op_kind::select_default) {
      for (int i = 0; i < narms; ++i) {
        const std::uint8_t c = in.next();
        select_arm arm;
        arm.kind = static_cast<case_kind>(c & 3);
        arm.chan = ((c >> 2) & 3) % nchans;
        arm.ctx = (c >> 4) & 1;
        o.arms.push_back(arm);
      }
      // A select without default waits on something the release (closing every channel,
      // cancelling the root) ends: a timer alone might never fire again.
      const bool releasable = std::any_of(o.arms.begin(), o.arms.end(), [](const select_arm& x) {
        return x.kind != case_kind::timer;
      });
      if (o.kind == op_kind::select && !releasable) o.arms.push_back({case_kind::done, 0, 0});
    } else if (o.kind == op_kind::timer_wait) {
      o.arms = {{case_kind::timer, 0, 0}, {case_kind::done, 0, 0}};
    }
    // The variadic form is instantiated for one or two channel arms.
    o.variadic = o.variadic && o.arms.size() <= 2 &&
                 std::all_of(o.arms.begin(), o.arms.end(),
                             [](const select_arm& x) {
                               return x.kind == case_kind::recv || x.kind == case_kind::send;
                             }) &&
                 !o.arms.empty();
    if (p.workers[w].size() >= std::size_t{k_max_ops_per_worker}) continue;
    o.value = static_cast<int>(w + 1) * 100000 + static_cast<int>(p.workers[w].size()) * 10;
    p.workers[w].push_back(std::move(o));
    ++total;
  }
  return p;
}

std::string describe(const program& p) {
  std::vector<worker_log> logs(p.workers.size() + 1);
  for (std::size_t w = 0; w < p.workers.size(); ++w) {
    logs[w].ops = p.workers[w];
    logs[w].rec.resize(p.workers[w].size());
    logs[w].finished = true;
  }
  logs.back().finished = true;
  return dump(p, logs);
}

void run_and_check(const program& p, std::string* log) {
  std::vector<worker_log> logs;
  // Built outside the runtime (channels and contexts need none) so that it outlives every worker:
  // a worker that has logged its last step may still be returning from its final notification
  // when main returns.
  harness h(p, logs);
  gort::options opts;
  opts.maxprocs = p.procs;
  opts.stack_size = 256 * 1024;  // sanitizer frames are several times larger
  // shuffle=0 is "off"; an explicit value also keeps GORTDEBUG from the environment out.
  opts.debug = "shuffle=" + std::to_string(p.shuffle ? p.seed : 0);
  gort::run([&] { h.run(); }, opts);
  const std::vector<std::string> bad = check(p, logs);
  if (!bad.empty()) fail(p, logs, bad);
  if (log != nullptr) *log = dump(p, logs);
}

}  // namespace gort_fuzz
