#!/usr/bin/env bash
# The privacy firewall, proved on raw bytes: readings of denied sensors and
# metadata with redacted and hashed keys are pushed to POST /ingest; then
# the database file, its WAL and every byte the uplink sent (captured by a
# raw-socket collector) are searched. The denied names and the redacted
# values appear nowhere; the hashed value appears only as its HMAC-SHA256
# (computed here with Python's hmac); quantized values are rounded; the
# key is never logged; /health and /metrics count each rule.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
wport=$(lib_free_port)
key="zq-hmac-key-for-the-privacy-test-42"
DENIED1="gps.zqlatitude"
DENIED2="cam7.raw"
REDACTED="Zq-Alice-Skipper-4711"
HASHED="Zq-Trawler-Seven-0815"
hmac=$(python3 -c 'import hashlib, hmac, sys
print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(),
               hashlib.sha256).hexdigest())' "$key" "$HASHED")

# The uplink's peer: records every request byte for byte, answers 200.
cat >"$T/wire.py" <<'EOF2'
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
out = open(sys.argv[2], "ab")
while True:
    c, _ = srv.accept()
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                break
            buf += d
        if b"\r\n\r\n" not in buf:
            break
        head, rest = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(rest) < n:
            d = c.recv(65536)
            if not d:
                break
            rest += d
        out.write(head + b"\r\n\r\n" + rest[:n])
        out.flush()
        buf = rest[n:]
        body = b'{"accepted":1}'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
    c.close()
EOF2
python3 "$T/wire.py" "$wport" "$T/wire.bin" >>"$T/wire.log" 2>&1 &
lib_track $!
lib_wait_port "$wport"

LIB_CLOUD="[cloud]
enabled = true
endpoint = \"http://127.0.0.1:$wport/v1/batches\"
insecure = true
flush_interval = 0.2
batch_size = 1000
timeout = 2" lib_write_config "$T/outpost.toml" "$port" <<'EOF2'
[privacy]
deny = ["gps.*", "cam?.raw"]
redact_meta = ["operator", "crew_*"]
hash_meta = ["vessel"]
hmac_key = "${OUTPOST_HMAC_KEY}"
quantize = [{ sensor = "pos.*", step = 0.01 }]

[[device]]
name = "gw"
type = "http"
mode = "push"
sensor = "gw.default"
buffer = 1000
EOF2
db="$T/data/outpost.db"
export OUTPOST_HMAC_KEY="$key"
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost.toml" --print-config >"$T/printed" 2>&1 ||
	fail "--print-config: $(cat "$T/printed")"
grep -q "$key" "$T/printed" && fail "--print-config shows the HMAC key"
grep -q 'hmac_key = "\*\*\*"' "$T/printed" || fail "hmac_key not masked"
lib_start_agent "$T/outpost.toml"
unset OUTPOST_HMAC_KEY
lib_wait_http "http://127.0.0.1:$port/health/live"

post() {
	code=$(curl -s -o "$T/resp" -w '%{http_code}' --max-time 10 -X POST \
		-H "Content-Type: application/json" --data-binary "$1" \
		"http://127.0.0.1:$port/ingest")
	[ "$code" = 204 ] || fail "POST /ingest: $code $(cat "$T/resp")"
}

