#!/usr/bin/env bash
# The health port over real HTTP: the /health document, liveness, 404 and
# 405, CORS preflight, /metrics?format=json, the admin endpoints with and
# without a token, the bounds (header size, body size, idle timeout), the
# status degraded by a failing adapter and by an unreachable collector, and
# a busy listen port refused with its cause.
. "$(dirname "$0")/lib.sh"
lib_init

# req METHOD PATH [curl args...]: answer code in $code, body in $T/body,
# headers in $T/hdr.
req() {
	local m=$1 p=$2
	shift 2
	code=$(curl -s --max-time 5 -o "$T/body" -D "$T/hdr" -w '%{http_code}' \
	    -X "$m" "$@" "$base$p") || code=000
}

# header NAME: the value of a response header of the last req.
header() {
	awk -v n="$1" 'BEGIN { n = tolower(n) }
	{ sub(/\r$/, "") }
	{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
		print substr($0, i + 2); exit } }' "$T/hdr"
}

expect() {
	[ "$code" = "$1" ] || fail "$2: HTTP $code, want $1: $(cat "$T/body")"
}

# pycheck SCRIPT: runs python assertions over the JSON body as d.
pycheck() {
	python3 - "$T/body" "$1" <<'EOF' || fail "$2: $(cat "$T/body")"
import json, sys
d = json.load(open(sys.argv[1]))
try:
    exec(sys.argv[2])
except AssertionError as e:
    print("assertion failed:", e, file=sys.stderr)
    sys.exit(1)
EOF
}

port=$(lib_free_port)
base="http://127.0.0.1:$port"
lib_write_config "$T/outpost.toml" "$port" </dev/null
lib_start_agent "$T/outpost.toml"
lib_wait_http "$base/health/live"
processed() {
	req GET /health
	[ "$code" = 200 ] &&
	    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(not (d["readings_processed"] > 0 and
    all(a["readings"] > 0 for a in d["adapters"])))' "$T/body"
}
lib_wait_until 20 processed

# --- GET /health -----------------------------------------------------------
req GET /health
expect 200 "/health"
[ "$(header content-type)" = application/json ] || fail "content type $(header content-type)"
[ "$(header cache-control)" = no-store ] || fail "cache-control"
[ "$(header access-control-allow-origin)" = '*' ] || fail "CORS on GET"
pycheck '
num = (int, float)
assert d["status"] == "healthy", d["status"]
assert d["reasons"] == [], d["reasons"]
assert d["agent_id"] == "test-agent"
assert d["version"] == "0.1.0"
assert isinstance(d["uptime_s"], num) and 0 <= d["uptime_s"] < 120
assert d["running"] is True
c = d["connection"]
assert c["state"] == "disabled", c
assert isinstance(c["since"], num) and c["since"] > 1.6e9
assert c["last_success"] is None and c["last_error"] is None
assert c["consecutive_failures"] == 0
assert d["breaker"] == {"state": "closed"}
q = d["queue"]
assert set(q["by_priority"]) == {"critical", "high", "normal", "low"}, q
assert q["pending"] == sum(q["by_priority"].values()), q
assert q["by_priority"]["normal"] > 0, q
assert q["in_flight"] == 0 and q["dead_letter"] == 0 and q["shed_total"] == 0
assert isinstance(q["oldest_pending_age_s"], num) and q["oldest_pending_age_s"] >= 0
s = d["store"]
assert s["db_bytes"] > 0 and s["wal_bytes"] >= 0, s
assert s["path"].endswith("/data/outpost.db"), s
assert d["readings_processed"] > 0
assert d["readings_dropped"] == 0
assert d["events_triggered"] == 0
p = d["privacy"]
assert isinstance(p["enabled"], bool) and p["rules"] >= 0 and p["dropped"] == 0, p
names = [a["name"] for a in d["adapters"]]
assert names == ["hold", "engine", "system"], names
for a in d["adapters"]:
    assert a["state"] == "connected", a
    assert a["errors"] == 0 and a["last_error"] is None, a
    assert isinstance(a["last_reading"], num) and a["last_reading"] > 1.6e9, a
    assert a["readings"] > 0, a
