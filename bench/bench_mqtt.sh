#!/usr/bin/env bash
# MQTT ingest throughput. Backlog: N messages wait in mosquitto for the
# agent's persistent session (published while it was away), then the agent
# drains them into the store. Live: mosquitto_pub publishes while the agent
# is connected (the publisher sets the pace). Measures messages/s from the first to the last
# reading's arrival stamp, the agent's CPU microseconds per message and its
# peak RSS; for QoS 0 and for QoS 1 (PUBACK after commit) with mosquitto's
# default window of 20 unacknowledged messages, and with a window of 200.
#
#   bench/bench_mqtt.sh [BUILD_DIR] [MESSAGES]   (defaults: build, 100000)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
n=${2:-100000}
bin=$build/outpost
T=$(mktemp -d /tmp/bench-mqtt.XXXXXX)
cleanup() {
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
seq 1 "$n" | split -l 20000 - "$T/part."

# run MODE QOS WINDOW: MODE backlog (published while the agent was away,
# then drained) or live (published while it is connected; mosquitto_pub
# then sets the pace).
run() {
	local mode=$1 qos=$2 window=$3 mport port bpid pid count
	mport=$(free_port)
	port=$(free_port)
	rm -rf "$T/data"
	cat >"$T/mosquitto.conf" <<CONF
user $(id -un)
listener $mport 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages $((n * 2))
max_inflight_messages $window
queue_qos0_messages true
CONF
	mosquitto -c "$T/mosquitto.conf" 2>>"$T/mosquitto.log" &
	bpid=$!
	cat >"$T/outpost.toml" <<CONF
[agent]
id = "bench"
data_dir = "$T/data"

[logging]
level = "warn"

[store]
max_db_mb = 4096

[health]
listen = "127.0.0.1:$port"

[cloud]
enabled = false

[[device]]
name = "deck"
type = "mqtt"
url = "mqtt://127.0.0.1:$mport"
topics = ["bench/#"]
qos = $qos
buffer = 512
CONF
	# First run: make the session and its subscription.
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break
		sleep 0.05
	done
	"$bin" -c "$T/outpost.toml" 2>>"$T/agent.log" &
	pid=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/health" | grep -q '"state":"connected"' && break
		sleep 0.1
	done
	if [ "$mode" = backlog ]; then
		kill -TERM "$pid"
		wait "$pid" || true
	fi
	# In parts: one mosquitto_pub session of ~35,000 messages or more makes
	# mosquitto 2.0.11 drop it ("disconnected due to out of memory").
	for part in "$T"/part.*; do
		mosquitto_pub -h 127.0.0.1 -p "$mport" -q "$qos" -t bench/deck/temp -l <"$part"
	done
	if [ "$mode" = backlog ]; then
		rm -rf "$T/data"
		"$bin" -c "$T/outpost.toml" 2>>"$T/agent.log" &
		pid=$!
	fi
	count=0
	for _ in $(seq 1200); do
		count=$(sqlite3 "$T/data/outpost.db" "SELECT count(*) FROM readings" 2>/dev/null || echo 0)
		[ "$count" -ge "$n" ] && break
		sleep 0.1
	done
	python3 - "$pid" "$T/data/outpost.db" "$n" "$qos" "$window" "$count" "$mode" <<'PY'
import sqlite3, sys
pid, db, n, qos, window, count, mode = sys.argv[1], sys.argv[2], \
    int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7]
f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
cpu = (int(f[11]) + int(f[12])) / 100.0
hwm = [int(l.split()[1]) for l in open(f"/proc/{pid}/status")
       if l.startswith("VmHWM:")][0]
lo, hi, distinct = sqlite3.connect(db).execute(
    "SELECT min(ts), max(ts), count(DISTINCT value) FROM readings").fetchone()
rate = (count - 1) / (hi - lo) if hi > lo else float("nan")
print(f"{mode}, qos {qos}, window {window}: {count} of {n} stored ({distinct} distinct), "
      f"{rate:,.0f} messages/s, {cpu * 1e6 / count:.1f} CPU us/message, "
      f"peak RSS {hwm / 1024:.1f} MiB")
PY
	kill -TERM "$pid"
	wait "$pid" || true
	kill -TERM "$bpid"
	wait "$bpid" || true
}

echo "$n messages through mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}'), load $(cut -d' ' -f1 /proc/loadavg)"
run backlog 0 20
run backlog 1 20
run backlog 1 200
run live 0 20
run live 1 20
