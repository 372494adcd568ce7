#!/usr/bin/env bash
# The file adapter in tail mode: lines appended while the file is rotated
# (mv + create, with late writes to the old file; once while the agent is
# down), truncated (copytruncate, once regrown past the old offset before
# the agent looks) and while the agent is stopped with SIGTERM and with
# kill -9: every good line ends up in the store exactly once, bad lines are
# counted in /health and never stored, a partial line waits for its newline,
# and the position is in the offsets table.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
mkdir -p "$T/logs"
log="$T/logs/meter.log"
jlog="$T/logs/meter.json"
: >"$log"
: >"$jlog"
# from = end: what is there at the first start is history; the partial
# last line is not (its end is written later).
elog="$T/logs/ends.log"
{ seq 1 10; printf '11'; } >"$elog"
# A directory that does not exist yet: no inotify watch, so polling.
plog="$T/later/late.log"
lib_write_config "$T/outpost.toml" "$port" <<EOF2
[[device]]
name = "meter"
type = "file"
sensor = "power.meter"
unit = "watt"
path = "$log"
mode = "tail"
format = "number"
from = "start"

[[device]]
name = "jmeter"
type = "file"
sensor = "flow.jmeter"
path = "$jlog"
format = "json"
value_path = "\$.v"
from = "start"

[[device]]
name = "ends"
type = "file"
path = "$elog"

[[device]]
name = "late"
type = "file"
path = "$plog"
poll_interval = 0.05
EOF2
db="$T/data/outpost.db"
health="http://127.0.0.1:$port/health"

# writer.py FILE FIRST LAST [--rotate-at N --late K] [--sleep S]: appends the
# numbers FIRST..LAST, one line each, through one descriptor opened with
# O_APPEND. --rotate-at: before line N, FILE.1 -> FILE.2, FILE -> FILE.1
# and a new empty FILE (logrotate's "create"), then K more lines still go
# to the old descriptor (a writer that has not reopened yet: the agent has
# had the time to see the new file), then the writer reopens FILE.
cat >"$T/writer.py" <<'PY'
import os, sys, time
path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))
rotate_at = int(opts.get("--rotate-at", 0))
late = int(opts.get("--late", 0))
pause = float(opts.get("--sleep", 0))
def reopen():
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
fd = reopen()
i = first
while i <= last:
    if i == rotate_at:
        if os.path.exists(path + ".1"):
            os.rename(path + ".1", path + ".2")
        os.rename(path, path + ".1")
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        time.sleep(0.1)
        for _ in range(late):
            if i > last:
                break
            os.write(fd, b"%d\n" % i)
            i += 1
        os.close(fd)
        fd = reopen()
        continue
    os.write(fd, b"%d\n" % i)
    i += 1
    if pause:
        time.sleep(pause)
os.close(fd)
PY
writer() {
	python3 "$T/writer.py" "$@" || fail "writer failed"
}

