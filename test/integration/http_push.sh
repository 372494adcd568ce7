#!/usr/bin/env bash
# HTTP push: POST /ingest with curl. Good JSON and line-protocol bodies get
# 204 and land in the store with their exact values; bad bodies get 400 with
# a one-line reason and store nothing; oversized bodies get 413; a missing
# or wrong token gets 401; a body answered 204 survives a kill -9 at once.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
lib_write_config "$T/outpost.toml" "$port" <<'EOF2'
# The bodies carry fixed 2024 timestamps: keep the TTL from expiring them.
[cloud.ttl]
normal = 0

[[device]]
name = "gw"
type = "http"
mode = "push"
sensor = "gw.default"
unit = "V"
token = "push-token"
max_body_bytes = 65536
buffer = 2000

# A second push device with a tiny buffer, for refusals.
[[device]]
name = "small"
type = "http"
mode = "push"
buffer = 8
EOF2
db="$T/data/outpost.db"
url="http://127.0.0.1:$port/ingest?device=gw"
auth="Authorization: Bearer push-token"

lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"

# post CONTENT_TYPE BODY [curl args...]: prints the status; body in $T/resp.
post() {
	local ct=$1 body=$2; shift 2
	curl -s -o "$T/resp" -D "$T/resp.headers" -w '%{http_code}' \
		--max-time 10 -X POST -H "$ct" --data-binary "$body" "$@" "$url"
}

gw_rows() {
	lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'gw'"
}

rows_of() {
	lib_sql "$db" "SELECT sensor, value, ts, unit, coalesce(meta, '')
	    FROM readings WHERE device = 'gw' AND sensor LIKE '$1' ORDER BY sensor"
}

# One reading object.
code=$(post "Content-Type: application/json" \
	'{"sensor":"tank.level","value":41.25,"ts":1717000000.5,"unit":"cm","meta":{"tank":"fore"}}' \
	-H "$auth")
[ "$code" = 204 ] || fail "single object: $code $(cat "$T/resp")"
[ "$(rows_of 'tank.%')" = 'tank.level|41.25|1717000000.5|cm|{"tank":"fore"}' ] ||
	fail "single object stored as: $(rows_of 'tank.%')"

# An array; defaults (sensor, unit, arrival time) come from the device.
before=$(date +%s)
code=$(post "Content-Type: application/json; charset=utf-8" \
	'[{"sensor":"arr.a","value":1},{"sensor":"arr.b","value":-2.5,"ts":"2024-05-29T16:26:40Z"},{"sensor":"arr.c","value":3e2,"unit":"A"}]' \
	-H "$auth")
