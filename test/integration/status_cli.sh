#!/usr/bin/env bash
# `outpost status` and `outpost flush` against a running agent, and when no
# agent answers.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
lib_write_config "$T/outpost.toml" "$port" <<'EOF2'
EOF2
sed -i 's/^\[health\]$/[health]\nadmin_token = "${TEST_ADMIN_TOKEN:-}"/' "$T/outpost.toml"
export TEST_ADMIN_TOKEN=let-me-in
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
processed() {
	[ "$(curl -sf "http://127.0.0.1:$port/health" | lib_json readings_processed)" -gt 0 ]
}
lib_wait_until 10 processed

set +e
"$OUTPOST_BIN" status -c "$T/outpost.toml" >"$T/status" 2>&1; rc=$?
set -e
[ "$rc" = 0 ] || fail "status exit $rc: $(cat "$T/status")"
grep -q 'test-agent: healthy' "$T/status" || fail "summary: $(cat "$T/status")"
grep -q 'hold' "$T/status" || fail "adapters missing: $(cat "$T/status")"

"$OUTPOST_BIN" status -c "$T/outpost.toml" --json | lib_json agent_id | grep -qx test-agent ||
	fail "status --json"

"$OUTPOST_BIN" flush -c "$T/outpost.toml" >"$T/flush" 2>&1 || fail "flush: $(cat "$T/flush")"
TEST_ADMIN_TOKEN=wrong "$OUTPOST_BIN" flush -c "$T/outpost.toml" >"$T/flush" 2>&1 &&
	fail "flush with a wrong token succeeded"
grep -q 'HTTP 401' "$T/flush" || fail "wrong token: $(cat "$T/flush")"

lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
set +e
"$OUTPOST_BIN" status -c "$T/outpost.toml" >"$T/status" 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "status of a stopped agent exit $rc, want 2"
grep -q unreachable "$T/status" || fail "no 'unreachable': $(cat "$T/status")"
echo ok
