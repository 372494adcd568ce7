#!/usr/bin/env bash
# The clock without an RTC, driven by libfaketime (FAKETIME_DONT_FAKE_
# MONOTONIC: only the wall clock lies, as on a device):
# 1. Boot at 2000-01-01: readings are stored unsynced, ids over boot id and
#    monotonic time (recomputed here), nothing is uploaded, no summary.
# 2. Restart with the real clock: every row of this boot is corrected from
#    its monotonic time before it goes up, ids unchanged, audited; the
#    collector gets corrected timestamps, in seq order.
# 3. An earlier boot's unsynced rows (boot id changed under the agent's
#    feet) are kept, flagged, uploaded as stamped.
# 4. Trust arriving while running (trusted_after changed by SIGHUP).
# 5. The wall clock jumps back a day, then forward two hours, while
#    running: readings, commits, uploads and folds go on, nothing is
#    dropped or reordered (the queue is ordered by seq, timers are
#    monotonic).
. "$(dirname "$0")/lib.sh"
# libfaketime is preloaded: a sanitizer build must not insist on coming
# first in the library list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
lib_init

faketime_lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
[ -n "$faketime_lib" ] || fail "libfaketime missing (apt-get install faketime)"
boot_id=$(cat /proc/sys/kernel/random/boot_id)

