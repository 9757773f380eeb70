// gort/detail/wait_list.hpp — the one intrusive list every blocking primitive queues waiters on.
//
// A waiter record lives on the stack of the goroutine (or plain thread) that waits, and is linked
// into its primitive's queue through a wait_hook. basic_wait_queues<N> is N FIFO lists that share
// one owner lock (a channel's receivers and senders; one list for everything else):
//
//   push_back / push_front   link a node (debug check: not linked already)
//   pop_front / pop_back     unlink and return the first / last node
//   remove                   unlink a node by address (debug check: linked)
//   remove_if_linked         the same, tolerating a node a waker already unlinked
//   waiting_hint             "is anyone queued?", readable without the lock (a channel's select
//                            fast path): a relaxed atomic head, stale by design
//   prefetch_neighbours      starts fetching a node's neighbours before the lock is taken to
//                            unlink it (every link access is a relaxed atomic one: wait_link)
//
// Waiters that outlive a runtime. A goroutine parked when its runtime shut down is abandoned: its
// stack, where its node lives, is unmapped, but the primitive (a channel, a mutex, a pool, a
// context…) may live on and be used again, by plain threads or under a later run(). A list must
// then forget those nodes without reading them. Every runtime shutdown advances a process-wide
// epoch (end_wait_epoch, after the runtime's last goroutine stopped and before its stacks are
// unmapped); the lists carry the epoch they were last validated in, and the owner calls
// validate() under its lock before it touches them. A list found stale drops every node at once
// (the pointers are never followed) except those of plain threads: a plain thread's node is on a
// stack that is still alive, so nodes of plain threads are also kept on a second chain (`tprev`,
// `tnext`; plain threads only, so goroutine waiters pay nothing) from which validate() rebuilds
// the lists, keeping those threads waiting with their place among each other. validate()
// returning true tells the owner to forget what its own counters say about the dropped waiters.
//
// Invariants (under the owner's lock):
//  * a node is in a list iff `linked`; then `queue` is its list's index;
//  * a plain thread's linked node is also on the thread chain, and only such nodes are;
//  * a node is in at most one list at a time (a record that must sit in two, a context-aware
//    waiter in its primitive's queue and its context's list, has a second node: ctx_link);
//  * first_[i] is null iff list i is empty; last_[i] likewise.
// Checked with GORT_DCHECK where a check is cheap (linking twice, unlinking an unlinked node,
// head/tail consistency).
//
// Who may call: the holder of the owner's lock, from any thread (a goroutine, a plain thread or a
// machine's scheduler context running park's unlock callback), except waiting_hint and
// prefetch_neighbours (any thread).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "gort/detail/dcheck.hpp"

namespace gort::detail {

/// The process-wide waiter epoch: advanced once per runtime shutdown. Written only by
/// end_wait_epoch(); read by validate().
extern std::atomic<std::uint32_t> g_wait_epoch;

/// Advances the waiter epoch: every list validated in an older epoch drops its goroutine nodes.
/// Called by a runtime's shutdown once none of its goroutines will run again and before their
/// stacks are freed.
void end_wait_epoch() noexcept;

struct wait_hook;

/// A list link: a pointer of which every access is a relaxed atomic one, so that
/// prefetch_neighbours may read it without the owner's lock; under the lock it behaves (and
/// compiles) as a plain pointer. Not initialized, as a plain pointer would not be.
class wait_link {
 public:
  // relaxed: every writer holds the owner's lock, which orders these accesses among its holders;
  // the only reader without it (prefetch_neighbours) takes the value as a hint.
  operator wait_hook*() const noexcept { return __atomic_load_n(&p_, __ATOMIC_RELAXED); }
  wait_hook* operator->() const noexcept { return *this; }
  wait_link& operator=(wait_hook* h) noexcept {
    __atomic_store_n(&p_, h, __ATOMIC_RELAXED);
    return *this;
  }
  wait_link& operator=(const wait_link& o) noexcept { return *this = static_cast<wait_hook*>(o); }

 private:
  wait_hook* p_;
};

/// A node's links (a record in two lists at once has two nodes: see ctx_link). Only `linked`
/// and `thread` are initialized: the links are written when the node is linked, and a node on a
/// blocking path is built every time a goroutine parks.
struct wait_hook {
  wait_link prev;
  wait_link next;
  wait_hook* tprev;     // the thread chain (plain threads' nodes only)
  wait_hook* tnext;
  std::uint8_t queue;   // its list's index within its owner, while linked
  bool linked = false;
  bool thread = false;  // belongs to a plain thread: kept when a runtime ends (set before linking)
};

/// N FIFO lists of Node (a class derived from wait_hook) under one owner lock; see the file
/// comment.
template <class Node, std::size_t N = 1>
class basic_wait_queues {
 public:
  static_assert(N >= 1 && N <= 255);
  using hook = wait_hook;

