#!/usr/bin/env bash
# The file adapter in sample mode on a fake sysfs tree: millidegrees with
# scale 0.001 (and an offset) give exact values; a removed or garbled file
# is an adapter error in /health, stores nothing, and the agent keeps
# serving; the file back means readings again. Also the configuration
# errors of the file keys, with their lines.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
zone="$T/sys/class/thermal/thermal_zone0"
mkdir -p "$zone"
echo 45123 >"$zone/temp"
echo "0.15 0.20 0.18 1/234 5678" >"$T/sys/loadavg"
lib_write_config "$T/outpost.toml" "$port" <<EOF2
[[device]]
name = "cpu_temp"
type = "file"
mode = "sample"
path = "$zone/temp"
sensor = "temp.cpu"
unit = "celsius"
scale = 0.001
interval = 0.05

[[device]]
name = "shifted"
type = "file"
mode = "sample"
path = "$zone/temp"
scale = 0.001
offset = -45
interval = 0.05

[[device]]
name = "csv"
type = "file"
mode = "sample"
path = "$T/sys/loadavg"
format = "csv"
separator = " "
column = 2
interval = 0.05
EOF2
db="$T/data/outpost.db"
health="http://127.0.0.1:$port/health"

values() {	# DEVICE: distinct values as %.6f, one per line
	lib_sql "$db" "SELECT DISTINCT printf('%.6f', value) FROM readings
	    WHERE device = '$1' ORDER BY 1"
}
count() {
	lib_sql "$db" "SELECT count(*) FROM readings WHERE device = '$1'"
}
count_at_least() {
	[ "$(count "$1")" -ge "$2" ]
}
health_field() {
	curl -s "$health" | python3 -c 'import json, sys
h = json.load(sys.stdin)
if sys.argv[1] == "-":
    print(h[sys.argv[2]]); sys.exit(0)
a = [x for x in h["adapters"] if x["name"] == sys.argv[1]][0]
v = a
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$1" "$2"
}

# Configuration errors first: each reported with its line.
cat >"$T/bad.toml" <<EOF2
[cloud]
enabled = false

[[device]]
name = "rel"
type = "file"
path = "relative/temp"

[[device]]
name = "mixed"
type = "file"
mode = "sample"
path = "/tmp/x"
from = "start"
value_path = "\$.v"
separator = ";;"

[[device]]
name = "nopath"
type = "file"
mode = "follow"
EOF2
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/bad.toml" --check >"$T/check.out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "--check of a bad file device: exit $rc"
for want in \
	"bad.toml:7: .*path must be an absolute file name" \
	"bad.toml:14: .*'from' applies only to mode = \"tail\"" \
	"bad.toml:15: .*'value_path' applies only to format = \"json\"" \
	"bad.toml:16: .*'separator' applies only to format = \"csv\"" \
	"bad.toml:21: .*mode"; do
	grep -q "$want" "$T/check.out" || {
		cat "$T/check.out" >&2
		fail "--check did not report: $want"
	}
done
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost.toml" --check >/dev/null 2>&1 ||
	fail "the test config does not pass --check"

lib_start_agent "$T/outpost.toml"
lib_wait_http "$health/live"
lib_wait_until 10 count_at_least cpu_temp 5
lib_wait_until 10 count_at_least shifted 5
lib_wait_until 10 count_at_least csv 5
[ "$(values cpu_temp)" = "45.123000" ] || fail "cpu_temp: $(values cpu_temp)"
[ "$(values shifted)" = "0.123000" ] || fail "shifted: $(values shifted)"
[ "$(values csv)" = "0.200000" ] || fail "csv: $(values csv)"
[ "$(lib_sql "$db" "SELECT DISTINCT sensor || '/' || unit FROM readings
    WHERE device = 'cpu_temp'")" = "temp.cpu/celsius" ] || fail "sensor/unit"
# Exact: 45123 * 0.001 is the double nearest 45.123.
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'cpu_temp'
    AND value != 45.123")" = 0 ] || fail "cpu_temp not exactly 45.123"
[ "$(health_field cpu_temp state)" = connected ] || fail "state"
[ "$(health_field cpu_temp errors)" = 0 ] || fail "errors before removal"

# A new value is picked up at the next interval.
echo -1500 >"$zone/temp"
lib_wait_until 10 eval '[ "$(lib_sql "$db" "SELECT count(*) FROM readings
    WHERE device = '"'cpu_temp'"' AND value = -1.5")" -ge 1 ]'

# Removed: errors counted, state error, nothing stored, agent fine.
rm "$zone/temp"
lib_wait_until 10 eval '[ "$(health_field cpu_temp state)" = error ]'
# A reading taken before the removal may still wait for its group commit
# (commit_interval 0.2 s): count after it has landed.
sleep 1
n=$(count cpu_temp)
lib_wait_until 10 eval '[ "$(health_field cpu_temp errors)" -ge 3 ]'
[ "$(count cpu_temp)" = "$n" ] ||
	fail "readings stored for a missing file"
case "$(health_field cpu_temp last_error)" in
*"No such file or directory"*) ;;
*) fail "last_error: $(health_field cpu_temp last_error)" ;;
esac
[ "$(health_field - status)" = degraded ] || fail "status not degraded"
curl -sf "$health/live" >/dev/null || fail "liveness"
lib_wait_until 10 count_at_least csv "$(( $(count csv) + 3 ))"

# Garbled: an error, nothing stored.
echo "hot" >"$zone/temp"
e=$(health_field cpu_temp errors)
lib_wait_until 10 eval '[ "$(health_field cpu_temp errors)" -ge $(( e + 2 )) ]'
[ "$(count cpu_temp)" = "$n" ] || fail "a garbled file was stored"

# Back: readings again, state connected.
echo 50000 >"$zone/temp"
lib_wait_until 10 eval '[ "$(lib_sql "$db" "SELECT count(*) FROM readings
    WHERE device = '"'cpu_temp'"' AND value = 50")" -ge 2 ]'
lib_wait_until 10 eval '[ "$(health_field cpu_temp state)" = connected ]'

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "exit code $AGENT_RC"
echo "ok: sample mode exact values, missing and garbled files are errors, recovery"
