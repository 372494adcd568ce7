#!/usr/bin/env bash
# Every integration scenario (or those matching REGEX) with each agent
# process under valgrind memcheck, in a -O1 -g build without sanitizers;
# then one line per scenario: processes checked, errors, bytes definitely
# and indirectly lost, processes killed before valgrind could summarise
# (kill -9 on purpose, or a timeout), and the scenario's own result.
#
#   test/valgrind.sh [BUILD_DIR] [REGEX|quick]   (default build-valgrind, all)
#
# "quick" is the core set CI runs (about a minute on 2 cores): start and
# stop, config errors, reload, health and metrics, HTTP push, TLS uploads
# through nginx, an outage, storage pressure, retention.
#
# Exit 0 only when no process reported an error or a definite or indirect
# leak. Scenarios that fail only because valgrind is slow are listed but do
# not fail the run: their processes are checked all the same.
#   VALGRIND_JOBS   parallel scenarios (default 2; the machine has 2 cores)
#   VALGRIND_SCALE  multiplier for the scenarios' wait deadlines (default 5)
#   VALGRIND_SKIP   regex of scenarios to leave out (default none)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-valgrind}
regex=${2:-}
[ "$regex" = quick ] && regex='^integration/(agent_lifecycle|check_config|reload|metrics_promtool|http_push|uplink_nginx|uplink_outage|storage_pressure|retention)$'
jobs=${VALGRIND_JOBS:-2}
out=$build/valgrind

command -v valgrind >/dev/null || { echo "valgrind not installed" >&2; exit 2; }
mkdir -p "$build"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g -fno-omit-frame-pointer" \
	-DOUTPOST_SANITIZE=OFF -DOUTPOST_FUZZ=OFF -DOUTPOST_LTO=OFF \
	>"$build/valgrind-cmake.log" 2>&1 ||
	{ cat "$build/valgrind-cmake.log" >&2; exit 2; }
ninja -C "$build" outpost >"$build/valgrind-ninja.log" 2>&1 ||
	{ tail -30 "$build/valgrind-ninja.log" >&2; exit 2; }

rm -rf "$out"
mkdir -p "$out"
# One log per process, named after the scenario lib.sh exports. Children
# the agent forks (rule actions) exec at once: nothing to check there.
export OUTPOST_WRAPPER="valgrind --leak-check=full \
--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
--num-callers=30 --child-silent-after-fork=yes \
--log-file=$out/%q{LIB_SCENARIO}.%p.log"
export OUTPOST_TIME_SCALE=${VALGRIND_SCALE:-5}

args=(--test-dir "$build" -L integration -j "$jobs" --output-on-failure)
[ -n "$regex" ] && args+=(-R "$regex")
[ -n "${VALGRIND_SKIP:-}" ] && args+=(-E "$VALGRIND_SKIP")
start=$(date +%s)
ctest "${args[@]}" >"$out/ctest.log" 2>&1
echo "ctest: $(grep -E 'tests passed|tests failed' "$out/ctest.log")" \
	"in $(($(date +%s) - start)) s; logs in $out" >&2

python3 - "$out" <<'PY'
import glob, os, re, sys
out = sys.argv[1]
failed = set(re.findall(r"integration/(\w+) \((?:Failed|Timeout|SEGFAULT|"
                        r"Subprocess aborted|Not Run)",
                        open(os.path.join(out, "ctest.log")).read()))
ran = set(re.findall(r"Test +#\d+: integration/(\w+) ",
                     open(os.path.join(out, "ctest.log")).read()))
# Error headers valgrind writes as they happen, so a process killed
# before its summary still shows them.
head = re.compile(r"^==\d+== (Invalid (read|write|free)|Conditional jump|"
                  r"Use of uninitialised|Syscall param|Mismatched free|"
                  r"Source and destination overlap|Argument .* fishy|"
                  r"Jump to the invalid)", re.M)
rows = {}
for path in sorted(glob.glob(os.path.join(out, "*.log"))):
    name = os.path.basename(path).rsplit(".", 2)[0]
    if name == "ctest":
        continue
    text = open(path, errors="replace").read()
    r = rows.setdefault(name, dict(procs=0, errors=0, definite=0,
                                   indirect=0, killed=0))
    r["procs"] += 1
    m = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
    if m:
        # The summary counts each definite or indirect loss record too.
        r["errors"] += int(m.group(1).replace(",", "")) - len(re.findall(
            r"are (definitely|indirectly) lost in loss record", text))
    else:
        r["killed"] += 1
        r["errors"] += len(head.findall(text))
    for kind in ("definite", "indirect"):
        m = re.search(kind + r"ly lost: ([\d,]+) bytes", text)
        if m:
            r[kind] += int(m.group(1).replace(",", ""))
print("| scenario | processes | errors | definitely lost B | "
      "indirectly lost B | killed before summary | scenario |")
print("|---|---|---|---|---|---|---|")
bad = 0
for name in sorted(ran | set(rows)):
    r = rows.get(name, dict(procs=0, errors=0, definite=0, indirect=0,
                            killed=0))
    bad += r["errors"] + r["definite"] + r["indirect"]
    print("| %s | %d | %d | %d | %d | %d | %s |" % (
        name, r["procs"], r["errors"], r["definite"], r["indirect"],
        r["killed"], "FAILED" if name in failed else "passed"))
sys.exit(1 if bad else 0)
PY
