#!/usr/bin/env bash
# Flash wear: bytes the agent writes per reading over the reading's whole
# life (insert, upload mark, purge, checkpoints), from /proc/PID/io:
# write_bytes (what reaches the block layer, in pages: the wear figure)
# and wchar (every write(2), sockets included, as FACTS.md measures it),
# at 10 readings/s (10 sim devices at 1 Hz), with the uplink up (a loopback
# collector, retention 0 so uploaded rows are purged) and with it down.
#   bench/bench_flash.sh [BUILD_DIR] [SECS] [COMMIT_INTERVAL] [FLUSH_INTERVAL]
#   (default build, 120, the config defaults); PAGE_SIZE=N in the
#   environment sets [store] page_size (default: the config default),
#   RETENTION_HOURS=N keeps uploaded rows N hours (default 0: delete once
#   sent, so the figure covers the whole life; with N the purge happens
#   after the run, in bulk)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
secs=${2:-120}
ci=${3:-}
fi_=${4:-}
T=$(mktemp -d /tmp/bench-flash.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cp=$(port)
python3 "$top/test/tools/collector.py" --port "$cp" >/dev/null 2>&1 &
run() {	# NAME ENDPOINT_PORT
	local name=$1 ep=$2 hp pid w0 w1 b0 b1 n0 n1
	hp=$(port)
	{
		cat <<CONF
[agent]
id = "flash"
data_dir = "$T/$name"
[logging]
level = "warn"
[store]
retention_hours = ${RETENTION_HOURS:-0}
${ci:+commit_interval = $ci}
${PAGE_SIZE:+page_size = $PAGE_SIZE}
[health]
listen = "127.0.0.1:$hp"
[cloud]
enabled = true
endpoint = "http://127.0.0.1:$ep/v1/batches"
insecure = true
${fi_:+flush_interval = $fi_}
CONF
		for i in $(seq 1 10); do
			printf '[[device]]\nname = "d%d"\ntype = "sim"\ninterval = 1\n' "$i"
		done
	} >"$T/$name.toml"
	"$build/outpost" -c "$T/$name.toml" 2>"$T/$name.log" & pid=$!
	until curl -sf "http://127.0.0.1:$hp/health/live" >/dev/null; do sleep 0.1; done
	sleep 5
	w0=$(awk '/^wchar/ {print $2}' "/proc/$pid/io")
	b0=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
	n0=$(curl -sf "http://127.0.0.1:$hp/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["readings_processed"])')
	sleep "$secs"
	sync
	w1=$(awk '/^wchar/ {print $2}' "/proc/$pid/io")
	b1=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
	n1=$(curl -sf "http://127.0.0.1:$hp/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["readings_processed"])')
	kill -TERM $pid; wait $pid || true
	echo "$name: readings=$((n1 - n0)) write_bytes_per_reading=$(( (b1 - b0) / (n1 - n0) )) wchar_per_reading=$(( (w1 - w0) / (n1 - n0) ))"
}
run uplink_up "$cp"
run uplink_down "$(port)"
