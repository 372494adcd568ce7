#!/usr/bin/env bash
# kill -9 the agent 20 times at random moments while it uploads; restart
# each time. At the end the collector holds every stored reading; replays
# happen only for batches that were in flight at a kill.
. "$(dirname "$0")/lib.sh"
lib_init
lib_make_certs "$T/certs"
lib_start_collector coll --cert "$T/certs/server.pem" --key "$T/certs/server.key"
base="https://localhost:$COLLECTOR_PORT"

port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "$base/v1/batches" | sed 's/^flush_interval = .*/flush_interval = 0.05/') \
	lib_write_config "$T/outpost.toml" "$port" </dev/null
sed -i 's/^interval = 0.05/interval = 0.005/' "$T/outpost.toml"
db="$T/data/outpost.db"

for round in $(seq 1 20); do
	lib_start_agent "$T/outpost.toml"
	lib_wait_http "http://127.0.0.1:$port/health/live"
	sleep "0.$((RANDOM % 4 + 1))$((RANDOM % 10))"
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=""
done
[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity"
# One last clean run drains what is left.
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
sed_stop() { [ "$(curl -sf "http://127.0.0.1:$port/health" | lib_json queue.pending)" -lt 100 ]; }
lib_wait_until 30 sed_stop
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"

lib_sql "$db" "SELECT id_hex FROM readings_v WHERE state = 'sent'" | sort >"$T/sent"
lib_collector_ids coll >"$T/got"
missing=$(comm -23 "$T/sent" "$T/got" | wc -l)
[ "$missing" = 0 ] || fail "$missing sent readings never reached the collector"
[ "$(lib_sql "$db" "SELECT count(*) - count(DISTINCT id) FROM readings")" = 0 ] ||
	fail "an id is twice in the store"
ids=$(lib_collector_stat coll ids)
uniq=$(lib_collector_stat coll unique_ids)
# Replays are bounded by what was in flight: at most one batch per kill.
[ $((ids - uniq)) -le $((20 * 50)) ] || fail "$((ids - uniq)) replays for 20 kills"
echo "ok: $uniq unique ids at the collector, $((ids - uniq)) replays after 20 kills"
