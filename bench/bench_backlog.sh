#!/usr/bin/env bash
# Backlog: an agent restarted over a store holding SIZE pending readings
# drains it to a loopback HTTPS sink (nginx answering 204). Reports, per
# size: the store on disk before and after, RSS when the health port first
# answers, peak RSS during the drain (VmHWM) and the largest VmRSS/RssAnon
# sampled every 0.5 s, the time to the first upload, the drain time and
# readings/s, and the agent's CPU per reading. Memory should not depend on
# the backlog (DESIGN.md invariant 7).
#
#   bench/bench_backlog.sh [BUILD_DIR] ["SIZES"]   (default build,
#                                                    "1000000 10000000")
#
# The backlog is written straight into the agent's own schema by the
# sqlite3 shell (one recursive CTE): ten devices at 10 Hz each, so the
# readings span SIZE/100 seconds up to now (27.8 h for 10M, inside the
# normal priority's 168 h TTL); one reading in 20 is high priority, the
# rest normal; random 32-byte ids; values that vary; no meta. max_db_mb
# is raised to about 1 KB per reading (the store takes about 180 B), so
# nothing is shed: the default 64 MB holds about 350,000. The sink's
# access log ($msec per request) gives the drain's end: the agent sends
# full batches of batch_size (100) until the last, so the drain is done
# when ceil(SIZE/100) requests were answered; the store is checked after.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
sizes=${2:-"1000000 10000000"}
bin=$build/outpost
batch=100
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-backlog.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$2/status"; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
store_bytes() {
	local f n=0
	for f in "$1"/outpost.db "$1"/outpost.db-wal; do
		[ -f "$f" ] && n=$((n + $(stat -c %s "$f")))
	done
	echo "$n"
}

# Certificates and nginx, as in bench_uplink.sh, plus an access log.
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
	log_format t '\$msec \$status \$request_length';
	access_log $T/nginx/logs/access.log t;
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
log=$T/nginx/logs/access.log

printf '%-9s %8s %8s %8s %8s %8s %8s %8s %9s %10s %8s\n' readings \
	db_before db_after rss_start anon_start rss_max anon_max VmHWM \
	first_s drain_s reads/s
for n in $sizes; do
	rm -rf "$T/data"; mkdir -p "$T/data"
	hp=$(free_port)
	cat >"$T/agent.toml" <<CONF
[agent]
id = "backlog"
data_dir = "$T/data"
[logging]
level = "warn"
[store]
max_db_mb = $((n / 1000 + 64))
[health]
listen = "127.0.0.1:$hp"
[cloud]
enabled = true
endpoint = "https://localhost:$sink/v1/batches"
ca_file = "$T/ca.pem"
batch_size = $batch
CONF
	# The schema, made by the agent itself (cloud off: nothing sent).
	sed 's/^enabled = true/enabled = false/' "$T/agent.toml" >"$T/seed.toml"
	"$bin" -c "$T/seed.toml" 2>"$T/seed.log" & pid=$!
	until curl -sf "http://127.0.0.1:$hp/health/live" >/dev/null; do sleep 0.05; done
	kill -TERM $pid; wait $pid
	f0=$(date +%s.%N)
	sqlite3 "$T/data/outpost.db" >/dev/null <<SQL
PRAGMA journal_mode = DELETE;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < $n - 1)
INSERT INTO readings (id, device, sensor, ts, value, unit, priority)
SELECT randomblob(32), 'dev' || (k % 10), 'temp.zone' || (k % 10),
       CAST(strftime('%s', 'now') AS REAL) - $n / 100.0 + k / 100.0,
       round(20 + 5 * sin(k / 600.0) + (k % 7) * 0.1, 3), 'celsius',
       CASE WHEN k % 20 = 0 THEN 1 ELSE 2 END FROM i;
