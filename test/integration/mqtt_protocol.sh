#!/usr/bin/env bash
# The mqtt adapter against scripted brokers (Python, standard library) that
# do what mosquitto will not: refuse the connection or a subscription, send
# a malformed or oversized packet, stop answering PINGREQ, and redeliver a
# committed but unacknowledged message with DUP after a kill -9, which must
# be acknowledged without being stored twice. Also: PUBACK only after the
# reading is in the store, as seen by a reader of the database.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
db="$T/data/outpost.db"

cat >"$T/broker.py" <<'PY'
import os, socket, sqlite3, struct, sys

mode, portfile, logfile, flag, db = sys.argv[1:6]

def log(msg):
    with open(logfile, "a") as f:
        f.write(msg + "\n")

def varint(n):
    out = b""
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out

def pkt(first, body=b""):
    return bytes([first]) + varint(len(body)) + body

def s(x):
    return struct.pack(">H", len(x)) + x

def publish(topic, payload, pid, dup=False):
    return pkt(0x32 | (0x08 if dup else 0), s(topic) + struct.pack(">H", pid) + payload)

def recvn(c, n):
    b = b""
    while len(b) < n:
        got = c.recv(n - len(b))
        if not got:
            raise EOFError("closed by the client")
        b += got
    return b

def read_packet(c):
    first = recvn(c, 1)[0]
    n, mult = 0, 1
    while True:
        b = recvn(c, 1)[0]
        n += (b & 0x7f) * mult
        mult *= 128
        if not b & 0x80:
            break
    return first >> 4, recvn(c, n)

def session(c, present):
    t, body = read_packet(c)
    assert t == 1, "expected CONNECT, got %d" % t
    c.sendall(pkt(0x20, bytes([1 if present else 0, 0])))
    t, body = read_packet(c)
    assert t == 8, "expected SUBSCRIBE, got %d" % t
    nfilters, i = 0, 2
    while i < len(body):
        i += 2 + struct.unpack(">H", body[i:i + 2])[0] + 1
        nfilters += 1
    c.sendall(pkt(0x90, body[:2] + bytes([1] * nfilters)))

def serve(c, pings_answered=None):
    pings = 0
    while True:
        t, body = read_packet(c)
        if t == 12:
            pings += 1
            log("pingreq %d" % pings)
            if pings_answered is None or pings <= pings_answered:
                c.sendall(pkt(0xd0))
        elif t == 4:
            pid = struct.unpack(">H", body)[0]
            log("puback %d" % pid)
            if pid == 9:
                con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
                n = con.execute("SELECT count(*) FROM readings "
                                "WHERE device = 'dup' AND value = 45").fetchone()[0]
                con.close()
                log("stored-before-puback 9: %d" % n)
        else:
            log("packet %d" % t)

def handle(c, n):
    if mode == "refuse":
        read_packet(c)
        c.sendall(pkt(0x20, b"\x00\x05"))
        return
    if mode == "dup" and os.path.exists(flag):
        session(c, True)
        c.sendall(publish(b"d/x", b"42", 7, dup=True) +
                  publish(b"d/x", b"43", 8, dup=True) +
                  publish(b"d/x", b"45", 9))
        serve(c)
        return
    if mode == "dup" and n == 1:
        session(c, False)
        c.sendall(publish(b"d/x", b"42", 7))
        c.shutdown(socket.SHUT_RDWR)
        return
    if mode == "suback":
        read_packet(c)
        c.sendall(pkt(0x20, b"\x00\x00"))
        t, body = read_packet(c)
        c.sendall(pkt(0x90, body[:2] + b"\x80"))
        serve(c)
        return
    session(c, mode == "dup")
    if mode == "garbage":
        c.sendall(b"\x30\xff\xff\xff\xff\x01")
    elif mode == "toobig":
        c.sendall(publish(b"big", b"7" * 2000, 1))
    serve(c, 2 if mode == "silent" else None)

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
n = 0
while True:
    c, _ = srv.accept()
    n += 1
    log("connection %d" % n)
    c.settimeout(60)
    try:
        handle(c, n)
    except Exception as e:
        log("connection %d ended: %s" % (n, e))
    c.close()
PY

# Configuration problems, each with its line.
cat >"$T/bad.toml" <<EOF
[agent]
id = "check"
data_dir = "$T/bad-data"
[[device]]
name = "m"
type = "mqtt"
url = "http://x"
topics = ["a/#/b", "ok/+"]
qos = 2
client_id = ""
value_path = "\$.v"
password = "p"
reconnect_min = 5
reconnect_max = 1
[[device]]
name = "n"
type = "mqtt"
topics = []
url = "mqtts://h:99999"
[[device]]
name = "o"
type = "mqtt"
url = "mqtts://[::1]:8883"
topics = ["x"]
ca_file = ""
EOF
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/bad.toml" --check >"$T/check.out" 2>&1 &&
	fail "a bad mqtt config passed --check"