count() {
	lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'meter'" \
		2>/dev/null || echo 0
}
count_at_least() {
	[ "$(count)" -ge "$1" ]
}
# Every number 1..N once, nothing else.
exactly() {
	local n=$1 got
	got=$(lib_sql "$db" "SELECT count(*), count(DISTINCT value),
	    min(value), max(value), sum(value != CAST(value AS INTEGER))
	    FROM readings WHERE device = 'meter'")
	[ "$got" = "$n|$n|1.0|$n.0|0" ]
}
health_field() {
	curl -sf "$health" | python3 -c 'import json, sys
h = json.load(sys.stdin)
a = [x for x in h["adapters"] if x["name"] == sys.argv[1]][0]
v = a
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$1" "$2"
}

lib_start_agent "$T/outpost.toml"
lib_wait_http "$health/live"

# 1. Appends with a rotation (and late writes to the old file) while the
#    agent is stopped with SIGTERM and started again mid-stream.
writer "$log" 1 3000 --rotate-at 2000 --late 25 --sleep 0.0003 &
wpid=$!
lib_wait_until 30 count_at_least 500
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: exit code $AGENT_RC"
lib_start_agent "$T/outpost.toml"
lib_wait_http "$health/live"
wait "$wpid" || fail "writer 1 failed"
lib_wait_until 30 exactly 3000
[ -f "$log.1" ] || fail "no rotated file"

# 2. kill -9 mid-stream; the file is rotated while the agent is down, so
#    the agent must find the old file by its inode and drain it first.
writer "$log" 3001 6000 --rotate-at 5000 --late 10 --sleep 0.0003 &
wpid=$!
lib_wait_until 30 count_at_least 3300
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=""
wait "$wpid" || fail "writer 2 failed"
before=$(count)
[ "$before" -lt 6000 ] || fail "the agent read everything before the kill"
lib_start_agent "$T/outpost.toml"
lib_wait_http "$health/live"
lib_wait_until 30 exactly 6000
grep -q "draining rotated" "$T/agent.log" ||
	fail "the rotated file was not drained after the restart"

# 3. copytruncate, regrown past the old offset before the agent looks
#    (the agent is stopped with SIGSTOP meanwhile): its first bytes differ.
old_off=$(stat -c %s "$log")
cp "$log" "$log.ct"
kill -STOP "$AGENT_PID"
truncate -s 0 "$log"
writer "$log" 6001 7500
[ "$(stat -c %s "$log")" -gt "$old_off" ] || fail "file not regrown"
kill -CONT "$AGENT_PID"
lib_wait_until 30 exactly 7500
#    ... and a plain copytruncate while it runs.
cp "$log" "$log.ct"
truncate -s 0 "$log"
writer "$log" 7501 8000 --sleep 0.0003
lib_wait_until 30 exactly 8000

# 4. Bad lines after a restart (the error count starts at 0): counted,
#    skipped, never stored; a blank line is no error; a partial line waits.
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: exit code $AGENT_RC"
lib_start_agent "$T/outpost.toml"
lib_wait_http "$health/live"
long=$(printf '0.%05000d' 1)
{
	echo "123abc"
	echo "8001"
	echo "nan"
	echo "1e999"
	echo ""
	echo "$long"
	echo "8002"
	echo "--5"
} >>"$log"
lib_wait_until 20 exactly 8002
printf '8003' >>"$log"
# A negative check needs a moment: inotify wakes the agent within
# milliseconds, so half a second is ample to see it wrongly store "8003".
sleep 0.5
exactly 8002 || fail "a partial line was stored"
[ "$(health_field meter detail.offset)" = "$(( $(stat -c %s "$log") - 4 ))" ] ||
	fail "offset not at the start of the partial line"
printf '\n' >>"$log"
lib_wait_until 10 exactly 8003
[ "$(health_field meter errors)" = 5 ] ||
	fail "meter errors: $(health_field meter errors), want 5"
[ "$(health_field meter detail.bad_lines)" = 5 ] || fail "bad_lines"
[ "$(health_field meter detail.blank_lines)" = 1 ] || fail "blank_lines"
[ "$(health_field meter state)" = connected ] || fail "meter state"

# 5. JSON lines with their own good and bad ones.
for i in $(seq 1 300); do echo "{\"v\": $i, \"note\": \"x$i\"}"; done >>"$jlog"
{
	echo '{"v": "warm"}'
	echo '{"v": 1'
} >>"$jlog"
jcount() {
	[ "$(lib_sql "$db" "SELECT count(*), count(DISTINCT value), min(value),
	    max(value) FROM readings WHERE device = 'jmeter'")" = "300|300|1.0|300.0" ]
}
lib_wait_until 20 jcount
lib_wait_until 10 eval '[ "$(health_field jmeter errors)" = 2 ]'

# 6. from = end, and polling where inotify cannot watch.
printf '1\n12\n' >>"$elog"
lib_wait_until 10 eval '[ "$(lib_sql "$db" "SELECT group_concat(value, '"' '"')
    FROM (SELECT value FROM readings WHERE device = '"'ends'"' ORDER BY ts)")" = "111.0 12.0" ]'
[ "$(health_field late detail.watch)" = poll ] || fail "late: not polling"
[ "$(health_field late state)" = error ] || fail "late: missing file not an error"
mkdir -p "$T/later"
seq 1 100 >"$plog"
late() {
	[ "$(lib_sql "$db" "SELECT count(DISTINCT value), min(value), max(value)
	    FROM readings WHERE device = 'late'")" = "$1" ]
}
lib_wait_until 10 late "100|1.0|100.0"
mv "$plog" "$plog.1"
seq 101 150 >>"$plog.1"
seq 151 200 >"$plog"
lib_wait_until 10 late "200|1.0|200.0"
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'late'")" = 200 ] ||
	fail "late: lines repeated"
lib_wait_until 10 eval '[ "$(health_field late state)" = connected ]'

# 7. The position: in the offsets table, for the file path names now, at
#    its end; and after a last SIGTERM nothing is read twice.
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: exit code $AGENT_RC"
pos=$(lib_sql "$db" "SELECT value FROM offsets WHERE source = 'file:meter'")
want="$(stat -c %i "$log"):$(stat -c %s "$log"):0:"
case "$pos" in
"$want"*) ;;
*) fail "offsets row '$pos', want '$want...'" ;;
esac
lib_start_agent "$T/outpost.toml"
lib_wait_http "$health/live"
echo 8004 >>"$log"
lib_wait_until 20 exactly 8004
lib_stop_agent TERM
exactly 8004 || fail "lines repeated after the restart"

dups=$(lib_sql "$db" "SELECT count(*) - count(DISTINCT id) FROM readings")
[ "$dups" = 0 ] || fail "$dups duplicate ids"
echo "ok: 8004 lines once each across 2 rotations, 2 truncations, 4 restarts (one kill -9); 5 bad lines counted"
