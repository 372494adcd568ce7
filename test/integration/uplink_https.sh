#!/usr/bin/env bash
# Readings reach an HTTPS collector exactly as stored: every stored id
# arrives, with an Idempotency-Key and the bearer token, over one kept-alive
# TLS connection; the store marks them sent; /health says connected.
. "$(dirname "$0")/lib.sh"
lib_init
lib_make_certs "$T/certs"
lib_start_collector coll --cert "$T/certs/server.pem" --key "$T/certs/server.key"
url="https://localhost:$COLLECTOR_PORT/v1/batches"

port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "$url" 'compress = "gzip"') \
	lib_write_config "$T/outpost.toml" "$port" </dev/null
# The test CA lives 30 days: inside a 60-day warning window.
sed -i 's/^\[health\]$/[health]\ncert_warn_days = 60/' "$T/outpost.toml"
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
db="$T/data/outpost.db"

enough_ids() { [ "$(lib_collector_stat coll unique_ids)" -ge 200 ]; }
lib_wait_until 20 enough_ids
health=$(curl -sf "http://127.0.0.1:$port/health")
[ "$(echo "$health" | lib_json connection.state)" = connected ] ||
	fail "connection state: $health"
[ "$(echo "$health" | lib_json breaker.state)" = closed ] || fail "breaker"
echo "$health" | lib_json warnings | grep -q 'cloud CA certificate expires in 29\.9\|cloud CA certificate expires in 30\.0' ||
	fail "no expiry warning: $(echo "$health" | lib_json warnings)"
left=$(curl -sf "http://127.0.0.1:$port/metrics" |
	awk '$1 == "outpost_tls_cert_expiry_seconds{cert=\"ca\"}" {print int($2)}')
[ -n "$left" ] && [ "$left" -gt $((29 * 86400)) ] && [ "$left" -le $((30 * 86400)) ] ||
	fail "outpost_tls_cert_expiry_seconds{cert=\"ca\"} = '$left'"

# A reload that leaves [cloud] as it was keeps the connection: no new
# handshake while uploads go on (a changed [cloud] does reconnect).
hs0=$(lib_collector_stat coll tls_handshakes)
req0=$(lib_collector_stat coll requests)
kill -HUP "$AGENT_PID"
reloaded() { [ "$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'reload'")" -ge 1 ]; }
lib_wait_until 10 reloaded
more_requests() { [ "$(lib_collector_stat coll requests)" -ge $((req0 + 5)) ]; }
lib_wait_until 15 more_requests
hs1=$(lib_collector_stat coll tls_handshakes)
[ "$hs1" = "$hs0" ] || fail "reload with [cloud] unchanged made $((hs1 - hs0)) new handshakes"

# Stop, then every reading the store calls sent is at the collector, under
# the same id, and nothing the collector holds is unknown to the store.
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
lib_sql "$db" "SELECT id_hex FROM readings_v WHERE state = 'sent'" | sort >"$T/sent"
lib_collector_ids coll >"$T/got"
[ -s "$T/sent" ] || fail "nothing marked sent"
missing=$(comm -23 "$T/sent" "$T/got" | wc -l)
[ "$missing" = 0 ] || fail "$missing sent readings never reached the collector"
lib_sql "$db" "SELECT id_hex FROM readings_v" | sort >"$T/all"
unknown=$(comm -13 "$T/all" "$T/got" | wc -l)
[ "$unknown" = 0 ] || fail "$unknown ids at the collector are not in the store"

# Wire details: key on every upload, gzip, token, one TLS handshake reused.
python3 - "$T/coll.jsonl" <<'PY' || fail "upload headers"
import json, re, sys
ups = [json.loads(l) for l in open(sys.argv[1])]
assert ups, "no uploads"
for u in ups:
    assert re.fullmatch(r"[0-9a-f]{64}", u["idempotency_key"] or ""), u
    assert u["content_encoding"] == "gzip", u
    assert u["path"] == "/v1/batches", u
    assert 0 < len(u["ids"]) <= 50, len(u["ids"])
PY
conns=$(lib_collector_stat coll connections)
reqs=$(lib_collector_stat coll requests)
[ "$conns" -lt "$reqs" ] || fail "no keep-alive: $conns connections for $reqs requests"
echo "ok: $(wc -l <"$T/sent") readings over $reqs requests and $conns connections"
