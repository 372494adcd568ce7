#!/usr/bin/env bash
# Rules and exec actions with the cloud unreachable: a sim device crossing a
# threshold (step waveform) fires exactly one event and runs its exec action
# once with the event in its environment and its arguments untouched by any
# shell; it clears once (one more run). Failing, hanging and missing
# commands are errors in /health and /metrics, not crashes; a stale rule
# fires from its timer; a reload while a rule fires does not fire it again.
# The events rows have the right kinds, severities and ids, and are
# uploaded once the collector appears.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
closed=$(lib_free_port) # nothing listens here until the end
cat >"$T/act.sh" <<'EOF2'
#!/bin/sh
# Appends one record of how it was called.
{
	echo "BEGIN argc=$# [$1] [$2]"
	env | grep '^OUTPOST_' | sort
	echo "END"
} >>"$(dirname "$0")/actions.log"
EOF2
chmod +x "$T/act.sh"

# step: 10 for the first half of each 16 s period, then 90. The first rise
# comes 8 s after the start, the clear at 16 s, the next rise at 24 s.
LIB_CLOUD="[cloud]
enabled = true
endpoint = \"http://127.0.0.1:$closed/v1/batches\"
insecure = true
token = \"\${OUTPOST_TOKEN}\"
flush_interval = 0.2
batch_size = 500
timeout = 1

[cloud.retry]
base_delay = 0.1
max_delay = 0.3

[cloud.breaker]
failure_threshold = 3
recovery_timeout = 0.5" lib_write_config "$T/outpost.toml" "$port" <<EOF2
[[device]]
name = "boiler"
type = "sim"
sensor = "boiler.temp"
unit = "celsius"
interval = 0.1
waveform = "step"
min = 10
max = 90
period = 16

[[device]]
name = "furnace"
type = "sim"
sensor = "furnace.temp"
interval = 0.1
waveform = "step"
min = 95
max = 95

[[rule]]
name = "steady"
sensor = "furnace.*"
above = 50

[[rule]]
name = "overheat"
sensor = "boiler.*"
above = 50
clear = 40
severity = "critical"
action = "exec"
command = ["$T/act.sh", "first arg", "two words; echo INJECTED > $T/injected"]
timeout = 5

[[rule]]
name = "failing"
sensor = "boiler.temp"
above = 50
severity = "high"
action = "exec"
command = ["/bin/sh", "-c", "exit 3"]
action_on = "fire"

[[rule]]
name = "hung"
sensor = "boiler.temp"
above = 50
action = "exec"
command = ["/bin/sleep", "30"]
timeout = 0.3
action_on = "fire"

[[rule]]
name = "missing"
sensor = "boiler.temp"
above = 50
action = "exec"
command = ["/nonexistent/outpost-action"]
action_on = "fire"

[[rule]]
name = "quiet"
sensor = "ghost.sensor"
stale = 1
severity = "low"
EOF2
db="$T/data/outpost.db"
health="http://127.0.0.1:$port/health"

$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost.toml" --check >"$T/check.out" 2>&1 ||
	fail "config does not pass --check: $(cat "$T/check.out")"
export OUTPOST_TOKEN="sekrit-token-do-not-pass-on"
lib_start_agent "$T/outpost.toml"
unset OUTPOST_TOKEN
lib_wait_http "$health/live"

events_of() {
	lib_sql "$db" "SELECT group_concat(kind, ',') FROM
	    (SELECT kind FROM events WHERE rule = '$1' ORDER BY seq)"
}
# A reload while "steady" fires: rules are rebuilt, the furnace restarts,
# its readings are still above 50, and nothing fires twice.
steady_fired() { [ "$(events_of steady)" = "fire" ]; }
lib_wait_until 10 steady_fired
kill -HUP "$AGENT_PID"
reloaded() { [ "$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'reload'")" = 1 ]; }
lib_wait_until 10 reloaded
t_reload=$(lib_sql "$db" "SELECT max(ts) FROM audit WHERE kind = 'reload'")
after_reload() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE
	    device = 'furnace' AND ts > $t_reload")" -ge 10 ]
}
lib_wait_until 10 after_reload
[ "$(events_of steady)" = "fire" ] || fail "steady after reload: $(events_of steady)"

