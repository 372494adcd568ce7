#!/usr/bin/env python3
"""Crash loop for outpost (Python standard library only).

Kills the agent with SIGKILL at random moments, again and again, while
every input and output path is busy at once, and checks the store after
each kill; then lets the agent run undisturbed until it is quiet and checks
that nothing acknowledged was lost or stored twice. The scenario script
(test/integration/crash_loop.sh) starts the broker and the collector and
writes the agent's config; this program does the rest:

  mq     MQTT QoS 1: mosquitto_pub -q 1 publishes 1, 2, 3, ... to cl/n;
         the agent subscribes with a persistent session (priority high)
         through a relay (LossyLink) that delays what the agent sends by
         50 ms and drops it at each kill, so PUBACKs of committed messages
         are lost and the broker redelivers them to the next run.
  push   HTTP push: JSON bodies of uniquely numbered readings POSTed to
         /ingest, each retried until it is answered 204 (priority
         critical); a 204 is an acknowledgement, recorded.
  tail   file tail: lines 1, 2, 3, ... appended to a file that is rotated
         (mv + create) every --rotate-lines lines (priority high).
  bulk   a fast low-priority sim device, with a rule on it (events).
  low    low-priority padded readings pushed (device lowpush) during one
         collector outage until the store sheds.

What "not lost" means while the store sheds. The store is capped small
(max_db_mb = 1, pressure_min_age = 0): above 80% it purges summarized raw
readings, uploaded ones of any priority first, then queued normal and low
ones. So a reading may leave the store in exactly one legitimate way for
mq, push and tail data: it was uploaded (state sent) and then purged. A
reading is therefore accounted for when its id is in the store or at the
collector (the collector keeps each upload's records, so an id there
still says which device and value it stood for). Queued high and critical
rows are never purged; they could only be shed above 100% of the cap.
The harness keeps far from that (collector faults only while fewer than
1000 such rows wait) and fails with its own message if the agent's log
shows the spool shedding above the cap, so any loss is the agent's. Only
bulk and lowpush rows, and records derived from them, may vanish unsent
(counted in meta.shed_total, which must grow above zero: shedding did
happen; the second lifetime is a collector outage that lasts until the
store sheds).

After each kill (the agent dead, the store read through a read-only
connection so the WAL the agent must recover is left as it was):
  - PRAGMA integrity_check is ok;
  - no id twice in readings, events or summaries, no period summarized
    twice;
  - every sent record (any table) is at the collector;
  - every push reading answered 204 before the kill is accounted for;
  - the tail position (offsets "file:tail") lies inside the file with its
    inode, at a line start, and the tail readings accounted for are
    exactly lines 1..n, n the last line before that position;
  - no mq or push value has two ids (stored twice), no mq value beyond
    what was published.
At the end: every published mq message, every file line and every
acknowledged push reading is at the collector (so uploaded) exactly once
under one id, and the checks above hold.

The seed (--seed, else random) is printed first; the kill schedule, the
collector faults and the drivers' choices all derive from it, so a failure
is replayed with CRASH_SEED=<seed> (timing on a busy machine still varies).
"""

import argparse
import collections
import http.client
import json
import os
import random
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

ACCOUNTED = ("mq", "push", "tail")


class Fail(Exception):
    pass


def now():
    return time.time()


def log(msg):
    print("crash_loop: " + msg, flush=True)


def ro_connect(db):
    # mode=ro: a read-only connection never checkpoints on close, so the
    # WAL a killed agent left is exactly what the next agent recovers.
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)


