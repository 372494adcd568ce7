#!/usr/bin/env bash
# mqtts:// against mosquitto with certificates made by the test: a server
# listener and a listener that
# requires client certificates. Readings arrive over both; a wrong CA and a
# missing client certificate are refused with the reason in /health.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
tport=$(lib_free_port)
mport=$(lib_free_port)
db="$T/data/outpost.db"
c="$T/certs"
lib_make_certs "$c"

cat >"$T/mosquitto.conf" <<EOF
# As root, mosquitto would drop to its own user, which cannot read $T.
user $(id -un)
allow_anonymous true
persistence false
log_dest file $T/mosquitto.log

listener $tport 127.0.0.1
cafile $c/ca.pem
certfile $c/server.pem
keyfile $c/server.key

listener $mport 127.0.0.1
cafile $c/ca.pem
certfile $c/server.pem
keyfile $c/server.key
require_certificate true
EOF
mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.out" 2>&1 &
lib_track $!
lib_wait_port "$tport"
lib_wait_port "$mport"

device() { # name url topic [extra lines]
	cat <<EOF
[[device]]
name = "$1"
type = "mqtt"
url = "$2"
topics = ["$3"]
reconnect_min = 0.05
reconnect_max = 0.5
connect_timeout = 5
${4:-}

EOF
}
{
	device tls "mqtts://localhost:$tport" "tls/#" "ca_file = \"$c/ca.pem\""
	device mtls "mqtts://localhost:$mport" "mtls/#" "ca_file = \"$c/ca.pem\"
client_cert = \"$c/client.pem\"
client_key = \"$c/client.key\""
	device wrongca "mqtts://localhost:$tport" "x/#" "ca_file = \"$c/other-ca.pem\""
	device nocert "mqtts://localhost:$mport" "y/#" "ca_file = \"$c/ca.pem\""
	device plain "mqtt://127.0.0.1:$tport" "z/#"
} | lib_write_config "$T/outpost.toml" "$port"
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost.toml" --check >"$T/check.out" 2>&1 ||
	fail "config check: $(cat "$T/check.out")"

field() {
	curl -sf --max-time 2 "http://127.0.0.1:$port/health" | python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin)["adapters"] if x["name"] == sys.argv[1]][0]
f = sys.argv[2]
v = a[f] if f in a else a["detail"][f]
print("" if v is None else v)' "$1" "$2" 2>/dev/null
}
state_is() { [ "$(field "$1" state)" = "$2" ]; }
error_matches() { field "$1" last_error | grep -qi -- "$2"; }
stored() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE device = '$1' AND sensor = '$2' AND value = $3" 2>/dev/null)" = 1 ]
}

lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
lib_wait_until 20 state_is tls connected
lib_wait_until 20 state_is mtls connected
for i in 1 2 3; do
	mosquitto_pub -h 127.0.0.1 -p "$tport" --cafile "$c/ca.pem" -q 1 \
		-t tls/deck/temp -m "2$i.5" || fail "publish over TLS"
done
mosquitto_pub -h 127.0.0.1 -p "$mport" --cafile "$c/ca.pem" \
	--cert "$c/client.pem" --key "$c/client.key" -q 1 -t mtls/hold -m 4.25 ||
	fail "publish over mTLS"
lib_wait_until 20 stored tls tls.deck.temp 23.5
stored tls tls.deck.temp 21.5 || fail "first TLS message"
lib_wait_until 20 stored mtls mtls.hold 4.25

# Refusals, with their reasons.
lib_wait_until 20 error_matches wrongca \
	"TLS handshake with localhost:$tport: certificate verification failed"
lib_wait_until 20 error_matches nocert "TLS .* localhost:$mport"
# Plain MQTT on the TLS port: the broker resets or closes the connection.
lib_wait_until 20 error_matches plain \
	"read from 127.0.0.1:$tport\|127.0.0.1:$tport closed\|no CONNACK from 127.0.0.1:$tport"
for d in wrongca nocert plain; do
	[ "$(field "$d" state)" != connected ] || fail "$d connected"
	[ "$(field "$d" readings)" = 0 ] || fail "$d has readings"
done
for d in tls mtls; do
	[ "$(field "$d" errors)" = 0 ] || fail "$d: $(field "$d" last_error)"
done

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "agent exit code $AGENT_RC"
echo "ok: mqtts with server and client certificates; wrong CA, no client certificate and plain MQTT on TLS refused"