cleared() { [ "$(events_of overheat)" = "fire,clear" ]; }
lib_wait_until 40 cleared
kill -0 "$AGENT_PID" || fail "agent died"

# The stale rule fired from its timer, once, and did not clear.
[ "$(events_of quiet)" = "fire" ] || fail "quiet events: $(events_of quiet)"
for r in failing hung missing; do
	[ "$(events_of $r)" = "fire,clear" ] || fail "$r events: $(events_of $r)"
done

# Exactly two runs of the action: fire, then clear, with the event in the
# environment and the arguments as written (no shell saw them).
rule_health() {
	curl -sf "$health" | python3 -c 'import json, sys
h = json.load(sys.stdin)
r = [x for x in h["rules"] if x["name"] == sys.argv[1]][0]
print(r[sys.argv[2]])' "$1" "$2"
}
two_runs() { [ "$(grep -c '^END$' "$T/actions.log" 2>/dev/null)" = 2 ]; }
lib_wait_until 10 two_runs
[ "$(grep -c '^BEGIN argc=2 \[first arg\] \[two words; echo INJECTED > '"$T"'/injected\]$' "$T/actions.log")" = 2 ] ||
	fail "arguments: $(grep BEGIN "$T/actions.log")"
[ ! -e "$T/injected" ] || fail "an argument went through a shell"
grep -q sekrit "$T/actions.log" && fail "the agent's token reached the action"
python3 - "$T/actions.log" "$db" <<'EOF2' || fail "action environment: $(cat "$T/actions.log")"
import sqlite3, sys
runs, cur = [], None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("BEGIN"):
        cur = {}
    elif line == "END":
        runs.append(cur)
    else:
        k, v = line.split("=", 1)
        cur[k] = v
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
rows = db.execute("SELECT kind, ts, value, lower(hex(id)) FROM events "
                  "WHERE rule = 'overheat' ORDER BY seq").fetchall()
assert [r["OUTPOST_EVENT"] for r in runs] == ["fire", "clear"], runs
for run, (kind, ts, value, hexid) in zip(runs, rows):
    assert run["OUTPOST_RULE"] == "overheat", run
    assert run["OUTPOST_SENSOR"] == "boiler.temp", run
    assert run["OUTPOST_DEVICE"] == "boiler", run
    assert run["OUTPOST_SEVERITY"] == "critical", run
    assert float(run["OUTPOST_VALUE"]) == value, (run, value)
    assert abs(float(run["OUTPOST_TS"]) - ts) < 1e-5, (run, ts)
    assert run["OUTPOST_EVENT_ID"] == hexid, (run, hexid)
    assert "OUTPOST_TOKEN" not in run, run
assert rows[0][2] == 90 and rows[1][2] == 10, rows
EOF2

