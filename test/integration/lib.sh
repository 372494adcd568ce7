# Shared helpers for integration scenarios: a scratch dir, free loopback
# ports, the agent started with a test config, servers tracked and killed on
# exit (only what this scenario started), deadlines instead of fixed sleeps.
# Source it: . "$(dirname "$0")/lib.sh"; then call lib_init.

set -u
: "${OUTPOST_BIN:?run through ctest (OUTPOST_BIN unset)}"
: "${OUTPOST_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# A checker (e.g. "valgrind --error-exitcode=99 --leak-check=full") to run
# the agent under.
: "${OUTPOST_WRAPPER:=}"

LIB_PIDS=""
AGENT_PID=""
T=""

fail() {
	echo "FAIL: $*" >&2
	if [ -n "$T" ] && [ -f "$T/agent.log" ]; then
		echo "--- agent log (tail) ---" >&2
		tail -40 "$T/agent.log" >&2
	fi
	exit 1
}

lib_cleanup() {
	local p
	for p in $AGENT_PID $LIB_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "$T" ] && [ -z "${KEEP_SCRATCH:-}" ] && rm -rf "$T"
}

lib_init() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/outpost-test.XXXXXX")
	trap lib_cleanup EXIT
	trap 'exit 1' INT TERM
}

# Tracks a background server so it is killed at exit.
lib_track() {
	LIB_PIDS="$LIB_PIDS $1"
}

lib_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# lib_write_config FILE PORT: a test config (two fast sim devices and the
# system adapter, store under $T/data); extra TOML is appended from stdin.
lib_write_config() {
	local file=$1 port=$2
	cat >"$file" <<CONF
[agent]
id = "test-agent"
data_dir = "$T/data"

[logging]
level = "debug"
format = "json"

[store]
commit_interval = 0.2

[health]
listen = "127.0.0.1:$port"

[cloud]
enabled = false

[[device]]
name = "hold"
type = "sim"
sensor = "temp.hold"
unit = "celsius"
interval = 0.05
waveform = "sine"
min = 2.0
max = 6.0
period = 10
seed = 7

[[device]]
name = "engine"
type = "sim"
sensor = "temp.engine"
unit = "celsius"
interval = 0.1
waveform = "random_walk"
min = 60
max = 95
seed = 11

[[device]]
name = "system"
type = "system"
interval = 1
CONF
	if [ -f /dev/stdin ] || [ -p /dev/stdin ]; then cat >>"$file"; fi
}

# lib_start_agent CONFIG [args...]: runs the agent in the background.
lib_start_agent() {
	local conf=$1; shift
	$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$conf" "$@" >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
}

# lib_wait_http URL [DEADLINE_S]: waits until URL answers 2xx.
lib_wait_http() {
	local url=$1 deadline=$(( $(date +%s) + ${2:-20} ))
	while ! curl -sf -o /dev/null --max-time 2 "$url"; do
		if [ -n "$AGENT_PID" ] && ! kill -0 "$AGENT_PID" 2>/dev/null; then
			fail "agent died while waiting for $url"
		fi
		[ "$(date +%s)" -ge "$deadline" ] && fail "no answer from $url"
		sleep 0.1
	done
}

# lib_wait_port PORT [DEADLINE_S]: waits until something listens there.
lib_wait_port() {
	local port=$1 deadline=$(( $(date +%s) + ${2:-20} ))
	while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		[ "$(date +%s)" -ge "$deadline" ] && fail "nothing listens on $port"
		sleep 0.1
	done
}

# lib_wait_until DEADLINE_S CMD...: polls CMD until it succeeds.
lib_wait_until() {
	local deadline=$(( $(date +%s) + $1 )); shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && fail "timed out waiting: $*"
		sleep 0.1
	done
}

# lib_stop_agent [SIGNAL]: signals the agent, waits, echoes its exit code.
lib_stop_agent() {
	local sig=${1:-TERM} rc
	kill -"$sig" "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	rc=$?
	AGENT_PID=""
	echo "$rc"
}

# lib_sql DB SQL: one query through the sqlite3 shell (read-only use).
lib_sql() {
	sqlite3 -batch -noheader "$1" "$2"
}

# lib_json FIELD_PATH: reads JSON on stdin and prints a field (a.b.c).
lib_json() {
	python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"
}
