#!/usr/bin/env bash
# Drain a backlog of stored readings to a loopback HTTPS sink and report
# readings/s, bytes on the wire per reading, CPU microseconds per reading
# and peak RSS of the agent, for batch sizes 100 and 1000, gzip off and on.
#
#   bench/bench_uplink.sh [BUILD_DIR] [READINGS]   (default build, 1000000)
#
# The sink is nginx terminating TLS and answering 204 (a C server that is
# not the bottleneck); the agent's own CPU share shows who limits the drain.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
n=${2:-1000000}
bin=$build/outpost
T=$(mktemp -d /tmp/bench-uplink.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Certificates and nginx.
mkdir -p "$T/nginx/logs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=bench CA" \
	-addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/srv.key" -out "$T/srv.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	-CAcreateserial -out "$T/srv.pem" -days 2 -extfile "$T/srv.ext" 2>/dev/null
sink=$(free_port)
cat >"$T/nginx/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/nginx/body;
	client_body_buffer_size 4m;
	client_max_body_size 16m;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$sink ssl;
		ssl_certificate $T/srv.pem;
		ssl_certificate_key $T/srv.key;
		location / { return 204; }
	}
}
CONF
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" &
sleep 0.5

# A store with n pending readings of the last hour (older ones would
# expire under the default TTL), made once and copied per run.
mkdir -p "$T/seed"
cat >"$T/seed.toml" <<CONF
[agent]
id = "bench"
data_dir = "$T/seed"
CONF
"$bin" -c "$T/seed.toml" >/dev/null 2>&1 & pid=$!
sleep 1; kill -TERM $pid; wait $pid || true
sqlite3 "$T/seed/outpost.db" <<SQL
WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < $n - 1)
INSERT INTO readings (id, device, sensor, ts, value, unit, priority)
SELECT randomblob(32), 'engine', 'temp.engine.coolant',
       CAST(strftime('%s', 'now') AS REAL) - 3600 + k * 0.001,
       80 + (k % 100) * 0.1, 'celsius', 2 FROM i;
PRAGMA wal_checkpoint(TRUNCATE);
SQL

printf '%-6s %-5s %12s %14s %12s %10s\n' batch gzip readings/s wire_B/reading cpu_us/read peak_RSS
for batch in 100 1000; do
	for gz in none gzip; do
		rm -rf "$T/run"; cp -r "$T/seed" "$T/run"; rm -f "$T/run/outpost.lock"
		hp=$(free_port)
		cat >"$T/run.toml" <<CONF
[agent]
id = "bench"
data_dir = "$T/run"
[logging]
level = "warn"
[health]
listen = "127.0.0.1:$hp"
[cloud]
enabled = true
endpoint = "https://localhost:$sink/v1/batches"
ca_file = "$T/ca.pem"
batch_size = $batch
flush_interval = 0.05
compress = "$gz"
CONF
		"$bin" -c "$T/run.toml" 2>"$T/agent.log" & pid=$!
		until curl -sf "http://127.0.0.1:$hp/health/live" >/dev/null; do sleep 0.05; done
		t0=$(date +%s%N)
		while :; do
			p=$(curl -sf "http://127.0.0.1:$hp/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["queue"]["pending"])')
			[ "$p" = 0 ] && break
			sleep 0.2
		done
		t1=$(date +%s%N)
		wire=$(curl -sf "http://127.0.0.1:$hp/metrics" | awk '$1 == "outpost_uplink_wire_bytes_total" {print $2}')
		read -r ut st < <(awk '{print $14, $15}' "/proc/$pid/stat")
		hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status")
		tck=$(getconf CLK_TCK)
		kill -TERM $pid; wait $pid || true
		python3 - "$n" "$t0" "$t1" "$wire" "$ut" "$st" "$tck" "$batch" "$gz" "$hwm" <<'PY'
import sys
n, t0, t1, wire, ut, st, tck = (float(x) for x in sys.argv[1:8])
secs = (t1 - t0) / 1e9
cpu_us = (ut + st) / tck * 1e6 / n
print("%-6s %-5s %12.0f %14.1f %12.2f %10s" % (sys.argv[8], sys.argv[9], n / secs, wire / n, cpu_us, sys.argv[10]))
PY
	done
done
