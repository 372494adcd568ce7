#!/usr/bin/env bash
# The collector fails for a while: pending grows, the breaker opens and
# /health shows it, ingest goes on. The collector recovers: the queue
# drains and every stored reading arrives, each id once after dedup.
. "$(dirname "$0")/lib.sh"
lib_init
lib_make_certs "$T/certs"
lib_start_collector coll --cert "$T/certs/server.pem" --key "$T/certs/server.key" \
	--mode status:503
base="https://localhost:$COLLECTOR_PORT"

port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "$base/v1/batches") \
	lib_write_config "$T/outpost.toml" "$port" </dev/null
# Probes 1..2 s apart once open (recovery_timeout with jitter: 50..100%).
sed -i 's/^recovery_timeout = 1$/recovery_timeout = 2/' "$T/outpost.toml"
grep -q '^recovery_timeout = 2$' "$T/outpost.toml" || fail "config not adjusted"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
db="$T/data/outpost.db"
health() { curl -sf "http://127.0.0.1:$port/health"; }

breaker_open() { [ "$(health | lib_json breaker.state)" != closed ]; }
lib_wait_until 15 breaker_open
h=$(health)
[ "$(echo "$h" | lib_json connection.state)" = error ] || fail "state: $h"
[ "$(echo "$h" | lib_json connection.last_error.layer)" = http ] || fail "layer: $h"
echo "$h" | lib_json connection.last_error.message | grep -q 503 || fail "message: $h"
[ "$(echo "$h" | lib_json status)" = degraded ] || fail "open breaker is not degraded: $h"
next=$(echo "$h" | lib_json connection.next_attempt_in_s)
python3 -c "import sys; sys.exit(not 0 <= float('$next') <= 2.0)" ||
	fail "next attempt in $next s with recovery_timeout 2"
p1=$(echo "$h" | lib_json queue.pending)
sleep 1
p2=$(health | lib_json queue.pending)
[ "$p2" -gt "$p1" ] || fail "ingest stopped during the outage ($p1 -> $p2)"
[ "$(lib_collector_stat coll unique_ids)" = 0 ] || fail "503s stored something"

# While open, the breaker lets one probe through per recovery_timeout: a
# dead collector is not hammered.
r1=$(lib_collector_stat coll requests)
sleep 2.5
r2=$(lib_collector_stat coll requests)
[ $((r2 - r1)) -le 4 ] || fail "$((r2 - r1)) requests in 2.5 s with the breaker open"

lib_collector_mode "$base" ok
drained() { [ "$(health | lib_json queue.pending)" -lt 50 ]; }
lib_wait_until 30 drained
[ "$(health | lib_json breaker.state)" = closed ] || fail "breaker did not close"
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"

# Nothing lost: every reading in the store is sent and at the collector.
queued=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE state != 2")
lib_sql "$db" "SELECT id_hex FROM readings_v WHERE state = 'sent'" | sort >"$T/sent"
lib_collector_ids coll >"$T/got"
missing=$(comm -23 "$T/sent" "$T/got" | wc -l)
[ "$missing" = 0 ] || fail "$missing readings missing at the collector"
ids=$(lib_collector_stat coll ids)
uniq=$(lib_collector_stat coll unique_ids)
echo "ok: $uniq unique ids ($ids with replays), $queued still queued at stop"