[ "$code" = 204 ] || fail "array: $code $(cat "$T/resp")"
got=$(lib_sql "$db" "SELECT sensor, value, unit FROM readings
    WHERE device = 'gw' AND sensor LIKE 'arr.%' ORDER BY sensor")
[ "$got" = "arr.a|1.0|V
arr.b|-2.5|V
arr.c|300.0|A" ] || fail "array stored as: $got"
[ "$(lib_sql "$db" "SELECT ts FROM readings WHERE sensor = 'arr.b'")" = 1717000000.0 ] ||
	fail "ISO-8601 ts not kept"
[ "$(lib_sql "$db" "SELECT ts >= $before AND ts < $before + 60 FROM readings WHERE sensor = 'arr.a'")" = 1 ] ||
	fail "missing ts is not the arrival time"
post "Content-Type: application/json" '{"value":7.5}' -H "$auth" >/dev/null
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE sensor = 'gw.default' AND value = 7.5 AND unit = 'V'")" = 1 ] ||
	fail "reading without sensor did not get the device's"

# Line protocol, as text/plain and sniffed without a Content-Type.
code=$(post "Content-Type: text/plain" \
	$'# from telegraf\nengine,bank=port,unit=rpm speed=1450i,temp=88.5,ok=true 1717000000250000000\nengine value=3 1717000001000000000\n' \
	-H "$auth")
[ "$code" = 204 ] || fail "line protocol: $code $(cat "$T/resp")"
[ "$(rows_of 'engine%')" = 'engine|3.0|1717000001.0|V|
engine.speed|1450.0|1717000000.25|rpm|{"bank":"port"}
engine.temp|88.5|1717000000.25|rpm|{"bank":"port"}' ] ||
	fail "line protocol stored as: $(rows_of 'engine%')"
code=$(post "Content-Type:" 'sniffed value=5 1717000002000000000' -H "$auth")
[ "$code" = 204 ] || fail "sniffed line protocol: $code"
[ "$(rows_of sniffed)" = 'sniffed|5.0|1717000002.0|V|' ] ||
	fail "sniffed: $(rows_of sniffed)"

# Bad bodies: 400, a one-line reason, nothing of them stored.
n0=$(gw_rows)
check_bad() {
	local ct=$1 body=$2 want=$3 code
	code=$(post "$ct" "$body" -H "$auth")
	[ "$code" = 400 ] || fail "bad body answered $code: $body"
	grep -qF "$want" "$T/resp" || fail "reason for $body: $(cat "$T/resp"), want $want"
	[ "$(wc -l <"$T/resp")" = 1 ] || fail "reason is not one line"
}
check_bad "Content-Type: application/json" '[{"sensor":"bad.a","value":1},{"sensor":"bad.b","value":2},{"sensor":"bad.c","value":"x"}]' \
	'record 2: value is not a number'
check_bad "Content-Type: application/json" '[{"sensor":"bad.a","value":1},{"sensor":"bad.b"}]' \
	'record 1: value is missing'
check_bad "Content-Type: application/json" '{"sensor":"bad.a","value":1' 'not valid JSON'
check_bad "Content-Type: application/json" '42' 'not a reading object'
check_bad "Content-Type: application/json" '' 'not valid JSON'
check_bad "Content-Type: text/plain" $'bad v=1\nbad w=2\nbad x=oops\n' 'line 3: field x: bad value'
check_bad "Content-Type: text/plain" 'bad v=1 notatime' 'line 1: bad timestamp'
# A later good body commits after everything before it: had any bad
# reading been handed over, it would be in the store by now.
code=$(post "Content-Type: application/json" '{"sensor":"marker","value":1}' -H "$auth")
[ "$code" = 204 ] || fail "marker: $code"
n1=$(gw_rows)
[ "$n1" = $((n0 + 1)) ] || fail "bad bodies stored something: $n0 -> $n1"
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE sensor LIKE 'bad%'")" = 0 ] ||
	fail "readings of a bad body were stored"

# With two push devices, POST /ingest must name one.
code=$(curl -s -o "$T/resp" -w '%{http_code}' --max-time 5 -X POST \
	-H "$auth" --data '{"value":1}' "http://127.0.0.1:$port/ingest")
[ "$code" = 400 ] || fail "unnamed device with two push devices: $code"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --max-time 5 -X POST \
	-H "$auth" --data '{"value":1}' "http://127.0.0.1:$port/ingest?device=nope")
[ "$code" = 404 ] || fail "unknown push device: $code"

# Oversized (device limit 64 KiB): 413, nothing stored.
python3 -c 'import json
print(json.dumps([{"sensor": "big.%d" % i, "value": i} for i in range(4000)]))' >"$T/big.json"
[ "$(stat -c %s "$T/big.json")" -gt 65536 ] || fail "big body is not big"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --max-time 10 -X POST \
	-H "$auth" -H "Content-Type: application/json" --data-binary "@$T/big.json" "$url")
[ "$code" = 413 ] || fail "oversized body answered $code"

# Tokens.
code=$(post "Content-Type: application/json" '{"sensor":"noauth","value":1}')
[ "$code" = 401 ] || fail "missing token answered $code"
grep -qi '^WWW-Authenticate: Bearer' "$T/resp.headers" || fail "no WWW-Authenticate on 401"
code=$(post "Content-Type: application/json" '{"sensor":"noauth","value":1}' \
	-H "Authorization: Bearer push-tokem")
