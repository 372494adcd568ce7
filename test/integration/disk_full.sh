#!/usr/bin/env bash
# SQLITE_FULL, with [store] max_pages standing in for a full disk (the
# agent cannot tell them apart: both fail writes with SQLITE_FULL). Low
# readings fill the store: the agent sheds low ones to make room and keeps
# acknowledging. Then critical readings fill it: nothing may be shed, so
# /health says degraded (store full) and pushes are not acknowledged, while
# the agent stays up. Room returns (max_pages lifted by SIGHUP): ingest
# resumes by itself. At the end every acknowledged critical reading is
# there, the low ones missing are no more than those counted as shed, the
# transitions are in audit, and integrity_check passes.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
# write_config MAX_PAGES
write_config() {
	cat >"$T/outpost.toml" <<CONF
[agent]
id = "test-agent"
data_dir = "$T/data"

[logging]
level = "info"
format = "json"

[store]
commit_interval = 0.05
pressure_interval = 0.2
# max_pages below is counted in pages of this size
page_size = 4096
max_pages = $1

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
buffer = 300

[[device]]
name = "bulk"
type = "http"
mode = "push"
sensor = "bulk"
priority = "low"
buffer = 300
CONF
}
write_config 150
db="$T/data/outpost.db"
url="http://127.0.0.1:$port/ingest"
health() { curl -sf --max-time 5 "http://127.0.0.1:$port/health"; }

# push DEVICE FIRST N MAX_TIME: N readings valued FIRST.. in one body;
# prints the status (000: no answer in time).
pad=$(printf 'x%.0s' $(seq 1 60))
push() {
	{
		printf '['
		seq -f "{\"value\":%.0f,\"meta\":{\"pad\":\"$pad\"}}" \
			"$2" $(($2 + $3 - 1)) | paste -sd, -
		printf ']'
	} >"$T/body"
	curl -s -o /dev/null -w '%{http_code}' --max-time "$4" -X POST \
		-H 'Content-Type: application/json' --data-binary @"$T/body" \
		"$url?device=$1"
}
# acked FILE FIRST N: records the values of an acknowledged body.
acked() {
	seq "$2" $(($2 + $3 - 1)) >>"$1"
}

lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
: >"$T/acked.low"
: >"$T/acked.crit"

# 1. Low readings, many times what fits: the agent sheds low to make room.
v=0
for i in $(seq 1 60); do
	code=$(push bulk $v 100 20)
	[ "$code" = 204 ] || fail "low push $i: $code (low readings can be shed)"
	acked "$T/acked.low" $v 100
	v=$((v + 100))
done
shed=$(lib_sql "$db" "SELECT value FROM meta WHERE key = 'shed_total'")
[ "$shed" -gt 0 ] || fail "the store never filled (nothing shed)"
audit_full() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'store_mode'
	    AND json_extract(detail, '$.to') = 'degraded'
	    AND json_extract(detail, '$.reason') LIKE 'store full%'")" -ge 1 ]
}
lib_wait_until 10 audit_full

# 2. Critical readings until the store is full of them: not acknowledged.
v=1000000
refused=0
for i in $(seq 1 200); do
	code=$(push crit $v 100 5)
	if [ "$code" != 204 ]; then
		refused=1
		break
	fi
	acked "$T/acked.crit" $v 100
	v=$((v + 100))
done
[ "$refused" = 1 ] || fail "200 critical pushes and the store never filled"
h=$(health) || fail "no /health while the store is full"
[ "$(echo "$h" | lib_json status)" = degraded ] || fail "status: $h"
[ "$(echo "$h" | lib_json store.mode)" = degraded ] || fail "mode: $h"
[ "$(echo "$h" | lib_json store.full)" = True ] || fail "full: $h"
echo "$h" | lib_json reasons | grep -q 'store full' || fail "reasons: $h"
code=$(push crit 2000000 10 2)
[ "$code" != 204 ] || fail "a critical push was acknowledged with the store full"
low_left=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE priority = 3")
[ "$low_left" = 0 ] || fail "$low_left low readings left while full of critical ones"
kill -0 "$AGENT_PID" || fail "agent died"

# 3. Room returns: the limit is lifted by a reload; ingest resumes (the
# readings still buffered are committed first).
write_config 0
kill -HUP "$AGENT_PID"
code=$(push crit 3000000 100 10)
[ "$code" = 204 ] || fail "critical push after room returned: $code"
acked "$T/acked.crit" 3000000 100
normal() { [ "$(health | lib_json store.mode)" = normal ]; }
lib_wait_until 15 normal
code=$(push bulk 4000000 100 10)
[ "$code" = 204 ] || fail "low push after room returned: $code"
acked "$T/acked.low" 4000000 100
[ "$(health | lib_json status)" = healthy ] || fail "not healthy: $(health)"
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "stop: $AGENT_RC"

[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
lib_sql "$db" "SELECT CAST(value AS INTEGER) FROM readings WHERE device = 'crit'" |
	sort -n >"$T/have.crit"
sort -n "$T/acked.crit" >"$T/want.crit"
missing=$(comm -23 "$T/want.crit" "$T/have.crit" | wc -l)
[ "$missing" = 0 ] || fail "$missing acknowledged critical readings missing"
lib_sql "$db" "SELECT CAST(value AS INTEGER) FROM readings WHERE device = 'bulk'" |
	sort >"$T/have.low"
sort "$T/acked.low" >"$T/want.low"
gone=$(comm -23 "$T/want.low" "$T/have.low" | wc -l)
shed=$(lib_sql "$db" "SELECT value FROM meta WHERE key = 'shed_total'")
[ "$gone" -le "$shed" ] || fail "$gone low readings gone but only $shed shed"
grep -q 4000099 "$T/have.low" || fail "low readings after the recovery missing"
back=$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'store_mode'
	AND json_extract(detail, '$.from') = 'degraded'
	AND json_extract(detail, '$.to') = 'normal'")
[ "$back" -ge 1 ] || fail "no return to normal in audit"
echo "ok: $(wc -l <"$T/acked.crit") acknowledged critical readings all kept," \
	"$shed low shed to make room, refused while full, resumed after SIGHUP"
