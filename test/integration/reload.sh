#!/usr/bin/env bash
# SIGHUP: a valid new config swaps the devices without losing buffered
# readings; an invalid one is logged and the running config kept.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
lib_write_config "$T/outpost.toml" "$port" </dev/null
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
db="$T/data/outpost.db"

# Add a third sim device and reload.
cat >>"$T/outpost.toml" <<'EOF2'

[[device]]
name = "deck"
type = "sim"
sensor = "temp.deck"
interval = 0.05
EOF2
kill -HUP "$AGENT_PID"
has_deck() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'deck'")" -ge 5 ]
}
lib_wait_until 10 has_deck
curl -sf "http://127.0.0.1:$port/health" | grep -q '"name":"deck"' ||
	fail "deck not in /health adapters"
lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'reload'" | grep -qx 1 ||
	fail "reload not audited"

# Break the file: the agent keeps running the old config.
echo 'this is not toml' >>"$T/outpost.toml"
kill -HUP "$AGENT_PID"
lib_wait_until 10 grep -q 'reload refused' "$T/agent.log"
kill -0 "$AGENT_PID" || fail "agent died on a bad reload"
n1=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'deck'")
sleep 0.5
n2=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'deck'")
[ "$n2" -gt "$n1" ] || fail "old config stopped producing after a bad reload"

# A burst of reloads under load loses nothing: every reading the pipeline
# reported committed is in the store at the end.
sed -i '$d' "$T/outpost.toml"
for i in 1 2 3 4 5; do kill -HUP "$AGENT_PID"; sleep 0.1; done
processed=$(curl -sf "http://127.0.0.1:$port/health" | lib_json readings_processed)
lib_stop_agent TERM; rc=$AGENT_RC
[ "$rc" = 0 ] || fail "exit code $rc"
total=$(lib_sql "$db" "SELECT count(*) FROM readings")
[ "$total" -ge "$processed" ] || fail "$total stored < $processed processed"
echo ok
