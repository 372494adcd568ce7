# Shared helpers for integration scenarios: a scratch dir, free loopback
# ports, the agent started with a test config, servers tracked and killed on
# exit (only what this scenario started), deadlines instead of fixed sleeps.
# Source it: . "$(dirname "$0")/lib.sh"; then call lib_init.

set -u
: "${OUTPOST_BIN:?run through ctest (OUTPOST_BIN unset)}"
: "${OUTPOST_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# A checker (e.g. "valgrind --error-exitcode=99 --leak-check=full") to run
# the agent under; test/valgrind.sh sets it. Its log file can name the
# scenario with valgrind's %q{LIB_SCENARIO}.
: "${OUTPOST_WRAPPER:=}"
# Multiplies every lib_wait_* deadline and the grace given at exit, for a
# checker that slows the agent down (an integer; valgrind wants about 5).
: "${OUTPOST_TIME_SCALE:=1}"
LIB_SCENARIO=$(basename "$0" .sh)
export LIB_SCENARIO

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

# TERM first, so servers stop their own children (nginx's workers outlive
# a killed master) and a checked agent writes its report; then KILL
# whatever still runs after 2 s (scaled).
lib_cleanup() {
	local p="" left="" alive="" deadline
	for p in $AGENT_PID $LIB_PIDS; do
		kill -TERM "$p" 2>/dev/null && left="$left $p"
	done
	deadline=$(( $(date +%s%N) / 1000000 + 2000 * OUTPOST_TIME_SCALE ))
	while [ -n "$left" ] && [ "$(( $(date +%s%N) / 1000000 ))" -lt "$deadline" ]; do
		sleep 0.05
		alive=""
		for p in $left; do
			lib_alive "$p" && alive="$alive $p"
		done
		left=$alive
	done
	for p in $left; do
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

# lib_alive PID: true while PID runs (a zombie not yet reaped does not).
lib_alive() {
	local st=""
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }	# after "pid (comm) ", comm may hold spaces
	[ "${st%% *}" != Z ]
}

# Tracks a background server so it is stopped at exit.
lib_track() {
	LIB_PIDS="$LIB_PIDS $1"
}

# A free port outside the kernel's ephemeral range (32768-60999 here): a
# port taken from that range can be handed to some client's outgoing
# connection between our check and the server's bind.
lib_free_port() {
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

# lib_cloud_toml URL [EXTRA_LINES]: a [cloud] section for a test
# collector, with timers shrunk so tests never wait for real defaults. The
# request timeout is scaled: a TLS handshake under valgrind takes seconds.
lib_cloud_toml() {
	cat <<CLOUD
[cloud]
enabled = true
endpoint = "$1"
ca_file = "$T/certs/ca.pem"
token = "test-token"
batch_size = 50
flush_interval = 0.2
timeout = $((2 * OUTPOST_TIME_SCALE))
${2:-}

[cloud.retry]
base_delay = 0.1
max_delay = 0.4

[cloud.breaker]
failure_threshold = 3
recovery_timeout = 1
CLOUD
}

# lib_write_config FILE PORT: a test config (two fast sim devices and the
# system adapter, store under $T/data); extra TOML is appended from stdin.
# LIB_CLOUD, if set, replaces the [cloud] section (cloud off by default).
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

${LIB_CLOUD:-[cloud]
enabled = false}

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
	local url=$1 deadline=$(( $(date +%s) + ${2:-20} * OUTPOST_TIME_SCALE ))
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
	local port=$1 deadline=$(( $(date +%s) + ${2:-20} * OUTPOST_TIME_SCALE ))
	while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		[ "$(date +%s)" -ge "$deadline" ] && fail "nothing listens on $port"
		sleep 0.1
	done
}

# lib_wait_until DEADLINE_S CMD...: polls CMD until it succeeds.
lib_wait_until() {
	local deadline=$(( $(date +%s) + $1 * OUTPOST_TIME_SCALE )); shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && fail "timed out waiting: $*"
		sleep 0.1
	done
}

# lib_stop_agent [SIGNAL]: signals the agent, waits, sets AGENT_RC to its
# exit code. (Not in $(...): a subshell cannot wait for our child.)
lib_stop_agent() {
	local sig=${1:-TERM}
	kill -"$sig" "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_RC=$?
	AGENT_PID=""
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

# lib_make_certs DIR: a test CA and, signed by it, a server certificate for
# 127.0.0.1/localhost, one for another host name, an expired one, and a
# client certificate. Also an unrelated CA. All PEM, keys unencrypted.
lib_make_certs() {
	local d=$1
	mkdir -p "$d"
	(
	cd "$d" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout ca.key -out ca.pem -days 30 -subj "/CN=outpost test CA" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout other-ca.key -out other-ca.pem -days 30 \
		-subj "/CN=some other CA" 2>/dev/null
	lib_sign_cert server "DNS:localhost,IP:127.0.0.1" 30
	lib_sign_cert wronghost "DNS:collector.example.net" 30
	lib_sign_cert client "DNS:outpost-client" 30 clientAuth
	# Expired: its validity ends a day before it starts (-days -1).
	lib_sign_cert expired "DNS:localhost,IP:127.0.0.1" -1
	) || fail "certificate generation failed"
	[ -s "$d/expired.pem" ] || fail "no expired certificate"
}

# lib_sign_cert NAME SAN DAYS [EKU]: NAME.key/NAME.pem signed by ca.pem.
lib_sign_cert() {
	local name=$1 san=$2 days=$3 eku=${4:-serverAuth}
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$san" "$eku" >"$name.ext"
	openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key \
		-CAcreateserial -out "$name.pem" -days "$days" \
		-extfile "$name.ext" 2>/dev/null
}

# lib_start_collector NAME [collector.py args...]: starts the test
# collector on a free port; sets COLLECTOR_PORT. Uploads land in
# $T/NAME.jsonl, counters in $T/NAME.stats.
lib_start_collector() {
	local name=$1; shift
	rm -f "$T/$name.port"
	python3 "$OUTPOST_SRCDIR/test/tools/collector.py" --port-file "$T/$name.port" \
		--store "$T/$name.jsonl" --stats "$T/$name.stats" "$@" \
		>>"$T/$name.log" 2>&1 &
	lib_track $!
	COLLECTOR_PID=$!
	lib_wait_until 10 test -s "$T/$name.port"
	COLLECTOR_PORT=$(cat "$T/$name.port")
}

# lib_collector_mode URL MODE: switches the collector's fault mode.
lib_collector_mode() {
	curl -sfk -X POST --data "$2" "$1/_control" >/dev/null ||
		fail "collector did not take mode $2"
}

# lib_collector_stat NAME KEY: a counter of the collector.
lib_collector_stat() {
	python3 -c 'import json, sys
print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$T/$1.stats" "$2" 2>/dev/null || echo 0
}

# lib_collector_ids NAME: every record id the collector accepted, sorted, once.
lib_collector_ids() {
	python3 -c 'import json, sys
ids = set()
for line in open(sys.argv[1]):
    ids.update(json.loads(line)["ids"])
print("\n".join(sorted(ids)))' "$T/$1.jsonl" 2>/dev/null
}
