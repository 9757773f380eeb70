#!/usr/bin/env python3
"""tests/fuzz/make_corpus.py — writes the channel fuzzer's seed corpus (tests/fuzz/corpus/) and
its hand-made regression inputs (tests/fuzz/regressions/).

Each input is a small hand-made program in chan_program.hpp's encoding, together covering every
operation kind, every select arm kind, both select forms, buffered and unbuffered channels,
GOMAXPROCS 1 and 2, with and without shuffle. Re-run after changing the encoding:
    python3 tests/fuzz/make_corpus.py
"""
import os

KINDS = ["send", "recv", "try_send", "try_recv", "close", "select", "select_default",
         "ctx_send", "ctx_recv", "cancel", "timer_reset", "timer_stop", "timer_wait"]
ARMS = {"recv": 0, "send": 1, "timer": 2, "done": 3}
DURATIONS = {0: 0, 50: 1, 200: 2, 1000: 3}


def header(procs=1, shuffle=True, workers=2, caps=(0,), seed=1, timer_us=50):
    b0 = (1 if procs == 2 else 0) | (0 if shuffle else 2) | ((workers - 1) << 2) \
        | ((len(caps) - 1) << 4)
    capbits = 0
    for i, c in enumerate(caps):
        capbits |= c << (2 * i)
    s = seed - 1
    return bytes([b0, s & 0xFF, (s >> 8) & 0xFF, capbits, DURATIONS[timer_us]])


def op(worker, kind, chan=0, ctx=0, dur=0, variadic=False, arms=()):
    a = worker | (KINDS.index(kind) << 2)
    b = chan | (ctx << 2) | (DURATIONS[dur] << 3) | (int(variadic) << 5)
    if arms:
        b |= (len(arms) - 1) << 6
    out = bytes([a, b])
    for kind_, ch, cx in arms:
        out += bytes([ARMS[kind_] | (ch << 2) | (cx << 4)])
    return out


def prog(ops, **kw):
    return header(**kw) + b"".join(ops)