# The events rows: kinds, severities (= priorities), ids per the contract,
# still queued (the cloud is unreachable), detail naming the condition.
python3 - "$db" <<'EOF2' || fail "events rows"
import hashlib, json, sqlite3, struct, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
def packed(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b
rows = db.execute("SELECT id, rule, kind, device, sensor, ts, value, "
                  "severity, priority, state, detail FROM events "
                  "ORDER BY seq").fetchall()
sev = {"overheat": 0, "failing": 1, "hung": 0, "missing": 0, "quiet": 3,
       "steady": 0}
assert len(rows) == 10, rows
for (rid, rule, kind, dev, sensor, ts, value, severity, prio, state,
     detail) in rows:
    want = hashlib.sha256(packed("test-agent") + packed(rule) +
                          packed(sensor) + struct.pack(">d", ts) +
                          packed(kind)).digest()
    assert rid == want, (rule, kind)
    assert severity == prio == sev[rule], (rule, severity, prio)
    assert state in (0, 1), (rule, state)
    d = json.loads(detail)
    if rule == "quiet":
        assert (dev, sensor, d["condition"]) == ("", "ghost.sensor", "stale")
    elif rule == "steady":
        assert (dev, sensor, kind) == ("furnace", "furnace.temp", "fire")
    else:
        assert (dev, sensor) == ("boiler", "boiler.temp"), (dev, sensor)
        assert d["condition"] == "above" and d["threshold"] == 50, d
EOF2

# Failing actions are errors in /health, the agent runs on.
hung_failed() { [ "$(rule_health hung action_errors)" = 1 ]; }
lib_wait_until 10 hung_failed
[ "$(rule_health hung last_error)" = "timed out after 0.3s, killed" ] ||
	fail "hung: $(rule_health hung last_error)"
[ "$(rule_health failing last_error)" = "exit status 3" ] ||
	fail "failing: $(rule_health failing last_error)"
# Where the exec failure is not seen by posix_spawn itself (a checker's
# fork-and-exec), it is the child's exit status instead.
case $(rule_health missing last_error) in
"cannot start: No such file or directory") ;;
"exit status "[0-9]*) [ -n "$OUTPOST_WRAPPER" ] || fail "missing: exit status" ;;
*) fail "missing: $(rule_health missing last_error)" ;;
esac
[ "$(rule_health failing action_errors)" = 1 ] || fail "failing errors"
[ "$(rule_health overheat action_errors)" = 0 ] || fail "overheat errors"
[ "$(rule_health overheat actions)" = 2 ] || fail "overheat actions"
[ "$(rule_health overheat fired)" = 1 ] || fail "overheat fired"
[ "$(rule_health overheat cleared)" = 1 ] || fail "overheat cleared"
[ "$(rule_health overheat state)" = ok ] || fail "overheat state"
[ "$(rule_health quiet state)" = firing ] || fail "quiet state"
curl -sf "$health" >"$T/health.json"
[ "$(lib_json events_triggered <"$T/health.json")" = 10 ] ||
	fail "events_triggered: $(lib_json events_triggered <"$T/health.json")"
state=$(lib_json connection.state <"$T/health.json")
case $state in
connected | disabled) fail "connection state $state with no collector" ;;
esac

curl -sf "http://127.0.0.1:$port/metrics" >"$T/metrics"
grep -qx 'outpost_rule_events_total{rule="overheat",kind="fire"} 1' "$T/metrics" ||
	fail "no fire count in /metrics"
grep -qx 'outpost_rule_events_total{rule="overheat",kind="clear"} 1' "$T/metrics" ||
	fail "no clear count in /metrics"
grep -qx 'outpost_rule_action_errors_total{rule="missing"} 1' "$T/metrics" ||
	fail "no action error in /metrics"
grep -qx 'outpost_rule_firing{rule="quiet"} 1' "$T/metrics" ||
	fail "no firing gauge in /metrics"
promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1 ||
	fail "promtool: $(cat "$T/promtool.out")"

# Still exactly one fire and one clear: the next rise is 24 s in, so
# what follows is free to see a second cycle.
[ "$(events_of overheat)" = "fire,clear" ] ||
	fail "overheat events after the checks: $(events_of overheat)"
lib_sql "$db" "SELECT lower(hex(id)) FROM events" | sort >"$T/event.ids"
[ "$(wc -l <"$T/event.ids")" = 10 ] || fail "event ids: $(cat "$T/event.ids")"

# The collector appears: those events go up, each with its id.
lib_start_collector up --port "$closed"
uploaded() {
	lib_collector_ids up >"$T/up.ids"
	[ "$(comm -23 "$T/event.ids" "$T/up.ids" | wc -l)" = 0 ]
}
lib_wait_until 30 uploaded
# The collector keeps the ids before it answers: the agent marks them
# sent a moment later.
all_sent() {
	sent=$(lib_sql "$db" "SELECT count(*) FROM events WHERE state = 2 AND
	    lower(hex(id)) IN ($(sed "s/.*/'&'/" "$T/event.ids" | paste -sd,))")
	[ "$sent" = 10 ]
}
lib_wait_until 10 all_sent
[ "$(events_of steady)" = "fire" ] || fail "steady at the end: $(events_of steady)"
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "exit code $AGENT_RC"
echo ok