COMMIT;
PRAGMA journal_mode = WAL;
SQL
	f1=$(date +%s.%N)
	pending=$(sqlite3 "$T/data/outpost.db" 'SELECT count(*) FROM readings WHERE state = 0')
	[ "$pending" = "$n" ] || { echo "fill: $pending pending, not $n" >&2; exit 1; }
	before=$(store_bytes "$T/data")
	echo "fill $n: $(awk -v a="$f0" -v b="$f1" 'BEGIN {printf "%.1f", b - a}') s," \
		"store $(mib "$before") MiB" >&2

	: >"$log"
	want=$(( (n + batch - 1) / batch ))
	t0=$(date +%s.%N)
	"$bin" -c "$T/agent.toml" 2>"$T/agent.log" & pid=$!
	until curl -sf "http://127.0.0.1:$hp/health/live" >/dev/null; do sleep 0.05; done
	rss0=$(kib VmRSS $pid); anon0=$(kib RssAnon $pid)
	rssmax=$rss0; anonmax=$anon0; filemax=0; walmax=0
	# Sample memory until the sink has answered every batch.
	while [ "$(wc -l <"$log")" -lt "$want" ]; do
		kill -0 $pid 2>/dev/null || { echo "agent died" >&2; tail "$T/agent.log" >&2; exit 1; }
		r=$(kib VmRSS $pid); a=$(kib RssAnon $pid); f=$(kib RssFile $pid)
		[ "$r" -gt "$rssmax" ] && rssmax=$r
		[ "$a" -gt "$anonmax" ] && anonmax=$a
		[ "$f" -gt "$filemax" ] && filemax=$f
		w=$(stat -c %s "$T/data/outpost.db-wal" 2>/dev/null || echo 0)
		[ "$w" -gt "$walmax" ] && walmax=$w
		sleep 0.5
	done
	hwm=$(kib VmHWM $pid)
	echo "  largest RssFile $((filemax / 1024)) MiB; largest WAL $((walmax / 1048576)) MiB; -shm $(stat -c %s "$T/data/outpost.db-shm") B;" \
		"largest mappings at the end:" >&2
	awk '/^[0-9a-f]+-/ {m = $6} /^Rss:/ && $2 > 512 {print "    " $2 " kB " m}' \
		"/proc/$pid/smaps" >&2
	read -r ut st < <(awk '{print $14, $15}' "/proc/$pid/stat")
	kill -TERM $pid; wait $pid
	left=$(sqlite3 "$T/data/outpost.db" 'SELECT count(*) FROM readings WHERE state <> 2')
	[ "$left" = 0 ] || echo "warning: $left readings not marked sent" >&2
	[ "$(awk '$2 != 204' "$log" | wc -l)" = 0 ] || echo "warning: non-204 answers" >&2
	after=$(store_bytes "$T/data")
	first=$(head -1 "$log" | cut -d' ' -f1)
	last=$(tail -1 "$log" | cut -d' ' -f1)
	python3 - "$n" "$t0" "$first" "$last" "$ut" "$st" "$(getconf CLK_TCK)" \
		"$before" "$after" "$rss0" "$anon0" "$rssmax" "$anonmax" "$hwm" "$log" <<'PY'
import sys
a = sys.argv[1:]
n = int(a[0]); t0, first, last = float(a[1]), float(a[2]), float(a[3])
cpu = (float(a[4]) + float(a[5])) / float(a[6])
mb = lambda b: "%.0f" % (float(b) / 1048576)
mk = lambda k: "%.1f" % (float(k) / 1024)
print("%-9d %8s %8s %8s %8s %8s %8s %8s %9.2f %10.1f %8.0f" % (n,
      mb(a[7]), mb(a[8]), mk(a[9]), mk(a[10]), mk(a[11]), mk(a[12]),
      mk(a[13]), first - t0, last - t0, n / (last - first)))
t = [float(l.split()[0]) for l in open(a[14])]
gap = max((y - x, x) for x, y in zip(t, t[1:]))
print("  cpu %.1f s, %.2f us/reading; longest pause between two uploads "
      "%.2f s, %.0f s into the drain; sizes in MiB (store = db + wal), "
      "times from exec" % (cpu, cpu * 1e6 / n, gap[0], gap[1] - first),
      file=sys.stderr)
PY
done
