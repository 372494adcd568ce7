#!/usr/bin/env python3
"""Test collector for outpost uploads (Python standard library only).

Listens on 127.0.0.1 only, over HTTP or HTTPS (--cert/--key, optional
--client-ca for mutual TLS). Every accepted upload is appended to a
JSON-lines file (--store) with its Idempotency-Key and record ids (and,
with --records, the JSON records themselves), and the
counters (connections, TLS handshakes and resumptions, requests, ids) are
kept in --stats after every change and served at GET /_stats.

Fault modes, from --mode or POST /_control with the mode as the body:
  ok             200 with {"accepted": N}
  ok204          204
  status:N       answer N (e.g. status:500, status:400), nothing stored
  retry-after:V  429 with Retry-After: V (seconds or an HTTP-date)
  hang           read the request, never answer
  reset          send part of the answer, then reset the connection
  trickle        send the answer one byte every --trickle-delay seconds
  chunked        200 in chunked coding with an extension and a trailer
  close          200 with Connection: close, then close
  drop-reused    200 to the first request on a connection; a later one on
                 the same connection is read and the connection closed
                 unanswered (a server that timed out an idle connection)
  tls:NAME       as ok, but new connections handshake with NAME.pem and
                 NAME.key from --cert-dir (an expired or untrusted
                 certificate, another host name); a request on a connection
                 opened under another certificate is read and the
                 connection closed unanswered, so the client reconnects

--request-log FILE appends one JSON line per upload request (time, mode,
records) and per failed TLS handshake, to tell when the client came back.
"""

import argparse
import gzip
import http.server
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time

STORING = ("ok", "ok204", "trickle", "chunked", "close", "drop-reused")


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.mode = args.mode
        self.args = args
        self.stop = threading.Event()
        self.stats = {
            "connections": 0,
            "tls_handshakes": 0,
            "tls_resumed": 0,
            "tls_failures": 0,
            "requests": 0,
            "stored": 0,
            "ids": 0,
            "unique_ids": 0,
            "mode": self.mode,
        }
        self.seen = set()

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] += n
            self.write_stats()

    def write_stats(self):
        # Called with the lock held; rename so readers never see half.
        self.stats["mode"] = self.mode
        if not self.args.stats:
            return
        tmp = self.args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.stats, f, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.args.stats)

    def log_request(self, entry):
        if not self.args.request_log:
            return
        entry["t"] = time.time()
        with self.lock:
            with open(self.args.request_log, "a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")

    def snapshot(self):
        with self.lock:
            return dict(self.stats)

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode
            self.write_stats()

    def store(self, entry, ids):
        with self.lock:
            self.stats["stored"] += 1
            self.stats["ids"] += len(ids)
            for i in ids:
                if i not in self.seen:
                    self.seen.add(i)
                    self.stats["unique_ids"] += 1
            if self.args.store:
                with open(self.args.store, "a") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")
            self.write_stats()


def cert_name(mode):
    """The certificate a mode serves: NAME for tls:NAME, else None."""
    return mode[4:] if mode.startswith("tls:") else None


