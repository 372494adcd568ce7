#!/usr/bin/env bash
# Idle cost: 10 simulated devices at 5 s intervals, the uplink down (the
# collector's port is closed), for SECS seconds. Reports wake-ups per
# minute (context switches of the agent: each is a return from epoll_wait)
# and CPU seconds per hour. A device on battery cares.
#   bench/bench_idle.sh [BUILD_DIR] [SECS]     (default build, 60)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
secs=${2:-60}
T=$(mktemp -d /tmp/bench-idle.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hp=$(port); dead=$(port)
{
	cat <<CONF
[agent]
id = "idle"
data_dir = "$T/data"
[logging]
level = "warn"
[health]
listen = "127.0.0.1:$hp"
[cloud]
enabled = true
endpoint = "http://127.0.0.1:$dead/v1/batches"
insecure = true
CONF
	for i in $(seq 1 10); do
		printf '[[device]]\nname = "d%d"\ntype = "sim"\ninterval = 5\n' "$i"
	done
} >"$T/idle.toml"
"$build/outpost" -c "$T/idle.toml" 2>"$T/agent.log" & pid=$!
until curl -sf "http://127.0.0.1:$hp/health/live" >/dev/null; do sleep 0.1; done
sleep 10	# past start-up and the first failed uploads
ctx() { awk '/ctxt_switches/ {n += $2} END {print n}' "/proc/$pid/status"; }
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(ctx); u0=$(cpu)
sleep "$secs"
c1=$(ctx); u1=$(cpu)
tck=$(getconf CLK_TCK)
python3 - "$c0" "$c1" "$u0" "$u1" "$tck" "$secs" <<'PY'
import sys
c0, c1, u0, u1, tck, secs = (float(x) for x in sys.argv[1:])
print("wakeups_per_min=%.1f cpu_s_per_hour=%.3f" % ((c1 - c0) * 60 / secs,
      (u1 - u0) / tck * 3600 / secs))
PY
grep -c . "$T/agent.log" | awk '{print "log_lines=" $1}'
