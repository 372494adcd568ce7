#!/usr/bin/env bash
# A long drain keeps the WAL bounded: every ack writes the WAL, and a
# backlog drained batch after batch must be checkpointed as it goes (past
# checkpoint_pages), not only when the queue runs dry or the 30 s
# maintenance comes (bench_backlog.sh saw a 750 MB WAL for 10M readings,
# and the maintenance checkpoint of it stalled the loop for 45 s).
. "$(dirname "$0")/lib.sh"
lib_init
n=50000
lib_start_collector coll --mode ok204
port=$(lib_free_port)
db="$T/data/outpost.db"

# The schema, from the agent itself; then a backlog written straight into it.
lib_write_config "$T/seed.toml" "$port" </dev/null
lib_start_agent "$T/seed.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "seed agent stop: $AGENT_RC"
sqlite3 "$db" >/dev/null <<SQL || fail "backlog fill"
WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < $n - 1)
INSERT INTO readings (id, device, sensor, ts, value, unit, priority)
SELECT randomblob(32), 'backlog', 'temp.backlog',
       CAST(strftime('%s', 'now') AS REAL) - 600 + k * 0.01, k % 100, 'celsius', 2
FROM i;
PRAGMA wal_checkpoint(TRUNCATE);
SQL

LIB_CLOUD=$(lib_cloud_toml "http://127.0.0.1:$COLLECTOR_PORT/v1/batches" \
	"insecure = true") lib_write_config "$T/outpost.toml" "$port" </dev/null
# The smallest checkpoint threshold, into lib.sh's [store] table.
sed -i 's/^commit_interval = .*/&\ncheckpoint_pages = 16/' "$T/outpost.toml"
grep -q '^checkpoint_pages = 16' "$T/outpost.toml" || fail "config edit"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"

# The largest WAL seen while the backlog drains. 16 pages plus one ack
# and one commit of the sim devices is well under 1 MiB whatever the page
# size; without checkpoints during the drain it grows by about 10 pages
# per batch of 50 (1000 batches here). No reader of ours opens the store
# meanwhile: a reader's snapshot holds the WAL back, which is not the point.
wal_max=0
pending() { curl -sf "http://127.0.0.1:$port/health" | lib_json queue.pending; }
deadline=$(( $(date +%s) + 120 * OUTPOST_TIME_SCALE ))
while :; do
	w=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
	[ "$w" -gt "$wal_max" ] && wal_max=$w
	[ "$(lib_collector_stat coll ids)" -ge "$n" ] && [ "$(pending)" -lt 100 ] && break
	[ "$(date +%s)" -lt "$deadline" ] || fail "backlog not drained: $(pending) pending"
	kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
	sleep 0.05
done
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop: $AGENT_RC"
left=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'backlog' AND state <> 2")
[ "$left" = 0 ] || fail "$left backlog readings not marked sent"
[ "$wal_max" -lt 1048576 ] || fail "WAL grew to $wal_max bytes during the drain"
echo "ok: $n readings drained, largest WAL $wal_max bytes"