class Relay:
    """One agent connection through the link: broker bytes go straight
    through; the agent's wait `delay` seconds in a queue (a slow uplink:
    PUBACKs and PINGREQs in order, so a PINGRESP still means the broker
    read every PUBACK before it)."""

    def __init__(self, agent, broker, delay):
        self.agent = agent
        self.broker = broker
        self.delay = delay
        self.q = collections.deque()
        self.cv = threading.Condition()
        self.eof = False
        self.cutting = False
        for fn in (self.up, self.down, self.send):
            threading.Thread(target=fn, daemon=True).start()

    def up(self):
        while True:
            try:
                data = self.agent.recv(65536)
            except OSError:
                data = b""
            with self.cv:
                if not data:
                    self.eof = True
                elif not self.cutting:
                    self.q.append((now() + self.delay, data))
                self.cv.notify()
            if not data:
                return

    def down(self):
        while True:
            try:
                data = self.broker.recv(65536)
                if not data:
                    break
                self.agent.sendall(data)
            except OSError:
                break
        self.close()

    def send(self):
        while True:
            with self.cv:
                if self.cutting:
                    # The link is dead: nothing passes, nothing closes
                    # until the agent is gone.
                    self.q.clear()
                if not self.q:
                    if self.eof:
                        break
                    self.cv.wait(0.5)
                    continue
                t, data = self.q[0]
                if t > now():
                    self.cv.wait(t - now())
                    continue
                self.q.popleft()
            try:
                self.broker.sendall(data)
            except OSError:
                break
        self.close()

    def cut(self):
        with self.cv:
            self.cutting = True
            self.q.clear()
            self.cv.notify()

    def close(self):
        for sock in (self.agent, self.broker):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class LossyLink:
    """A TCP relay between the agent and the broker. cut(), just before a
    kill, drops what the agent sent that is still on its way: a power cut
    takes the modem's buffers with it. PUBACKs of committed messages are
    lost that way, so the broker redelivers them (DUP) to the next run,
    which must acknowledge them without storing them again."""

    def __init__(self, port, broker_port, delay):
        self.broker_port = broker_port
        self.delay = delay
        self.relays = []
        self.lock = threading.Lock()
        self.srv = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            agent, _ = self.srv.accept()
            try:
                broker = socket.create_connection(
                    ("127.0.0.1", self.broker_port), timeout=5)
                broker.settimeout(None)
            except OSError:
                agent.close()
                continue
            with self.lock:
                self.relays = [r for r in self.relays if not r.eof]
                self.relays.append(Relay(agent, broker, self.delay))

    def cut(self):
        with self.lock:
            for r in self.relays:
                r.cut()


class MqttPublisher:
    """Numbers 1, 2, ... into mosquitto_pub -q 1 -l: each line is one QoS 1
    message; mosquitto_pub exits 0 once the broker acknowledged them all."""

    def __init__(self, port, rate, logf):
        self.rate = rate
        self.count = 0
        self.stop = threading.Event()
        self.proc = subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
             "-t", "cl/n", "-l", "-i", "crash-loop-pub"],
            stdin=subprocess.PIPE, stdout=logf, stderr=logf)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        step = 5
        t = now()
        while not self.stop.is_set():
            lines = "".join("%d\n" % (self.count + i + 1)
                            for i in range(step))
            # Counted first: a check may read count at any moment.
            self.count += step
            self.proc.stdin.write(lines.encode())
            self.proc.stdin.flush()
            t += step / self.rate
            delay = t - now()
            if delay > 0:
                self.stop.wait(delay)
            else:
                t = now()

    def finish(self):
        self.stop.set()
        self.thread.join()
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Fail("mosquitto_pub did not finish (broker acks)")
        if rc != 0:
            raise Fail("mosquitto_pub exited %d" % rc)
        return self.count


