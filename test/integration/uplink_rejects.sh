#!/usr/bin/env bash
# 400: the batch is dead-lettered, kept, counted, and not retried in a
# loop. 429 + Retry-After: the next attempt waits at least that long.
. "$(dirname "$0")/lib.sh"
lib_init
lib_start_collector coll --mode status:400
base="http://127.0.0.1:$COLLECTOR_PORT"

port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "$base/v1/batches" 'insecure = true') \
	lib_write_config "$T/outpost.toml" "$port" </dev/null
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
db="$T/data/outpost.db"
health() { curl -sf "http://127.0.0.1:$port/health"; }

has_dead() { [ "$(health | lib_json queue.dead_letter)" -gt 0 ]; }
lib_wait_until 15 has_dead
grep -q 'insecure' "$T/agent.log" || fail "insecure mode not logged at start"
dead=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE state = 3")
[ "$dead" -gt 0 ] || fail "no dead-letter rows in the store"
# Each rejected record was tried once, never again.
tries=$(lib_sql "$db" "SELECT max(attempts) FROM readings WHERE state = 3")
[ "$tries" = 1 ] || fail "dead letters tried $tries times"
curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^outpost_uploads_total{result="rejected"} [1-9]' ||
	fail "rejected uploads not in /metrics"

# 429 with Retry-After: 2 s. After the first 429, no request for 2 s.
lib_collector_mode "$base" retry-after:2
first_429() { grep -q 'HTTP 429' "$T/agent.log"; }
lib_wait_until 10 first_429
r1=$(lib_collector_stat coll requests)
sleep 1.6
r2=$(lib_collector_stat coll requests)
[ "$r2" -le $((r1 + 1)) ] || fail "$((r2 - r1)) requests inside Retry-After"
next=$(health | lib_json connection.next_attempt_in_s)
echo "next attempt in $next s"
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
echo "ok: $dead dead-lettered"
