#!/usr/bin/env bash
# format = "influx" against a real VictoriaMetrics: the readings the store
# marks sent are queryable there, values and timestamps intact.
. "$(dirname "$0")/lib.sh"
lib_init

vm_port=$(lib_free_port)
victoria-metrics -httpListenAddr="127.0.0.1:$vm_port" \
	-storageDataPath="$T/vm" -retentionPeriod=100y \
	-search.latencyOffset=0s >"$T/vm.log" 2>&1 &
lib_track $!
lib_wait_http "http://127.0.0.1:$vm_port/health" 30

port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "http://127.0.0.1:$vm_port/write" \
	'format = "influx"
insecure = true') lib_write_config "$T/outpost.toml" "$port" </dev/null
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
db="$T/data/outpost.db"
enough_sent() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'hold' AND state = 2")" -ge 40 ]
}
lib_wait_until 20 enough_sent
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
curl -sf "http://127.0.0.1:$vm_port/internal/force_flush" >/dev/null

# What the store sent, as "ms value" pairs (VictoriaMetrics keeps
# milliseconds and truncates the nanoseconds we send); what it holds.
lib_sql "$db" "SELECT (CAST(round(ts * 1000000) AS INTEGER) / 1000) || ' ' || printf('%.6f', value)
	FROM readings WHERE device = 'hold' AND state = 2 ORDER BY ts" >"$T/sent"
got() {
	curl -sf "http://127.0.0.1:$vm_port/api/v1/export" \
		--data-urlencode 'match[]={__name__="temp.hold_value",agent="test-agent",device="hold",unit="celsius"}' |
	python3 -c 'import json, sys
for line in sys.stdin:
    s = json.loads(line)
    for t, v in zip(s["timestamps"], s["values"]):
        print(t, "%.6f" % v)' | sort -n >"$T/got"
	[ "$(wc -l <"$T/got")" -ge "$(wc -l <"$T/sent")" ]
}
lib_wait_until 20 got
missing=$(comm -23 <(sort "$T/sent") <(sort "$T/got") | wc -l)
[ "$missing" = 0 ] || fail "$missing readings not in VictoriaMetrics: $(comm -23 <(sort "$T/sent") <(sort "$T/got") | head -3)"
echo "ok: $(wc -l <"$T/sent") readings queryable in VictoriaMetrics"
