#!/usr/bin/env bash
# --check and --print-config from the command line: exit codes, every
# problem reported at once as FILE:LINE: message, secrets masked.
. "$(dirname "$0")/lib.sh"
lib_init

# The reference config is valid.
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$OUTPOST_SRCDIR/conf/outpost.toml" --check >"$T/out" 2>&1 ||
	fail "conf/outpost.toml does not pass --check: $(cat "$T/out")"

# Several problems, all reported, each with its line.
cat >"$T/bad.toml" <<'EOF2'
[agent]
id = "x"

[store]
max_db_mb = "lots"
nonsense = 1

[health]
listen = "127.0.0.1:99999"

[[device]]
name = "a"
type = "sim"
waveform = "zigzag"

[[device]]
name = "b"
type = "teleport"
EOF2
set +e
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/bad.toml" --check >"$T/out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "--check exit code $rc, want 1"
grep -q "^$T/bad.toml:5: .*max_db_mb" "$T/out" || fail "no line 5 error: $(cat "$T/out")"
grep -q "^$T/bad.toml:6: .*nonsense" "$T/out" || fail "no line 6 error: $(cat "$T/out")"
grep -q "^$T/bad.toml:9: .*listen" "$T/out" || fail "no line 9 error: $(cat "$T/out")"
grep -q "^$T/bad.toml:14: .*waveform" "$T/out" || fail "no line 14 error: $(cat "$T/out")"
grep -q "^$T/bad.toml:1[67]: .*teleport" "$T/out" || fail "no unknown type error: $(cat "$T/out")"
[ "$(grep -c "^$T/bad.toml:[0-9]*: " "$T/out")" -ge 5 ] || fail "not all errors: $(cat "$T/out")"

# A syntax error stops parsing with its line.
printf '[agent]\nid = "unterminated\n' >"$T/syntax.toml"
set +e
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/syntax.toml" --check >"$T/out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "syntax error exit code $rc"
grep -q "^$T/syntax.toml:2: " "$T/out" || fail "syntax error line: $(cat "$T/out")"

# A missing file is an error, not the default config.
set +e
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/absent.toml" --check >"$T/out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "missing file exit code $rc"
grep -q "absent.toml" "$T/out" || fail "missing file not named"

# --print-config: env substitution, defaults merged, secrets masked; the
# printed config is itself valid and prints the same again.
cat >"$T/env.toml" <<'EOF2'
[agent]
id = "${TEST_AGENT_ID}"
data_dir = "${TEST_DATA:-/tmp/outpost-default}"

[health]
admin_token = "${TEST_TOKEN}"

[[device]]
name = "hold"
type = "sim"
EOF2
TEST_AGENT_ID=boat-3 TEST_TOKEN=s3cret-value \
	$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/env.toml" --print-config \
	>"$T/printed.toml" 2>"$T/err" || fail "print-config: $(cat "$T/err")"
grep -q 'boat-3' "$T/printed.toml" || fail "agent id not substituted"
grep -q '/tmp/outpost-default' "$T/printed.toml" || fail "default not substituted"
grep -q 's3cret-value' "$T/printed.toml" && fail "secret printed in clear"
grep -q '\*\*\*' "$T/printed.toml" || fail "secret not masked"
grep -q 'max_db_mb' "$T/printed.toml" || fail "defaults not merged"
grep -q 'waveform' "$T/printed.toml" || fail "adapter defaults not merged"
$OUTPOST_WRAPPER "$OUTPOST_BIN" -c "$T/printed.toml" --check >"$T/out" 2>&1 ||
	fail "printed config does not pass --check: $(cat "$T/out")"

# The embedded default is valid and is what runs without -c (no /etc file).
if [ ! -e /etc/outpost/outpost.toml ]; then
	(cd "$T" && $OUTPOST_WRAPPER "$OUTPOST_BIN" --print-config) >"$T/default.toml" ||
		fail "embedded default does not print"
	grep -q '127.0.0.1:8787' "$T/default.toml" || fail "default listen"
	grep -q 'outpost-data' "$T/default.toml" || fail "default data_dir"
fi

# --version names the three libraries.
$OUTPOST_WRAPPER "$OUTPOST_BIN" --version >"$T/version"
grep -Eq '^outpost [0-9]+\.[0-9]+\.[0-9]+$' "$T/version" || fail "version line"
for lib in libevent SQLite mbedtls; do
	grep -q "^$lib [0-9]" "$T/version" || fail "--version lacks $lib"
done
echo ok
