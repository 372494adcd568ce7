#!/usr/bin/env bash
# kill -9 the agent while it ingests, several times; after each restart every
# reading that a reader saw committed before the kill is still there, under
# the same id, exactly once, and the store passes integrity_check.
. "$(dirname "$0")/lib.sh"
lib_init

port=$(lib_free_port)
lib_write_config "$T/outpost.toml" "$port" <<'EOF2'
EOF2
# Faster sensors and commits, so kills land mid-transaction often.
sed -i 's/^interval = 0.05/interval = 0.002/; s/^commit_interval = 0.2/commit_interval = 0.01/' "$T/outpost.toml"
db="$T/data/outpost.db"

for round in 1 2 3 4 5 6; do
	lib_start_agent "$T/outpost.toml"
	lib_wait_http "http://127.0.0.1:$port/health/live"
	sleep "0.$((RANDOM % 5 + 3))"
	# What a reader sees committed right now (WAL: readers see commits).
	lib_sql "$db" "SELECT hex(id) FROM readings" | sort >"$T/seen.$round"
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=""
	[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] ||
		fail "integrity_check after kill $round"
	lib_sql "$db" "SELECT hex(id) FROM readings" | sort >"$T/after.$round"
	missing=$(comm -23 "$T/seen.$round" "$T/after.$round" | wc -l)
	[ "$missing" = 0 ] || fail "round $round: $missing committed readings lost"
	[ -s "$T/seen.$round" ] || fail "round $round: nothing committed before the kill"
done
dups=$(lib_sql "$db" "SELECT count(*) - count(DISTINCT id) FROM readings")
[ "$dups" = 0 ] || fail "$dups duplicate ids"
echo "ok: $(wc -l <"$T/after.6") readings survived 6 kills"
