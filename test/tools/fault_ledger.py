#!/usr/bin/env python3
"""Bookkeeping for the fault matrix (Python standard library only).

  push    POST readings to the agent's /ingest until SIGTERM; every
          reading answered 204 (acknowledged) is appended to --acked as
          {"v": value, "ts": ts, "t": time of the answer}, every other
          answer (status 0: none in time) to --refused
  check   which acknowledged readings are not at the collector, by id
          (SHA-256 over agent, device, sensor, ts, value, as the agent
          computes it), and how many ids the collector got again
  gaps    upload requests the collector logged (--request-log) in a mode
          since a time: their count and the smallest gap between two
  fields  picks fields (a.b.c) out of the JSON document on stdin
"""

import argparse
import hashlib
import json
import math
import os
import signal
import struct
import sys
import time
import urllib.error
import urllib.request


def record_id(agent, device, sensor, ts, value):
    """The id of a reading whose ts came with it (src/recid.c)."""
    def s(x):
        b = x.encode()
        return struct.pack(">H", len(b)) + b

    if value == 0:
        value = 0.0  # -0.0 and 0.0 are the same reading
    return hashlib.sha256(s(agent) + s(device) + s(sensor) +
                          struct.pack(">d", ts) +
                          struct.pack(">d", value)).hexdigest()


def cmd_push(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    v = a.first
    acked = open(a.acked, "a", buffering=1)
    counts = {"pushes": 0, "acked": 0, "refused": 0}
    while not stop:
        # Eighths of a second: exact in binary and in the decimal text,
        # so the agent parses the very double hashed here.
        ts = math.floor(time.time() * 8) / 8
        readings = [{"value": v + i, "ts": ts} for i in range(a.batch)]
        req = urllib.request.Request(
            a.url, data=json.dumps(readings).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        counts["pushes"] += 1
        try:
            with urllib.request.urlopen(req, timeout=a.timeout) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (OSError, ValueError):
            status = 0
        if status == 204:
            now = time.time()
            for x in readings:
                acked.write(json.dumps({"v": x["value"], "ts": ts,
                                        "t": now}) + "\n")
            counts["acked"] += len(readings)
        else:
            counts["refused"] += len(readings)
            if a.refused:
                with open(a.refused, "a") as f:
                    f.write(json.dumps({"t": time.time(), "status": status,
                                        "n": len(readings)}) + "\n")
        v += a.batch
        if a.stats:
            with open(a.stats + ".tmp", "w") as f:
                json.dump(counts, f)
            os.replace(a.stats + ".tmp", a.stats)
        if not stop:
            time.sleep(a.every)


def load_lines(path):
    try:
        with open(path) as f:
            return [json.loads(x) for x in f if x.strip()]
    except FileNotFoundError:
        return []


def cmd_check(a):
    acked = []
    for path in a.acked:
        acked.extend(load_lines(path))
    entries = load_lines(a.collector)
    seen, replays = set(), 0
    for i, e in enumerate(entries):
        for rid in e.get("ids", []):
            if i >= a.since_line and rid in seen:
                replays += 1
            seen.add(rid)
    total = case = missing = 0
    for r in acked:
        if a.upto is not None and r["t"] > a.upto:
            continue
        total += 1
        if a.after is not None and r["t"] > a.after:
            case += 1
        rid = record_id(a.agent, a.device, a.sensor, float(r["ts"]),
                        float(r["v"]))
        if rid not in seen:
            missing += 1
    print("acked=%d case=%d missing=%d replays=%d lines=%d" %
          (total, case, missing, replays, len(entries)))


def cmd_gaps(a):
    times = [e["t"] for e in load_lines(a.log)
             if e.get("event") == "request" and e["t"] >= a.since and
             (a.mode is None or e.get("mode") == a.mode)]
    gaps = [y - x for x, y in zip(times, times[1:])]
    print("n=%d min_gap=%.3f" % (len(times), min(gaps) if gaps else -1))


def cmd_fields(a):
    doc = json.load(sys.stdin)
    out = []
    for path in a.paths:
        v = doc
        for k in path.split("."):
            if isinstance(v, list):
                v = v[int(k)] if k.isdigit() and int(k) < len(v) else None
            elif isinstance(v, dict):
                v = v.get(k)
            else:
                v = None
        if isinstance(v, (dict, list)):
            v = json.dumps(v)
        elif v is None:
            v = "-"
        out.append(str(v).replace("\t", " "))
    print("\t".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("push")
    s.add_argument("--url", required=True)
    s.add_argument("--acked", required=True)
    s.add_argument("--stats")
    s.add_argument("--refused", help="JSON lines: time and status of "
                   "every push not answered 204")
    s.add_argument("--first", type=int, default=1)
    s.add_argument("--batch", type=int, default=5)
    s.add_argument("--every", type=float, default=0.2)
    s.add_argument("--timeout", type=float, default=3)
    s = sub.add_parser("check")
    s.add_argument("--agent", required=True)
    s.add_argument("--device", required=True)
    s.add_argument("--sensor", required=True)
    s.add_argument("--collector", required=True)
    s.add_argument("--upto", type=float, help="only readings acked by then")
    s.add_argument("--after", type=float, help="count those acked since")
    s.add_argument("--since-line", type=int, default=0,
                   help="count replays in collector lines from here")
    s.add_argument("acked", nargs="+")
    s = sub.add_parser("gaps")
    s.add_argument("--log", required=True)
    s.add_argument("--since", type=float, default=0)
    s.add_argument("--mode")
    s = sub.add_parser("fields")
    s.add_argument("paths", nargs="+")
    a = p.parse_args()
    {"push": cmd_push, "check": cmd_check, "gaps": cmd_gaps,
     "fields": cmd_fields}[a.cmd](a)


if __name__ == "__main__":
    main()
