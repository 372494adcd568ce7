#!/usr/bin/env bash
# Soak: the agent at 1,000 readings/s (100 sim devices every 0.1 s) for
# SOAK_SECS (default 1800), uploading over HTTPS to test/tools/collector.py,
# which is killed for 20 s of every minute. Every 10 s it samples the
# agent's RSS, open fds, WAL and database file sizes, pending and sent
# records into a CSV (outside the repo), then says whether each series
# ended flat: the maximum of the last window against the maximum of the
# window after warm-up (windows of 5 minutes, or a sixth of a shorter run),
# within SOAK_TOL (default 0.10). Exits 1 if any series grew, if the load
# fell short of 95% of the plan, or if uploads fell behind.
#
# The WAL's peak follows the write rate during an outage (no acks, so only
# the 30 s maintenance pass checkpoints it): its flatness is judged on the
# floor each window returns to after checkpoints (journal_size_limit).
# Many slow devices rather than few fast ones: libevent reschedules a
# persistent timer that fires more than a period late from "now", so on a
# busy machine 10 ms timers lose ticks and the load falls short.
#
#   bench/soak.sh [BUILD_DIR]        (a release build; default build)
#   SOAK_SECS=1800 SOAK_CSV=/tmp/soak.csv bench/soak.sh build-rel
#
# Uploaded rows are purged at the next maintenance pass (retention_hours =
# 0), so the store holds the backlog, not the history: a store that keeps
# growing is a leak of rows, not of bytes of code.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
bin=$build/outpost
secs=${SOAK_SECS:-1800}
tol=${SOAK_TOL:-0.10}
devices=${SOAK_DEVICES:-100}
interval=${SOAK_INTERVAL:-0.1}
step=10			# seconds between samples
cycle=6			# samples per collector cycle (one minute)
down_at=4		# the collector goes down at this sample of a cycle
csv=${SOAK_CSV:-${TMPDIR:-/tmp}/outpost-soak-$(date -u +%Y%m%dT%H%M%S).csv}

