#!/usr/bin/env bash
# GET / on the health port in a real headless Chromium: the page shows the
# running agent's live values once its script ran, renders to a screenshot
# that is not blank, logs nothing to the console, and without JavaScript
# still carries the values (server-rendered), under 30 KB, self-contained;
# the largest page (a full hour of history, more devices than it lists)
# stays under 30 KB too.
. "$(dirname "$0")/lib.sh"
lib_init

command -v chromium >/dev/null || fail "chromium is missing (apt-get install chromium)"
command -v sqlite3 >/dev/null || fail "sqlite3 is missing"

port=$(lib_free_port)
lib_write_config "$T/outpost.toml" "$port" <<'EOF2'
EOF2
# Samples every 0.2 s, so the chart has points within a second.
sed -i 's/^\[health\]$/[health]\nhistory_interval = 0.2/' "$T/outpost.toml"
lib_start_agent "$T/outpost.toml"
base="http://127.0.0.1:$port"
lib_wait_http "$base/health/live"
pending() {
	curl -sf "$base/health" | lib_json queue.pending
}
has_backlog() {
	[ "$(pending)" -gt 20 ]
}
lib_wait_until 10 has_backlog

# A rule event whose name needs escaping, as a rule engine could store it.
lib_sql "$T/data/outpost.db" "INSERT INTO events (id, rule, kind, device,
	sensor, ts, value, severity, priority) VALUES (randomblob(32),
	'hot<b>&\"x''', 'fire', 'hold', 'temp.hold', strftime('%s', 'now'),
	31.5, 0, 0)" || fail "cannot insert an event"

# --- the page without JavaScript: curl ------------------------------------
before=$(pending)
curl -sf -D "$T/page.hdr" -o "$T/page.html" "$base/" || fail "GET / failed"
after=$(pending)
size=$(stat -c %s "$T/page.html")
echo "page: $size bytes"
[ "$size" -lt 30720 ] || fail "page is $size bytes, not under 30 KB"
[ "$size" -gt 4000 ] || fail "page is only $size bytes"
grep -qi '^content-type: text/html; charset=utf-8' "$T/page.hdr" ||
	fail "content type: $(cat "$T/page.hdr")"
grep -qi "^content-security-policy: default-src 'none'" "$T/page.hdr" ||
	fail "no CSP header"
# Self-contained: nothing fetched from elsewhere.
if grep -qiE 'https?://|src=|@import|url\(' "$T/page.html"; then
	fail "external reference: $(grep -oiE '.{30}(https?://|src=|@import|url\().{30}' "$T/page.html" | head -3)"
fi
python3 - "$T/page.html" "$before" "$after" <<'PY' || fail "server-rendered page"
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
lo, hi = int(sys.argv[2]), int(sys.argv[3])
def value(key):
    m = re.search(r'data-k="%s"[^>]*>([^<]*)<' % re.escape(key), page)
    assert m, "no %s in the page" % key
    return m.group(1)
assert value("agent_id") == "test-agent", value("agent_id")
assert value("status") == "healthy", value("status")
assert value("connection.state") == "disabled", value("connection.state")
n = int(value("queue.pending").replace("\u2009", ""))
assert lo <= n <= hi, "pending %d not within /health's %d..%d" % (n, lo, hi)
for name in ("hold", "engine", "system"):
    assert re.search(r'</span>%s</td><td>(sim|system)</td>' % name, page), name
# The event: escaped once, never raw markup.
assert "hot&lt;b&gt;&amp;&#34;x&#39;" in page, "event name not escaped"
assert "hot<b>" not in page
# The chart was drawn by the server from the history.
svg = re.search(r'<svg id="qc"[^>]*>(.*?)</svg>', page, re.S).group(1)
assert svg.count("<polygon") == 4, svg[:200]
print("no-js page: pending %d (health %d..%d)" % (n, lo, hi))
PY

# /health/history: the chart's data and the recent events.
curl -sf "$base/health/history" >"$T/history.json" || fail "GET /health/history"
python3 - "$T/history.json" <<'PY' || fail "history document: $(head -c 400 "$T/history.json")"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["interval_s"] == 0.2 and h["capacity"] == 120, h
n = len(h["ts"])
assert n >= 3, n
for k in ("critical", "high", "normal", "low", "oldest_age_s",
          "readings_per_s", "rss_bytes"):
    assert len(h[k]) == n, k
assert h["ts"] == sorted(h["ts"]) and h["now"] >= h["ts"][-1], h["ts"]
assert h["normal"][-1] > 0 and h["rss_bytes"][-1] > 1000000, h
assert max(h["readings_per_s"]) > 0, h["readings_per_s"]
assert h["events"][0]["rule"] == "hot<b>&\"x'", h["events"]
assert h["events"][0]["severity"] == "critical", h["events"]
PY

# --- headless Chromium ------------------------------------------------------
chrome() {
	HOME="$T" timeout 90 chromium --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync \
		--disable-features=Translate,MediaRouter \
		--user-data-dir="$T/chrome" --enable-logging=stderr --v=0 \
		--virtual-time-budget=3000 "$@"
}

# (1) The DOM once the script ran: live values from /health.
before=$(pending)
chrome --dump-dom "$base/" >"$T/dom.html" 2>"$T/chrome-dom.log" ||
	fail "chromium --dump-dom failed: $(tail -5 "$T/chrome-dom.log")"
after=$(pending)
python3 - "$T/dom.html" "$before" "$after" <<'PY' || fail "live DOM"
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
lo, hi = int(sys.argv[2]), int(sys.argv[3])
def value(key):
    m = re.search(r'data-k="%s"[^>]*>([^<]*)<' % re.escape(key), dom)
    assert m, "no %s in the DOM" % key
    return m.group(1)
