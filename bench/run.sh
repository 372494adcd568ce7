#!/usr/bin/env bash
# Runs every benchmark against a Release build and prints the figures that
# bench/RESULTS.md records. Not part of the tests: figures, not assertions.
#   bench/run.sh [READINGS]     (default 1000000)
# The bench_*.sh scripts run with their defaults; the long ones:
# bench_backlog.sh (1M and 10M pending readings: about 10 minutes and
# 2 GB of disk) and bench_fleet.sh (100 agents, a 60 s outage, jitter on
# and off: about 8 minutes, ports 30000-30100).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
build=$top/build-bench
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DOUTPOST_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

echo "== ingest: pipeline + store vs raw SQLite (txn 100 and 1000)"
"$build/bench/bench_ingest" "$n" 100
"$build/bench/bench_ingest" "$n" 1000
echo "== store: insert, queue statistics, purge"
"$build/bench/bench_store" "$n"
echo "== uplink: drain a backlog over TLS"
"$top/bench/bench_uplink.sh" "$build" "$n"
for extra in "$top"/bench/bench_*.sh; do
	case $extra in */bench_uplink.sh) continue ;; esac
	echo "== $(basename "$extra")"
	"$extra" "$build"
done
echo "== binary"
strip -o "$build/outpost.stripped" "$build/outpost"
ls -l "$build/outpost.stripped" | awk '{print "stripped outpost: " $5 " bytes"}'
