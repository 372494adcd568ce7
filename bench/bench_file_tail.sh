#!/usr/bin/env bash
# File tail ingest (the workload FACTS.md compares to Fluent Bit): a file of
# LINES lines already written, tailed from its start; timed from the
# agent's start until the committed position (offsets table) is the end of
# the file, i.e. every line's reading is in the store under its id. Reports
# lines/s, the agent's CPU microseconds per line (utime + stime), its peak
# RSS (VmHWM) and its RSS once idle again.
#
#   bench/bench_file_tail.sh [BUILD_DIR] [LINES] [FORMAT] [BUFFER]
#   (defaults: build, 1000000, number, 1000; FORMAT number | json)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
lines=${2:-1000000}
format=${3:-number}
buffer=${4:-1000}
bin=$build/outpost
T=$(mktemp -d /tmp/bench-file-tail.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case $format in
number)
	seq 1 "$lines" >"$T/in.log"
	extra='' ;;
json)
	# Shaped like a typical log record: a value among other fields.
	awk -v n="$lines" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "{\"ts_text\":\"2024-05-29T16:26:40Z\",\"level\":\"info\",\"value\":%d,\"host\":\"trawler-7\"}\n", i }' >"$T/in.log"
	extra='value_path = "$.value"' ;;
*)
	echo "format: number | json" >&2
	exit 2 ;;
esac
size=$(stat -c %s "$T/in.log")
port=$(free_port)
cat >"$T/outpost.toml" <<CONF
[agent]
id = "bench"
data_dir = "$T/data"

[logging]
level = "warn"

[store]
commit_max = $buffer
max_db_mb = 4096

[health]
listen = "127.0.0.1:$port"

[cloud]
enabled = false

[[device]]
name = "tail"
type = "file"
path = "$T/in.log"
format = "$format"
from = "start"
buffer = $buffer
$extra
CONF

hz=$(getconf CLK_TCK)
start=$(date +%s.%N)
"$bin" -c "$T/outpost.toml" 2>>"$T/agent.log" &
pid=$!
db="$T/data/outpost.db"
pos=""
while :; do
	kill -0 "$pid" 2>/dev/null || { cat "$T/agent.log" >&2; exit 1; }
	pos=$(sqlite3 -batch -noheader "$db" \
	    "SELECT value FROM offsets WHERE source = 'file:tail'" 2>/dev/null || true)
	off=${pos#*:}
	off=${off%%:*}
	[ "${off:-0}" = "$size" ] && break
	sleep 0.02
done
end=$(date +%s.%N)
read -r utime stime < <(awk '{ print $14, $15 }' "/proc/$pid/stat")
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
sleep 1
idle=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid" || true
stored=$(sqlite3 -batch -noheader "$db" \
    "SELECT count(*), count(DISTINCT id) FROM readings WHERE device = 'tail'")

python3 - "$lines" "$start" "$end" "$utime" "$stime" "$hz" "$hwm" "$idle" \
    "$stored" "$format" "$buffer" "$size" <<'PY'
import sys
n, t0, t1, ut, st, hz, hwm, idle = sys.argv[1:9]
stored, fmt, buf, size = sys.argv[9:13]
n = int(n)
secs = float(t1) - float(t0)
cpu = (int(ut) + int(st)) / int(hz)
count, distinct = stored.split("|")
print(f"file tail {fmt}: {n} lines ({int(size) / 1048576:.1f} MiB), buffer/commit {buf}")
print(f"  {n / secs:,.0f} lines/s ({secs:.2f} s to all committed)")
print(f"  CPU {cpu * 1e6 / n:.2f} us/line ({cpu:.2f} s)")
print(f"  peak RSS {int(hwm) / 1024:.1f} MiB, idle RSS after {int(idle) / 1024:.1f} MiB")
print(f"  stored {count} readings, {distinct} distinct ids")
if int(count) != n or int(distinct) != n:
    sys.exit("  MISMATCH: not every line stored once")
PY
