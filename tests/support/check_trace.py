"""Loads a gort execution trace (Chrome trace-event JSON) and summarizes it for a test.

usage: check_trace.py FILE
Checks what every viewer relies on (exit 1 with a message otherwise): the file is JSON with a
traceEvents list; every event has ph, pid and tid, and every non-metadata event a numeric ts;
complete slices have a non-negative dur and are named "G<id> [<reason>]"; slices on one track do
not overlap; flow ends ("f") have a flow start ("s") with the same id.
Prints one "key value" line per figure: slices, abutting (slices beginning exactly where their
track's previous slice ended), flow_starts, flow_ends, steals, netpolls,
counters, tracks, and "exited <id>" / "ran <id>" / "reason <text>" lines.
"""
import json
import re
import sys


def main():
    doc = json.load(open(sys.argv[1]))
    events = doc["traceEvents"]
    slices, starts, ends = [], {}, []
    steals = netpolls = counters = 0
    tracks = set()
    for e in events:
        for k in ("ph", "pid"):
            if k not in e:
                print(f"event without {k}: {e}")
                return 1
        if e["ph"] == "M":
            continue
        if not isinstance(e.get("ts"), (int, float)) or "tid" not in e:
            print(f"event without ts/tid: {e}")
            return 1
        tracks.add(e["tid"])
        ph = e["ph"]
        if ph == "X":
            m = re.fullmatch(r"G(\d+) \[(.+)\]", e["name"])
            if not m or e["dur"] < 0 or int(m.group(1)) != e["args"]["goid"]:
                print(f"bad slice: {e}")
                return 1
            slices.append((e["tid"], e["ts"], e["ts"] + e["dur"], int(m.group(1)), m.group(2)))
        elif ph == "s":
            starts[e["id"]] = e
        elif ph == "f":
            ends.append(e)
        elif ph == "i" and e["name"] == "steal":
            steals += 1
        elif ph == "i" and e["name"] == "netpoll":
            netpolls += 1
        elif ph == "C":
            counters += 1
    for f in ends:
        if f["id"] not in starts:
            print(f"flow end without a start: {f}")
            return 1
    by_track = {}
    for s in slices:
        by_track.setdefault(s[0], []).append(s)
    abutting = 0  # slices that begin exactly where the track's previous one ended
    for tid, ss in by_track.items():
        ss.sort(key=lambda s: s[1])
        for a, b in zip(ss, ss[1:]):
            if b[1] < a[2] - 0.0015:  # the JSON's 1 ns resolution
                print(f"overlapping slices on track {tid}: {a} {b}")
                return 1
            if abs(b[1] - a[2]) <= 0.0015:  # equal, up to the same resolution
                abutting += 1
    print("slices", len(slices))
    print("abutting", abutting)
    print("flow_starts", len(starts))
    print("flow_ends", len(ends))
    print("steals", steals)
    print("netpolls", netpolls)
    print("counters", counters)
    print("tracks", len(tracks))
    for s in slices:
        if s[4] == "exit":
            print("exited", s[3])
    for goid in sorted({s[3] for s in slices}):
        print("ran", goid)
    for r in sorted({s[4] for s in slices}):
        print("reason", r)
    return 0


sys.exit(main())
