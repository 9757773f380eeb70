// sched/labels.cpp — goroutine labels (gort/labels.hpp) and goroutine-local values
// (gort/goroutine_local.hpp).
//
// Labels: the record holds one reference to an immutable label_data (labels.hpp); set_labels swaps
// the pointer on the goroutine itself, so only the goroutine writes its own field; a dump reads it
// only while the goroutine cannot run (parked under the scan bit, or the dumper itself).
// Locals: the record's `locals` table is created, searched and destroyed by the goroutine itself;
// a plain thread (or a machine's scheduler context) uses a thread_local table instead.
#include <algorithm>
#include <atomic>
#include <new>

#include "gort/goroutine_local.hpp"
#include "gort/labels.hpp"
#include "sched/scheduler.hpp"

namespace gort::sched {

void release_labels_slow(label_data* l) noexcept {
  // acq_rel: the last owner's delete happens after every other owner's last use (shared_ptr's).
  if (l->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete l;
}

namespace {

void free_value(const local_entry& e) noexcept {
  ::operator delete(e.value, std::align_val_t(e.align));
}

void destroy_table(local_table& t) noexcept {
  // Reverse order of creation; a destructor that uses another goroutine_local of this goroutine
  // finds it (or makes a fresh one, destroyed in a later round).
  while (!t.entries.empty()) {
    const local_entry e = t.entries.back();
    t.entries.pop_back();
    e.destroy(e.value);
    free_value(e);
  }
}

// A plain thread's (or scheduler context's) values, destroyed at thread exit.
struct thread_locals {
  local_table table;
  ~thread_locals() { destroy_table(table); }
};

thread_locals& thread_table() {
  thread_local thread_locals t;
  return t;
}

// The caller's table: its goroutine's (created when `create`), or the thread's.
local_table* caller_table(bool create) {
  machine* m = current_machine();
  goroutine* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr) return &thread_table().table;
  if (g->locals == nullptr && create) {
    g->locals = new local_table;
    g->flags |= goroutine::k_extras;  // its end frees the table
  }
  return g->locals;
}

}  // namespace

void destroy_locals(goroutine* g) noexcept {
  local_table* t = g->locals;
  destroy_table(*t);
  g->locals = nullptr;
  delete t;
}

void abandon_locals(goroutine* g) noexcept {
  local_table* t = g->locals;
  if (t == nullptr) return;
  for (const local_entry& e : t->entries) free_value(e);
  g->locals = nullptr;
  delete t;
}

}  // namespace gort::sched

namespace gort::detail {

using namespace gort::sched;

std::uint64_t local_new_key() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);  // relaxed: uniqueness only
}

void* local_get(std::uint64_t key) noexcept {
  local_table* t = caller_table(false);
  if (t == nullptr) return nullptr;
  for (const local_entry& e : t->entries) {
    if (e.key == key) return e.value;
  }
  return nullptr;
}

void* local_emplace(std::uint64_t key, std::size_t size, std::size_t align, void (*construct)(void*),
                    void (*destroy)(void*) noexcept) {
  local_table* t = caller_table(true);
  t->entries.reserve(t->entries.size() + 1);  // the push below cannot throw
  void* mem = ::operator new(size, std::align_val_t(align));
  try {
    construct(mem);
  } catch (...) {
    ::operator delete(mem, std::align_val_t(align));
    throw;
  }
  // construct() may have parked (and moved us): the table is the goroutine's, wherever it runs.
  t->entries.push_back(local_entry{key, mem, destroy, align});
  return mem;
}

void local_erase(std::uint64_t key) noexcept {
  local_table* t = caller_table(false);
  if (t == nullptr) return;
  auto it = std::find_if(t->entries.begin(), t->entries.end(),
                         [key](const local_entry& e) { return e.key == key; });
  if (it == t->entries.end()) return;
  const local_entry e = *it;
  t->entries.erase(it);
  e.destroy(e.value);
  free_value(e);
}

}  // namespace gort::detail

// ---- gort::labels ----

namespace gort {

using detail::label_data;

namespace {

// Sorted, unique-key insertion (replacing an existing key).
void put(label_data& d, std::string_view key, std::string_view value) {
  auto it = std::lower_bound(d.kv.begin(), d.kv.end(), key,
                             [](const auto& p, std::string_view k) { return p.first < k; });
  if (it != d.kv.end() && it->first == key) {
    it->second.assign(value);
  } else {
    d.kv.emplace(it, std::string(key), std::string(value));
  }
}

label_data* copy_of(const label_data* d) {
  auto* n = new label_data;
  if (d != nullptr) n->kv = d->kv;
  return n;
}

}  // namespace

labels::labels(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  if (kv.size() == 0) return;
  d_ = new label_data;
  for (const auto& [k, v] : kv) put(*d_, k, v);
}

labels::labels(const labels& o) noexcept : d_(sched::retain_labels(o.d_)) {}

labels::~labels() { sched::release_labels(d_); }

labels labels::with(std::string_view key, std::string_view value) const {
  labels r(copy_of(d_));
  put(*r.d_, key, value);
  return r;
}

labels labels::merged(const labels& o) const {
  if (o.d_ == nullptr) return *this;
  if (d_ == nullptr) return o;
  labels r(copy_of(d_));
  for (const auto& [k, v] : o.d_->kv) put(*r.d_, k, v);
  return r;
}

std::optional<std::string_view> labels::get(std::string_view key) const {
  if (d_ == nullptr) return std::nullopt;
  for (const auto& [k, v] : d_->kv) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

std::size_t labels::size() const noexcept { return d_ != nullptr ? d_->kv.size() : 0; }

std::vector<std::pair<std::string, std::string>> labels::items() const {
  if (d_ == nullptr) return {};
  return d_->kv;
}

namespace this_goroutine {

labels get_labels() {
  sched::machine* m = sched::current_machine();
  sched::goroutine* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr) return labels();
  return labels(sched::retain_labels(g->labels));
}

void set_labels(const labels& l) {
  sched::machine* m = sched::current_machine();
  sched::goroutine* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr) return;
  label_data* old = g->labels;
  g->labels = sched::retain_labels(l.data());
  g->flags |= sched::goroutine::k_extras;  // its end releases the set
  sched::release_labels(old);
}

}  // namespace this_goroutine

}  // namespace gort
