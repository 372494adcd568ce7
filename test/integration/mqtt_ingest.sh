#!/usr/bin/env bash
# The mqtt adapter against a real mosquitto: 10,000 QoS 1 messages while the
# agent is killed with -9 mid-stream and restarted (persistent session): every
# message ends up in the store exactly once and no packet-id key is left.
# Then the broker restarts: the agent reconnects and resubscribes. Then bad
# payloads: counted in /health, logged, acknowledged, not stored.
. "$(dirname "$0")/lib.sh"
lib_init

N=10000
port=$(lib_free_port)
mport=$(lib_free_port)
db="$T/data/outpost.db"

cat >"$T/mosquitto.conf" <<EOF
listener $mport 127.0.0.1
# As root, mosquitto would drop to its own user, which cannot read $T.
user $(id -un)
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 20
log_dest file $T/mosquitto.log
EOF

start_broker() {
	mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.out" 2>&1 &
	BROKER_PID=$!
	lib_track "$BROKER_PID"
	lib_wait_port "$mport"
}

# detail FIELD: the deck adapter's /health field (detail.* or top level).
detail() {
	curl -sf --max-time 2 "http://127.0.0.1:$port/health" | python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin)["adapters"] if x["name"] == "deck"][0]
f = sys.argv[1]
print(a[f] if f in a else a["detail"][f])' "$1" 2>/dev/null
}

count() {
	local n
	n=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'deck' ${1:-}" 2>/dev/null)
	echo "${n:--1}"
}

connected_with() { [ "$(detail state)" = connected ] && [ "$(detail connects)" -ge "$1" ]; }
count_is() { [ "$(count "${2:-}")" = "$1" ]; }
count_at_least() { [ "$(count)" -ge "$1" ]; }
detail_is() { [ "$(detail "$1")" = "$2" ]; }
progress_at_least() {
	local p
	p=$(cat "$T/progress" 2>/dev/null)
	[ "${p:-0}" -ge "$1" ]
}
keys() {
	lib_sql "$db" "SELECT count(*) FROM offsets WHERE source GLOB 'mqtt:deck:[0-9]*'"
}
keys_are() { [ "$(keys)" = "$1" ]; }
marker() {
	lib_sql "$db" "SELECT count(*) FROM offsets WHERE source = 'mqtt:deck:keys'"
}

start_broker
lib_write_config "$T/outpost.toml" "$port" <<EOF
[[device]]
name = "deck"
type = "mqtt"
url = "mqtt://127.0.0.1:$mport"
topics = ["t/#", "other/+/x"]
qos = 1
keepalive = 5
reconnect_min = 0.05
reconnect_max = 0.5
connect_timeout = 5
payload = "number"
EOF
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost.toml" --check >"$T/check.out" 2>&1 ||
	fail "config check: $(cat "$T/check.out")"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
lib_wait_until 20 connected_with 1
[ "$(detail session_present)" = False ] || fail "first session should be new"

# A paced publisher (about 2,500 messages/s), so the kill lands mid-stream;
# it reports how far it got in $T/progress.
python3 -c '
import sys, time
n, progress = int(sys.argv[1]), sys.argv[2]
for i in range(1, n + 1):
    sys.stdout.write("%d\n" % i)
    if i % 25 == 0:
        sys.stdout.flush()
        open(progress, "w").write(str(i))
        time.sleep(0.01)
sys.stdout.flush()
open(progress, "w").write(str(n))
' "$N" "$T/progress" |
	mosquitto_pub -h 127.0.0.1 -p "$mport" -q 1 -t t/n -l &
PUB_PID=$!
lib_track "$PUB_PID"