assert d["adapters"][0]["type"] == "sim" and d["adapters"][2]["type"] == "system"
assert d["adapters"][0]["detail"]["waveform"] == "sine", d["adapters"][0]
det = d["adapters"][2]["detail"]
assert det["cpu"] is True and det["disk_path"] == "/" and det["interval_s"] == 1, det
y = d["system"]
assert isinstance(y["cpu_percent"], num) and 0 <= y["cpu_percent"] <= 100, y
assert y["mem_total_bytes"] > 0 and 0 <= y["mem_available_bytes"] <= y["mem_total_bytes"], y
assert 0 <= y["mem_used_percent"] <= 100, y
assert y["disk_total_bytes"] > 0 and 0 <= y["disk_free_bytes"] <= y["disk_total_bytes"], y
assert y["uptime_s"] > 0 and len(y["load"]) == 3, y
assert isinstance(y["thermal"], list), y
' "/health document"

# HEAD: the headers of GET, no body.
code=$(curl -s --max-time 5 -I -o "$T/hdr" -w '%{http_code}' "$base/health")
[ "$code" = 200 ] || fail "HEAD /health: $code"

# --- liveness, 404, 405, CORS ------------------------------------------------
req GET /health/live
expect 200 "/health/live"
[ "$(cat "$T/body")" = ok ] || fail "live body: $(cat "$T/body")"
case "$(header content-type)" in text/plain*) ;; *) fail "live type" ;; esac

req GET /nope
expect 404 "/nope"
pycheck 'assert d == {"error": "not found"}' "404 body"
req GET /healthz
expect 404 "/healthz"

req DELETE /health
expect 405 "DELETE /health"
[ "$(header allow)" = "GET, HEAD, OPTIONS" ] || fail "Allow: $(header allow)"
req POST /metrics -d x=1
expect 405 "POST /metrics"
req GET /admin/flush
expect 405 "GET /admin/flush"
[ "$(header allow)" = "POST, OPTIONS" ] || fail "Allow: $(header allow)"

req OPTIONS /health -H 'Origin: http://dash.example' \
    -H 'Access-Control-Request-Method: GET'
expect 204 "OPTIONS /health"
[ "$(header access-control-allow-origin)" = '*' ] || fail "ACAO"
[ "$(header access-control-allow-methods)" = "GET, POST, OPTIONS" ] ||
	fail "ACAM: $(header access-control-allow-methods)"
[ "$(header access-control-allow-headers)" = "Authorization, Content-Type" ] ||
	fail "ACAH: $(header access-control-allow-headers)"
[ "$(header access-control-max-age)" = 600 ] || fail "max age"
[ ! -s "$T/body" ] || fail "204 with a body"
req OPTIONS /admin/purge
expect 204 "OPTIONS /admin/purge"

# --- /metrics?format=json ----------------------------------------------------
req GET '/metrics?format=json'
expect 200 "metrics json"
[ "$(header content-type)" = application/json ] || fail "metrics json type"
pycheck '
assert d["agent_id"] == "test-agent"
for k in ("cpu_percent", "mem_total_bytes", "mem_available_bytes",
    "mem_used_percent", "disk_total_bytes", "disk_free_bytes",
    "disk_used_percent", "uptime_s", "load", "thermal"):
    assert k in d, k
assert d["mem_total_bytes"] > 0 and d["disk_total_bytes"] > 0
assert d["uptime_s"] > 0 and len(d["load"]) == 3
p = d["process"]
assert p["rss_bytes"] > 0 and p["vm_bytes"] >= p["rss_bytes"], p
assert p["open_fds"] > 3 and p["cpu_seconds"] >= 0 and p["start_time"] > 1.6e9, p
' "metrics json"
req GET '/metrics?format=xml'
expect 400 "metrics format=xml"
req GET '/metrics?format=prometheus'
expect 200 "metrics format=prometheus"
grep -q '^# TYPE outpost_readings_total counter$' "$T/body" || fail "prometheus body"

