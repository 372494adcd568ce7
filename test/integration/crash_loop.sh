#!/usr/bin/env bash
# Crash loop: kill -9 the agent CRASH_KILLS times (default 20) at random
# moments while, in one config, MQTT QoS 1 (real mosquitto, persistent
# session, PUBACKs lost at each kill), HTTP push, a rotated tailed file,
# uploads to the collector (in and out of fault modes), storage pressure (a
# 1 MB store that sheds low-priority devices only) and 1 s summaries are
# all busy. After each kill:
# integrity_check, no id twice, every 204-acknowledged push reading and
# every sent record accounted for, the file position consistent with the
# readings; at the end every published message, file line and acknowledged
# reading uploaded exactly once. test/tools/crash_loop.py drives and checks
# (its docstring defines "not lost" under shedding). The seed is printed;
# CRASH_SEED=N replays the schedule; CRASH_RATE (default 150) sets the mq
# messages, push readings and file lines per second.
. "$(dirname "$0")/lib.sh"
lib_init

kills=${CRASH_KILLS:-20}
seed=${CRASH_SEED:-$(python3 -c 'import random
print(random.SystemRandom().randrange(1, 2 ** 31))')}
echo "crash loop: seed $seed, $kills kills (replay: CRASH_SEED=$seed)"

port=$(lib_free_port)
mport=$(lib_free_port)
lport=$(lib_free_port)
db="$T/data/outpost.db"
mkdir -p "$T/logs"

cat >"$T/mosquitto.conf" <<EOF
listener $mport 127.0.0.1
# As root, mosquitto would drop to its own user, which cannot read $T.
user $(id -un)
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 100
log_dest file $T/mosquitto.log
EOF
mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.out" 2>&1 &
lib_track $!
lib_wait_port "$mport"

lib_start_collector coll --records --trickle-delay 0.003
LIB_CLOUD=$(lib_cloud_toml "http://127.0.0.1:$COLLECTOR_PORT/v1/batches" \
	'insecure = true' | sed 's/^batch_size = .*/batch_size = 100/;
	s/^flush_interval = .*/flush_interval = 0.05/')
cat >"$T/outpost.toml" <<EOF
[agent]
id = "crash-agent"
data_dir = "$T/data"

[logging]
level = "info"
format = "json"

# A 1 MB store: above 80% summarized raw readings are purged (uploaded
# ones, then queued normal and low ones of any age), so bulk and lowpush
# are shed.
[store]
max_db_mb = 1
commit_interval = 0.05
summary_interval = 1
pressure_min_age = 0
pressure_interval = 0.1

[health]
listen = "127.0.0.1:$port"

$LIB_CLOUD

[[device]]
name = "mq"
type = "mqtt"
url = "mqtt://127.0.0.1:$lport"
topics = ["cl/#"]
qos = 1
clean_session = false
keepalive = 5
reconnect_min = 0.05
reconnect_max = 0.5
connect_timeout = 5
payload = "number"
priority = "high"
buffer = 1024

[[device]]
name = "push"
type = "http"
mode = "push"
priority = "critical"
buffer = 4000

# Low-priority padding pushed while the collector is down: shed first.
[[device]]
name = "lowpush"
type = "http"
mode = "push"
sensor = "low.v"
priority = "low"
buffer = 4000

[[device]]
name = "tail"
type = "file"
path = "$T/logs/tail.log"
from = "start"
priority = "high"
buffer = 1024

[[device]]
name = "bulk"
type = "sim"
sensor = "sim.bulk"
priority = "low"
interval = 0.002
waveform = "sine"
min = 0
max = 10
period = 3
seed = 5

[[rule]]
name = "bulkhot"
sensor = "sim.bulk"
above = 8
clear = 7
severity = "low"
EOF
"$OUTPOST_BIN" -c "$T/outpost.toml" --check >"$T/check.out" 2>&1 ||
	fail "config check: $(cat "$T/check.out")"

python3 "$OUTPOST_SRCDIR/test/tools/crash_loop.py" --dir "$T" \
	--bin "$OUTPOST_BIN" --config "$T/outpost.toml" --db "$db" \
	--tail "$T/logs/tail.log" --health-port "$port" --mqtt-port "$mport" \
	--link-port "$lport" --collector-port "$COLLECTOR_PORT" \
	--collector-store "$T/coll.jsonl" --kills "$kills" --seed "$seed" \
	--rate "${CRASH_RATE:-150}" \
	2>"$T/crash_loop.err" || fail "$(cat "$T/crash_loop.err")"
