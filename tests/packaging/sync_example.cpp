// A program that hands plain (non-atomic) data between goroutines through every blocking
// primitive, with enough contention to reach their compiled slow paths. tests/packaging/check.sh
// builds it with -fsanitize=thread against an uninstrumented gort: TSan must see each hand-off
// that gort's compiled code performs (a lock, a grant, a wake-up) as ordering, so any report is a
// missing annotation. It also checks its own results and exits non-zero on a wrong one.
#include <gort/gort.hpp>

#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "sync_example: wrong result: %s\n", what);
    ++failures;
  }
}

constexpr int k_workers = 8;
constexpr int k_rounds = 400;

void mutexes() {
  gort::mutex mu;
  long counter = 0;  // guarded by mu
  gort::rw_mutex rw;
  std::vector<int> table(16, 0);  // guarded by rw
  long seen = 0;                  // guarded by mu
  gort::wait_group wg;
  for (int w = 0; w < k_workers; ++w) {
    wg.go([&, w] {
      for (int i = 0; i < k_rounds; ++i) {
        mu.lock();
        ++counter;
        mu.unlock();
        if (w % 4 == 0) {
          rw.lock();
          table[static_cast<std::size_t>(i % 16)] += 1;
          rw.unlock();
        } else {
          rw.lock_shared();
          long sum = 0;
          for (int v : table) sum += v;
          rw.unlock_shared();
          mu.lock();
          seen = sum > seen ? sum : seen;
          mu.unlock();
        }
        if (i % 64 == 0) gort::yield();
      }
    });
  }
  wg.wait();
  expect(counter == long{k_workers} * k_rounds, "mutex counter");
  long total = 0;
  for (int v : table) total += v;
  expect(total == long{k_workers / 4} * k_rounds, "rw_mutex table");
  expect(seen <= total, "rw_mutex readers");
}

void conds_and_semaphores() {
  gort::mutex mu;
  gort::cond ready;
  std::deque<std::string> queue;  // guarded by mu
  bool finished = false;          // guarded by mu
  std::vector<std::string> got;   // the consumer's, read after wg.wait()
  gort::wait_group wg;
  wg.go([&] {
    mu.lock();
    for (;;) {
      while (queue.empty() && !finished) ready.wait(mu);
      if (queue.empty()) break;
      got.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    mu.unlock();
  });
  gort::semaphore sem(2);
  std::string slot;  // guarded by sem (weight 2 of 2: exclusive)
  int writes = 0;    // guarded by sem
  for (int w = 0; w < k_workers; ++w) {
    wg.go([&, w] {
      for (int i = 0; i < k_rounds / 4; ++i) {
        sem.acquire(2);
        slot = std::to_string(w);
        ++writes;
        sem.release(2);
        mu.lock();
        queue.push_back(std::to_string(w * 1000 + i));
        mu.unlock();
        ready.signal();
      }
    });
  }
  wg.go([&] {
    // The consumer stops once every producer is done; producers are all of wg but the consumer
    // and this goroutine (which wg also waits for: it uses `ready`, which dies with this frame).
    for (;;) {
      mu.lock();
      const bool all = got.size() + queue.size() == std::size_t{k_workers} * (k_rounds / 4);
      if (all) finished = true;
      mu.unlock();
      if (all) break;
      gort::yield();
    }
    ready.broadcast();
  });
  wg.wait();
  expect(got.size() == std::size_t{k_workers} * (k_rounds / 4), "cond queue");
  expect(writes == k_workers * (k_rounds / 4), "semaphore writes");
}

void channels_and_contexts() {
  struct box {
    std::vector<int> data;
  };
  gort::chan<box*> a(0);
  gort::chan<box*> b(1);
  gort::chan<int> quit(0);
  auto [ctx, cancel] = gort::with_cancel(gort::background());
  std::string reason;  // written before cancel(), read after done
  gort::wait_group wg;
  long received = 0;
  wg.go([&] {
    for (;;) {
      box* x = nullptr;
      bool stop = false;
      auto take = [&](std::optional<box*> v) { x = *v; };
      gort::select(gort::recv(a, take), gort::recv(b, take),
                   gort::recv(quit, [&](std::optional<int>) { stop = true; }));
      if (stop) break;
      for (int v : x->data) received += v;
      delete x;
    }
  });
  gort::wait_group senders;
  for (int w = 0; w < k_workers; ++w) {
    senders.go([&, w] {
      for (int i = 0; i < k_rounds / 4; ++i) {
        box* x = new box{{w, i, 1}};
        gort::select(gort::send(w % 2 == 0 ? a : b, x));
      }
    });
  }
  std::vector<std::string> seen(k_workers);
  gort::wait_group watchers;
  for (int w = 0; w < k_workers; ++w) {
    watchers.go([&, w, ctx = ctx] {
      (void)gort::sleep_for(ctx, 10s);  // ends with the cancellation
      seen[static_cast<std::size_t>(w)] = reason;
    });
  }
  std::vector<std::string> polled(k_workers);
  for (int w = 0; w < k_workers; ++w) {
    watchers.go([&, w, ctx = ctx] {
      while (!ctx.err()) gort::yield();  // no wake-up: only err() orders this after cancel()
      polled[static_cast<std::size_t>(w)] = reason;
    });
  }
  gort::go([&, cancel = cancel] {
    reason = "stopped";
    cancel();
  });
  watchers.wait();
  for (const std::string& s : polled) expect(s == "stopped", "context err()");
  for (const std::string& s : seen) expect(s == "stopped", "context cancellation");
  senders.wait();
  quit.send(1);
  wg.wait();
  // The receiver's select may have taken quit while b's buffer still held a box.
  for (;;) {
    gort::try_recv_result<box*> r = b.try_recv();
    if (r.status != gort::recv_status::value) break;
    for (int v : (*r.value)->data) received += v;
    delete *r.value;
  }
  long want = 0;
  for (int w = 0; w < k_workers; ++w) {
    for (int i = 0; i < k_rounds / 4; ++i) want += w + i + 1;
  }
  expect(received == want, "channel values");
}

void pools_and_futures() {
  std::vector<std::string> results(k_workers * 8);
  {
    gort::pool p({.capacity = 2});
    for (std::size_t i = 0; i < results.size(); ++i) {
      std::error_code e = p.submit([&results, i] { results[i] = std::to_string(i); });
      expect(!e, "pool submit");
    }
    auto f = p.submit_future([] { return std::string("future"); });
    expect(f.get() == "future", "pool future");
    (void)p.release_timeout(10s);
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    expect(results[i] == std::to_string(i), "pool results");
  }
  gort::promise<std::vector<int>> pr;
  auto fut = pr.get_future();
  gort::go([pr = std::move(pr)]() mutable { pr.set_value(std::vector<int>{1, 2, 3}); });
  expect(fut.get().size() == 3, "promise value");
  gort::once o;
  int initialized = 0;
  gort::wait_group wg;
  for (int w = 0; w < k_workers; ++w) {
    wg.go([&] {
      o.call([&] { initialized += 1; });
      expect(initialized == 1, "once");
    });
  }
  wg.wait();
}

}  // namespace

int main() {
  return gort::run(
      [] {
        mutexes();
        conds_and_semaphores();
        channels_and_contexts();
        pools_and_futures();
        std::printf("sync_example: %s\n", failures == 0 ? "ok" : "FAILED");
        return failures == 0 ? 0 : 1;
      },
      {.maxprocs = 4});
}
