#!/usr/bin/env bash
# GET /metrics from the running agent: promtool accepts it without a lint
# problem, every family has HELP and TYPE, counters end in _total, and the
# key families carry sane values. (Label escaping: test_metrics_format.)
. "$(dirname "$0")/lib.sh"
lib_init
command -v promtool >/dev/null || fail "promtool not installed (apt-get install prometheus)"

port=$(lib_free_port)
base="http://127.0.0.1:$port"
lib_write_config "$T/outpost.toml" "$port" </dev/null
lib_start_agent "$T/outpost.toml"
lib_wait_http "$base/health/live"

# metric NAME_WITH_LABELS: the value of that exact series in $T/metrics.
metric() {
	awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' \
	    "$T/metrics"
}

scrape() {
	curl -sf -D "$T/headers" -o "$T/metrics" "$base/metrics"
}

# Readings flowing, including the system adapter's (interval 1 s).
flowing() {
	scrape || return 1
	local c s
	c=$(metric 'outpost_readings_total{result="committed"}') || return 1
	s=$(metric 'outpost_adapter_readings_total{adapter="system",type="system"}') ||
	    return 1
	[ "${c%.*}" -gt 0 ] && [ "${s%.*}" -gt 0 ]
}
lib_wait_until 20 flowing

grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' \
    "$T/headers" || fail "content type: $(cat "$T/headers")"

# promtool: exit 0 and nothing said (any output is a lint problem).
if ! promtool check metrics <"$T/metrics" >"$T/promtool" 2>&1; then
	fail "promtool check metrics: $(cat "$T/promtool")"
fi
[ ! -s "$T/promtool" ] || fail "promtool complained: $(cat "$T/promtool")"

# Every sample belongs to a family declared with HELP and TYPE before it;
# counters end in _total.
awk '
/^# HELP / { help[$3] = 1; next }
/^# TYPE / {
	if (!($3 in help)) { print "TYPE without HELP: " $3; bad = 1 }
	type[$3] = $4
	if ($4 == "counter" && $3 !~ /_total$/) { print "counter " $3; bad = 1 }
	next
}
/^#/ || /^$/ { next }
{
	name = $1; sub(/\{.*/, "", name)
	base = name; sub(/_(bucket|sum|count)$/, "", base)
	if (!(name in type) && type[base] != "histogram") {
		print "no TYPE for " name; bad = 1
	}
	n++
}
END { if (n < 30) { print "only " n " samples"; bad = 1 }; exit bad }
' "$T/metrics" >"$T/awk" || fail "exposition: $(cat "$T/awk")"

grep -qxF 'outpost_info{version="0.1.0",agent_id="test-agent"} 1' \
    "$T/metrics" || fail "outpost_info: $(grep outpost_info "$T/metrics")"

gt0() {
	local v
	v=$(metric "$1") || fail "missing $1"
	awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }' || fail "$1 = $v, want > 0"
}
eq() {
	local v
	v=$(metric "$1") || fail "missing $1"
	[ "$v" = "$2" ] || fail "$1 = $v, want $2"
}

gt0 'outpost_readings_total{result="committed"}'
eq 'outpost_readings_total{result="filtered"}' 0
eq 'outpost_readings_total{result="dropped"}' 0
gt0 'outpost_adapter_readings_total{adapter="hold",type="sim"}'
gt0 'outpost_adapter_readings_total{adapter="engine",type="sim"}'
eq 'outpost_adapter_errors_total{adapter="hold",type="sim"}' 0
eq 'outpost_adapter_up{adapter="hold",type="sim"}' 1
eq 'outpost_adapter_up{adapter="system",type="system"}' 1
gt0 'outpost_store_commits_total'
eq 'outpost_store_commit_failures_total' 0
eq 'outpost_health_status' 0
for p in critical high normal low; do
	metric "outpost_queue_pending{priority=\"$p\"}" >/dev/null ||
		fail "no queue_pending for $p"
done
gt0 'outpost_queue_pending{priority="normal"}'
eq 'outpost_queue_in_flight' 0
eq 'outpost_queue_dead_letter' 0
eq 'outpost_shed_total' 0
metric outpost_queue_oldest_pending_age_seconds >/dev/null || fail "no oldest age"
gt0 'outpost_store_db_bytes'
metric outpost_store_wal_bytes >/dev/null || fail "no wal bytes"
eq 'outpost_events_total' 0
gt0 'outpost_uptime_seconds'
gt0 'outpost_system_memory_total_bytes'
gt0 'outpost_system_disk_total_bytes'
gt0 'outpost_system_uptime_seconds'
metric outpost_system_load1 >/dev/null || fail "no load1"
gt0 'process_resident_memory_bytes'
gt0 'process_virtual_memory_bytes'
gt0 'process_open_fds'
gt0 'process_max_fds'
metric process_cpu_seconds_total >/dev/null || fail "no cpu seconds"

# The process figures are this agent's, not the scraper's.
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status")
awk -v a="$(metric process_resident_memory_bytes)" -v b="$rss_kb" \
    'BEGIN { d = a - b * 1024; if (d < 0) d = -d; exit !(d < 8 * 1048576) }' ||
	fail "rss $(metric process_resident_memory_bytes) vs VmRSS $rss_kb kB"
fds=$(ls "/proc/$AGENT_PID/fd" | wc -l)
awk -v a="$(metric process_open_fds)" -v b="$fds" \
    'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 2) }' ||
	fail "open fds $(metric process_open_fds) vs $fds"
now=$(date +%s)
awk -v s="$(metric process_start_time_seconds)" -v now="$now" \
    'BEGIN { exit !(s <= now + 1 && s > now - 120) }' ||
	fail "start time $(metric process_start_time_seconds), now $now"

# Counters only grow between scrapes.
c1=$(metric 'outpost_readings_total{result="committed"}')
grown() {
	scrape || return 1
	[ "$(metric 'outpost_readings_total{result="committed"}')" -gt "$c1" ]
}
lib_wait_until 10 grown

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "agent exit code: $AGENT_RC"
echo ok