for want in \
	"bad.toml:7: [[device]] 'm' url: 'http://x' is not an mqtt:// or mqtts:// URL" \
	"bad.toml:8: [[device]] 'm' topics: 'a/#/b' is not a valid topic filter" \
	"bad.toml:9: [[device]] 'm' qos: 2 is out of range (0..1)" \
	"bad.toml:10: [[device]] 'm' client_id: an empty client id needs clean_session = true" \
	"bad.toml:11: [[device]] 'm' value_path: only for payload = \"json\"" \
	"bad.toml:12: [[device]] 'm' password: a password needs a username" \
	"bad.toml:14: [[device]] 'm' reconnect_max: 1 is below reconnect_min (5)" \
	"bad.toml:18: [[device]] 'n' topics: at least one topic filter is needed" \
	"bad.toml:19: [[device]] 'n' url: 'mqtts://h:99999': bad port" \
	"bad.toml:25: [[device]] 'o' ca_file: mqtts:// needs a CA file (or insecure = true)"; do
	grep -qF -- "$want" "$T/check.out" ||
		fail "--check lacks: $want ($(cat "$T/check.out"))"
done

for mode in refuse suback garbage toobig silent dup; do
	python3 "$T/broker.py" "$mode" "$T/$mode.port" "$T/$mode.log" \
		"$T/dup.phase2" "$db" 2>>"$T/brokers.err" &
	lib_track $!
	lib_wait_until 10 test -s "$T/$mode.port"
done

{
	for mode in refuse suback garbage toobig silent dup; do
		cat <<EOF
[[device]]
name = "$mode"
type = "mqtt"
url = "mqtt://127.0.0.1:$(cat "$T/$mode.port")"
topics = ["$([ "$mode" = dup ] && echo 'd/#' || echo 'a/#')"]
reconnect_min = 0.05
reconnect_max = 0.3
connect_timeout = 5
keepalive = $([ "$mode" = silent ] && echo 1 || echo 30)
max_packet_bytes = 1024

EOF
	done
} | lib_write_config "$T/outpost.toml" "$port"

# field DEVICE FIELD: an adapter's /health field (detail.* or top level).
field() {
	curl -sf --max-time 2 "http://127.0.0.1:$port/health" | python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin)["adapters"] if x["name"] == sys.argv[1]][0]
f = sys.argv[2]
v = a[f] if f in a else a["detail"][f]
print("" if v is None else v)' "$1" "$2" 2>/dev/null
}
error_has() { field "$1" last_error | grep -qF -- "$2"; }
log_has() { grep -qxF -- "$2" "$T/$1.log" 2>/dev/null; }
sql_is() { [ "$(lib_sql "$db" "$1" 2>/dev/null)" = "$2" ]; }

lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"

lib_wait_until 20 error_has refuse "refused the connection: not authorized"
lib_wait_until 20 log_has refuse "connection 3" # it keeps trying, backing off
lib_wait_until 20 error_has suback "refused the subscription to 'a/#'"
lib_wait_until 20 error_has garbage \
	"bad packet from 127.0.0.1:$(cat "$T/garbage.port"): PUBLISH: remaining length longer than 4 bytes"
lib_wait_until 20 error_has toobig "PUBLISH of 2010 bytes is larger than the limit (1024)"
# Two PINGREQs answered, the third not: dead broker after keepalive/2.
lib_wait_until 20 log_has silent "pingreq 3"
lib_wait_until 20 error_has silent "no PINGRESP from 127.0.0.1:$(cat "$T/silent.port") within 0.5 s"
# The others come up between failures; these two never do.
for mode in refuse suback; do
	[ "$(field "$mode" state)" != connected ] || fail "$mode shows connected"
done
for mode in refuse suback garbage toobig silent; do
	[ "$(field "$mode" errors)" -ge 1 ] || fail "$mode counts no error"
done
sql_is "SELECT count(*) FROM readings WHERE device = 'toobig'" 0 ||
	fail "an oversized packet was stored"

# Exactly once across kill -9. Connection 1 delivered packet 7 and closed
# before our PUBACK: the reading and its key commit together, and the key
# stays because the PUBACK could not go out.
lib_wait_until 20 sql_is \
	"SELECT count(*) FROM readings WHERE device = 'dup' AND sensor = 'd.x' AND value = 42" 1
lib_wait_until 20 sql_is \
	"SELECT length(value) FROM offsets WHERE source = 'mqtt:dup:7'" 16
log_has dup "puback 7" && fail "PUBACK 7 went to a closed connection"
lib_stop_agent KILL
touch "$T/dup.phase2"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
# The broker redelivers 7 (DUP, stored before), 8 (DUP, never stored) and
# sends 9: all three are acknowledged, 7 without storing it again.
lib_wait_until 20 log_has dup "puback 7"
lib_wait_until 20 log_has dup "puback 8"
lib_wait_until 20 log_has dup "puback 9"
log_has dup "stored-before-puback 9: 1" || fail "PUBACK 9 came before its commit"
for v in 42 43 45; do
	sql_is "SELECT count(*) FROM readings WHERE device = 'dup' AND value = $v" 1 ||
		fail "value $v stored $(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = 'dup' AND value = $v") times"
done
[ "$(field dup duplicates)" = 1 ] || fail "duplicates: $(field dup duplicates)"
[ "$(field dup acked)" = 3 ] || fail "acked: $(field dup acked)"
# The key goes once a PINGRESP shows the broker has read the PUBACK.
lib_wait_until 10 sql_is "SELECT count(*) FROM offsets WHERE source GLOB 'mqtt:dup:[0-9]*'" 0
grep -q '"component":"dup","msg":"1 packet-id keys from the last run' "$T/agent.log" ||
	fail "the restart did not find the key of packet 7"

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "agent exit code $AGENT_RC"
sql_is "SELECT count(*) FROM offsets WHERE source = 'mqtt:dup:keys'" 0 ||
	fail "key marker left after a clean stop"
echo "ok: refusals, malformed and oversized packets, dead broker, DUP redelivery after kill -9"
