#!/usr/bin/env bash
# Metered links. A daily byte budget: once nearly spent, only critical and
# high records go up, and its use shows in /health and /metrics. A
# bandwidth cap: bytes on the wire per second stay under max_bytes_per_s.
. "$(dirname "$0")/lib.sh"
lib_init
lib_start_collector coll
base="http://127.0.0.1:$COLLECTOR_PORT"

# --- budget: 0.03 MB a day -------------------------------------------------
port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "$base/v1/batches" 'insecure = true
daily_budget_mb = 0.03') lib_write_config "$T/budget.toml" "$port" <<'EOF2'

[[device]]
name = "alarm"
type = "sim"
sensor = "pressure.alarm"
priority = "critical"
interval = 0.1
EOF2
lib_start_agent "$T/budget.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
db="$T/data/outpost.db"
spent() {
	h=$(curl -sf "http://127.0.0.1:$port/health")
	[ "$(echo "$h" | lib_json connection.budget.used)" -ge "$(echo "$h" | lib_json connection.budget.bytes)" ]
}
lib_wait_until 20 spent
sent_of() { lib_sql "$db" "SELECT count(*) FROM readings WHERE device = '$1' AND state = 2"; }
n1=$(sent_of hold); c1=$(sent_of alarm)
critical_moves() { [ "$(sent_of alarm)" -gt "$c1" ]; }
lib_wait_until 15 critical_moves
n2=$(sent_of hold)
[ "$n2" = "$n1" ] || fail "normal readings still uploaded past the budget ($n1 -> $n2)"
[ "$(lib_sql "$db" "SELECT value FROM meta WHERE key = 'budget_day'")" = "$(date -u +%F)" ] ||
	fail "budget day not kept in the store"
curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^outpost_uplink_budget_used_bytes [1-9]' ||
	fail "budget use not in /metrics"
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"

# The budget survives a restart: still spent, still only critical.
lib_start_agent "$T/budget.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
c3=$(sent_of alarm)
critical_after_restart() { [ "$(sent_of alarm)" -gt "$c3" ]; }
lib_wait_until 15 critical_after_restart
[ "$(sent_of hold)" = "$n2" ] || fail "restart reset the budget"
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"

# --- bandwidth: 3000 bytes/s --------------------------------------------------
port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "$base/v1/batches" 'insecure = true
max_bytes_per_s = 3000') lib_write_config "$T/cap.toml" "$port" </dev/null
sed -i "s|$T/data|$T/data-cap|" "$T/cap.toml"
lib_start_agent "$T/cap.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
wire() {
	curl -sf "http://127.0.0.1:$port/metrics" |
		awk '$1 == "outpost_uplink_wire_bytes_total" {print int($2)}'
}
started() { [ "$(wire)" -gt 0 ]; }
lib_wait_until 15 started
w1=$(wire); t1=$(date +%s%N)
sleep 4
w2=$(wire); t2=$(date +%s%N)
rate=$(( (w2 - w1) * 1000000000 / (t2 - t1) ))
echo "capped upload rate: $rate B/s"
# Responses count too, and a request's last second may straddle the
# window: allow a third on top.
[ "$rate" -le 4000 ] || fail "$rate B/s over a 3000 B/s cap"
[ "$rate" -gt 500 ] || fail "capped upload stalled ($rate B/s)"
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
echo ok
