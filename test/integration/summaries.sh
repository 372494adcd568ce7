#!/usr/bin/env bash
# Summaries folded every second (summary_interval = 1) while the agent is
# killed -9 again and again, each time just as a fold runs. After the last
# restart: one summary per sensor and period, each equal to what the raw
# rows of its period give (no double counting), none missing up to the
# recorded progress; a rewound progress (a replay) writes nothing twice;
# summaries are uploaded like any record.
. "$(dirname "$0")/lib.sh"
lib_init
lib_start_collector coll
base="http://127.0.0.1:$COLLECTOR_PORT"

port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "$base/v1/batches" 'insecure = true') \
	lib_write_config "$T/outpost.toml" "$port" </dev/null
sed -i 's/^commit_interval = 0.2/commit_interval = 0.05\nsummary_interval = 1/' \
	"$T/outpost.toml"
sed -i 's/^interval = 0.05/interval = 0.01/' "$T/outpost.toml"
grep -q '^summary_interval = 1' "$T/outpost.toml" || fail "config not patched"
db="$T/data/outpost.db"

# Folds run at each second + 0.5 s (the grace): kill in the next 40 ms.
kill_at_fold() {
	python3 -c 'import random, time
t = time.time()
time.sleep(int(t) + 2.5 + random.random() * 0.04 - t)'
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=""
}

folded() {
	lib_sql "$db" "SELECT value FROM meta WHERE key = 'summary_folded_until'"
}

for round in 1 2 3 4 5 6 7 8; do
	lib_start_agent "$T/outpost.toml"
	lib_wait_http "http://127.0.0.1:$port/health/live"
	kill_at_fold
	[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] ||
		fail "integrity_check after kill $round"
done

lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
sleep 2.5
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "stop: $AGENT_RC"

# check LABEL: the invariants over the whole store.
check() {
	local f dups wrong missing
	f=$(folded)
	[ -n "$f" ] || fail "$1: no progress recorded"
	dups=$(lib_sql "$db" "SELECT count(*) FROM (SELECT 1 FROM summaries
		GROUP BY device, sensor, period_start, period_s
		HAVING count(*) > 1)")
	[ "$dups" = 0 ] || fail "$1: $dups periods summarized twice"
	# Each summary against the raw rows of its period, recomputed here.
	wrong=$(lib_sql "$db" "SELECT count(*) FROM summaries s JOIN (
		SELECT s2.seq AS seq, count(r.seq) AS n, min(r.value) AS lo,
		max(r.value) AS hi, avg(r.value) AS mean FROM summaries s2
		JOIN readings r ON r.device = s2.device AND r.sensor = s2.sensor
		AND r.ts >= s2.period_start
		AND r.ts < s2.period_start + s2.period_s AND r.synced = 1
		GROUP BY s2.seq) x ON x.seq = s.seq
		WHERE s.count != x.n OR s.min != x.lo OR s.max != x.hi
		OR abs(s.mean - x.mean) > 1e-9 * (1 + abs(x.mean))")
	[ "$wrong" = 0 ] || fail "$1: $wrong summaries disagree with their readings"
	orphans=$(lib_sql "$db" "SELECT count(*) FROM summaries s WHERE
		NOT EXISTS (SELECT 1 FROM readings r WHERE r.device = s.device
		AND r.sensor = s.sensor AND r.ts >= s.period_start
		AND r.ts < s.period_start + s.period_s)")
	[ "$orphans" = 0 ] || fail "$1: $orphans summaries without readings"
	missing=$(lib_sql "$db" "SELECT count(*) FROM (SELECT device, sensor,
		CAST(ts AS INTEGER) AS p FROM readings
		WHERE synced = 1 AND ts < $f GROUP BY 1, 2, 3) g
		WHERE NOT EXISTS (SELECT 1 FROM summaries s
		WHERE s.device = g.device AND s.sensor = g.sensor
		AND s.period_start = g.p AND s.period_s = 1)")
	[ "$missing" = 0 ] || fail "$1: $missing folded periods without a summary"
	total=$(lib_sql "$db" "SELECT sum(count) FROM summaries")
	raw=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE synced = 1 AND ts < $f")
	[ "$total" = "$raw" ] || fail "$1: summaries count $total readings, $raw folded"
}
check "after 8 kills"
rows=$(lib_sql "$db" "SELECT count(*) FROM summaries")
periods=$(lib_sql "$db" "SELECT count(DISTINCT period_start) FROM summaries")
[ "$periods" -ge 12 ] || fail "only $periods periods summarized"

# A replay: progress rewound by 30 s, as if the last folds never recorded
# it. The rows they wrote stay exactly as they were.
f=$(folded)
rewind=$(python3 -c "print($f - 30)")
before=$(lib_sql "$db" "SELECT count(*), sum(seq), sum(count) FROM summaries
	WHERE period_start < $f")
lib_sql "$db" "UPDATE meta SET value = '$rewind' WHERE key = 'summary_folded_until'"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
sleep 3
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "stop after the replay: $AGENT_RC"
after=$(lib_sql "$db" "SELECT count(*), sum(seq), sum(count) FROM summaries
	WHERE period_start < $f")
[ "$before" = "$after" ] || fail "replay changed summaries: $before -> $after"
check "after the replay"
python3 -c "import sys; sys.exit(0 if float('$(folded)') > $f else 1)" ||
	fail "folding did not move past $f after the replay"

# Uploaded like any record: every sent summary is at the collector.
lib_sql "$db" "SELECT lower(hex(id)) FROM summaries WHERE state = 2" | sort >"$T/sent"
[ -s "$T/sent" ] || fail "no summary was uploaded"
lib_collector_ids coll >"$T/got"
missing=$(comm -23 "$T/sent" "$T/got" | wc -l)
[ "$missing" = 0 ] || fail "$missing sent summaries missing at the collector"
echo "ok: $rows summaries over $periods periods after 8 kills -9 at fold" \
	"time, $(wc -l <"$T/sent") uploaded; replay wrote nothing twice"
