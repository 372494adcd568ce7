#!/usr/bin/env bash
# Fleet reconnect: AGENTS agents (separate processes, data dirs and health
# ports; one or two sim devices at 1 Hz each, the default flush, backoff
# and breaker settings) upload over plain HTTP to one sink on loopback.
# Once every agent has uploaded and 20 s of steady traffic have been seen,
# the sink is stopped (its port closed, its connections reset) for
# OUTAGE_SECS, then started again on the same port. The sink logs every
# request's arrival (bench/fleet_sink.py). Reported, per jitter setting
# ([cloud.retry] jitter = true, the default, then false):
#   - the steady request rate before the outage;
#   - when the agents came back (first request after the return);
#   - in the first minute after the return, the peak request count per
#     1 s and per 100 ms bucket against the mean over that minute (ratio);
#   - the time until every agent's backlog (every reading stamped before
#     the return) had arrived.
#
#   bench/bench_fleet.sh [BUILD_DIR] [AGENTS] [OUTAGE_SECS] ["JITTER..."]
#   (default build, 100, 60, "true false")
#
# Agents are started FLEET_STAGGER seconds apart in all (default 5, the
# flush interval), so their flush timers have independent phases as on
# devices that booted at different times; FLEET_STAGGER=0 starts them
# back to back (a site powered up at once).
#
# Ports: the sink on FLEET_PORT (default 30000), agent i's health port on
# FLEET_PORT + 1 + i: outside the tests' 20000-29999 and below the
# kernel's ephemeral range (32768-60999 here).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
agents=${2:-100}
outage=${3:-60}
modes=${4:-"true false"}
base=${FLEET_PORT:-30000}
stagger=${FLEET_STAGGER:-5}
bin=$build/outpost
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-fleet.XXXXXX")
PIDS=""
SINK=""
cleanup() {
	local p
	for p in $PIDS $SINK; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Each agent holds a store, a listener and an upload connection: about
# 10 descriptors, and the sink one per agent.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -u)" = unlimited ] || [ "$(ulimit -u)" -gt $((agents * 2 + 100)) ] ||
	{ echo "ulimit -u too small for $agents agents" >&2; exit 1; }
python3 - "$base" "$agents" <<'PY'
import socket, sys
base, n = int(sys.argv[1]), int(sys.argv[2])
for p in range(base, base + n + 1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit("port %d is taken: set FLEET_PORT" % p)
    finally:
        s.close()
PY

sink_start() {	# LOGFILE
	python3 "$top/bench/fleet_sink.py" --port "$base" --log "$1" &
	SINK=$!
	until (exec 3<>"/dev/tcp/127.0.0.1/$base") 2>/dev/null; do sleep 0.05; done
}
sink_stop() {
	kill -TERM "$SINK"; wait "$SINK" || true
	SINK=""
}
# Agents seen in the log files given (the sink flushes every 0.5 s).
seen() { cat "$@" 2>/dev/null | awk '{print $2}' | sort -u | grep -c fleet || true; }
now() { date +%s.%N; }

run() {	# JITTER
	local jitter=$1 i n pid t_down t_up deadline
	local d=$T/$jitter
	mkdir -p "$d"
	PIDS=""
	for i in $(seq 0 $((agents - 1))); do
		{
			cat <<CONF
[agent]
id = "fleet-$(printf %03d "$i")"
data_dir = "$d/a$i"
[logging]
level = "warn"
[health]
listen = "127.0.0.1:$((base + 1 + i))"
[cloud]
enabled = true
endpoint = "http://127.0.0.1:$base/v1/batches"
insecure = true
[cloud.retry]
jitter = $jitter
CONF
			for n in $(seq 0 $((i % 2))); do
				printf '[[device]]\nname = "d%d"\ntype = "sim"\ninterval = 1\n' "$n"
			done
		} >"$d/a$i.toml"
	done
	sink_start "$d/before.log"
	for i in $(seq 0 $((agents - 1))); do
		"$bin" -c "$d/a$i.toml" 2>"$d/a$i.log" &
		PIDS="$PIDS $!"
		sleep "$(awk -v s="$stagger" -v n="$agents" 'BEGIN {print s / n}')"
	done
	for i in $(seq 0 $((agents - 1))); do
		until curl -sf "http://127.0.0.1:$((base + 1 + i))/health/live" >/dev/null; do
			sleep 0.1
		done
	done
	deadline=$(( $(date +%s) + 120 ))
	until [ "$(seen "$d/before.log")" -ge "$agents" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "agents did not all upload" >&2; exit 1; }
		sleep 0.5
	done
	sleep 20	# steady uploads, the reference rate
	t_down=$(now)
	sink_stop
	sleep "$outage"
	sink_start "$d/after.log"
	t_up=$(now)
	# Wait for the first minute after the return, and until every agent
	# sent a batch holding only readings stamped after it (its backlog
	# is behind it), or the breaker's longest wait has passed twice.
	sleep 60
	deadline=$(( $(date +%s) + 300 ))
	until [ "$(awk -v t="$t_up" '$4 >= t {print $2}' "$d/after.log" | sort -u | wc -l)" -ge "$agents" ] ||
		[ "$(date +%s)" -ge "$deadline" ]; do
		sleep 1
	done
	for pid in $PIDS; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in $PIDS; do wait "$pid" || true; done
	PIDS=""
	sink_stop
	python3 - "$jitter" "$agents" "$outage" "$t_down" "$t_up" \
		"$d/before.log" "$d/after.log" "$stagger" <<'PY'
import statistics, sys
jitter, agents, outage = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t_down, t_up = float(sys.argv[4]), float(sys.argv[5])
def load(path):
    out = []
    for line in open(path):
        t, a, n, lo, hi = line.split()
        out.append((float(t), a, int(n), float(lo), float(hi)))
    return out
before, after = load(sys.argv[6]), load(sys.argv[7])
steady = [r for r in before if t_down - 20 <= r[0] < t_down]
first, drained, past = {}, {}, set()
for t, a, n, lo, hi in after:
    first.setdefault(a, t - t_up)
    if n and lo < t_up:
        drained[a] = t - t_up
    elif n:
        past.add(a)
# An agent counts as drained once a later batch held only newer readings.
drained = {a: x for a, x in drained.items() if a in past}
back = sorted(first.values())
minute = [r[0] - t_up for r in after if r[0] < t_up + 60]
def buckets(w):
    c = [0] * int(round(60 / w))
    for x in minute:
        c[min(int(x / w), len(c) - 1)] += 1
    return c
s1, s01 = buckets(1.0), buckets(0.1)
mean1 = len(minute) / 60.0
mean01 = len(minute) / 600.0
q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
print("jitter=%s agents=%d outage=%.0fs stagger=%ss (sink down %.1f s)" %
      (jitter, agents, outage, sys.argv[8], t_up - t_down))
sb, sb01 = [0] * 20, [0] * 200
for r in steady:
    sb[min(int(r[0] - (t_down - 20)), 19)] += 1
    sb01[min(int((r[0] - (t_down - 20)) * 10), 199)] += 1
rate = len(steady) / 20.0
print("  steady before: %.1f requests/s; peak 1 s bucket %d (ratio %.2f), "
      "peak 100 ms bucket %d (ratio %.2f)" % (rate, max(sb), max(sb) / rate,
      max(sb01), max(sb01) / (rate / 10)))
print("  came back: %d of %d agents, first request after the return "
      "min/median/max %.1f/%.1f/%.1f s" % (len(back), agents, q(back, 0),
      q(back, 0.5), q(back, 1.0) if back else float("nan")))
print("  first minute: %d requests, mean %.2f/s; peak 1 s bucket %d "
      "(ratio %.2f), peak 100 ms bucket %d (mean %.3f, ratio %.2f)" %
      (len(minute), mean1, max(s1), max(s1) / mean1 if mean1 else 0,
       max(s01), mean01, max(s01) / mean01 if mean01 else 0))
print("  against the steady rate before: peak 1 s bucket %.2f, "
      "peak 100 ms bucket %.2f" % (max(s1) / rate, max(s01) / (rate / 10)))
print("  per second: " + " ".join(str(x) for x in s1))
dv = sorted(drained.values())
print("  backlog drained (last reading stamped before the return "
      "arrived): %d of %d agents, median %.1f s, all %.1f s after the return"
      % (len(dv), agents, q(dv, 0.5), dv[-1] if dv else float("nan")))
PY
}

for j in $modes; do
	run "$j"
done