class HttpPusher:
    """POSTs JSON arrays of uniquely numbered readings to /ingest; a body is
    retried (same readings, same ts: same ids) until it is answered 204."""

    def __init__(self, port, rate, rng):
        self.port = port
        self.rate = rate
        self.rng = rng
        self.lock = threading.Lock()
        self.acked_cv = threading.Condition(self.lock)
        self.acked = []
        self.next = 1
        self.answers = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def post(self, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("POST", "/ingest?device=push", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            return str(r.status)
        except (OSError, http.client.HTTPException) as e:
            return type(e).__name__
        finally:
            conn.close()

    def run(self):
        deadline = None
        while True:
            if self.stop.is_set():
                return
            k = self.rng.randint(1, 40)
            values = list(range(self.next, self.next + k))
            self.next += k
            ts = round(now(), 3)
            body = json.dumps([{"sensor": "push.v", "value": v, "ts": ts}
                               for v in values])
            while True:
                code = self.post(body)
                self.answers[code] = self.answers.get(code, 0) + 1
                if code == "204":
                    with self.lock:
                        self.acked.extend(values)
                        self.acked_cv.notify_all()
                    break
                # Not acknowledged (agent down, 503, reset): the same
                # body again, as a client that wants delivery would.
                if self.stop.is_set():
                    deadline = deadline or now() + 60
                    if now() > deadline:
                        return
                time.sleep(0.05)
            time.sleep(k / self.rate)

    def snapshot(self):
        with self.lock:
            return list(self.acked)

    def wait_ack(self, limit):
        """Returns as soon as the next 204 has come (or after limit s)."""
        with self.lock:
            n = len(self.acked)
            self.acked_cv.wait_for(lambda: len(self.acked) > n, limit)

    def finish(self):
        """Stops after the body in hand is acknowledged; all posted values
        must then be acknowledged."""
        self.stop.set()
        self.thread.join(90)
        acked = self.snapshot()
        if len(acked) != self.next - 1:
            raise Fail("push: %d readings posted, %d acknowledged"
                       % (self.next - 1, len(acked)))
        return acked


class FileWriter:
    """Appends lines 1, 2, ... to path; every rotate_lines lines rotates it
    (path.N -> path.N+1, path -> path.1, a new path), but only once the
    agent's stored position is in the current file: with two rotations
    before the agent catches up, the middle file would be skipped (the
    agent drains one rotated file, by inode, then follows path)."""

    def __init__(self, path, rate, rotate_lines, db):
        self.path = path
        self.dir = os.path.dirname(path)
        self.rate = rate
        self.rotate_lines = rotate_lines
        self.db = db
        self.lock = threading.Lock()
        self.first = {}  # inode -> number of its first line
        self.count = 0
        self.rotations = 0
        self.in_current = 0
        self.stop = threading.Event()
        self.fd = self.new_file()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def new_file(self):
        # The inode is known (and recorded) before the agent can see it.
        tmp = self.path + ".new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND,
                     0o644)
        # Under the lock: a check never sees a file between two names.
        with self.lock:
            self.first[os.fstat(fd).st_ino] = self.count + 1
            if os.path.exists(self.path):
                n = 1
                while os.path.exists("%s.%d" % (self.path, n)):
                    n += 1
                for i in range(n - 1, 0, -1):
                    os.rename("%s.%d" % (self.path, i),
                              "%s.%d" % (self.path, i + 1))
                os.rename(self.path, self.path + ".1")
                self.rotations += 1
            os.rename(tmp, self.path)
        self.in_current = 0
        return fd

    def agent_in_current(self):
        if not os.path.exists(self.db):
            return False
        try:
            c = ro_connect(self.db)
            try:
                row = c.execute("SELECT value FROM offsets WHERE source = "
                                "'file:tail'").fetchone()
            finally:
                c.close()
        except sqlite3.Error:
            return False
        return (row is not None and
                int(row[0].split(":")[0]) == os.fstat(self.fd).st_ino)

    def write(self, k):
        data = "".join("%d\n" % (self.count + i + 1) for i in range(k))
        os.write(self.fd, data.encode())
        with self.lock:
            self.count += k
        self.in_current += k

    def rotate(self):
        os.close(self.fd)
        self.fd = self.new_file()

    def run(self):
        step = 5
        t = now()
        while not self.stop.is_set():
            if (self.in_current >= self.rotate_lines and
                    self.agent_in_current()):
                self.rotate()
            self.write(step)
            t += step / self.rate
            delay = t - now()
            if delay > 0:
                self.stop.wait(delay)
            else:
                t = now()

    def finish(self):
        """Stops writing; a short run still gets its rotation (the agent
        runs now, so it reaches the current file)."""
        self.stop.set()
        self.thread.join()
        deadline = now() + 30
        while self.rotations == 0 and now() < deadline:
            if self.agent_in_current():
                self.rotate()
                self.write(10)
            else:
                time.sleep(0.1)
        os.close(self.fd)
        if self.rotations == 0:
            raise Fail("the tailed file was never rotated")
        return self.count

    def read_inode(self, ino):
        """(first line number, contents) of the file with inode ino."""
        with self.lock:
            for e in os.scandir(self.dir):
                if e.is_file(follow_symlinks=False) and e.inode() == ino:
                    with open(e.path, "rb") as f:
                        return self.first.get(ino), e.path, f.read()
        return None, None, None


class Collector:
    """What the collector accepted, read incrementally from its JSON-lines
    store (started with --records)."""

    def __init__(self, path, url):
        self.path = path
        self.url = url
        self.pos = 0
        self.ids = set()
        self.rec = {}  # id -> (device, value) for accounted readings
        self.total = 0

    def refresh(self):
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return
        with f:
            f.seek(self.pos)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.pos += end
        for line in data[:end].splitlines():
            for r in json.loads(line).get("records", []):
                self.total += 1
                self.ids.add(r["id"])
                if r.get("kind") == "reading" and r.get("device") in ACCOUNTED:
                    self.rec[r["id"]] = (r["device"], int(r["value"]))

    def mode(self, mode):
        req = urllib.request.Request(self.url + "/_control",
                                     data=mode.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()


class Harness:
    def __init__(self, a):
        self.a = a
        self.seed = a.seed
        self.rng = random.Random(self.seed)
        self.agent = None
        self.agentlog = open(os.path.join(a.dir, "agent.log"), "ab")
        self.drvlog = open(os.path.join(a.dir, "drivers.log"), "ab")
        self.coll = Collector(a.collector_store,
                              "http://127.0.0.1:%d" % a.collector_port)
        self.kills = 0
        self.early_kills = 0
        self.after_ack_kills = 0
        self.mid_upload = 0
        self.mid_ids = set()  # unsent ids seen at the collector
        self.checks = 0
        self.urgent_backlog = 0
        self.logpos = 0
        self.outage = "none"
        self.wrapper = shlex.split(os.environ.get("OUTPOST_WRAPPER", ""))

    # The agent.

    def start_agent(self):
        self.agent = subprocess.Popen(
            self.wrapper + [self.a.bin, "-c", self.a.config],
            stdout=self.agentlog, stderr=subprocess.STDOUT)

    def live(self):
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/health/live" % self.a.health_port,
                    timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_live(self, limit=30):
        deadline = now() + limit
        while not self.live():
            if self.agent.poll() is not None:
                raise Fail("agent exited (%d) while starting"
                           % self.agent.returncode)
            if now() > deadline:
                raise Fail("agent not live after %d s" % limit)
            time.sleep(0.05)

    def adapter_state(self, name):
        h = self.health()
        if h is None:
            return None
        for ad in h.get("adapters", []):
            if ad.get("name") == name:
                return ad.get("state")
        return None

    def wait_subscribed(self, limit=30):
        # Messages published before the first SUBSCRIBE reach nobody:
        # the session starts with the subscription.
        deadline = now() + limit
        while self.adapter_state("mq") != "connected":
            if now() > deadline:
                raise Fail("mq not connected after %d s" % limit)
            time.sleep(0.05)

    def health(self):
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/health" % self.a.health_port,
                    timeout=2) as r:
                return json.load(r)
        except (OSError, ValueError):
            return None

    def post_low(self, n, pad):
        """A body of n low readings (device lowpush), each padded so the
        store fills at a known pace whatever the machine's speed."""
        ts = now()
        body = json.dumps([{"sensor": "low.v", "value": i, "ts": ts,
                            "meta": {"pad": pad}} for i in range(n)])
        conn = http.client.HTTPConnection("127.0.0.1", self.a.health_port,
                                          timeout=5)
        try:
            conn.request("POST", "/ingest?device=lowpush", body,
                         {"Content-Type": "application/json"})
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()

    def wait_shed(self, limit=30):
        """The collector is down: low readings at about 200 KB/s (with the
        rest, about 30 KB per pressure check: never far past 95%, where
        low ones are refused) until the store sheds some, or until 3000
        high and critical rows wait (the final check then says that
        nothing was shed)."""
        t0 = now()
        pad = "p" * 400
        why = "no shedding after %d s" % limit
        while now() < t0 + limit and self.agent.poll() is None:
            h = self.health()
            if h is not None:
                q = h["queue"]
                urgent = (q["by_priority"]["critical"] +
                          q["by_priority"]["high"])
                if q["shed_total"] > 0:
                    why = "shed %d" % q["shed_total"]
                    break
                if urgent > 3000:
                    why = "%d high and critical rows waiting" % urgent
                    break
            self.post_low(50, pad)
            time.sleep(0.1)
        self.outage = "%.1f s (%s)" % (now() - t0, why)

    def kill_agent(self):
        if self.agent.poll() is not None:
            raise Fail("agent exited by itself (%d) before kill %d"
                       % (self.agent.returncode, self.kills + 1))
        self.link.cut()
        self.agent.send_signal(signal.SIGKILL)
        self.agent.wait()
        self.agent = None
        self.kills += 1

    def stop_agent(self):
        self.agent.send_signal(signal.SIGTERM)
        try:
            rc = self.agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise Fail("agent did not stop within 30 s of SIGTERM")
        self.agent = None
        if rc != 0:
            raise Fail("agent exit code %d after SIGTERM" % rc)

    # The checks.

    def read_store(self):
        c = ro_connect(self.a.db)
        try:
            s = {}
            s["integrity"] = [r[0] for r in
                              c.execute("PRAGMA integrity_check")]
            s["dups"] = {t: c.execute(
                "SELECT count(*) - count(DISTINCT id) FROM %s" % t)
                .fetchone()[0] for t in ("readings", "events", "summaries")}
            s["periods_twice"] = c.execute(
                "SELECT count(*) FROM (SELECT 1 FROM summaries GROUP BY "
                "device, sensor, period_start, period_s "
                "HAVING count(*) > 1)").fetchone()[0]
            s["rows"] = c.execute(
                "SELECT lower(hex(id)), device, value FROM readings "
                "WHERE device IN ('mq', 'push', 'tail')").fetchall()
            s["sent"] = [r[0] for r in c.execute(
                "SELECT lower(hex(id)) FROM readings WHERE state = 2 "
                "UNION ALL SELECT lower(hex(id)) FROM events WHERE state = 2 "
                "UNION ALL SELECT lower(hex(id)) FROM summaries "
                "WHERE state = 2")]
            # Not yet sent (the batch an upload carries stays queued in
            # the store until the answer): those already at the collector
            # show a kill between its 2xx and the agent's commit of it.
            s["unsent"] = [r[0] for r in c.execute(
                "SELECT lower(hex(id)) FROM readings WHERE state IN (0, 1) "
                "UNION ALL SELECT lower(hex(id)) FROM events "
                "WHERE state IN (0, 1) UNION ALL SELECT lower(hex(id)) "
                "FROM summaries WHERE state IN (0, 1)")]
            row = c.execute("SELECT value FROM offsets WHERE source = "
                            "'file:tail'").fetchone()
            s["offset"] = row[0] if row else None
            row = c.execute("SELECT value FROM meta WHERE key = "
                            "'shed_total'").fetchone()
            s["shed"] = int(row[0]) if row else 0
            s["urgent"] = c.execute(
                "SELECT count(*) FROM readings WHERE state IN (0, 1) AND "
                "priority <= 1").fetchone()[0]
            s["counts"] = {t: c.execute("SELECT count(*) FROM %s" % t)
                           .fetchone()[0]
                           for t in ("readings", "events", "summaries")}
            s["to_degraded"] = c.execute(
                "SELECT count(*) FROM audit WHERE kind = 'store_mode' AND "
                "json_extract(detail, '$.to') = 'degraded'").fetchone()[0]
            return s
        finally:
            c.close()

    def tail_position(self, value):
        """Lines before the stored position: n, with lines 1..n read."""
        if value is None:
            return 0
        parts = value.split(":")
        ino, off = int(parts[0]), int(parts[1])
        first, name, data = self.writer.read_inode(ino)
        if first is None or name is None:
            raise Fail("tail position %s: no file with inode %d"
                       % (value, ino))
        if off > len(data):
            raise Fail("tail position %s beyond %s (%d bytes)"
                       % (value, name, len(data)))
        if off > 0 and data[off - 1:off] != b"\n":
            raise Fail("tail position %s is not at a line start in %s"
                       % (value, name))
        if parts[2] != "0":
            raise Fail("tail position %s: skip set on one-reading lines"
                       % value)
        return first - 1 + data[:off].count(b"\n")

    @staticmethod
    def sample(xs):
        xs = sorted(xs)
        return "%s%s" % (xs[:8], " ..." if len(xs) > 8 else "")

    def scan_log(self, label):
        """Above max_db_mb the spool may shed queued high and critical
        rows by design: then a loss is the scenario's fault, say so."""
        with open(os.path.join(self.a.dir, "agent.log"), "rb") as f:
            f.seek(self.logpos)
            data = f.read()
        self.logpos += len(data)
        for line in data.splitlines():
            if b'"component":"spool"' in line and b"store above" in line:
                raise Fail("%s: the store went above max_db_mb (%s): the "
                           "load outran the cap, so acknowledged rows may "
                           "be shed by design" % (label, line.decode()))

    def check(self, label, acked, published, final=False):
        """The invariants over the store and the collector."""
        self.scan_log(label)
        s = self.read_store()
        self.coll.refresh()
        self.checks += 1
        if s["integrity"] != ["ok"]:
            raise Fail("%s: integrity_check: %s" % (label, s["integrity"][:5]))
        for t, n in s["dups"].items():
            if n:
                raise Fail("%s: %d ids twice in %s" % (label, n, t))
        if s["periods_twice"]:
            raise Fail("%s: %d periods summarized twice"
                       % (label, s["periods_twice"]))
        lost = [i for i in s["sent"] if i not in self.coll.ids]
        if lost:
            raise Fail("%s: %d records sent but not at the collector: %s"
                       % (label, len(lost), lost[:3]))
        # Everything accounted for: id -> (device, value), store and
        # collector agreeing where both have it.
        acc = dict(self.coll.rec)
        for i, dev, v in s["rows"]:
            rec = (dev, int(v))
            if acc.get(i, rec) != rec:
                raise Fail("%s: id %s is %s in the store, %s at the "
                           "collector" % (label, i, rec, acc[i]))
            acc[i] = rec
        byval = {d: {} for d in ACCOUNTED}
        for i, (dev, v) in acc.items():
            byval[dev].setdefault(v, []).append(i)
        for dev in ACCOUNTED:
            twice = [v for v, ids in byval[dev].items() if len(ids) > 1]
            if twice:
                raise Fail("%s: %s values stored under two ids (ingested "
                           "twice): %s" % (label, dev, self.sample(twice)))
        missing = set(acked) - set(byval["push"])
        if missing:
            raise Fail("%s: %d push readings answered 204 are gone: %s"
                       % (label, len(missing), self.sample(missing)))
        extra = set(byval["push"]) - set(range(1, self.pusher.next))
        if extra:
            raise Fail("%s: push values never posted: %s"
                       % (label, self.sample(extra)))
        try:
            n = self.tail_position(s["offset"])
        except Fail as e:
            raise Fail("%s: %s" % (label, e))
        tail = set(byval["tail"])
        want = set(range(1, n + 1))
        if tail != want:
            raise Fail("%s: tail position %s covers lines 1..%d; lines "
                       "missing %s, beyond it %s" % (
                           label, s["offset"], n, self.sample(want - tail),
                           self.sample(tail - want)))
        beyond = [v for v in byval["mq"] if v < 1 or v > published]
        if beyond:
            raise Fail("%s: mq values never published: %s"
                       % (label, self.sample(beyond)))
        mid = {i for i in s["unsent"] if i in self.coll.ids}
        if not final and mid - self.mid_ids:
            self.mid_upload += 1
        self.mid_ids |= mid
        if final:
            self.final_checks(s, byval, acked, published, n)
        return s

    def final_checks(self, s, byval, acked, published, n):
        files = self.writer.count
        if n != files:
            raise Fail("final: tail position covers %d of %d lines"
                       % (n, files))
        mq = set(byval["mq"])
        want = set(range(1, published + 1))
        if mq != want:
            raise Fail("final: %d of %d mq messages stored once; missing %s"
                       % (len(mq & want), published,
                          self.sample(want - mq)))
        if set(byval["push"]) != set(acked):
            raise Fail("final: push readings differ from those acknowledged")
        # Quiet: every accounted reading was uploaded.
        unsent = [(d, v) for d in ACCOUNTED for v, ids in byval[d].items()
                  if ids[0] not in self.coll.ids]
        if unsent:
            raise Fail("final: %d readings never reached the collector: %s"
                       % (len(unsent), self.sample(unsent)))
        if s["shed"] <= 0:
            raise Fail("final: the store never shed (shed_total 0): the "
                       "pressure part did not happen")
        if s["counts"]["summaries"] == 0 or s["counts"]["events"] == 0:
            raise Fail("final: no summaries or no events: %s" % s["counts"])

    def uploaded_all(self, acked, published):
        """Quiet: every accounted value is at the collector."""
        self.coll.refresh()
        got = {d: set() for d in ACCOUNTED}
        for dev, v in self.coll.rec.values():
            got[dev].add(v)
        return (got["mq"] >= set(range(1, published + 1)) and
                got["tail"] >= set(range(1, self.writer.count + 1)) and
                got["push"] >= set(acked))

    # The run.

    def run(self):
        a = self.a
        t0 = now()
        log("seed %d (replay with CRASH_SEED=%d), %d kills"
            % (self.seed, self.seed, a.kills))
        self.link = LossyLink(a.link_port, a.mqtt_port, a.link_delay)
        self.coll.mode("ok")
        self.start_agent()
        self.wait_live()
        self.wait_subscribed()
        self.publisher = MqttPublisher(a.mqtt_port, a.rate, self.drvlog)
        self.pusher = HttpPusher(a.health_port, a.rate,
                                 random.Random(self.seed + 1))
        self.writer = FileWriter(a.tail, a.rate, a.rotate_lines, a.db)
        # trickle: the collector has stored the batch but answers slowly,
        # so a kill then leaves it in flight (a replay after the restart).
        faults = ["ok"] * 6 + ["status:503", "reset", "trickle", "trickle"]
        for k in range(a.kills):
            flavour = self.rng.random()
            early = flavour < 0.2
            # Right after a 204: the moment "acknowledged means
            # committed" is easiest to break.
            after_ack = 0.2 <= flavour < 0.35
            life = self.rng.uniform(0.0, 0.5) if early else \
                self.rng.uniform(0.2, 3.0)
            mode = self.rng.choice(faults)
            outage = k == 1
            if outage:
                # One long outage, until the store has shed queued bulk
                # rows (however big rows are, however fast the machine).
                early, life, mode = False, self.rng.uniform(0.0, 0.5), \
                    "status:503"
            elif self.urgent_backlog > 1000:
                # Keep queued high and critical rows far below the cap:
                # above it the agent may shed them by design.
                mode = "ok"
            if k > 0:
                # The collector misbehaves for some lifetimes: backlog,
                # retries, in-flight batches at the kill.
                self.coll.mode(mode)
                self.start_agent()
            if early:
                # Early: during start-up (recovery, requeue, the MQTT
                # sweep, the first commits), maybe before it is live.
                self.early_kills += 1
            else:
                self.wait_live()
            if outage:
                self.wait_shed()
            time.sleep(life)
            if after_ack and not outage:
                self.pusher.wait_ack(5)
                self.after_ack_kills += 1
            self.kill_agent()
            s = self.check("kill %d" % self.kills, self.pusher.snapshot(),
                           self.publisher.count)
            self.urgent_backlog = s["urgent"]
        # Undisturbed: the collector well, the drivers stop, the agent
        # drains everything, then a clean stop and the last checks.
        self.coll.mode("ok")
        self.start_agent()
        self.wait_live()
        published = self.publisher.finish()
        acked = self.pusher.finish()
        files = self.writer.finish()
        deadline = now() + a.quiet_timeout
        while not self.uploaded_all(acked, published):
            if self.agent.poll() is not None:
                raise Fail("agent exited (%d) while draining"
                           % self.agent.returncode)
            if now() > deadline:
                break  # the final check says what is missing
            time.sleep(0.3)
        self.stop_agent()
        s = self.check("final", acked, published, final=True)
        checked = published + len(acked) + files
        kept = dropped = 0
        with open(os.path.join(a.dir, "agent.log"), "rb") as f:
            for line in f:
                m = re.search(rb'"msg":"(\d+) packet-id keys (from|of) the '
                              rb'last run', line)
                if m and m.group(2) == b"from":
                    kept += int(m.group(1))
                elif m:
                    dropped += int(m.group(1))
        log("ok: %d kills (%d during start-up, %d right after a 204, %d "
            "between a batch's arrival at the collector and its commit as "
            "sent) in %.0f s, seed %d" % (
                self.kills, self.early_kills, self.after_ack_kills,
                self.mid_upload, now() - t0, self.seed))
        log("ok: %d readings checked exactly once (mq %d, push %d, tail %d "
            "in %d files); %d store checks; mq packet-id keys left by "
            "kills %d, %d of them dropped unused (the rest answered a "
            "redelivery, or a later kill came first)" % (
                checked, published, len(acked), files,
                self.writer.rotations + 1, self.checks, kept, dropped))
        log("ok: collector %d records, %d unique (%d replays); shed_total "
            "%d, %d switches to degraded; outage %s; store rows %s; push "
            "answers %s" % (self.coll.total, len(self.coll.ids),
                            self.coll.total - len(self.coll.ids), s["shed"],
                            s["to_degraded"], self.outage, s["counts"],
                            self.pusher.answers))

    def cleanup(self):
        if self.agent is not None and self.agent.poll() is None:
            self.agent.kill()
            self.agent.wait()
        for d in ("publisher", "pusher", "writer"):
            drv = getattr(self, d, None)
            if drv is not None:
                drv.stop.set()
        pub = getattr(self, "publisher", None)
        if pub is not None and pub.proc.poll() is None:
            pub.proc.kill()
            pub.proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True, help="scratch directory")
    p.add_argument("--bin", required=True, help="the outpost binary")
    p.add_argument("--config", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--tail", required=True, help="the tailed file")
    p.add_argument("--health-port", type=int, required=True)
    p.add_argument("--mqtt-port", type=int, required=True,
                   help="the broker")
    p.add_argument("--link-port", type=int, required=True,
                   help="the agent's MQTT url points here (the lossy link)")
    p.add_argument("--link-delay", type=float, default=0.05,
                   help="seconds the agent's MQTT bytes take to the broker")
    p.add_argument("--collector-port", type=int, required=True)
    p.add_argument("--collector-store", required=True)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int,
                   default=random.SystemRandom().randrange(1, 2 ** 31))
    p.add_argument("--rate", type=float, default=150,
                   help="mq messages, push readings and file lines per s")
    p.add_argument("--rotate-lines", type=int, default=1500)
    p.add_argument("--quiet-timeout", type=float, default=90)
    a = p.parse_args()
    h = Harness(a)
    try:
        h.run()
    except Fail as e:
        print("%s (seed %d: replay with CRASH_SEED=%d)"
              % (e, a.seed, a.seed), file=sys.stderr, flush=True)
        return 1
    finally:
        h.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
