#!/usr/bin/env bash
# conf/prometheus/alerts.yml: promtool accepts it, its unit tests (synthetic
# series in test/prometheus/alerts_test.yml) raise each alert when they
# should and not before, every alert has such a test, and every metric the
# rules read is one the agent exports.
. "$(dirname "$0")/lib.sh"
lib_init

command -v promtool >/dev/null || fail "promtool is missing (apt-get install prometheus)"
rules="$OUTPOST_SRCDIR/conf/prometheus/alerts.yml"
tests="$OUTPOST_SRCDIR/test/prometheus/alerts_test.yml"

promtool check rules "$rules" >"$T/check" 2>&1 || fail "promtool check rules: $(cat "$T/check")"
grep -q 'SUCCESS: 14 rules found' "$T/check" || fail "rule count: $(cat "$T/check")"

# The check is not a formality: a broken expression is refused.
sed 's/expr: up{job="outpost"} == 0/expr: up{job="outpost" == 0/' "$rules" >"$T/broken.yml"
cmp -s "$rules" "$T/broken.yml" && fail "could not break the rules for the negative check"
promtool check rules "$T/broken.yml" >"$T/check" 2>&1 && fail "promtool accepted a broken rule"

(cd "$OUTPOST_SRCDIR/test/prometheus" && promtool test rules alerts_test.yml) \
	>"$T/unit" 2>&1 || fail "promtool test rules: $(cat "$T/unit")"
grep -q SUCCESS "$T/unit" || fail "promtool test rules: $(cat "$T/unit")"

# A unit test that expects the wrong thing fails (the tests can fail).
mkdir -p "$T/neg/test/prometheus" "$T/neg/conf/prometheus"
cp "$rules" "$T/neg/conf/prometheus/"
sed 's/description: "a:8787 dropped about 120 records/description: "a:8787 dropped about 7 records/' \
	"$tests" >"$T/neg/test/prometheus/alerts_test.yml"
(cd "$T/neg/test/prometheus" && promtool test rules alerts_test.yml) >"$T/unit" 2>&1 &&
	fail "a wrong expectation passed: $(cat "$T/unit")"

python3 - "$rules" "$tests" "$OUTPOST_SRCDIR/src" <<'PY' || fail "rules and tests disagree"
import glob, re, sys
rules = open(sys.argv[1]).read()
tests = open(sys.argv[2]).read().splitlines()
src = "".join(open(f).read() for f in glob.glob(sys.argv[3] + "/*.c"))
alerts = re.findall(r"^\s*- alert: (\w+)$", rules, re.M)
assert len(alerts) == len(set(alerts)) == 14, alerts
# Every alert is expected to fire in at least one unit test.
fired, current = set(), None
for line in tests:
    m = re.match(r"\s*alertname: (\w+)$", line)
    if m:
        current = m.group(1)
    elif re.match(r"\s*- exp_labels:$", line):
        fired.add(current)
missing = set(alerts) - fired
assert not missing, "alerts never tested firing: %s" % sorted(missing)
assert not fired - set(alerts), "tests of unknown alerts: %s" % (fired - set(alerts))
# Every severity is one the routing knows.
sev = re.findall(r"^\s*severity: (\S+)$", rules, re.M)
assert len(sev) == 14 and set(sev) <= {"warning", "critical"}, sev
# Every metric read is exported by the agent (src/*.c), or Prometheus' up.
names = set(re.findall(r"\b((?:outpost|process)_[a-z0-9_]+)", "\n".join(
    re.findall(r"^\s*expr: (.*)$", rules, re.M))))
assert names, "no metric names found"
unknown = sorted(n for n in names if '"%s"' % n not in src)
assert not unknown, "not exported by the agent: %s" % unknown
print("%d alerts, all tested; metrics: %s" % (len(alerts), " ".join(sorted(names))))
PY
echo ok
