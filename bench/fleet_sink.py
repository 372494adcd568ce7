#!/usr/bin/env python3
"""Upload sink for bench_fleet.sh (Python standard library only).

One asyncio loop on 127.0.0.1:PORT, HTTP/1.1 with keep-alive, answering
every POST with 204. For each request it appends one line to --log:

    ARRIVAL AGENT RECORDS MIN_TS MAX_TS

ARRIVAL is the wall-clock time the request's head was complete, AGENT the
body's "agent", MIN_TS and MAX_TS the smallest and largest record "ts".
Unlike test/tools/collector.py (a thread per connection, a stats file
rewritten on every request) it costs about 0.1 ms of CPU per request, so
a fleet's reconnect burst is not smoothed by the sink itself. SIGTERM
flushes the log and exits at once, dropping every connection (the outage).
"""

import argparse
import asyncio
import json
import signal
import time


class Sink:
    def __init__(self, log):
        self.log = log
        self.writers = set()

    async def client(self, reader, writer):
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                t = time.time()
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                body = await reader.readexactly(length) if length else b""
                self.record(t, body)
                writer.write(b"HTTP/1.1 204 No Content\r\n"
                             b"Server: fleet-sink\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, ValueError, asyncio.CancelledError):
            pass  # the client went away, or the sink is stopping
        finally:
            self.writers.discard(writer)
            writer.close()

    def record(self, t, body):
        agent, n, lo, hi = "-", 0, 0.0, 0.0
        try:
            doc = json.loads(body)
            agent = doc.get("agent", "-")
            ts = [r["ts"] for r in doc.get("records", ()) if "ts" in r]
            if ts:
                n, lo, hi = len(ts), min(ts), max(ts)
        except (ValueError, AttributeError, TypeError):
            pass
        self.log.write("%.6f %s %d %.3f %.3f\n" % (t, agent, n, lo, hi))


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    args = p.parse_args()
    log = open(args.log, "a", buffering=1 << 16)
    sink = Sink(log)
    server = await asyncio.start_server(sink.client, "127.0.0.1", args.port,
                                        backlog=1024, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def flusher():
        while True:
            await asyncio.sleep(0.5)
            log.flush()

    task = asyncio.create_task(flusher())
    await stop.wait()
    task.cancel()
    server.close()
    for w in list(sink.writers):
        w.transport.abort()
    await asyncio.sleep(0)  # let the client tasks see it and end
    log.flush()
    log.close()


if __name__ == "__main__":
    asyncio.run(main())