# --- admin without a token -----------------------------------------------------
req POST /admin/flush
expect 403 "flush, admin off"
pycheck 'assert d == {"error": "admin disabled"}' "403 body"
req POST '/admin/purge?older_than=7d' -H 'Authorization: Bearer anything'
expect 403 "purge, admin off"

# --- bounds --------------------------------------------------------------------
big=$(head -c 12000 /dev/zero | tr '\0' a)
req GET /health -H "X-Big: $big"
case "$code" in 4??) ;; *) fail "oversized header: HTTP $code" ;; esac
req GET /health/live
expect 200 "alive after an oversized header"
kill -0 "$AGENT_PID" || fail "agent died"

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "first agent exit code: $AGENT_RC"

# --- second agent: admin token, tight bounds, a failing adapter ----------------
port=$(lib_free_port)
base="http://127.0.0.1:$port"
lib_write_config "$T/outpost2.toml" "$port" <<'EOF'

[[device]]
name = "broken"
type = "system"
interval = 0.2
cpu = false
memory = false
thermal = false
uptime = false
load = false
disk_path = "/nonexistent/outpost"
EOF
sed -i 's/^\[health\]$/[health]\nadmin_token = "${TEST_ADMIN_TOKEN:-}"\nmax_body_bytes = 1024\ntimeout = 1/' \
    "$T/outpost2.toml"
export TEST_ADMIN_TOKEN='s3cret-token'
lib_start_agent "$T/outpost2.toml"
lib_wait_http "$base/health/live"

broken() {
	req GET /health
	[ "$code" = 200 ] && python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(d["status"] != "degraded")' "$T/body"
}
lib_wait_until 10 broken
pycheck '
b = [a for a in d["adapters"] if a["name"] == "broken"][0]
assert b["state"] == "error" and b["errors"] > 0, b
assert b["last_error"] == "no system figure could be read", b
assert d["reasons"] == ["adapter broken: no system figure could be read"], d["reasons"]
' "degraded by a failing adapter"
req GET /metrics
grep -qx 'outpost_health_status 1' "$T/body" || fail "health status metric"
grep -qx 'outpost_adapter_up{adapter="broken",type="system"} 0' "$T/body" ||
	fail "adapter_up of broken"

req POST /admin/flush
expect 401 "flush without a token"
case "$(header www-authenticate)" in Bearer*) ;; *) fail "WWW-Authenticate: $(header www-authenticate)" ;; esac
pycheck 'assert list(d) == ["error"]' "401 body"
for bad in 'Bearer wrong' 'Bearer s3cret-toke' 'Bearer s3cret-token2' \
    'Basic czNjcmV0LXRva2Vu' 's3cret-token' 'Bearer '; do
	req POST /admin/flush -H "Authorization: $bad"
	expect 401 "flush with '$bad'"
	case "$(header www-authenticate)" in Bearer*) ;; *) fail "WWW-Authenticate" ;; esac
done
grep -q 'wrong token' "$T/agent.log" || fail "wrong token not logged"
grep -q 's3cret-token' "$T/agent.log" && fail "the token appears in the log"

req POST /admin/flush -H "Authorization: Bearer $TEST_ADMIN_TOKEN"
expect 200 "flush"
pycheck 'assert d == {"flushed": True}, d' "flush body"
req POST /admin/flush -H "Authorization: bearer $TEST_ADMIN_TOKEN"
expect 200 "flush, scheme in lower case"

purge() {
	req POST "/admin/purge?older_than=$1" -H "Authorization: Bearer $TEST_ADMIN_TOKEN"
}
for spec in 7d:604800 12h:43200 30m:1800 90s:90 3600:3600 1.5h:5400 0:0; do
	purge "${spec%%:*}"
	expect 200 "purge ${spec%%:*}"
	pycheck "assert d['older_than_s'] == ${spec#*:} and isinstance(d['purged'], int) and d['purged'] >= 0, d" \
	    "purge ${spec%%:*}"