[ -x "$bin" ] || { echo "no agent at $bin" >&2; exit 2; }
[ "$secs" -ge 60 ] || { echo "SOAK_SECS must be at least 60" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/outpost-soak.XXXXXX")
pid=""
cpid=""

cleanup() {
	local p
	for p in $pid $cpid; do
		kill -TERM "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -n "${SOAK_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Outside the ephemeral range: the collector's port is bound again every
# minute and must not meanwhile become some client's source port.
free_port() {
	python3 -c 'import random, socket
for _ in range(200):
    port = random.randrange(20000, 30000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port")'
}

# A test CA and a server certificate for localhost (mbedtls 2.28 does not
# match IP addresses in subjectAltName).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=soak CA" \
	-addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/srv.key" -out "$T/srv.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	-CAcreateserial -out "$T/srv.pem" -days 2 -extfile "$T/srv.ext" \
	2>/dev/null

cport=$(free_port)
hport=$(free_port)
collector_up() {
	python3 "$top/test/tools/collector.py" --port "$cport" \
		--cert "$T/srv.pem" --key "$T/srv.key" --stats "$T/coll.stats" \
		>>"$T/collector.log" 2>&1 &
	cpid=$!
}
# Killed, not stopped: connections in flight break as in a real outage.
collector_down() {
	kill -KILL "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	cpid=""
}

{
	cat <<CONF
[agent]
id = "soak"
data_dir = "$T/data"
[logging]
level = "warn"
[store]
retention_hours = 0
[health]
listen = "127.0.0.1:$hport"
[cloud]
enabled = true
endpoint = "https://localhost:$cport/v1/batches"
ca_file = "$T/ca.pem"
batch_size = 1000
flush_interval = 1
timeout = 5
[cloud.retry]
base_delay = 1
max_delay = 8
[cloud.breaker]
failure_threshold = 5
recovery_timeout = 5
CONF
	for i in $(seq 1 "$devices"); do
		printf '[[device]]\nname = "d%d"\ntype = "sim"\n' "$i"
		printf 'sensor = "soak.s%d"\ninterval = %s\nseed = %d\n' \
		    "$i" "$interval" "$i"
		printf 'waveform = "random_walk"\n'
	done
} >"$T/soak.toml"

collector_up
"$bin" -c "$T/soak.toml" 2>"$T/agent.log" &
pid=$!
deadline=$(($(date +%s) + 20))
until curl -sf -o /dev/null "http://127.0.0.1:$hport/health/live"; do
	kill -0 "$pid" 2>/dev/null || { cat "$T/agent.log" >&2; exit 2; }
	[ "$(date +%s)" -lt "$deadline" ] || { echo "agent not up" >&2; exit 2; }
	sleep 0.1
done

echo "soak: $secs s, $devices devices every $interval s, csv $csv" >&2
echo "t_s,rss_kib,fds,wal_bytes,db_bytes,pending,sent,committed,collector" \
	>"$csv"
t0=$(date +%s.%N)
k=0
while [ $((k * step)) -le "$secs" ]; do
	# Sleep to the next tick of a fixed schedule: no drift over the run.
	delay=$(awk -v t0="$t0" -v k="$k" -v s="$step" -v now="$(date +%s.%N)" \
		'BEGIN { d = t0 + k * s - now; printf "%.3f", (d > 0 ? d : 0) }')
	sleep "$delay"
	kill -0 "$pid" 2>/dev/null || {
		echo "agent died at ${k}0 s" >&2
		tail -20 "$T/agent.log" >&2
		exit 1
	}
	if [ $((k % cycle)) -eq "$down_at" ]; then
		collector_down
	elif [ $((k % cycle)) -eq 0 ] && [ -z "$cpid" ]; then
		collector_up
	fi
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
	fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
	wal=$(stat -c %s "$T/data/outpost.db-wal" 2>/dev/null || echo 0)
	db=$(stat -c %s "$T/data/outpost.db")
	# pending is the sum over priorities; sent and committed counters.
	read -r pending sent committed < <(
		curl -sf --max-time 5 "http://127.0.0.1:$hport/metrics" | awk '
		$1 ~ /^outpost_queue_pending[{]/ { p += $2 }
		$1 == "outpost_uplink_records_sent_total" { s = $2 }
		$1 == "outpost_readings_total{result=\"committed\"}" { c = $2 }
		END { printf "%d %d %d\n", p, s, c }')
	echo "$((k * step)),$rss,$fds,$wal,$db,$pending,$sent,$committed,$([ -n "$cpid" ] && echo up || echo down)" >>"$csv"
	k=$((k + 1))
done

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 0 ] || echo "agent exited $rc on SIGTERM" >&2

# One row a minute, then the verdict per series.
python3 - "$csv" "$secs" "$tol" "$devices" "$interval" "$rc" <<'PY'
import csv, sys
path, secs, tol, devices, interval, rc = sys.argv[1:]
secs, tol, rc = int(secs), float(tol), int(rc)
rows = [{k: (v if k == "collector" else int(v)) for k, v in r.items()}
        for r in csv.DictReader(open(path))]
print("| time | RSS KiB | fds | WAL bytes | db bytes | pending | sent |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if r["t_s"] % 60 == 0:
        print("| %d:%02d | %d | %d | %d | %d | %d | %d |" % (
            r["t_s"] // 60, r["t_s"] % 60, r["rss_kib"], r["fds"],
            r["wal_bytes"], r["db_bytes"], r["pending"], r["sent"]))
win = min(300, secs // 6) // 10 * 10
ref = [r for r in rows if win <= r["t_s"] < 2 * win]
end = [r for r in rows if r["t_s"] > secs - win]
# Slack in units for series that are small integers or file pages.
slack = {"rss_kib": 256, "fds": 1, "wal_bytes": 65536, "db_bytes": 65536,
         "pending": 2000}
ok = True
print()
for key, extra in slack.items():
    how = min if key == "wal_bytes" else max
    a = how(r[key] for r in ref)
    b = how(r[key] for r in end)
    flat = b <= a * (1 + tol) + extra
    ok &= flat
    print("%-10s after warm-up %s %12d, last %d s %s %12d: %s" % (
        key, how.__name__, a, win, how.__name__, b,
        "flat" if flat else "GREW"))
print("%-10s peak %d (after warm-up %d)" % ("wal_bytes",
      max(r["wal_bytes"] for r in end), max(r["wal_bytes"] for r in ref)))
want = float(devices) / float(interval) * rows[-1]["t_s"]
got = rows[-1]["committed"] - rows[0]["committed"]
rate_ok = got >= 0.95 * want
# Uploads keep up: what was committed two minutes before the end (at
# least one collector cycle earlier) has been sent by the end.
early = [r for r in rows if r["t_s"] <= rows[-1]["t_s"] - 120] or rows[:1]
sent_ok = rows[-1]["sent"] >= early[-1]["committed"]
print("readings   committed %d of %d planned (%.1f/s): %s" % (
    got, want, got / max(1, rows[-1]["t_s"]), "ok" if rate_ok else "SHORT"))
print("uploads    sent %d by the end, %d committed 2 min before: %s" % (
    rows[-1]["sent"], early[-1]["committed"], "ok" if sent_ok else "BEHIND"))
ok &= rate_ok and sent_ok and rc == 0
print("verdict: %s" % ("flat" if ok else "NOT flat"))
sys.exit(0 if ok else 1)
PY
