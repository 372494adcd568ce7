#!/usr/bin/env bash
# mqtt rule actions against a real mosquitto: a sim device crossing a
# threshold (step waveform) publishes one fire and one clear message with
# the event as JSON on the expanded topic, counted as actions in /health.
# Then the broker stops: the next events cannot be published, each is an
# action error in /health (with the reason), and the agent stays up.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
mport=$(lib_free_port)
health="http://127.0.0.1:$port/health"

cat >"$T/mosquitto.conf" <<EOF
listener $mport 127.0.0.1
# As root, mosquitto would drop to its own user, which cannot read $T.
user $(id -un)
allow_anonymous true
persistence false
log_dest file $T/mosquitto.log
log_type all
EOF
mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.out" 2>&1 &
BROKER_PID=$!
lib_track "$BROKER_PID"
lib_wait_port "$mport"

mosquitto_sub -h 127.0.0.1 -p "$mport" -t 'alerts/#' -v -C 2 -W 30 \
	>"$T/sub.out" 2>"$T/sub.err" &
SUB_PID=$!
lib_track "$SUB_PID"
# The subscription is in place once the broker logged it.
subscribed() { grep -q 'alerts/#' "$T/mosquitto.log" 2>/dev/null; }
lib_wait_until 10 subscribed

# step: 0 for the first 2 s of each 4 s period, then 10. The first rise
# comes 2 s after the start, the clear at 4 s.
lib_write_config "$T/outpost.toml" "$port" <<EOF
[[device]]
name = "boiler"
type = "sim"
sensor = "boiler.temp"
unit = "celsius"
interval = 0.1
waveform = "step"
min = 0
max = 10
period = 4

[[rule]]
name = "overheat"
sensor = "boiler.*"
above = 5
severity = "high"
action = "mqtt"
url = "mqtt://127.0.0.1:$mport"
topic = "alerts/{rule}/{event}"
qos = 1
EOF
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost.toml" --check >"$T/check.out" 2>&1 ||
	fail "config does not pass --check: $(cat "$T/check.out")"

# A rule without its url or with a bad topic is refused.
sed -e '/^url = /d' "$T/outpost.toml" >"$T/bad1.toml"
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/bad1.toml" --check >"$T/bad1.out" 2>&1 &&
	fail "a mqtt rule without url passed --check"
grep -q "needs 'url'" "$T/bad1.out" || fail "bad1: $(cat "$T/bad1.out")"
sed -e 's|^topic = .*|topic = "alerts/#"|' "$T/outpost.toml" >"$T/bad2.toml"
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/bad2.toml" --check >"$T/bad2.out" 2>&1 &&
	fail "a mqtt rule with topic alerts/# passed --check"
grep -q "topic" "$T/bad2.out" || fail "bad2: $(cat "$T/bad2.out")"

lib_start_agent "$T/outpost.toml"
lib_wait_http "$health/live"

rule_health() {
	curl -sf --max-time 2 "$health" | python3 -c 'import json, sys
h = json.load(sys.stdin)
r = [x for x in h["rules"] if x["name"] == "overheat"][0]
print(r[sys.argv[1]])' "$1" 2>/dev/null
}

two_messages() { [ "$(wc -l <"$T/sub.out")" -ge 2 ]; }
lib_wait_until 30 two_messages
wait "$SUB_PID" || fail "mosquitto_sub: $(cat "$T/sub.err")"

python3 - "$T/sub.out" <<'EOF2' || fail "messages: $(cat "$T/sub.out")"
import json, sys
lines = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 2, lines
msgs = []
for l in lines:
    topic, payload = l.split(" ", 1)
    msgs.append((topic, json.loads(payload)))
assert [t for t, _ in msgs] == ["alerts/overheat/fire",
                                "alerts/overheat/clear"], msgs
for (t, m), kind, value in zip(msgs, ["fire", "clear"], [10, 0]):
    assert m["rule"] == "overheat", m
    assert m["event"] == kind, m
    assert m["sensor"] == "boiler.temp", m
    assert m["device"] == "boiler", m
    assert m["value"] == value, m
    assert m["severity"] == "high", m
    assert m["agent"] == "test-agent", m
    assert isinstance(m["ts"], (int, float)) and m["ts"] > 1e9, m
    assert len(m["id"]) == 64, m
assert msgs[1][1]["ts"] > msgs[0][1]["ts"], msgs
EOF2

actions_at_least() { [ "$(rule_health actions)" -ge "$1" ]; }
lib_wait_until 10 actions_at_least 2
[ "$(rule_health action)" = mqtt ] || fail "action: $(rule_health action)"
[ "$(rule_health action_errors)" = 0 ] ||
	fail "action errors with the broker up: $(rule_health last_error)"

# The broker goes away: the next fire (and clear) cannot be published.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
errors_at_least() { [ "$(rule_health action_errors)" -ge "$1" ]; }
lib_wait_until 30 errors_at_least 1
kill -0 "$AGENT_PID" || fail "agent died without the broker"
err=$(rule_health last_error)
[ "$err" = "connect to 127.0.0.1:$mport: Connection refused" ] ||
	fail "last_error: $err"
lib_wait_until 30 errors_at_least 2
fired=$(rule_health fired)
[ "$fired" -ge 2 ] || fail "fired: $fired"
curl -sf --max-time 2 "$health/live" >/dev/null || fail "agent not live"

lib_stop_agent
[ "$AGENT_RC" = 0 ] || fail "agent exit code $AGENT_RC"
echo "ok"