# The script replaced the server's "reload to refresh" note.
m = re.search(r'<span id="live"[^>]*>([^<]*)<', dom)
assert m and m.group(1).startswith("live \u00b7 updated"), m and m.group(1)
assert value("agent_id") == "test-agent"
assert value("status") == "healthy"
n = int(value("queue.pending").replace("\u2009", ""))
assert lo <= n <= hi, "pending %d not within /health's %d..%d" % (n, lo, hi)
rows = re.search(r'<tbody id="ad">(.*?)</tbody>', dom, re.S).group(1)
for name in ("hold", "engine", "system"):
    assert "</span>%s</td>" % name in rows, name
assert rows.count('class="s-ok"') == 3, rows
ev = re.search(r'<tbody id="ev">(.*?)</tbody>', dom, re.S).group(1)
assert "hot&lt;b&gt;&amp;\"x'" in ev and "<b>" not in ev, ev
svg = re.search(r'<svg id="qc"[^>]*>(.*?)</svg>', dom, re.S).group(1)
assert svg.count("<polygon") == 4, svg[:200]
print("live DOM: pending %d (health %d..%d)" % (n, lo, hi))
PY

# (2) A screenshot: right size, not blank.
chrome --screenshot="$T/page.png" --window-size=1200,900 "$base/" \
	2>"$T/chrome-shot.log" >/dev/null || fail "chromium --screenshot failed"
[ -s "$T/page.png" ] || fail "no screenshot"
shot=$(stat -c %s "$T/page.png")
echo "screenshot: $shot bytes"
[ "$shot" -gt 30000 ] || fail "screenshot only $shot bytes"
python3 - "$T/page.png" <<'PY' || fail "screenshot looks blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[:4]
assert (w, h) == (1200, 900), (w, h)
assert depth == 8 and ctype in (2, 6), hdr
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, colours, counts = bytearray(stride), set(), {}
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1:
            line[i] = (line[i] + a) & 255
        elif f == 2:
            line[i] = (line[i] + b) & 255
        elif f == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[i] = (line[i] + pr) & 255
    prev = line
    if y % 3 == 0:
        for x in range(0, stride, bpp * 2):
            px = bytes(line[x:x + 3])
            counts[px] = counts.get(px, 0) + 1
total = sum(counts.values())
top = max(counts.values()) / total
# Text, the status badge, the chart's four colours: many colours, and no
# single one (the background) covering nearly everything.
assert len(counts) > 100, "only %d colours" % len(counts)
assert top < 0.85, "one colour covers %.0f%%" % (top * 100)
for rgb, name in (((0x3a, 0x7b, 0xd5), "normal (chart)"),
                  ((0x17, 0x91, 0x5a), "healthy (badge)")):
    assert bytes(rgb) in counts, "no %s colour" % name
print("screenshot: %d colours, background %.0f%%" % (len(counts), top * 100))
PY
# Kept next to the build for a human look.
if [ -n "${OUTPOST_BUILDDIR:-}" ] && [ -d "$OUTPOST_BUILDDIR" ]; then
	cp "$T/page.png" "$OUTPOST_BUILDDIR/status_page.png"
fi

# (3) No console output at all: errors, CSP refusals, failed fetches.
for log in "$T"/chrome-*.log; do
	if grep -E ':CONSOLE|Uncaught|Refused to' "$log"; then
		fail "console messages in $(basename "$log")"
	fi
done

lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"

# --- the largest page: a full hour of history, 43 long-named devices ------
port=$(lib_free_port)
base="http://127.0.0.1:$port"
{
	for i in $(seq -w 1 40); do
		printf '[[device]]\nname = "%s%s"\ntype = "sim"\n' \
			"a-device-name-as-long-as-the-config-allows-" "$i"
		printf 'sensor = "s.%s"\ninterval = 1\n' "$i"
	done
} | lib_write_config "$T/big.toml" "$port"
sed -i 's/^\[health\]$/[health]\nhistory_interval = 0.1/' "$T/big.toml"
sed -i "s#$T/data#$T/data-big#" "$T/big.toml"
lib_start_agent "$T/big.toml"
lib_wait_http "$base/health/live"
full_history() {
	[ "$(curl -sf "$base/health/history" | lib_json ts | tr ',' '\n' | wc -l)" = 120 ]
}
lib_wait_until 30 full_history
curl -sf -o "$T/big.html" "$base/" || fail "GET / (big)"
size=$(stat -c %s "$T/big.html")
echo "largest page: $size bytes"
[ "$size" -lt 30720 ] || fail "the largest page is $size bytes, not under 30 KB"
python3 - "$T/big.html" <<'PY' || fail "largest page"
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
rows = re.search(r'<tbody id="ad">(.*?)</tbody>', page, re.S).group(1)
shown = rows.count("<tr><td><span")
assert 0 < shown <= 24, shown
assert "and %d more in /health" % (43 - shown) in rows, rows[-200:]
svg = re.search(r'<svg id="qc"[^>]*>(.*?)</svg>', page, re.S).group(1)
polys = re.findall(r'points="([^"]*)"', svg)
assert len(polys) == 4 and all(len(p.split()) == 122 for p in polys), \
    [len(p.split()) for p in polys]
print("largest page: %d device rows, %d chart points" % (shown, 120))
PY
chrome --dump-dom "$base/" >"$T/big-dom.html" 2>"$T/chrome-big.log" ||
	fail "chromium on the largest page"
grep -q 'and 19 more in /health' "$T/big-dom.html" || fail "script's device rows"
if grep -E ':CONSOLE|Uncaught|Refused to' "$T/chrome-big.log"; then
	fail "console messages on the largest page"
fi
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
echo ok
