#!/usr/bin/env bash
# conf/grafana/outpost.json against a real Prometheus scraping a real agent:
# the dashboard is well-formed (data source variable, job and agent
# selectors, panels on the grid without overlap), reads only metrics the
# agent exports, and every query returns data from the live scrape. The
# alert rules are loaded in the same Prometheus: all evaluate cleanly, and
# those of a dead collector and a dead input become pending.
. "$(dirname "$0")/lib.sh"
lib_init

command -v prometheus >/dev/null || fail "prometheus is missing (apt-get install prometheus)"
dash="$OUTPOST_SRCDIR/conf/grafana/outpost.json"
rules="$OUTPOST_SRCDIR/conf/prometheus/alerts.yml"

python3 - "$dash" "$OUTPOST_SRCDIR/src" <<'PY' || fail "dashboard structure"
import glob, json, re, sys
d = json.load(open(sys.argv[1]))
src = "".join(open(f).read() for f in glob.glob(sys.argv[2] + "/*.c"))
assert d["uid"] == "outpost-fleet" and d["title"], d.get("uid")
var = {v["name"]: v for v in d["templating"]["list"]}
assert var["datasource"]["type"] == "datasource", var["datasource"]
assert var["datasource"]["query"] == "prometheus"
for name in ("job", "instance"):
    assert var[name]["type"] == "query" and "outpost_info" in var[name]["definition"]
    assert var[name]["datasource"]["uid"] == "${datasource}"
ids, boxes, names = set(), [], set()
for p in d["panels"]:
    assert p["id"] not in ids, "duplicate panel id %d" % p["id"]
    ids.add(p["id"])
    g = p["gridPos"]
    assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, p["title"]
    for (x, y, w, h, t) in boxes:
        assert (g["x"] + g["w"] <= x or x + w <= g["x"] or
                g["y"] + g["h"] <= y or y + h <= g["y"]), \
            "%s overlaps %s" % (p["title"], t)
    boxes.append((g["x"], g["y"], g["w"], g["h"], p["title"]))
    assert p["datasource"]["uid"] == "${datasource}", p["title"]
    assert p["targets"], p["title"]
    for t in p["targets"]:
        assert t["datasource"]["uid"] == "${datasource}", p["title"]
        e = t["expr"]
        assert 'job=~"$job"' in e and 'instance=~"$instance"' in e, e
        names.update(re.findall(r"\b((?:outpost|process)_[a-z0-9_]+)", e))
unknown = sorted(n for n in names
                 if '"%s"' % re.sub(r"_bucket$", "", n) not in src)
assert not unknown, "not exported by the agent: %s" % unknown
# What the issue asks the dashboard to show.
for need in ("outpost_queue_pending", "outpost_queue_oldest_pending_age_seconds",
             "outpost_uploads_total", "outpost_uplink_breaker_state",
             "outpost_shed_total", "process_resident_memory_bytes",
             "outpost_readings_total"):
    assert need in names, "dashboard lacks %s" % need
print("%d panels, %d metrics" % (len(d["panels"]), len(names)))
PY

# An agent whose collector and one input are dead: every uplink and input
# family is exported, with errors to show.
port=$(lib_free_port)
dead=$(lib_free_port)
LIB_CLOUD="[cloud]
enabled = true
endpoint = \"http://127.0.0.1:$dead/v1/batches\"
insecure = true
batch_size = 50
flush_interval = 0.2
timeout = 1

[cloud.retry]
base_delay = 0.1
max_delay = 0.3

[cloud.breaker]
failure_threshold = 3
recovery_timeout = 60" lib_write_config "$T/outpost.toml" "$port" <<EOF2
[[device]]
name = "deck"
type = "mqtt"
url = "mqtt://127.0.0.1:$dead"
topics = ["deck/#"]
EOF2
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"

prom=$(lib_free_port)
cat >"$T/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $rules
scrape_configs:
  - job_name: outpost
    static_configs:
      - targets: ["127.0.0.1:$port"]
EOF2
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address="127.0.0.1:$prom" >"$T/prometheus.log" 2>&1 &
lib_track $!
lib_wait_http "http://127.0.0.1:$prom/-/ready" 30
scraped() {
	curl -sf "http://127.0.0.1:$prom/api/v1/query" \
		--data-urlencode 'query=count_over_time(outpost_info[1m]) >= 12' |
		grep -q '"result":\[{'
}
lib_wait_until 40 scraped

python3 - "$dash" "http://127.0.0.1:$prom" <<'PY' || fail "dashboard queries: $(tail -5 "$T/prometheus.log")"
import json, sys, urllib.parse, urllib.request
d, base = json.load(open(sys.argv[1])), sys.argv[2]
def query(e):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": e})
    return json.load(urllib.request.urlopen(url, timeout=10))
# Grafana's variables as it would expand them for "All".
subst = {"$__rate_interval": "10s", "$job": "outpost", "$instance": ".*"}
empty_ok = ("outpost_tls_cert_expiry_seconds",)   # no TLS in this agent
n = 0
for p in d["panels"]:
    for t in p["targets"]:
        e = t["expr"]
        for k, v in subst.items():
            e = e.replace(k, v)
        r = query(e)
        assert r["status"] == "success", (p["title"], e, r)
        if not any(m in e for m in empty_ok):
            assert r["data"]["result"], "no data: %s: %s" % (p["title"], e)
        n += 1
# Values a live agent must show: the breaker open, uploads failing, the
# dead input down, the queue growing.
def value(e):
    return float(query(e)["data"]["result"][0]["value"][1])
assert value('max without (state) (outpost_uplink_breaker_state{state="open"}) * 2 + '
             'max without (state) (outpost_uplink_breaker_state{state="half_open"})') == 2
assert value('sum(outpost_uploads_total{result="error"})') >= 3
assert value('sum(outpost_queue_pending)') > 0
assert value('outpost_adapter_up{adapter="deck"}') == 0
print("%d dashboard queries answered" % n)
PY

python3 - "http://127.0.0.1:$prom" <<'PY' || fail "alert rules in Prometheus"
import json, sys, time, urllib.request
base = sys.argv[1]
def get(path):
    return json.load(urllib.request.urlopen(base + path, timeout=10))["data"]
rules = [r for g in get("/api/v1/rules")["groups"] for r in g["rules"]]
assert len(rules) == 14, len(rules)
bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
assert not bad, bad
want = {("OutpostAdapterDown", "deck"), ("OutpostBreakerOpen", None),
        ("OutpostUplinkDown", None)}
deadline = time.time() + 20
while True:
    alerts = get("/api/v1/alerts")["alerts"]
    got = {(a["labels"]["alertname"], a["labels"].get("adapter"))
           for a in alerts if a["state"] == "pending"}
    if want <= got or time.time() > deadline:
        break
    time.sleep(0.5)
assert want <= got, "pending: %s" % sorted(got)
# Nothing fires that should not: a healthy store, no shedding.
names = {a["labels"]["alertname"] for a in alerts}
assert not names & {"OutpostShedding", "OutpostCommitFailures",
                    "OutpostStorageCriticalOnly", "OutpostAgentDown"}, names
print("rules ok; pending: %s" % ", ".join(sorted(n for n, _ in got)))
PY

lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
echo ok
