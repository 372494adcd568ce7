#!/usr/bin/env bash
# The fault matrix: one agent (sim ingest, HTTP push answered 204 once
# committed, uploads over HTTPS to the test collector) lives through every
# fault in turn: collector gone, DNS, three TLS refusals, a 5xx storm, 429
# with Retry-After, a hang, a reset mid-body, a trickle, a full disk, the
# wall clock thrown back to 2000 and forward a day, and a SIGHUP storm half
# of it with a bad config. For each: the process stays up, /health says
# what is wrong (uplink state, failing layer, breaker, message, store mode,
# clock), and once healed the backlog drains and every acknowledged
# reading is at the collector under its id. A matrix is printed at the end.
# The agent runs under libfaketime throughout (its wall clock follows
# $T/faketime); test/tools/fault_ledger.py pushes and keeps the accounts.
. "$(dirname "$0")/lib.sh"
# libfaketime is preloaded: a sanitizer build must not insist on coming
# first in the library list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
lib_init
t_begin=$(date +%s.%N)
faketime_lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
[ -n "$faketime_lib" ] || fail "libfaketime missing (apt-get install faketime)"
ledger() { python3 "$OUTPOST_SRCDIR/test/tools/fault_ledger.py" "$@"; }
now() { date +%s.%N; }

lib_make_certs "$T/certs"
# A certificate for localhost from a CA the agent does not know.
(
	cd "$T/certs" || exit 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout stranger.key -out stranger.csr -subj /CN=stranger 2>/dev/null
	printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >stranger.ext
	openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key \
		-CAcreateserial -out stranger.pem -days 30 -extfile stranger.ext 2>/dev/null
) || fail "stranger certificate"
coll_args=(--cert "$T/certs/server.pem" --key "$T/certs/server.key"
	--cert-dir "$T/certs" --request-log "$T/requests.jsonl" --trickle-delay 0.3)
# A port outside the ephemeral range: the collector comes back on it.
lib_start_collector coll --port "$(lib_free_port)" "${coll_args[@]}"
cport=$COLLECTOR_PORT
base="https://localhost:$cport"

port=$(lib_free_port)
hurl="http://127.0.0.1:$port"
db="$T/data/outpost.db"
# write_config HOST MAX_PAGES [EXTRA_TOML]: written aside, then renamed, so
# a SIGHUP never reads half a file.
write_config() {
	LIB_CLOUD=$(lib_cloud_toml "https://$1:$cport/v1/batches" |
		sed 's/^timeout = .*/timeout = 1/')
	cat >"$T/next.toml" <<CONF
[agent]
id = "fault-agent"
data_dir = "$T/data"

[logging]
level = "info"
format = "json"

[store]
commit_interval = 0.05
pressure_interval = 0.2
max_pages = $2

[health]
listen = "127.0.0.1:$port"

[clock]
check_interval = 0.2

$LIB_CLOUD

[[device]]
name = "sim"
type = "sim"
sensor = "temp.sim"
unit = "celsius"
interval = 0.1
waveform = "sine"
min = 2
max = 6
period = 10

[[device]]
name = "push"
type = "http"
mode = "push"
sensor = "push.level"
priority = "critical"
buffer = 500
${3:-}
CONF
	mv "$T/next.toml" "$T/outpost.toml"
}
write_config localhost 0

echo "+0" >"$T/faketime"
FAKETIME_TIMESTAMP_FILE="$T/faketime" FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$faketime_lib" \
	lib_start_agent "$T/outpost.toml"
lib_wait_http "$hurl/health/live"
# Not through ledger(): $! must be the pusher itself, to stop it.
python3 "$OUTPOST_SRCDIR/test/tools/fault_ledger.py" push \
	--url "$hurl/ingest?device=push" --acked "$T/acked.bg" \
	--stats "$T/pusher.stats" --refused "$T/refused.jsonl" >>"$T/pusher.log" 2>&1 &
pusher=$!
lib_track $pusher
: >"$T/acked.burst"