[ "$code" = 401 ] || fail "wrong token answered $code"
code=$(post "Content-Type: application/json" '{"sensor":"noauth","value":1}' \
	-H "Authorization: Basic cHVzaC10b2tlbg==")
[ "$code" = 401 ] || fail "basic auth answered $code"
code=$(post "Content-Type: application/json" '{"sensor":"marker2","value":1}' -H "$auth")
[ "$code" = 204 ] || fail "marker2: $code"
[ "$(gw_rows)" = $((n1 + 1)) ] || fail "oversized or unauthorized bodies stored something"

# The adapter counts what happened.
curl -s "http://127.0.0.1:$port/health" >"$T/health.json"
detail=$(python3 -c 'import json, sys
h = json.load(open(sys.argv[1]))
a = [a for a in h["adapters"] if a["name"] == "gw"][0]
d = a["detail"]
print(a["state"], d["mode"], d["bad_bodies"], d["too_large"], d["unauthorized"], d["refused"], a["errors"] >= 10)' "$T/health.json")
[ "$detail" = "connected push 7 1 3 0 True" ] || fail "health detail: $detail"

# The store refuses (locked by another writer) while a body is bigger than
# the device's buffer: what does not fit is refused, and the answer, once
# the rest is committed, is 503 with Retry-After, never 204.
rm -f "$T/unlock" "$T/locked"
python3 -c 'import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2] + "/locked", "w").close()
while not os.path.exists(sys.argv[2] + "/unlock"):
    time.sleep(0.05)
c.execute("COMMIT")' "$db" "$T" &
locker=$!
lib_track "$locker"
lib_wait_until 10 test -e "$T/locked"
body=$(python3 -c 'import json
print(json.dumps([{"sensor": "refused.%d" % i, "value": i, "ts": 1717000000 + i} for i in range(40)]))')
curl -s -o "$T/resp503" -D "$T/resp503.headers" -w '%{http_code}' --max-time 30 \
	-X POST -H "Content-Type: application/json" --data-binary "$body" \
	"http://127.0.0.1:$port/ingest?device=small" >"$T/code503" &
curler=$!
# The body is in: part of it waits in the buffer for the store.
small_waiting() {
	curl -s --max-time 5 "http://127.0.0.1:$port/health" | python3 -c 'import json, sys
a = [a for a in json.load(sys.stdin)["adapters"] if a["name"] == "small"][0]
sys.exit(0 if a["detail"]["waiting_commit"] == 1 else 1)'
}
lib_wait_until 10 small_waiting
[ ! -s "$T/code503" ] || fail "answered before the commit: $(cat "$T/code503")"
touch "$T/unlock"
wait "$curler"
wait "$locker" 2>/dev/null
[ "$(cat "$T/code503")" = 503 ] || fail "refused readings answered $(cat "$T/code503")"
grep -qi '^Retry-After: 1' "$T/resp503.headers" || fail "no Retry-After on 503"
refused_stored=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE sensor LIKE 'refused.%'")
[ "$refused_stored" -lt 40 ] || fail "all 40 stored, yet 503"

# kill -9 right after the 204: those readings are in the store.
for round in 1 2 3; do
	body=$(python3 -c 'import json, sys
print(json.dumps([{"sensor": "crash.%s.%d" % (sys.argv[1], i), "value": i + 0.5} for i in range(200)]))' "$round")
	code=$(post "Content-Type: application/json" "$body" -H "$auth")
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=""
	[ "$code" = 204 ] || fail "crash round $round: $code"
	got=$(lib_sql "$db" "SELECT count(*), sum(value) FROM readings WHERE sensor LIKE 'crash.$round.%'")
	[ "$got" = "200|20000.0" ] || fail "round $round after kill -9: $got"
	lib_start_agent "$T/outpost.toml"
	lib_wait_http "http://127.0.0.1:$port/health/live"
done

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "agent exit code $AGENT_RC"
echo "ok: push bodies stored exactly, bad ones refused, 204 survives kill -9"