# A collector that keeps every record (id, kind, ts) in arrival order.
cat >"$T/coll.py" <<'PY'
import http.server, json, sys
out = open(sys.argv[1], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        for r in json.loads(body).get("records", []):
            out.write(json.dumps({"id": r["id"], "kind": r["kind"],
                                  "ts": r["ts"], "meta": r.get("meta")}) + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$T/coll.py" "$T/records.jsonl" "$T/coll.port" &
lib_track $!
lib_wait_until 10 test -s "$T/coll.port"
: >>"$T/records.jsonl"
coll="http://127.0.0.1:$(cat "$T/coll.port")/v1/batches"

port=$(lib_free_port)
# write_config TRUSTED_AFTER
write_config() {
	LIB_CLOUD=$(lib_cloud_toml "$coll" 'insecure = true') \
		lib_write_config "$T/outpost.toml" "$port" <<CONF
[clock]
trusted_after = "$1"
check_interval = 0.2
CONF
	sed -i 's/^commit_interval = 0.2/commit_interval = 0.05\nsummary_interval = 1/' \
		"$T/outpost.toml"
}
write_config 2024-01-01
db="$T/data/outpost.db"
health() { curl -sf --max-time 5 "http://127.0.0.1:$port/health"; }
uploaded() { wc -l <"$T/records.jsonl"; }

# start_faked SPEC_VAR=VALUE...: the agent under libfaketime.
start_faked() {
	env "$@" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$faketime_lib" \
		$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost.toml" >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	lib_wait_http "http://127.0.0.1:$port/health/live"
}

# --- 1. Booted in 2000 --------------------------------------------------
t_real0=$(date +%s)
start_faked FAKETIME="@2000-01-01 00:00:00"
sleep 2
h=$(health)
[ "$(echo "$h" | lib_json clock.trusted)" = False ] || fail "trusted in 2000: $h"
[ "$(echo "$h" | lib_json status)" = degraded ] || fail "status: $h"
echo "$h" | lib_json reasons | grep -q 'not trusted' || fail "reasons: $h"
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "stop (faked): $AGENT_RC"
n1=$(lib_sql "$db" "SELECT count(*) FROM readings")
[ "$n1" -gt 20 ] || fail "only $n1 readings in phase 1"
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE synced != 0 OR ts > 946800000")" = 0 ] ||
	fail "readings of phase 1 not stamped unsynced in 2000"
[ "$(uploaded)" = 0 ] || fail "uploaded while the clock was not trusted"
[ "$(lib_sql "$db" "SELECT count(*) FROM summaries")" = 0 ] ||
	fail "folded summaries over untrusted timestamps"
# Invariant 3: the id is SHA-256 over agent, device, sensor, boot id,
# monotonic time and value, not over ts.
lib_sql "$db" "SELECT lower(hex(id)), device, sensor, mono_ns, printf('%!.17g', value) FROM readings" |
	python3 -c 'import hashlib, struct, sys
def s(x):
    b = x.encode()
    return struct.pack(">H", len(b)) + b
bad = 0
for line in sys.stdin:
    idh, dev, sen, mono, val = line.rstrip("\n").split("|")
    v = float(val) or 0.0
    h = hashlib.sha256(s("test-agent") + s(dev) + s(sen) + s(sys.argv[1]) +
                       struct.pack(">Q", int(mono)) + struct.pack(">d", v))
    bad += h.hexdigest() != idh
sys.exit(1 if bad else 0)' "$boot_id" || fail "unsynced ids are not over boot id and monotonic time"
lib_sql "$db" "SELECT seq, lower(hex(id)), mono_ns FROM readings ORDER BY seq" >"$T/phase1"

# --- 2. The real clock: corrected before upload ------------------------
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
t_real1=$(date +%s)
[ "$(health | lib_json clock.trusted)" = True ] || fail "not trusted with the real clock"
all_up() { [ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE seq <= $(tail -1 "$T/phase1" | cut -d'|' -f1) AND state != 2")" = 0 ]; }
lib_wait_until 20 all_up
lib_sql "$db" "SELECT seq, lower(hex(id)), mono_ns FROM readings
	WHERE seq <= $(tail -1 "$T/phase1" | cut -d'|' -f1) ORDER BY seq" >"$T/phase1.after"
cmp -s "$T/phase1" "$T/phase1.after" || fail "ids or rows of phase 1 changed by the correction"
bad=$(lib_sql "$db" "SELECT count(*) FROM readings
	WHERE seq <= $(tail -1 "$T/phase1" | cut -d'|' -f1)
	AND (synced != 1 OR ts < $t_real0 - 1 OR ts > $t_real1 + 1)")
[ "$bad" = 0 ] || fail "$bad phase-1 readings not corrected into [$t_real0, $t_real1]"
[ "$(lib_sql "$db" "SELECT json_extract(detail, '$.rows') FROM audit
	WHERE kind = 'clock_corrected'")" = "$n1" ] || fail "audit of the correction"
# What the collector got: corrected timestamps only, in seq order.
python3 - "$T/records.jsonl" "$T/phase1" "$t_real0" <<'PY' || fail "collector saw uncorrected or reordered readings"
import json, sys
seq = {}
for line in open(sys.argv[2]):
    s, i, _ = line.rstrip("\n").split("|")
    seq[i] = int(s)
order, seen = [], set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["id"] in seq:
        assert r["ts"] >= float(sys.argv[3]) - 1, r
        if r["id"] not in seen:
            seen.add(r["id"])
            order.append(seq[r["id"]])
assert len(seen) == len(seq), (len(seen), len(seq))
assert order == sorted(order), "reordered"
PY
lib_stop_agent TERM

# --- 3. Rows of an earlier boot: kept, flagged, uploaded as stamped ------
start_faked FAKETIME="@2000-01-02 00:00:00"
sleep 1
lib_stop_agent TERM
n3=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE synced = 0")
[ "$n3" -gt 0 ] || fail "no unsynced readings for phase 3"
lib_sql "$db" "UPDATE meta SET value = '00000000-0000-0000-0000-000000000000'
	WHERE key = 'boot_id'"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE synced = 2
	AND json_extract(meta, '$.clock') = 'unsynced' AND ts < 946900000")" = "$n3" ] ||
	fail "earlier boot's rows not flagged"
[ "$(lib_sql "$db" "SELECT json_extract(detail, '$.rows') FROM audit
	WHERE kind = 'clock_uncorrectable'")" = "$n3" ] || fail "audit of uncorrectable rows"
flagged_up() { [ "$(grep -c '"clock": "unsynced"' "$T/records.jsonl")" -ge "$n3" ]; }
lib_wait_until 20 flagged_up
lib_stop_agent TERM

# --- 4. Trust arrives while running (trusted_after lowered by SIGHUP) ----
write_config 2100-01-01
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
sleep 1
[ "$(health | lib_json clock.trusted)" = False ] || fail "trusted before 2100"
w=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE synced = 0")
[ "$w" -gt 0 ] || fail "no unsynced readings before the reload"
write_config 2024-01-01
kill -HUP "$AGENT_PID"
trusted() { [ "$(health | lib_json clock.trusted)" = True ]; }
lib_wait_until 10 trusted
none_waiting() { [ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE synced = 0")" = 0 ]; }
lib_wait_until 10 none_waiting
[ "$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'clock_corrected'")" = 2 ] ||
	fail "in-process correction not audited"
lib_stop_agent TERM

# --- 5. Jumps while running: nothing stalls, drops or reorders ----------
echo "+0" >"$T/faketime"
start_faked FAKETIME_TIMESTAMP_FILE="$T/faketime" FAKETIME_NO_CACHE=1
sleep 1
seq0=$(lib_sql "$db" "SELECT max(seq) FROM readings")
folded0=$(lib_sql "$db" "SELECT value FROM meta WHERE key = 'summary_folded_until'")
echo "-1d" >"$T/faketime"
sleep 2
seq1=$(lib_sql "$db" "SELECT max(seq) FROM readings")
# Two sims at 20/s and 10/s: about 60 readings in 2 s if nothing stalled.
[ $((seq1 - seq0)) -ge 40 ] || fail "ingest stalled after the backward jump: $((seq1 - seq0))"
back=$(lib_sql "$db" "SELECT count(*) FROM readings WHERE seq > $seq0 AND ts < $(date +%s) - 80000")
[ "$back" -gt 0 ] || fail "the backward jump did not happen"
echo "+2h" >"$T/faketime"
sleep 2
seq2=$(lib_sql "$db" "SELECT max(seq) FROM readings")
[ $((seq2 - seq1)) -ge 40 ] || fail "ingest stalled after the forward jump: $((seq2 - seq1))"
folded1=$(lib_sql "$db" "SELECT value FROM meta WHERE key = 'summary_folded_until'")
python3 -c "import sys; sys.exit(0 if float('$folded1') > float('$folded0') + 3600 else 1)" ||
	fail "folding did not follow the forward jump ($folded0 -> $folded1)"
echo "+0" >"$T/faketime"
drained() { [ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE seq <= $seq2 AND state != 2")" = 0 ]; }
lib_wait_until 20 drained
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "stop: $AGENT_RC"
# Every reading of the jumps reached the collector, in seq order.
lib_sql "$db" "SELECT seq, lower(hex(id)), 0 FROM readings WHERE seq > $seq0 AND seq <= $seq2
	AND priority = 2 ORDER BY seq" >"$T/phase5"
python3 - "$T/records.jsonl" "$T/phase5" <<'PY' || fail "readings across the jumps lost or reordered"
import json, sys
seq = {}
for line in open(sys.argv[2]):
    s, i, _ = line.rstrip("\n").split("|")
    seq[i] = int(s)
order, seen = [], set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["id"] in seq and r["id"] not in seen:
        seen.add(r["id"])
        order.append(seq[r["id"]])
assert len(seen) == len(seq), (len(seen), len(seq))
assert order == sorted(order), "reordered"
PY
[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
echo "ok: $n1 readings stamped in 2000 corrected before upload (ids kept)," \
	"$n3 of an earlier boot flagged, jumps of -1 d and +2 h: $((seq2 - seq0))" \
	"readings, none lost or reordered"