  basic_wait_queues() = default;
  basic_wait_queues(const basic_wait_queues&) = delete;
  basic_wait_queues& operator=(const basic_wait_queues&) = delete;

  /// Brings the lists into the current waiter epoch (see the file comment). `stamp` is where the
  /// owner keeps the epoch the lists were last validated in. True when a runtime ended since and
  /// the lists were rebuilt from the plain threads' nodes: the owner must forget the waiters its
  /// own state still counts (also for lists that were empty: a waiter may have been on its way
  /// in). Requires the owner's lock; first thing under it, before any other call.
  bool validate(std::uint32_t& stamp) noexcept {
    // acquire: pairs with end_wait_epoch's release increment (the shutdown that advanced it has
    // stopped every goroutine of its runtime). A thread that cannot yet see the new value runs
    // concurrently with that shutdown, which is the user's race (docs/api.md).
    const std::uint32_t e = g_wait_epoch.load(std::memory_order_acquire);
    if (stamp == e) return false;
    stamp = e;
    rebuild();
    return true;
  }

  [[nodiscard]] bool empty(std::size_t q = 0) const noexcept { return first(q) == nullptr; }

  /// Whether list q looks non-empty. Any thread, without the lock: a hint that may be stale (and
  /// may name a node that is already gone; it is never followed).
  [[nodiscard]] bool waiting_hint(std::size_t q = 0) const noexcept {
    return first_[q].load(std::memory_order_relaxed) != nullptr;
  }

  Node* front(std::size_t q = 0) const noexcept { return node_of(first(q)); }

  /// The node after n in its list, or null.
  static Node* next_of(Node* n) noexcept { return node_of(hook_of(n)->next); }

  /// Starts fetching, for writing, the nodes around n, which unlinking n (remove) will write:
  /// called before taking the owner's lock, so that the lock is not held across those misses
  /// (the neighbours lie on other goroutines' stacks). Any thread, without the lock: the links
  /// read may be stale, even name nodes that no longer exist; they are only prefetched, which
  /// neither faults nor writes.
  static void prefetch_neighbours(Node* n) noexcept {
    wait_hook* h = hook_of(n);
    __builtin_prefetch(static_cast<wait_hook*>(h->prev), 1);
    __builtin_prefetch(static_cast<wait_hook*>(h->next), 1);
  }

  void push_back(Node* n, std::size_t q = 0) noexcept {
    wait_hook* h = hook_of(n);
    link_checks(h);
    h->prev = last_[q];
    h->next = nullptr;
    if (last_[q] != nullptr) {
      last_[q]->next = h;
    } else {
      set_first(q, h);
    }
    last_[q] = h;
    mark_linked(h, q);
  }

  void push_front(Node* n, std::size_t q = 0) noexcept {
    wait_hook* h = hook_of(n);
    link_checks(h);
    h->prev = nullptr;
    h->next = first(q);
    if (h->next != nullptr) {
      h->next->prev = h;
    } else {
      last_[q] = h;
    }
    set_first(q, h);
    mark_linked(h, q);
  }

  /// Unlinks and returns the first node of list q, or null.
  Node* pop_front(std::size_t q = 0) noexcept {
    wait_hook* h = first(q);
    if (h == nullptr) return nullptr;
    unlink_first(h, q);
    return node_of(h);
  }

  /// Unlinks and returns the last node of list q, or null.
  Node* pop_back(std::size_t q = 0) noexcept {
    wait_hook* h = last_[q];
    if (h == nullptr) return nullptr;
    unlink(h, q);
    return node_of(h);
  }

  /// pop_front for an owner that validates lazily (a channel): validates with `stamp` only when
  /// list q is not empty — an empty list is found empty without following any node.
  Node* validate_and_pop_front(std::size_t q, std::uint32_t& stamp) noexcept {
    wait_hook* h = first(q);
    if (h == nullptr) return nullptr;
    if (validate(stamp)) {
      h = first(q);
      if (h == nullptr) return nullptr;
    }
    unlink_first(h, q);
    return node_of(h);
  }

  /// Unlinks n. Precondition: n is linked in these lists.
  void remove(Node* n) noexcept {
    wait_hook* h = hook_of(n);
    GORT_DCHECK(h->linked);
    unlink(h, h->queue);
  }

  /// Unlinks n if it is still linked (a waker may have unlinked it already). True if it was.
  bool remove_if_linked(Node* n) noexcept {
    wait_hook* h = hook_of(n);
    if (!h->linked) return false;
    unlink(h, h->queue);
    return true;
  }

  /// Unlinks every node of list q and returns the first, the rest chained through next_of()
  /// (their `next` links are left as they were; nothing else may be read from them once they are
  /// handed to their waiters).
  Node* take_all(std::size_t q = 0) noexcept {
    wait_hook* h = first(q);
    for (wait_hook* x = h; x != nullptr; x = x->next) {
      x->linked = false;
      if (x->thread) chain_remove(x);
    }
    set_first(q, nullptr);
    last_[q] = nullptr;
    return node_of(h);
  }