lib_wait_until 30 count_at_least 1500
lib_stop_agent KILL
at_kill=$(count)
[ "$at_kill" -lt "$N" ] || fail "the kill came after the last message ($at_kill)"
# Let messages pile up at the broker for the persistent session.
lib_wait_until 30 progress_at_least $((at_kill + 1500 < N ? at_kill + 1500 : N))
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
wait "$PUB_PID" || fail "mosquitto_pub failed"
lib_wait_until 45 count_is "$N"
lib_wait_until 10 detail_is session_present True
lib_wait_until 10 detail_is inflight 0
# A packet-id key lives from its message's commit until a PINGRESP shows
# the broker has read the PUBACK. The kill leaves some whose PUBACK the
# broker had read; the restarted agent drops them once the broker has
# redelivered what it held. None may stay.
lib_wait_until 10 keys_are 0
grep -q "packet-id keys from the last run" "$T/agent.log" ||
	fail "the restart did not look for the last run's keys"
total=$(count)
distinct=$(lib_sql "$db" "SELECT count(DISTINCT value) FROM readings WHERE device = 'deck'")
range=$(lib_sql "$db" "SELECT min(value) || '-' || max(value) FROM readings WHERE device = 'deck'")
sensors=$(lib_sql "$db" "SELECT group_concat(DISTINCT sensor) FROM readings WHERE device = 'deck'")
[ "$total" = "$N" ] || fail "$total readings stored for $N messages"
[ "$distinct" = "$N" ] || fail "$distinct distinct values for $N messages"
[ "$range" = "1.0-$N.0" ] || fail "values span $range"
[ "$sensors" = "t.n" ] || fail "sensor names: $sensors"
echo "kill -9 at $at_kill of $N: $total stored, $distinct distinct," \
	"$(detail duplicates) redeliveries acknowledged without storing"

# Broker restart without persistence: the session is gone, so the agent
# must subscribe again for messages sent after the restart to arrive.
before=$(detail connects)
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
lib_wait_until 10 detail_is state error
start_broker
lib_wait_until 20 connected_with $((before + 1))
[ "$(detail session_present)" = False ] || fail "the restarted broker kept a session"
seq 1 100 | mosquitto_pub -h 127.0.0.1 -p "$mport" -q 1 -t t/after -l ||
	fail "publish after the broker restart"
mosquitto_pub -h 127.0.0.1 -p "$mport" -q 0 -t other/a/x -m 3.5 ||
	fail "publish to the second filter"
lib_wait_until 20 count_is 100 "AND sensor = 't.after'"
lib_wait_until 20 count_is 1 "AND sensor = 'other.a.x' AND value = 3.5"

# Bad payloads: 5 at QoS 1, 3 at QoS 0; then one good message.
errors_before=$(detail errors)
for i in 1 2 3 4 5; do
	mosquitto_pub -h 127.0.0.1 -p "$mport" -q 1 -t t/bad -m "nan-$i" || fail "publish"
done
for i in 1 2 3; do
	mosquitto_pub -h 127.0.0.1 -p "$mport" -q 0 -t t/bad -m "{x" || fail "publish"
done
mosquitto_pub -h 127.0.0.1 -p "$mport" -q 1 -t t/bad -m 7 || fail "publish"
lib_wait_until 20 detail_is bad_payloads 8
lib_wait_until 20 count_is 1 "AND sensor = 't.bad'"
[ "$(count "AND sensor = 't.bad' AND value = 7")" = 1 ] || fail "the good message"
errors=$(detail errors)
[ "$errors" -ge $((errors_before + 8)) ] || fail "errors $errors_before -> $errors"
detail last_error | grep -q "bad payload on t/bad: payload is not a number" ||
	fail "last_error: $(detail last_error)"
grep -q "bad payload on t/bad" "$T/agent.log" || fail "bad payloads not logged"
# Acknowledged: the broker holds nothing for us, so nothing comes back.
[ "$(detail inflight)" = 0 ] || fail "messages still in flight"

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "agent exit code $AGENT_RC"
# A clean stop with every PUBACK confirmed leaves no key and no marker, so
# the next start has nothing to look for.
[ "$(keys)" = 0 ] || fail "$(keys) keys after a clean stop"
[ "$(marker)" = 0 ] || fail "key marker left after a clean stop"
echo "ok: mqtt ingest, kill -9, broker restart, bad payloads"