done
for spec in 7x -1 d '' 7dd 1e999 nan; do
	purge "$spec"
	expect 400 "purge '$spec'"
done
req POST /admin/purge -H "Authorization: Bearer $TEST_ADMIN_TOKEN"
expect 400 "purge without older_than"
req POST '/admin/purge?older_than=7d' -H 'Authorization: Bearer nope'
expect 401 "purge with a wrong token"
grep -q '"admin_flush"\|admin flush' "$T/agent.log" || fail "flush not logged"

# A body above max_body_bytes is refused before any handler runs.
head -c 4096 /dev/zero | tr '\0' x >"$T/big"
req POST /admin/flush -H "Authorization: Bearer $TEST_ADMIN_TOKEN" \
    --data-binary "@$T/big"
expect 413 "oversized body"

# An idle connection is closed after the timeout (1 s here).
python3 - "$port" <<'EOF' || fail "idle connection not closed"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
s.settimeout(6)
t = time.time()
try:
    while s.recv(4096):
        pass
except socket.timeout:
    sys.exit(1)
sys.exit(0 if time.time() - t < 5 else 1)
EOF
req GET /health/live
expect 200 "alive after the idle client"

lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "second agent exit code: $AGENT_RC"

# --- cloud on, collector unreachable: degraded, and why -----------------------
port=$(lib_free_port)
base="http://127.0.0.1:$port"
dead=$(lib_free_port)	# nothing listens there
LIB_CLOUD="[cloud]
enabled = true
endpoint = \"http://127.0.0.1:$dead/v1/batches\"
insecure = true
flush_interval = 0.2
timeout = 1

[cloud.retry]
base_delay = 0.1
max_delay = 0.2

[cloud.breaker]
failure_threshold = 3
recovery_timeout = 60" lib_write_config "$T/outpost4.toml" "$port" </dev/null
lib_start_agent "$T/outpost4.toml"
lib_wait_http "$base/health/live"
breaker_open() {
	req GET /health
	[ "$code" = 200 ] && python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(d["breaker"]["state"] != "open")' "$T/body"
}
lib_wait_until 15 breaker_open
pycheck "
assert d['status'] == 'degraded', d['status']
assert d['reasons'] == ['uplink breaker open'], d['reasons']
c = d['connection']
assert c['state'] == 'error', c
assert c['consecutive_failures'] >= 3, c
assert c['last_success'] is None, c
assert c['last_error']['layer'] == 'tcp', c
assert '127.0.0.1:$dead' in c['last_error']['message'], c
assert c['next_attempt_in_s'] > 0, c
" "uplink outage in /health"
req GET /metrics
grep -qx 'outpost_uplink_breaker_state{state="open"} 1' "$T/body" ||
	fail "breaker metric"
grep -qx 'outpost_uplink_state{state="error"} 1' "$T/body" || fail "state metric"
grep -qx 'outpost_health_status 1' "$T/body" || fail "health status 1"
awk '$1 == "outpost_uploads_total{result=\"error\"}" { ok = $2 >= 3 }
    END { exit !ok }' "$T/body" || fail "uploads_total error"
promtool check metrics <"$T/body" >"$T/promtool" 2>&1 ||
	fail "promtool: $(cat "$T/promtool")"
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "fourth agent exit code: $AGENT_RC"

# --- listen failures are reported with their cause -------------------------------
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/busy" &
lib_track $!
lib_wait_until 5 test -s "$T/busy"
busy=$(cat "$T/busy")
lib_write_config "$T/outpost3.toml" "$busy" </dev/null
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/outpost3.toml" >"$T/busy.log" 2>&1
rc=$?
[ "$rc" != 0 ] || fail "agent started on a busy port"
grep -q "cannot listen on 127.0.0.1:$busy: bind: Address already in use" "$T/busy.log" ||
	fail "busy port cause: $(cat "$T/busy.log")"
echo ok