  /// Whether n is linked here (for the owner's bookkeeping; requires the lock).
  static bool is_linked(const Node* n) noexcept { return static_cast<const hook*>(n)->linked; }

  /// Number of nodes in list q. O(n); for tests and debug checks.
  std::size_t count(std::size_t q = 0) const noexcept {
    std::size_t k = 0;
    for (wait_hook* h = first(q); h != nullptr; h = h->next) ++k;
    return k;
  }

 private:
  static wait_hook* hook_of(Node* n) noexcept { return static_cast<hook*>(n); }
  static Node* node_of(wait_hook* h) noexcept {
    return h == nullptr ? nullptr : static_cast<Node*>(static_cast<hook*>(h));
  }

  // relaxed: under the owner's lock, which orders these; atomic only for waiting_hint().
  wait_hook* first(std::size_t q) const noexcept {
    return first_[q].load(std::memory_order_relaxed);
  }
  void set_first(std::size_t q, wait_hook* h) noexcept {
    first_[q].store(h, std::memory_order_relaxed);
  }

  void link_checks([[maybe_unused]] wait_hook* h) noexcept {
    GORT_DCHECK(!h->linked);  // linking a node twice
  }

  void mark_linked(wait_hook* h, std::size_t q) noexcept {
    h->linked = true;
    h->queue = static_cast<std::uint8_t>(q);
    if (h->thread) chain_push(h);
    GORT_DCHECK(first(q) != nullptr && last_[q] != nullptr);
  }

  // Unlinks the first node h of list q (its prev is null).
  void unlink_first(wait_hook* h, std::size_t q) noexcept {
    GORT_DCHECK(h->linked && h->queue == q && h->prev == nullptr);
    wait_hook* n = h->next;
    set_first(q, n);
    if (n != nullptr) {
      n->prev = nullptr;
    } else {
      last_[q] = nullptr;
    }
    h->linked = false;
    if (h->thread) chain_remove(h);
  }

  // q is h's list (h->queue).
  void unlink(wait_hook* h, std::size_t q) noexcept {
    GORT_DCHECK(h->queue == q);
    if (h->prev != nullptr) {
      h->prev->next = h->next;
    } else {
      GORT_DCHECK(first(q) == h);
      set_first(q, h->next);
    }
    if (h->next != nullptr) {
      h->next->prev = h->prev;
    } else {
      GORT_DCHECK(last_[q] == h);
      last_[q] = h->prev;
    }
    h->linked = false;  // prev and next are stale from now on; nothing reads them
    if (h->thread) chain_remove(h);
  }

  void chain_push(wait_hook* h) noexcept {
    h->tprev = nullptr;
    h->tnext = threads_;
    if (threads_ != nullptr) threads_->tprev = h;
    threads_ = h;
  }

  void chain_remove(wait_hook* h) noexcept {
    if (h->tprev != nullptr) {
      h->tprev->tnext = h->tnext;
    } else {
      threads_ = h->tnext;
    }
    if (h->tnext != nullptr) h->tnext->tprev = h->tprev;
  }

  // Drops every node without reading it, then relinks the plain threads' nodes from the chain.
  // The chain is newest first: each node goes to the front of its list (restoring their order)
  // and to the tail of the new chain (keeping it newest first).
  [[gnu::cold]] void rebuild() noexcept {
    for (std::size_t q = 0; q < N; ++q) {
      set_first(q, nullptr);
      last_[q] = nullptr;
    }
    wait_hook* t = threads_;
    wait_hook* chain_tail = nullptr;
    threads_ = nullptr;
    while (t != nullptr) {
      wait_hook* older = t->tnext;
      const std::size_t q = t->queue;
      t->prev = nullptr;
      t->next = first(q);
      if (t->next != nullptr) {
        t->next->prev = t;
      } else {
        last_[q] = t;
      }
      set_first(q, t);
      t->tprev = chain_tail;
      t->tnext = nullptr;
      if (chain_tail != nullptr) {
        chain_tail->tnext = t;
      } else {
        threads_ = t;
      }
      chain_tail = t;
      t = older;
    }
  }

  std::atomic<wait_hook*> first_[N] = {};
  wait_hook* last_[N] = {};
  wait_hook* threads_ = nullptr;  // plain threads' linked nodes, newest first
};

/// basic_wait_queues that keeps its own epoch stamp (every owner but the channel, which packs the
/// stamp next to its other fields).
template <class Node, std::size_t N = 1>
class wait_queues : public basic_wait_queues<Node, N> {
 public:
  /// basic_wait_queues::validate with the stamp kept here.
  bool validate() noexcept { return basic_wait_queues<Node, N>::validate(stamp_); }

 private:
  std::uint32_t stamp_ = 0;
};

}  // namespace gort::detail