# 20 rounds of: two denied sensors (with the secrets in their meta too),
# a kept reading with redacted, hashed, nested and escaped keys, a
# quantized position, and a reading whose meta is only a redacted key.
t0=$(date +%s)
for i in $(seq 1 20); do
	post "[{\"sensor\":\"$DENIED1\",\"value\":51.5$i,\"meta\":{\"operator\":\"$REDACTED\"}},
	 {\"sensor\":\"$DENIED2\",\"value\":$i,\"meta\":{\"vessel\":\"$HASHED\"}},
	 {\"sensor\":\"temp.zqkept\",\"value\":$i.5,\"ts\":$((t0 + i)),
	  \"meta\":{\"operator\":\"$REDACTED\",\"vessel\":\"$HASHED\",\"depth\":$i,
	  \"crew\":{\"\\u006fperator\":\"$REDACTED\",\"crew_cook\":\"$REDACTED\"}}},
	 {\"sensor\":\"pos.zqlat\",\"value\":51.50731,\"ts\":$((t0 + i))},
	 {\"sensor\":\"hum.zqonly\",\"value\":$i,\"ts\":$((t0 + i)),
	  \"meta\":{\"crew_mate\":\"$REDACTED\"}}]"
done

q() { lib_sql "$db" "$1"; }
[ "$(q "SELECT count(*) FROM readings WHERE sensor = 'temp.zqkept'")" = 20 ] ||
	fail "kept readings: $(q "SELECT count(*) FROM readings WHERE sensor = 'temp.zqkept'")"
[ "$(q "SELECT count(*) FROM readings WHERE device = 'gw'")" = 60 ] ||
	fail "gw readings: $(q "SELECT count(*) FROM readings WHERE device = 'gw'")"
want="{\"vessel\":\"$hmac\",\"depth\":7,\"crew\":{}}"
got=$(q "SELECT meta FROM readings WHERE sensor = 'temp.zqkept' AND value = 7.5")
[ "$got" = "$want" ] || fail "meta stored as $got, want $want"
[ "$(q "SELECT count(*) FROM readings WHERE sensor = 'hum.zqonly' AND meta IS NULL")" = 20 ] ||
	fail "a meta of only redacted keys was not dropped"
[ "$(q "SELECT count(*) FROM readings WHERE sensor = 'pos.zqlat' AND value = 51.51")" = 20 ] ||
	fail "positions not quantized: $(q "SELECT DISTINCT value FROM readings WHERE sensor = 'pos.zqlat'")"

# Everything uploaded (the wire holds the kept readings' HMACs).
uploaded() { [ "$(q "SELECT count(*) FROM readings WHERE device = 'gw' AND state = 2")" = 60 ]; }
lib_wait_until 20 uploaded
[ "$(grep -a -o "$hmac" "$T/wire.bin" | wc -l)" -ge 20 ] ||
	fail "the HMAC is not on the wire"
grep -a -q 'temp.zqkept' "$T/wire.bin" || fail "nothing useful captured"

# The raw bytes, while the agent runs: database, WAL, shared memory, wire.
absent_everywhere() {
	local f s
	for f in "$db" "$db-wal" "$db-shm" "$T/wire.bin"; do
		[ -e "$f" ] || continue
		for s in "$DENIED1" "$DENIED2" "$REDACTED" "$HASHED" "$key"; do
			n=$(grep -a -c -F "$s" "$f")
			[ "$n" = 0 ] || fail "'$s' found in $(basename "$f") ($n)"
		done
	done
}
[ -s "$db-wal" ] || fail "no WAL to search"
absent_everywhere
grep -a -q -F "$hmac" "$db" "$db-wal" || fail "the HMAC is not in the store"

curl -sf "http://127.0.0.1:$port/health" >"$T/health.json"
python3 - "$T/health.json" <<'EOF2' || fail "/health privacy: $(lib_json privacy <"$T/health.json")"
import json, sys
p = json.load(open(sys.argv[1]))["privacy"]
by = {r["rule"]: r["count"] for r in p["by_rule"]}
assert p["enabled"] is True and p["rules"] == 6, p
assert p["dropped"] == 40 and p["meta_invalid"] == 0, p
assert by == {"deny:gps.*": 20, "deny:cam?.raw": 20, "redact:operator": 20,
              "redact:crew_*": 40, "hash:vessel": 20,
              "quantize:pos.*": 20}, by
EOF2
curl -sf "http://127.0.0.1:$port/metrics" >"$T/metrics"
grep -qx 'outpost_privacy_dropped_total{rule="deny:gps.\*"} 20' "$T/metrics" ||
	fail "no per-rule drop count in /metrics"
grep -qx 'outpost_privacy_applied_total{rule="hash:vessel"} 20' "$T/metrics" ||
	fail "no per-rule hash count in /metrics"
promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1 ||
	fail "promtool: $(cat "$T/promtool.out")"

# After a clean stop (checkpoint into the main file) and in the log.
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "exit code $AGENT_RC"
absent_everywhere
grep -a -q -F "$hmac" "$db" || fail "the HMAC is not in the store after the checkpoint"
grep -q -F "$key" "$T/agent.log" && fail "the HMAC key was logged"
echo ok