def valid_mode(mode, cert_dir=None):
    if mode.startswith("tls:"):
        name = mode[4:]
        return (cert_dir is not None and name.isidentifier() and
                os.path.exists(os.path.join(cert_dir, name + ".pem")) and
                os.path.exists(os.path.join(cert_dir, name + ".key")))
    if mode in ("ok", "ok204", "hang", "reset", "trickle", "chunked",
                "close", "drop-reused"):
        return True
    if mode.startswith("status:"):
        return mode[7:].isdigit() and 100 <= int(mode[7:]) <= 599
    return mode.startswith("retry-after:") and len(mode) > 12


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "outpost-test-collector/1"
    timeout = 60  # an idle kept-alive connection is dropped after this

    cert_name = None  # the tls: mode's certificate this connection got

    def setup(self):
        st = self.server.state
        ctx = self.server.ssl_context
        if ctx is not None:
            mode = st.mode
            self.cert_name = cert_name(mode)
            ctx = self.server.context_for(self.cert_name)
            try:
                self.request.settimeout(10)
                self.request = ctx.wrap_socket(self.request,
                                               server_side=True)
            except (ssl.SSLError, OSError) as e:
                st.bump("tls_failures")
                st.log_request({"event": "tls_failure", "mode": mode,
                                "error": str(e)})
                self.log_message("TLS handshake failed: %s", e)
                self.request.close()
                raise
            st.bump("tls_handshakes")
            if self.request.session_reused:
                st.bump("tls_resumed")
        super().setup()

    reset = False
    on_connection = 0  # requests seen on this connection

    def finish(self):
        super().finish()
        if self.reset:
            # Before the server's shutdown(SHUT_WR) could send a FIN.
            self.connection.close()

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("collector: " + (fmt % args) + "\n")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        return body

    def answer(self, status, body=b"", headers=(), close=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if status not in (204, 304):
            self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        st = self.server.state
        if self.path == "/_stats":
            body = json.dumps(st.snapshot(), sort_keys=True).encode()
            self.answer(200, body, [("Content-Type", "application/json")])
            return
        self.handle_upload(b"")

    def do_POST(self):
        st = self.server.state
        if self.path == "/_control":
            mode = self.read_body().decode().strip()
            if not valid_mode(mode, st.args.cert_dir):
                self.answer(400, b"unknown mode\n")
                return
            st.set_mode(mode)
            self.answer(200, b"ok\n")
            return
        self.handle_upload(self.read_body())

    def do_PUT(self):
        self.handle_upload(self.read_body())

    def handle_upload(self, body):
        st = self.server.state
        st.bump("requests")
        mode = st.mode
        self.on_connection += 1
        if mode == "drop-reused" and self.on_connection > 1:
            self.close_connection = True
            return
        if self.cert_name != cert_name(mode):
            st.log_request({"event": "dropped", "mode": mode})
            self.close_connection = True
            return
        ids = []
        records = []
        lines = 0
        try:
            doc = json.loads(body) if body else None
            if isinstance(doc, dict):
                records = [r for r in doc.get("records", [])
                           if isinstance(r, dict) and "id" in r]
                ids = [r.get("id") for r in records]
        except ValueError:
            lines = len([x for x in body.splitlines() if x.strip()])
        st.log_request({"event": "request", "mode": mode,
                        "records": len(ids) or lines})
        if mode in STORING or cert_name(mode) is not None:
            entry = {
                "time": time.time(),
                "method": self.command,
                "path": self.path,
                "idempotency_key": self.headers.get("Idempotency-Key"),
                "content_encoding": self.headers.get("Content-Encoding"),
                "bytes": len(body),
                "ids": ids,
                "lines": lines,
            }
            if st.args.records:
                entry["records"] = records
            st.store(entry, ids)
        reply = json.dumps({"accepted": len(ids) or lines}).encode()
        if mode in ("ok", "drop-reused") or cert_name(mode) is not None:
            self.answer(200, reply, [("Content-Type", "application/json")])
        elif mode == "ok204":
            self.answer(204)
        elif mode == "close":
            self.answer(200, reply, [("Content-Type", "application/json")],
                        close=True)
        elif mode.startswith("status:"):
            code = int(mode[7:])
            self.answer(code, json.dumps({"error": code}).encode(),
                        [("Content-Type", "application/json")])
        elif mode.startswith("retry-after:"):
            self.answer(429, b'{"error":"slow down"}',
                        [("Retry-After", mode[12:]),
                         ("Content-Type", "application/json")])
        elif mode == "hang":
            st.stop.wait()
            self.close_connection = True
        elif mode == "reset":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                             b"\r\npartial")
            self.wfile.flush()
            # Linger 0: the close in finish() sends RST, not FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.reset = True
            self.close_connection = True
        elif mode == "trickle":
            data = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply))
            for i in range(len(data)):
                if st.stop.wait(st.args.trickle_delay):
                    break
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
        elif mode == "chunked":
            half = len(reply) // 2
            out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
            out += b"Trailer: X-Records\r\n\r\n"
            out += b"%x;part=1\r\n%s\r\n" % (half, reply[:half])
            out += b"%x\r\n%s\r\n" % (len(reply) - half, reply[half:])
            out += b"0\r\nX-Records: %d\r\n\r\n" % len(ids)
            self.wfile.write(out)
            self.wfile.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        conn, addr = super().get_request()
        self.state.bump("connections")
        return conn, addr

    def context_for(self, name):
        """The server context for a tls: mode's certificate (cached)."""
        if name is None:
            return self.ssl_context
        with self.state.lock:
            ctx = self.tls_contexts.get(name)
            if ctx is None:
                args = self.state.args
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(
                    os.path.join(args.cert_dir, name + ".pem"),
                    os.path.join(args.cert_dir, name + ".key"))
                if args.client_ca:
                    ctx.verify_mode = ssl.CERT_REQUIRED
                    ctx.load_verify_locations(args.client_ca)
                self.tls_contexts[name] = ctx
            return ctx

    def handle_error(self, request, client_address):
        if self.state.args.verbose:
            super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0,
                   help="TCP port on 127.0.0.1 (0: any free one)")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--cert", help="server certificate (PEM): serve HTTPS")
    p.add_argument("--key", help="server key (PEM)")
    p.add_argument("--client-ca", help="require client certificates "
                   "signed by this CA")
    p.add_argument("--mode", default="ok", help="initial fault mode")
    p.add_argument("--store", help="JSON-lines file of accepted uploads")
    p.add_argument("--stats", help="JSON file of counters")
    p.add_argument("--records", action="store_true",
                   help="keep each upload's records in --store, not only "
                   "their ids (to tell what a record id stood for)")
    p.add_argument("--trickle-delay", type=float, default=0.05)
    p.add_argument("--cert-dir", help="NAME.pem and NAME.key for the "
                   "tls:NAME modes (HTTPS only)")
    p.add_argument("--request-log", help="JSON-lines file: one line per "
                   "upload request and per failed TLS handshake")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    if not valid_mode(args.mode, args.cert_dir):
        p.error("unknown mode: " + args.mode)

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args)
    server.ssl_context = None
    server.tls_contexts = {}
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        server.ssl_context = ctx
    with server.state.lock:
        server.state.write_stats()
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("collector listening on 127.0.0.1:%d (%s)" %
          (port, "https" if args.cert else "http"), flush=True)

    def stop(signum, frame):
        server.state.stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()


if __name__ == "__main__":
    main()
