#!/usr/bin/env bash
# Faults between agent and collector: a collector that hangs, one that
# resets mid-response, one that trickles its answer, and one that refuses
# connections. Each is a failed attempt at the right layer, never a crash;
# once the collector behaves, everything arrives.
. "$(dirname "$0")/lib.sh"
lib_init
lib_make_certs "$T/certs"
lib_start_collector coll --cert "$T/certs/server.pem" --key "$T/certs/server.key" \
	--mode hang --trickle-delay 0.3
base="https://localhost:$COLLECTOR_PORT"

port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "$base/v1/batches" | sed 's/^timeout = .*/timeout = 1/') \
	lib_write_config "$T/outpost.toml" "$port" </dev/null
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
db="$T/data/outpost.db"
health() { curl -sf "http://127.0.0.1:$port/health"; }
last_error_has() {	# TEXT
	health | lib_json connection.last_error.message | grep -qi "$1"
}

# Hang: the response timeout (1 s) fails the attempt at the HTTP layer.
lib_wait_until 10 last_error_has "within\|timed out"
[ "$(health | lib_json connection.last_error.layer)" = http ] || fail "hang layer"
[ "$(lib_sql "$db" 'SELECT count(*) FROM readings WHERE state = 1')" -le 50 ] ||
	fail "more than one batch in flight"

# Reset mid-response.
lib_collector_mode "$base" reset
reset_seen() { grep -q 'upload failed.*\(reset\|closed\|EOF\|incomplete\|truncat\)' "$T/agent.log"; }
lib_wait_until 10 reset_seen

# Trickle: 0.3 s per byte cannot finish within the 1 s timeout.
lib_collector_mode "$base" trickle
sleep 2
kill -0 "$AGENT_PID" || fail "agent died under faults"

# Refused: the collector is gone.
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
tcp_refused() { [ "$(health | lib_json connection.last_error.layer)" = tcp ]; }
lib_wait_until 10 tcp_refused
[ "$(health | lib_json connection.state)" = error ] || fail "state after refusal"

# The collector returns on the same port, well behaved: all drains.
python3 "$OUTPOST_SRCDIR/test/tools/collector.py" --port "$COLLECTOR_PORT" \
	--store "$T/coll.jsonl" --stats "$T/coll.stats" \
	--cert "$T/certs/server.pem" --key "$T/certs/server.key" >>"$T/coll.log" 2>&1 &
lib_track $!
drained() { [ "$(health | lib_json queue.pending)" -lt 50 ]; }
lib_wait_until 30 drained
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity"
lib_sql "$db" "SELECT id_hex FROM readings_v WHERE state = 'sent'" | sort >"$T/sent"
lib_collector_ids coll >"$T/got"
missing=$(comm -23 "$T/sent" "$T/got" | wc -l)
[ "$missing" = 0 ] || fail "$missing sent readings missing at the collector"
echo "ok: $(wc -l <"$T/got") ids after hang, reset, trickle and refusal"
