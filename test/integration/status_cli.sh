#!/usr/bin/env bash
# `outpost status` and `outpost flush` against a running agent, and when no
# agent answers: exit codes 0/1/2, colour only on a terminal (and not with
# NO_COLOR), --json, --watch redrawing every --interval.
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
$OUTPOST_WRAPPER "$OUTPOST_BIN" status -c "$T/outpost.toml" >"$T/status" 2>&1; rc=$?
set -e
[ "$rc" = 0 ] || fail "status exit $rc: $(cat "$T/status")"
grep -q 'test-agent: healthy' "$T/status" || fail "summary: $(cat "$T/status")"
grep -q 'hold' "$T/status" || fail "adapters missing: $(cat "$T/status")"
# Not a terminal: no escape sequences at all.
if grep -q $'\033' "$T/status"; then fail "colour codes in a pipe"; fi

# A terminal (script(1) gives it a pty): colour, unless NO_COLOR is set.
script -qec "$OUTPOST_WRAPPER $OUTPOST_BIN status -c $T/outpost.toml" /dev/null >"$T/tty" 2>&1 ||
	fail "status on a tty: $(cat "$T/tty")"
grep -q $'\033\\[32mhealthy\033\\[0m' "$T/tty" ||
	fail "no colour on a tty: $(cat -v "$T/tty")"
NO_COLOR=1 script -qec "$OUTPOST_WRAPPER $OUTPOST_BIN status -c $T/outpost.toml" /dev/null \
	>"$T/tty" 2>&1 || fail "status with NO_COLOR"
grep -q 'test-agent: healthy' "$T/tty" || fail "NO_COLOR summary: $(cat -v "$T/tty")"
if grep -q $'\033' "$T/tty"; then fail "colour despite NO_COLOR: $(cat -v "$T/tty")"; fi

# --watch: one summary per interval until a signal; the exit code is the
# last status. timeout sends SIGTERM after 4 s.
# Generous timeouts: a sanitizer build starts slowly, and a TERM that
# lands before the watch loop blocks it would kill the client outright.
set +e
timeout --preserve-status 4 $OUTPOST_WRAPPER "$OUTPOST_BIN" status -c "$T/outpost.toml" \
	--watch --interval 0.5 >"$T/watch" 2>&1; rc=$?
set -e
[ "$rc" = 0 ] || fail "status --watch exit $rc: $(cat "$T/watch")"
n=$(grep -c 'test-agent: healthy' "$T/watch")
[ "$n" -ge 2 ] || fail "--watch printed $n summaries: $(cat "$T/watch")"
[ "$(grep -c '^every 0.5s, ' "$T/watch")" = "$n" ] || fail "watch headers: $(cat "$T/watch")"
if grep -q $'\033' "$T/watch"; then fail "escape codes from --watch in a pipe"; fi
# On a terminal it redraws in place: home and clear before each summary.
script -qc "timeout --preserve-status 4 $OUTPOST_WRAPPER $OUTPOST_BIN status -c $T/outpost.toml --watch --interval 0.5" \
	/dev/null >"$T/tty" 2>&1
n=$(grep -o $'\033\\[H\033\\[J' "$T/tty" | wc -l)
[ "$n" -ge 2 ] || fail "--watch on a tty redrew $n times: $(cat -v "$T/tty")"
# --json --watch: one document per line.
set +e
timeout --preserve-status 4 $OUTPOST_WRAPPER "$OUTPOST_BIN" status -c "$T/outpost.toml" \
	--json --watch --interval 0.5 >"$T/watch.json" 2>&1; rc=$?
set -e
[ "$rc" = 0 ] || fail "status --json --watch exit $rc"
python3 - "$T/watch.json" <<'PY' || fail "--json --watch: $(head -c 300 "$T/watch.json")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 2, len(lines)
for line in lines:
    assert json.loads(line)["agent_id"] == "test-agent"
PY
for bad in 0 0.05 abc -1 1e9; do
	set +e
	$OUTPOST_WRAPPER "$OUTPOST_BIN" status -c "$T/outpost.toml" --watch --interval "$bad" \
		>"$T/bad" 2>&1; rc=$?
	set -e
	[ "$rc" = 2 ] || fail "--interval $bad: exit $rc"
	grep -q 'interval' "$T/bad" || fail "--interval $bad: $(cat "$T/bad")"
done

$OUTPOST_WRAPPER "$OUTPOST_BIN" status -c "$T/outpost.toml" --json | lib_json agent_id | grep -qx test-agent ||
	fail "status --json"

$OUTPOST_WRAPPER "$OUTPOST_BIN" flush -c "$T/outpost.toml" >"$T/flush" 2>&1 || fail "flush: $(cat "$T/flush")"
TEST_ADMIN_TOKEN=wrong $OUTPOST_WRAPPER "$OUTPOST_BIN" flush -c "$T/outpost.toml" >"$T/flush" 2>&1 &&
	fail "flush with a wrong token succeeded"
grep -q 'HTTP 401' "$T/flush" || fail "wrong token: $(cat "$T/flush")"

lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
set +e
$OUTPOST_WRAPPER "$OUTPOST_BIN" status -c "$T/outpost.toml" >"$T/status" 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "status of a stopped agent exit $rc, want 2"
grep -q unreachable "$T/status" || fail "no 'unreachable': $(cat "$T/status")"

# Degraded (an input that cannot connect): exit 1, with the reason.
dead=$(lib_free_port)
cat >>"$T/outpost.toml" <<EOF2
[[device]]
name = "deck"
type = "mqtt"
url = "mqtt://127.0.0.1:$dead"
topics = ["deck/#"]
EOF2
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
degraded() {
	[ "$(curl -s "http://127.0.0.1:$port/health" | lib_json status)" = degraded ]
}
lib_wait_until 10 degraded
set +e
$OUTPOST_WRAPPER "$OUTPOST_BIN" status -c "$T/outpost.toml" >"$T/status" 2>&1; rc=$?
set -e
[ "$rc" = 1 ] || fail "status of a degraded agent exit $rc, want 1: $(cat "$T/status")"
grep -q 'test-agent: degraded' "$T/status" || fail "summary: $(cat "$T/status")"
grep -q 'adapter deck: ' "$T/status" || fail "no reason: $(cat "$T/status")"
grep -qE 'deck +error' "$T/status" || fail "adapter state: $(cat "$T/status")"
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
echo ok
