#!/usr/bin/env bash
# Storage pressure with max_db_mb = 1. First, raw readings that summaries
# already cover and that are older than pressure_min_age are purged at 80%,
# so ingest goes on at several times the cap while the summaries keep what
# they said. Then (min age raised by SIGHUP, nothing purgeable) the store
# climbs: degraded at 80%, critical_only at 95% (/health, /metrics, audit),
# low pushes refused and critical ones acknowledged. A bigger cap brings it
# back to normal. Every acknowledged reading is either stored or counted
# as shed.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
# write_config MAX_DB_MB MIN_AGE
write_config() {
	cat >"$T/outpost.toml" <<CONF
[agent]
id = "test-agent"
data_dir = "$T/data"

[logging]
level = "info"
format = "json"

[store]
max_db_mb = $1
commit_interval = 0.05
summary_interval = 1
pressure_min_age = $2
pressure_interval = 0.2

[health]
listen = "127.0.0.1:$port"

[cloud]
enabled = false

[[device]]
name = "crit"
type = "http"
mode = "push"
sensor = "alarm"
priority = "critical"
buffer = 500

[[device]]
name = "bulk"
type = "http"
mode = "push"
sensor = "bulk"
priority = "low"
buffer = 500
CONF
}
write_config 1 1
db="$T/data/outpost.db"
url="http://127.0.0.1:$port/ingest"
health() { curl -sf --max-time 5 "http://127.0.0.1:$port/health"; }
acked=0

pad=$(printf 'p%.0s' $(seq 1 150))
# push DEVICE FIRST N: prints the status.
push() {
	{
		printf '['
		seq -f "{\"value\":%.0f,\"meta\":{\"pad\":\"$pad\"}}" \
			"$2" $(($2 + $3 - 1)) | paste -sd, -
		printf ']'
	} >"$T/body"
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
		-H 'Content-Type: application/json' --data-binary @"$T/body" \
		"$url?device=$1"
}
stored() { lib_sql "$db" "SELECT count(*) FROM readings"; }
shed_total() { lib_sql "$db" "SELECT value FROM meta WHERE key = 'shed_total'"; }

lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"

# 1. About 4 MB of low readings over 12 s into a 1 MB store.
v=0
end=$(($(date +%s) + 12))
while [ "$(date +%s)" -lt "$end" ]; do
	code=$(push bulk $v 100)
	[ "$code" = 204 ] || fail "low push at $v: $code (purging should make room)"
	v=$((v + 100))
	acked=$((acked + 100))
	sleep 0.05
done
h=$(health)
purged=$(echo "$h" | lib_json store.purged_summarized)
[ "$purged" -gt 0 ] || fail "nothing purged: $h"
n=$(stored)
[ "$n" -lt "$acked" ] || fail "$n of $acked readings still stored: nothing purged"
sum=$(lib_sql "$db" "SELECT sum(count) FROM summaries")
[ "$sum" -gt "$n" ] || fail "summaries cover $sum readings, $n stored: purged ones not summarized"
# Purged only what the summaries cover: no raw row is left of a period
# without its summary, and no purged period lacks one.
lost=$(lib_sql "$db" "SELECT count(*) FROM readings r WHERE r.ts <
	(SELECT CAST(value AS REAL) FROM meta WHERE key = 'summary_folded_until')
	AND NOT EXISTS (SELECT 1 FROM summaries s WHERE s.sensor = r.sensor
	AND s.period_start = CAST(r.ts AS INTEGER))")
[ "$lost" = 0 ] || fail "$lost folded readings without a summary"
[ "$((n + $(shed_total)))" = "$acked" ] ||
	fail "accounting: $n stored + $(shed_total) shed != $acked acknowledged"

# 2. Nothing purgeable any more: the store climbs to critical_only.
write_config 1 86400
kill -HUP "$AGENT_PID"
lib_wait_until 10 grep -q 'config reloaded' "$T/agent.log"
refused=0
for i in $(seq 1 400); do
	code=$(push bulk $v 50)
	if [ "$code" = 503 ]; then
		refused=1
		break
	fi
	[ "$code" = 204 ] || fail "low push: $code"
	v=$((v + 50))
	acked=$((acked + 50))
	sleep 0.1
done
[ "$refused" = 1 ] || fail "the store never reached critical_only"
h=$(health)
[ "$(echo "$h" | lib_json store.mode)" = critical_only ] || fail "mode: $h"
[ "$(echo "$h" | lib_json status)" = degraded ] || fail "status: $h"
echo "$h" | lib_json reasons | grep -q 'only critical' || fail "reasons: $h"
curl -sf "http://127.0.0.1:$port/metrics" | grep -qx 'outpost_store_mode 2' ||
	fail "outpost_store_mode is not 2"
code=$(push crit 5000000 20)
[ "$code" = 204 ] || fail "critical push in critical_only: $code"
acked=$((acked + 20))
code=$(push bulk 6000000 20)
[ "$code" = 503 ] || fail "low push in critical_only: $code"
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE value >= 6000000")" = 0 ] ||
	fail "refused readings were stored"

# 3. A bigger cap: normal again, low readings welcome.
write_config 8 86400
kill -HUP "$AGENT_PID"
normal() { [ "$(health | lib_json store.mode)" = normal ]; }
lib_wait_until 10 normal
code=$(push bulk 7000000 20)
[ "$code" = 204 ] || fail "low push after the cap was raised: $code"
acked=$((acked + 20))
curl -sf "http://127.0.0.1:$port/metrics" | grep -qx 'outpost_store_mode 0' ||
	fail "outpost_store_mode is not 0"
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "stop: $AGENT_RC"

[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'crit'")" = 20 ] ||
	fail "acknowledged critical readings missing"
[ "$(($(stored) + $(shed_total)))" = "$acked" ] ||
	fail "accounting: $(stored) stored + $(shed_total) shed != $acked acknowledged"
for t in "normal|degraded" "degraded|critical_only" "critical_only|normal"; do
	n=$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'store_mode'
		AND json_extract(detail, '$.from') || '|' ||
		json_extract(detail, '$.to') = '$t'")
	[ "$n" -ge 1 ] || fail "no $t transition in audit"
done
echo "ok: $acked readings acknowledged into a 1 MB store, $purged summarized" \
	"raw readings purged, critical_only refused low and took critical"
