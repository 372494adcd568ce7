#!/usr/bin/env bash
# Start the agent on a test config, see readings reach the store, stop it
# with SIGTERM: exit 0 within 2 s, everything buffered committed, store intact.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
lib_write_config "$T/outpost.toml" "$port"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"

db="$T/data/outpost.db"
[ "$(stat -c %a "$db")" = 600 ] || fail "store mode is $(stat -c %a "$db"), want 600"
[ "$(lib_sql "$db" 'PRAGMA journal_mode')" = wal ] || fail "store not in WAL mode"

has_rows() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'hold'")" -ge 20 ] &&
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'engine'")" -ge 10 ]
}
lib_wait_until 20 has_rows

# Every simulated value lies within its configured range; the system
# adapter stores real host values only.
out=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'hold' AND (value < 2 OR value > 6)")
[ "$out" = 0 ] || fail "$out sim values outside [2, 6]"
has_memory() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE sensor = 'system.mem_used_percent'")" -ge 1 ]
}
lib_wait_until 10 has_memory
out=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE sensor = 'system.mem_used_percent' AND (value <= 0 OR value > 100)")
[ "$out" = 0 ] || fail "memory percentage out of range"

# Ids are 32-byte SHA-256 blobs, unique, and the readable view shows hex.
lib_sql "$db" "SELECT count(*) FROM readings WHERE length(id) != 32" | grep -qx 0 ||
	fail "an id is not 32 bytes"
[ "$(lib_sql "$db" "SELECT count(DISTINCT id) = count(*) FROM readings")" = 1 ] ||
	fail "duplicate ids"
lib_sql "$db" "SELECT id_hex FROM readings_v LIMIT 1" | grep -Eqx '[0-9A-Fa-f]{64}' ||
	fail "readings_v.id_hex is not 64 hex characters"

health=$(curl -sf "http://127.0.0.1:$port/health") || fail "/health failed"
[ "$(echo "$health" | lib_json status)" = healthy ] || fail "status: $health"
[ "$(echo "$health" | lib_json connection.state)" = disabled ] || fail "cloud is off"
processed=$(echo "$health" | lib_json readings_processed)
[ "$processed" -ge 30 ] || fail "readings_processed=$processed"
pending=$(echo "$health" | lib_json queue.pending)
[ "$pending" -ge 30 ] || fail "queue.pending=$pending"

# SIGTERM: exit 0 within 2 s, with everything the health port reported
# committed still in the store.
before=$(curl -sf "http://127.0.0.1:$port/health" | lib_json readings_processed)
start=$(date +%s%N)
lib_stop_agent TERM; rc=$AGENT_RC
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
[ "$elapsed_ms" -lt 2000 ] || fail "took ${elapsed_ms} ms to stop"
[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
total=$(lib_sql "$db" "SELECT count(*) FROM readings")
[ "$total" -ge "$before" ] || fail "store holds $total < $before reported committed"
[ -s "$T/data/outpost.db-wal" ] && fail "WAL not checkpointed and truncated at stop"
lib_sql "$db" "SELECT kind FROM audit ORDER BY seq" | tr '\n' ' ' | grep -q 'start stop' ||
	fail "audit lacks start/stop: $(lib_sql "$db" 'SELECT kind FROM audit')"

# SIGINT behaves the same.
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
lib_stop_agent INT; rc=$AGENT_RC
[ "$rc" = 0 ] || fail "exit code $rc after SIGINT"
echo "ok: $total readings, stopped in ${elapsed_ms} ms"
