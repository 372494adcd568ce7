#!/usr/bin/env bash
# retention_hours: uploaded readings are kept that long, then purged by the
# maintenance pass (which also runs at start-up); 0 keeps none (not
# "forever"). Readings not yet uploaded are never purged by retention.
. "$(dirname "$0")/lib.sh"
lib_init
lib_make_certs "$T/certs"
lib_start_collector coll --cert "$T/certs/server.pem" --key "$T/certs/server.key"
base="https://localhost:$COLLECTOR_PORT"
port=$(lib_free_port)
db="$T/data/outpost.db"
count() { lib_sql "$db" "SELECT count(*) FROM readings WHERE $1"; }
some_sent() { [ "$(count 'state = 2')" -ge 20 ]; }
some_pending() { [ "$(count 'state != 2')" -ge 20 ]; }

# run HOURS: up until some readings are sent and, with the collector
# refusing, some more are pending; then stopped. Sets SENT and PENDING.
run() {
	LIB_CLOUD=$(lib_cloud_toml "$base/v1/batches") \
		lib_write_config "$T/outpost.toml" "$port" </dev/null
	sed -i "/^\[store\]/a retention_hours = $1" "$T/outpost.toml"
	lib_collector_mode "$base" ok
	lib_start_agent "$T/outpost.toml"
	lib_wait_http "http://127.0.0.1:$port/health/live"
	lib_wait_until 20 some_sent
	lib_collector_mode "$base" status:503
	lib_wait_until 20 some_pending
	lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop (retention $1)"
	SENT=$(count 'state = 2')
	PENDING=$(count 'state != 2')
}

# restart: the start-up maintenance pass has run once health answers.
restart() {
	lib_start_agent "$T/outpost.toml"
	lib_wait_http "http://127.0.0.1:$port/health/live"
	lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "restart stop"
}

# 1 hour: what was sent a moment ago survives a restart.
run 1
[ "$SENT" -gt 0 ] || fail "nothing sent"
restart
[ "$(count 'state = 2')" -ge "$SENT" ] ||
	fail "retention 1 h purged sent readings: $SENT -> $(count 'state = 2')"
[ "$(count 'state != 2')" -ge "$PENDING" ] || fail "pending readings lost"

# Now 0: the start-up pass purges every sent reading kept so far, even
# though the ones sent from now on are never kept; pending ones stay.
sed -i "s/^retention_hours = 1$/retention_hours = 0/" "$T/outpost.toml"
restart
[ "$(count 'state = 2')" = 0 ] ||
	fail "retention 0 kept $(count 'state = 2') of $SENT sent readings"
[ "$(count 'state != 2')" -ge "$PENDING" ] ||
	fail "retention 0 purged pending readings: $PENDING -> $(count 'state != 2')"
echo "ok: retention 1 h keeps $SENT sent readings across a restart, 0 purges them; $PENDING pending kept"