CORPUS = {
    # Unbuffered rendezvous both ways, then a receive that the release ends with "closed".
    "unbuffered_pingpong": prog([op(0, "send"), op(1, "recv"), op(1, "send"), op(0, "recv"),
                                 op(0, "recv")]),
    # FIFO through a buffer of 3, one sender, one receiver, a sender blocked on the full buffer.
    "buffered_fifo": prog([op(0, "send")] * 5 + [op(1, "recv")] * 4, caps=(3,)),
    # Close with values buffered: they drain, then "closed"; a send after close panics, a second
    # close panics.
    "close_drain": prog([op(0, "send"), op(0, "send"), op(0, "close"), op(0, "send"),
                         op(0, "close"), op(1, "recv"), op(1, "recv"), op(1, "recv"),
                         op(1, "recv")], caps=(2,)),
    # Senders and receivers blocked when the channel is closed.
    "close_wakes_waiters": prog([op(0, "send"), op(1, "send"), op(2, "recv", chan=1),
                                 op(3, "close"), op(3, "close", chan=1)],
                                workers=4, caps=(0, 0)),
    # Non-blocking forms: full, empty, closed.
    "try_ops": prog([op(0, "try_send"), op(0, "try_send"), op(0, "try_recv"), op(0, "try_recv"),
                     op(0, "try_recv"), op(1, "try_recv", chan=1), op(1, "close", chan=1),
                     op(1, "try_recv", chan=1), op(1, "try_send", chan=1)],
                    caps=(1, 0)),
    # Selects without default over channel arms of both directions, list and variadic forms.
    "select_mix": prog([op(0, "select", arms=[("recv", 0, 0), ("send", 1, 0)]),
                        op(1, "select", variadic=True, arms=[("recv", 1, 0), ("send", 0, 0)]),
                        op(2, "select", arms=[("recv", 0, 0), ("recv", 1, 0), ("send", 2, 0)]),
                        op(0, "recv", chan=2), op(1, "select", variadic=True,
                                                  arms=[("send", 2, 0)])],
                       workers=3, caps=(0, 0, 1), procs=2),
    # Selects with default: nothing ready, a buffered value, a closed channel.
    "select_default": prog([op(0, "select_default", arms=[("recv", 0, 0)]),
                            op(0, "select_default", variadic=True, arms=[("send", 0, 0)]),
                            op(0, "select_default", variadic=True,
                               arms=[("recv", 0, 0), ("send", 1, 0)]),
                            op(1, "close", chan=1),
                            op(1, "select_default", arms=[("recv", 1, 0), ("done", 0, 1)])],
                           caps=(1, 0)),
    # The same channel twice in one select; a select that cannot match itself.
    "select_same_channel": prog([op(0, "select", arms=[("send", 0, 0), ("recv", 0, 0)]),
                                 op(1, "select", arms=[("recv", 0, 0), ("recv", 0, 0)]),
                                 op(1, "send")], procs=2),
    # Context-aware send and receive, cancelled while waiting and cancelled before starting.
    "context_cancel": prog([op(0, "ctx_send", ctx=1), op(1, "ctx_recv", chan=1, ctx=0),
                            op(2, "cancel", ctx=1), op(2, "cancel", ctx=0),
                            op(2, "ctx_send", ctx=0), op(2, "ctx_recv", ctx=1),
                            op(0, "select", arms=[("done", 0, 1), ("recv", 1, 0)])],
                           workers=3, caps=(0, 1)),
    # Context operations on a cancelled context whose channel operation could complete at once
    # (a buffered value, a closed channel, room in the buffer): not attempted.
    "context_not_attempted": prog([op(0, "send"), op(0, "cancel", ctx=0), op(0, "ctx_recv", ctx=0),
                                   op(0, "close", chan=1), op(0, "ctx_recv", chan=1, ctx=1),
                                   op(0, "ctx_send", chan=0, ctx=1), op(0, "recv"),
                                   op(0, "ctx_send", chan=0, ctx=0)],
                                  workers=1, caps=(1, 0)),
    # Context operations racing a partner on the channel, at GOMAXPROCS 2.
    "context_race": prog([op(0, "ctx_send", ctx=0), op(1, "recv"), op(2, "cancel", ctx=0),
                          op(1, "ctx_recv", ctx=1), op(0, "send")],
                         workers=3, procs=2, seed=77),
    # The timer: waits, resets (before and after firing), stops, and a select on it.
    "timer": prog([op(0, "timer_wait"), op(0, "timer_reset", dur=50), op(0, "timer_wait"),
                   op(1, "timer_stop"), op(1, "timer_reset", dur=0), op(1, "timer_wait"),
                   op(0, "timer_reset", dur=1000), op(0, "timer_stop"),
                   op(1, "select", arms=[("timer", 0, 0), ("recv", 0, 0)])],
                  timer_us=200),
    # Concurrent resets and stops of one timer, with a waiter, at GOMAXPROCS 2.
    "timer_race": prog([op(0, "timer_reset", dur=0), op(1, "timer_reset", dur=0),
                        op(2, "timer_stop"), op(0, "timer_wait"), op(1, "timer_reset", dur=50),
                        op(2, "timer_wait")], workers=3, procs=2, seed=5, timer_us=0),
    # Everything at once, shuffle off, GOMAXPROCS 2.
    "everything": prog([op(0, "send", chan=1), op(1, "recv", chan=1), op(2, "try_send", chan=2),
                        op(3, "try_recv", chan=2),
                        op(0, "select", arms=[("recv", 0, 0), ("timer", 0, 0), ("done", 0, 1)]),
                        op(1, "select_default", arms=[("send", 0, 0), ("recv", 2, 0)]),
                        op(2, "ctx_send", chan=0, ctx=1), op(3, "ctx_recv", chan=1, ctx=0),
                        op(0, "timer_reset", dur=200), op(1, "timer_stop"),
                        op(2, "close", chan=2), op(3, "cancel", ctx=1), op(0, "timer_wait"),
                        op(1, "send", chan=2)],
                       workers=4, caps=(0, 1, 2), procs=2, shuffle=False),
}


# Hand-made reproducers of what the fuzzer found (tests/fuzz/regressions/ also keeps the fuzzer's
# own crash inputs, byte for byte).
REGRESSIONS = {
    # Four goroutines resetting one timer at once: a reset that ran between another's stop and
    # start reported nothing pending and then silently replaced that reset's arming.
    "timer_concurrent_reset": prog([op(w, "timer_reset", dur=0) for _ in range(16)
                                    for w in range(4)], workers=4, procs=2, shuffle=False,
                                   timer_us=0),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for folder, inputs in (("corpus", CORPUS), ("regressions", REGRESSIONS)):
        out = os.path.join(here, folder)
        os.makedirs(out, exist_ok=True)
        for name, data in inputs.items():
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
        print(f"wrote {len(inputs)} inputs to {out}")


if __name__ == "__main__":
    main()