# health FIELD...: one /health document, the fields tab-separated (H).
health() {
	H=$(curl -s --max-time 5 "$hurl/health" | ledger fields "$@") ||
		H=""
}
# The layer a refused connect must report on this host: link when there
# are interfaces besides loopback and none has a carrier, else tcp.
tcp_layer="tcp"
for c in /sys/class/net/*/carrier; do
	[ "$c" = /sys/class/net/lo/carrier ] || [ ! -e "$c" ] && continue
	tcp_layer="link"
	[ "$(cat "$c" 2>/dev/null)" = 1 ] && { tcp_layer="tcp"; break; }
done

check() {	# [ledger check args]: sets ACKED CASE_ACKED MISSING REPLAYS
	set -- $(ledger check --agent fault-agent --device push \
		--sensor push.level --collector "$T/coll.jsonl" "$@" \
		"$T/acked.bg" "$T/acked.burst")
	ACKED=${1#*=} CASE_ACKED=${2#*=} MISSING=${3#*=} REPLAYS=${4#*=}
}

MATRIX=""
# case_begin NAME: the case's clocks and collector position.
case_begin() {
	CASE=$1
	kill -0 "$AGENT_PID" 2>/dev/null || fail "$CASE: agent not running"
	case_t0=$(now)
	echo "$case_t0 $CASE" >>"$T/cases.log"
	case_line=$(wc -l <"$T/coll.jsonl" 2>/dev/null || echo 0)
}

# seen COND_FN DEADLINE: waits until /health shows the fault; SEEN is the
# matrix's summary of what it showed.
seen() {
	lib_wait_until "$2" "$1"
	kill -0 "$AGENT_PID" 2>/dev/null || fail "$CASE: agent died"
}

# uplink_error LAYER PATTERN [BREAKER]: state error, that layer, that
# message (and that breaker state). Whatever the state, the breaker must
# agree with the failure count (failure_threshold = 3), and an open
# breaker must make the status degraded, saying why.
uplink_error() {
	health connection.state connection.last_error.layer \
		connection.last_error.message breaker.state status \
		connection.consecutive_failures reasons
	IFS=$'\t' read -r st layer msg br status cf reasons <<<"$H"
	case "$cf/$br" in
	[012]/closed | [3-9]/open | [3-9]/half_open | [1-9][0-9]*/open | \
	[1-9][0-9]*/half_open) ;;
	"/" | -/-) return 1 ;;	# no answer from /health this time
	*) fail "$CASE: breaker $br after $cf consecutive failures" ;;
	esac
	if [ "$br" = open ] && { [ "$status" != degraded ] ||
		! echo "$reasons" | grep -q "uplink breaker open"; }; then
		fail "$CASE: breaker open, status $status, reasons $reasons"
	fi
	[ "$st" = error ] && [ "$layer" = "$1" ] &&
		echo "$msg" | grep -qi -- "$2" && [ "$br" = "${3:-$br}" ] ||
		return 1
	msg=${msg//localhost:$cport/C}
	msg=${msg//127.0.0.1:$cport/C}
	[ "${#msg}" -gt 60 ] && msg=${msg##*: }
	msg=${msg#The certificate }
	msg=${msg/no complete response from C/no complete response}
	SEEN="$st/$layer/$br($cf): $msg"
}

# Drained: every reading acknowledged before the heal is at the collector,
# the queue is back to what a 0.2 s flush leaves, the uplink connected.
drained() {
	check --upto "$heal_t" --after "$case_t0" --since-line "$case_line"
	[ "$MISSING" = 0 ] || return 1
	health connection.state breaker.state connection.consecutive_failures \
		queue.pending store.mode clock.trusted
	IFS=$'\t' read -r st br cf pending mode trusted <<<"$H"
	[ "$st" = connected ] && [ "$br" = closed ] && [ "$cf" = 0 ] &&
		[ "$pending" -le 25 ] && [ "$mode" = normal ] && [ "$trusted" = True ]
}

# case_end REPLAYS_ALLOWED: waits for the drain, adds the matrix row.
# Replays (ids the collector got again) are allowed only where an answer
# can be lost after the collector stored the batch: it is killed, it
# trickles past the timeout, or a reload (SIGHUP) cancels the request in
# flight. Elsewhere one is a bug.
case_end() {
	local d deadline=$(($(date +%s) + 40 * ${OUTPOST_TIME_SCALE:-1}))
	until drained; do
		[ "$(date +%s)" -ge "$deadline" ] &&
			fail "$CASE: not drained after 40 s: $MISSING acknowledged" \
				"readings missing at the collector; health: $H"
		sleep 0.1
	done
	d=$(python3 -c "import time; print('%.1f' % (time.time() - $heal_t))")
	kill -0 "$AGENT_PID" 2>/dev/null || fail "$CASE: agent died"
	# Ingest does not wait for the uplink: pushes were acknowledged
	# during the fault too.
	[ "$CASE_ACKED" -gt 0 ] || fail "$CASE: no push acknowledged during the fault"
	if [ "$1" = no ] && [ "$REPLAYS" != 0 ]; then
		fail "$CASE: $REPLAYS ids uploaded again though every answer arrived"
	fi
	MATRIX="$MATRIX$(printf '%-15s| %-72s| %7s | %5ss | %5s | %s | %s' \
		"$CASE" "$SEEN" "$BACKLOG" "$d" "$CASE_ACKED" "$MISSING" "$REPLAYS")"$'\n'
	echo "case $CASE: $SEEN; drained in ${d}s" >&2
}
# heal: the moment the fault goes; BACKLOG is what waits for the uplink.
heal() {
	health queue.pending queue.in_flight
	BACKLOG=$(echo "$H" | awk -F'\t' '{ print $1 + $2 }')
	heal_t=$(now)
	echo "$heal_t heal" >>"$T/cases.log"
}

# Let a few batches go up first.
warm() { check; [ "$ACKED" -ge 10 ] && [ "$MISSING" = 0 ]; }
lib_wait_until 20 warm

# --- collector gone: connection refused -----------------------------------
case_begin refused
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
refused() {
	uplink_error "$tcp_layer" "refused\|no carrier" open &&
		[ "$status" = degraded ]
}
seen refused 15
heal
python3 "$OUTPOST_SRCDIR/test/tools/collector.py" --port "$cport" \
	--store "$T/coll.jsonl" --stats "$T/coll.stats" "${coll_args[@]}" \
	>>"$T/coll.log" 2>&1 &
COLLECTOR_PID=$!
lib_track $!
case_end maybe

# --- DNS: the collector's name does not resolve (reloaded config) ---------
case_begin dns
write_config outpost-collector.invalid 0
kill -HUP "$AGENT_PID"
dns() {
	uplink_error dns \
		"resolve outpost-collector.invalid: .*\(not known\|timed out\|fail\)" open
}
seen dns 15
heal
write_config localhost 0
kill -HUP "$AGENT_PID"
case_end maybe

# --- TLS: unknown CA, another host name, expired --------------------------
tls_case() {	# NAME CERT PATTERN
	local n
	case_begin "$1"
	mode_t=$(now)
	lib_collector_mode "$base" "tls:$2"
	tls() { uplink_error tls "$tls_pattern" open; }
	tls_pattern=$3
	seen tls 15
	heal
	lib_collector_mode "$base" ok
	n=$(ledger gaps --log "$T/requests.jsonl" --since "$mode_t" --mode "tls:$2")
	[ "${n%% *}" = n=0 ] || fail "$1: a request got through: $n"
	grep -q "\"tls_failure\".*\"tls:$2\"" "$T/requests.jsonl" ||
		fail "$1: the collector saw no failed handshake"
	case_end no
}
tls_case tls-unknown-ca stranger "not correctly signed by the trusted CA"
tls_case tls-wrong-host wronghost "Common Name (CN) does not match"
tls_case tls-expired expired "validity has expired"

# --- 5xx storm: the breaker opens and bounds the attempts ----------------
case_begin 5xx-storm
mode_t=$(now)
lib_collector_mode "$base" status:503
storm() {
	uplink_error http "HTTP 503 from the collector" open &&
		[ "$status" = degraded ]
}
seen storm 15
sleep 3
heal
lib_collector_mode "$base" ok
set -- $(ledger gaps --log "$T/requests.jsonl" --since "$mode_t" --mode status:503)
n=${1#n=}
# Three failures open the breaker; then one probe per recovery_timeout (1 s).
w=$(python3 -c "print(round($heal_t - $mode_t, 1))")
max=$(python3 -c "import math; print(3 + math.ceil($w) + 1)")
[ "$n" -ge 3 ] && [ "$n" -le "$max" ] ||
	fail "5xx storm: $n attempts in $w s (3..$max expected)"
SEEN="$SEEN; $n tries in ${w}s"
case_end no

# --- 429 with Retry-After: 2 ----------------------------------------------
case_begin 429-retry-after
mode_t=$(now)
lib_collector_mode "$base" retry-after:2
slow_down() {
	uplink_error http "HTTP 429" || return 1
	health connection.next_attempt_in_s
	python3 -c "import sys; sys.exit(0 if float('$H') >= 1.0 else 1)" 2>/dev/null
}
seen slow_down 15
two_tries() {
	set -- $(ledger gaps --log "$T/requests.jsonl" --since "$mode_t" --mode retry-after:2)
	[ "${1#n=}" -ge 2 ]
}
lib_wait_until 15 two_tries
heal
lib_collector_mode "$base" ok
set -- $(ledger gaps --log "$T/requests.jsonl" --since "$mode_t" --mode retry-after:2)
python3 -c "import sys; sys.exit(0 if ${2#min_gap=} >= 1.9 else 1)" ||
	fail "429: the agent came back after ${2#min_gap=} s, not after Retry-After: 2"
SEEN="$SEEN; next after ${2#min_gap=}s"
case_end no

# --- hang, reset mid-body, trickle ----------------------------------------
case_begin hang
lib_collector_mode "$base" hang
hang() { uplink_error http "no complete response .* within 1.0 s (0 bytes" open; }
seen hang 15
heal
lib_collector_mode "$base" ok
case_end no

case_begin reset
lib_collector_mode "$base" reset
reset() { uplink_error tcp "read from .*: connection reset" open; }
seen reset 15
heal
lib_collector_mode "$base" ok
case_end no

case_begin trickle
lib_collector_mode "$base" trickle
# Bytes came, too slowly: not a hang.
trickle() { uplink_error http "no complete response .* within 1.0 s ([1-9]" open; }
seen trickle 15
heal
lib_collector_mode "$base" ok
# The collector kept batches whose answer never arrived: sent again.
case_end maybe

# --- disk full: max_pages just above the store's size ---------------------
case_begin disk-full
# The uplink is down too, so the store fills with what waits for it.
lib_collector_mode "$base" status:503
pages=$(lib_sql "$db" 'PRAGMA page_count')
write_config localhost $((pages + 40))
kill -HUP "$AGENT_PID"
pad=$(printf 'x%.0s' $(seq 1 60))
v=10000000
refused_push=""
for i in $(seq 1 150); do
	# Eighths of a second, exact in binary (fault_ledger.py push does it too).
	e=$(($(date +%s%N) / 125000000))
	ts=$((e / 8)).$(printf '%03d' $((e % 8 * 125)))
	{
		printf '['
		seq -f "{\"value\":%.0f,\"ts\":$ts,\"meta\":{\"pad\":\"$pad\"}}" \
			"$v" $((v + 99)) | paste -sd, -
		printf ']'
	} >"$T/body"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X POST \
		-H 'Content-Type: application/json' --data-binary @"$T/body" \
		"$hurl/ingest?device=push")
	if [ "$code" != 204 ]; then
		refused_push=$code
		break
	fi
	t=$(now)
	seq -f "{\"v\":%.0f,\"ts\":$ts,\"t\":$t}" "$v" $((v + 99)) >>"$T/acked.burst"
	v=$((v + 100))
done
[ -n "$refused_push" ] || fail "disk-full: 150 pushes and the store never filled"
full() {
	health store.full store.mode status reasons queue.shed_total
	IFS=$'\t' read -r isfull mode status reasons shed <<<"$H"
	[ "$isfull" = True ] && [ "$mode" = degraded ] && [ "$status" = degraded ] &&
		echo "$reasons" | grep -q "store full" || return 1
	# 000: the push was held, unanswered (not acknowledged) for 3 s.
	SEEN="store full, mode $mode, status $status; push"
	SEEN="$SEEN $([ "$refused_push" = 000 ] && echo held || echo "$refused_push"); shed $shed"
}
seen full 15
heal
write_config localhost 0
kill -HUP "$AGENT_PID"
lib_collector_mode "$base" ok
case_end maybe

# --- the wall clock: back to 2000 (an RTC reset), then forward a day -----
case_begin clock-2000
unsynced0=$(curl -s "$hurl/health" | ledger fields clock.stamped_unsynced)
corrected0=$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'clock_corrected'")
echo "-$(( $(date +%s) - 946684800 ))" >"$T/faketime"
untrusted() {
	health clock.trusted status reasons clock.stamped_unsynced
	IFS=$'\t' read -r trusted status reasons unsynced <<<"$H"
	[ "$trusted" = False ] && [ "$status" = degraded ] &&
		echo "$reasons" | grep -q "not trusted" &&
		[ "$unsynced" -ge $((unsynced0 + 10)) ] || return 1
	SEEN="clock untrusted, degraded, $((unsynced - unsynced0)) stamped unsynced"
}
seen untrusted 15
heal
echo "+0" >"$T/faketime"
corrected() {
	[ "$(lib_sql "$db" "SELECT count(*) FROM readings WHERE synced <> 1")" = 0 ] &&
		[ "$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'clock_corrected'")" -gt "$corrected0" ]
}
lib_wait_until 15 corrected
case_end no

case_begin clock-jumps
processed() { curl -s "$hurl/health" | ledger fields readings_processed connection.records_sent; }
# jump OFFSET: after it, readings are committed and uploaded again.
jump() {
	local p0 s0 p1 s1
	read -r p0 s0 <<<"$(processed)"
	echo "$1" >"$T/faketime"
	goes_on() {
		read -r p1 s1 <<<"$(processed)"
		[ "$p1" -ge $((p0 + 10)) ] && [ "$s1" -gt "$s0" ]
	}
	lib_wait_until 10 goes_on
	health clock.trusted
	[ "$H" = True ] || fail "clock-jumps: not trusted after $1"
}
jump +1d
jump +0
SEEN="trusted; +1 d and back: ingest, uploads went on"
heal
case_end no

# --- SIGHUP storm: 200 reloads, the last 100 with a bad config ------------
case_begin sighup-storm
reloads() {
	curl -s "$hurl/metrics" | awk '/^outpost_config_reloads_total /{print $2}'
}
r0=$(reloads)
for i in $(seq 1 200); do
	if [ "$i" = 101 ]; then
		# A device that must never appear, and a key that does not exist.
		write_config localhost 0 '
[[device]]
name = "ghost"
type = "sim"
sensor = "ghost"
no_such_key = 1'
	fi
	kill -HUP "$AGENT_PID" || fail "sighup-storm: agent gone at signal $i"
	sleep 0.01
done
settled() { grep -q "reload refused: .*outpost.toml:[0-9]*: unknown key 'no_such_key'" "$T/agent.log"; }
lib_wait_until 15 settled
storm_kept() {
	health adapters.0.name adapters.1.name adapters.2.name
	[ "$H" = $'sim\tpush\t-' ]
}
lib_wait_until 10 storm_kept
r1=$(reloads)
[ "$r1" -gt "$r0" ] || fail "sighup-storm: no reload done ($r0 -> $r1)"
heal
# A good config again: taken at once.
write_config localhost 0 '
[[device]]
name = "sim2"
type = "sim"
sensor = "temp.sim2"
interval = 0.5'
kill -HUP "$AGENT_PID"
new_config() {
	health adapters.2.name
	[ "$H" = sim2 ]
}
lib_wait_until 10 new_config
r2=$(reloads)
audited=$(lib_sql "$db" "SELECT count(*) FROM audit WHERE kind = 'reload'")
[ "$audited" = "$r2" ] || fail "sighup-storm: $r2 reloads, $audited audit rows"
SEEN="up; $((r1 - r0)) reloads, bad one kept old; $audited audited"
case_end maybe

# --- the end: every acknowledged reading at the collector, once -----------
kill "$pusher"
wait "$pusher" 2>/dev/null
heal
all_there() { check; [ "$MISSING" = 0 ]; }
lib_wait_until 30 all_there
lib_stop_agent TERM
[ "$AGENT_RC" = 0 ] || fail "stop: $AGENT_RC"
[ "$(lib_sql "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
twice=$(lib_sql "$db" "SELECT count(*) - count(DISTINCT id) FROM readings")
[ "$twice" = 0 ] || fail "$twice readings stored twice"
unique=$(lib_collector_ids coll | wc -l)
wall=$(python3 -c "import time; print('%.0f' % (time.time() - $t_begin))")
printf '%-15s| %-72s| %7s | %6s | %5s | %s | %s\n' case "health seen" backlog drained \
	acked lost replays
printf '%s' "$MATRIX"
echo "ok: $ACKED acknowledged readings all at the collector ($unique ids in all)," \
	"none stored twice; agent up through $(printf '%s' "$MATRIX" | wc -l) faults; ${wall}s"
