#!/usr/bin/env bash
# HTTP push throughput: clients POST batched bodies (JSON arrays, then line
# protocol) to /ingest over keep-alive connections for a fixed time; each
# POST waits for its 204 (readings committed). Reports readings/s committed,
# the agent's CPU microseconds per reading and its peak RSS.
#
#   bench/bench_http_push.sh [BUILD_DIR] [SECONDS] [BATCH] [CLIENTS]
#   (defaults: build, 10, 1000, 4)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
secs=${2:-10}
batch=${3:-1000}
clients=${4:-4}
bin=$build/outpost
T=$(mktemp -d /tmp/bench-http-push.XXXXXX)
cleanup() {
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() {
	local format=$1 port pid
	port=$(free_port)
	rm -rf "$T/data"
	cat >"$T/outpost.toml" <<CONF
[agent]
id = "bench"
data_dir = "$T/data"

[logging]
level = "warn"

[store]
commit_max = 10000
max_db_mb = 4096

[health]
listen = "127.0.0.1:$port"
max_body_bytes = 16777216

[cloud]
enabled = false

[[device]]
name = "gw"
type = "http"
mode = "push"
token = "bench"
max_body_bytes = 16777216
buffer = $((batch * clients * 2))
CONF
	"$bin" -c "$T/outpost.toml" 2>>"$T/agent.log" &
	pid=$!
	for _ in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/health/live" && break
		kill -0 "$pid" || { cat "$T/agent.log" >&2; exit 1; }
		sleep 0.1
	done
	python3 - "$port" "$format" "$secs" "$batch" "$clients" "$pid" <<'PY'
import http.client, sys, threading, time

port, fmt, secs, batch, clients, pid = sys.argv[1], sys.argv[2], \
    float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]

def cpu_s():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0

def hwm_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

t_base = int(time.time()) - 3600

def body(client, seq):
    # Distinct times per reading (the store keeps one row per id), recent
    # enough for the TTL.
    base = t_base + client * 100 + seq * batch * 1e-6
    if fmt == "json":
        return ("[" + ",".join('{"sensor":"s%d","value":%d.5,"ts":%.6f}'
                % (i % 16, i, base + i * 1e-6) for i in range(batch))
                + "]").encode(), "application/json"
    return "".join("s%d value=%d.5 %d\n" % (i % 16, i,
                   int((base + i * 1e-6) * 1e9)) for i in range(batch)
                   ).encode(), "text/plain"

done = [0] * clients
errors = [0] * clients
stop = time.monotonic() + secs

def client(c):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    seq = 0
    while time.monotonic() < stop:
        data, ct = body(c, seq)
        seq += 1
        conn.request("POST", "/ingest", data, {"Content-Type": ct,
                     "Authorization": "Bearer bench"})
        r = conn.getresponse()
        r.read()
        if r.status == 204:
            done[c] += batch
        else:
            errors[c] += 1

cpu0, t0 = cpu_s(), time.monotonic()
threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed, cpu = time.monotonic() - t0, cpu_s() - cpu0
n = sum(done)
print(f"{fmt:6} batch {batch} x {clients} clients: {n / elapsed:,.0f} readings/s "
      f"({n} in {elapsed:.1f} s, {sum(errors)} non-204), "
      f"agent CPU {cpu * 1e6 / max(n, 1):.2f} us/reading, "
      f"peak RSS {hwm_kib() / 1024:.1f} MiB")
PY
	kill -TERM "$pid"
	wait "$pid" || true
	echo "       stored: $(sqlite3 "$T/data/outpost.db" "SELECT count(*) FROM readings WHERE device = 'gw'") rows"
}

run json
run influx
