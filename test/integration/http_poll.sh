#!/usr/bin/env bash
# HTTP poll against a local web server serving files this test rewrites:
# the value picked with value_path (and its ts_path timestamp) lands in the
# store; a bare number is scaled; a bad body, a 404, a server that never
# answers and a server that is down count as adapter errors in /health while
# the agent keeps running; when the server is back the device recovers. A
# push device next to the pollers still takes POST /ingest alone.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
wport=$(lib_free_port)
sport=$(lib_free_port)
mkdir -p "$T/www"

# put NAME CONTENT: replaces a served file in one rename.
put() {
	printf '%s' "$2" >"$T/www/.$1.tmp" && mv "$T/www/.$1.tmp" "$T/www/$1"
}

start_www() {
	python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$wport" \
		>>"$T/www.log" 2>&1 &
	WWW_PID=$!
	lib_track "$WWW_PID"
	lib_wait_port "$wport"
}

put reading.json '{"sensors":{"temp":21.5,"hum":40},"ts":1717000000}'
put raw.txt ' 42000 '
start_www

# A server that accepts connections and never answers.
python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)' "$sport" >>"$T/stuck.log" 2>&1 &
lib_track $!
lib_wait_port "$sport"

lib_write_config "$T/outpost.toml" "$port" <<EOF2
# The bodies carry fixed 2024 timestamps: keep the TTL from expiring them.
[cloud.ttl]
normal = 0

[[device]]
name = "boiler"
type = "http"
mode = "poll"
sensor = "boiler.temp"
unit = "celsius"
interval = 0.2
url = "http://127.0.0.1:$wport/reading.json"
format = "json"
value_path = "\$.sensors.temp"
ts_path = "\$.ts"
timeout = 1
headers = ["X-Outpost-Test: 1", "Accept: application/json"]

[[device]]
name = "meter"
type = "http"
mode = "poll"
sensor = "meter.kw"
interval = 0.2
url = "http://127.0.0.1:$wport/raw.txt"
format = "number"
scale = 0.001

[[device]]
name = "ghost"
type = "http"
mode = "poll"
interval = 0.2
url = "http://127.0.0.1:$wport/missing.json"

[[device]]
name = "stuck"
type = "http"
mode = "poll"
interval = 0.2
timeout = 0.5
url = "http://127.0.0.1:$sport/never"

[[device]]
name = "gw"
type = "http"
mode = "push"
EOF2
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost.toml" --check >"$T/check.out" 2>&1 ||
	fail "config rejected: $(cat "$T/check.out")"
db="$T/data/outpost.db"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"

has_row() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE $1")" -ge 1 ]
}

# adapter NAME FIELD...: fields of one /health adapter (detail.x for detail).
adapter() {
	curl -s --max-time 5 "http://127.0.0.1:$port/health" | python3 -c 'import json, sys
a = [a for a in json.load(sys.stdin)["adapters"] if a["name"] == sys.argv[1]][0]
out = []
for f in sys.argv[2:]:
    v = a
    for k in f.split("."):
        v = v.get(k, "") if isinstance(v, dict) else ""
    out.append(str(v))
print(" ".join(out))' "$@"
}

# Predicates for lib_wait_until, evaluated on every try.
state_is() {
	[ "$(adapter "$1" state)" = "$2" ]
}
field_above() {
	[ "$(adapter "$1" "$2")" -gt "$3" ]
}
rows_above() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE $1")" -gt "$2" ]
}

lib_wait_until 10 has_row "device = 'boiler' AND value = 21.5"
got=$(lib_sql "$db" "SELECT DISTINCT sensor, value, ts, unit FROM readings WHERE device = 'boiler'")
[ "$got" = "boiler.temp|21.5|1717000000.0|celsius" ] || fail "boiler stored as: $got"
put reading.json '{"sensors":{"temp":22.75},"ts":"2024-05-29T16:26:41Z"}'
lib_wait_until 10 has_row "device = 'boiler' AND value = 22.75 AND ts = 1717000001"
lib_wait_until 10 has_row "device = 'meter' AND sensor = 'meter.kw' AND value = 42.0"
[ "$(adapter boiler state)" = connected ] || fail "boiler: $(adapter boiler state last_error)"

# A 404 and a server that never answers: errors, never a reading.
lib_wait_until 10 state_is ghost error
adapter ghost last_error | grep -q 'HTTP 404' || fail "ghost: $(adapter ghost last_error)"
lib_wait_until 10 state_is stuck error
adapter stuck last_error | grep -q 'no complete response .* within 0.5 s' || fail "stuck: $(adapter stuck last_error)"
# Polls every 0.2 s, each waiting 0.5 s: ticks are skipped, never doubled.
lib_wait_until 10 field_above stuck detail.polls_skipped 0
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device IN ('ghost', 'stuck')")" = 0 ] ||
	fail "failing pollers stored readings"

# A bad body: counted as an error, nothing stored, then recovery.
errors0=$(adapter boiler errors)
put reading.json '{"sensors":{"temp":"hot"},"ts":1717000002}'
lib_wait_until 10 state_is boiler error
adapter boiler last_error | grep -q 'value at \$.sensors.temp is text, not a number' ||
	fail "boiler bad body: $(adapter boiler last_error)"
[ "$(adapter boiler errors)" -gt "$errors0" ] || fail "bad body not counted"
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'boiler' AND ts = 1717000002")" = 0 ] ||
	fail "bad body stored"
put reading.json '{"sensors":{"temp":23},"ts":1717000003}'
lib_wait_until 10 has_row "device = 'boiler' AND value = 23.0 AND ts = 1717000003"
lib_wait_until 10 state_is boiler connected

# Server down: errors in /health, the agent and its other devices go on.
kill -KILL "$WWW_PID"
wait "$WWW_PID" 2>/dev/null
errors0=$(adapter boiler errors)
lib_wait_until 10 state_is boiler error
lib_wait_until 10 field_above boiler errors $((errors0 + 2))
adapter boiler last_error | grep -qi 'tcp' || fail "server down: $(adapter boiler last_error)"
sims0=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'hold'")
lib_wait_until 10 rows_above "device = 'hold'" "$sims0"
curl -sf --max-time 2 "http://127.0.0.1:$port/health/live" >/dev/null || fail "agent not live"
kill -0 "$AGENT_PID" || fail "agent died"

# The push device is the only one POST /ingest goes to.
code=$(curl -s -o "$T/resp" -w '%{http_code}' --max-time 5 -X POST \
	-H 'Content-Type: application/json' --data '{"sensor":"pushed","value":5}' \
	"http://127.0.0.1:$port/ingest")
[ "$code" = 204 ] || fail "push next to pollers: $code $(cat "$T/resp")"
has_row "device = 'gw' AND sensor = 'pushed' AND value = 5.0" || fail "pushed reading missing"

# The server comes back: the device recovers.
put reading.json '{"sensors":{"temp":24.5},"ts":1717000004}'
start_www
lib_wait_until 10 has_row "device = 'boiler' AND value = 24.5 AND ts = 1717000004"
lib_wait_until 10 state_is boiler connected

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "agent exit code $AGENT_RC"
echo "ok: polled values stored, failures reported, recovery after the server returns"
