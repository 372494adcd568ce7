/*
 * GET / and GET /health/history: the operator's page. The values come from
 * the /health document itself (read back with SQLite's json_tree), so the
 * page and /health never disagree and fields added to /health later (store
 * mode) show up by name. The chart comes from the agent's history. Every
 * string from outside (config, adapters, events, errors) is HTML-escaped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <sqlite3.h>

#include "agent.h"
#include "health.h"
#include "history.h"
#include "json_out.h"
#include "reading.h"
#include "status_page.h"
#include "store.h"
#include "xmalloc.h"

#define STATUS_PAGE_MAX_BYTES 30000 /* a 2G link: the page stays under */
#define STATUS_PAGE_ROW_MAX 1500    /* one adapter row, escaped, at most */
#define STATUS_PAGE_ADAPTERS 24	    /* rows; the rest are counted */
#define STATUS_PAGE_EVENTS 10
#define STATUS_PAGE_CHART_W 600
#define STATUS_PAGE_CHART_H 150
#define STATUS_PAGE_SPARK_W 160
#define STATUS_PAGE_SPARK_H 32
#define STATUS_PAGE_DASH "\xe2\x80\x93"	  /* en dash: no value */
#define STATUS_PAGE_THIN "\xe2\x80\x89"	  /* thin space: digit groups */
#define STATUS_PAGE_REFRESH_S 5		  /* the script's /health poll */
#define STATUS_PAGE_NOSCRIPT_REFRESH_S 30 /* meta refresh without it */

enum status_page_type {
	SP_NULL,
	SP_BOOL,
	SP_NUM,
	SP_TEXT,
};

/* One leaf of the /health document: "queue.pending", "adapters[0].name". */
struct status_page_field {
	char *key;
	enum status_page_type type;
	double num;
	char *text; /* strings; numbers and booleans as SQLite prints them */
};

struct status_page {
	struct agent *agent;
	struct evbuffer *out;
	struct status_page_field *fields;
	size_t nfields;
	double now; /* Unix s, the render's one clock reading */
};

/* What a value looks like on the page; the script has the same set. */
enum status_page_format {
	SP_FMT_TEXT,	/* t */
	SP_FMT_NUM,	/* n: integer, thin-space digit groups */
	SP_FMT_BYTES,	/* b: B, KiB, MiB, ... */
	SP_FMT_DUR,	/* d: seconds as 42s, 3m 20s, 5h 2m, 2d 4h */
	SP_FMT_AGO,	/* a: Unix time as "3m 20s ago", or "never" */
	SP_FMT_PERCENT, /* p: 12.3% */
};

static const char status_page_format_codes[] = "tnbdap";

static const char *const status_page_event_states[] = { "queued", "in_flight",
	"sent", "dead_letter" };

/* The style sheet and the refresh script, static for every request. */
static const char status_page_css[] =
    ":root{--ok:#17915a;--warn:#c97a06;--bad:#d63333;--mute:#7b8794;"
    "--c0:#d63333;--c1:#f29a1f;--c2:#3a7bd5;--c3:#a3b1c2;--line:#e4e7eb;"
    "--fg:#1f2933;--dim:#616e7c}"
    "*{box-sizing:border-box}[hidden]{display:none!important}"
    "body{margin:0;font:14px/1.45 system-ui,-apple-system,\"Segoe UI\","
    "Roboto,\"DejaVu Sans\",Arial,sans-serif;background:#eef1f5;"
    "color:var(--fg)}"
    "header{background:#1f2933;color:#fff;padding:12px 24px;display:flex;"
    "flex-wrap:wrap;align-items:center;gap:6px 14px}"
    "h1{font-size:20px;margin:0;font-weight:600}"
    ".sub,#live{color:#cbd2d9;font-size:13px}#live{margin-left:auto}"
    "#live.off{color:#ff8a8a}"
    "main{max-width:1180px;margin:0 auto;padding:14px 24px}"
    ".badge{display:inline-block;padding:2px 10px;border-radius:12px;"
    "font-weight:700;font-size:12px;text-transform:uppercase;"
    "letter-spacing:.05em;color:#fff;background:var(--mute)}"
    ".s-ok{color:var(--ok)}.s-warn{color:var(--warn)}.s-bad{color:var(--bad)}"
    ".s-mute{color:var(--mute)}"
    ".badge.s-ok,.dot.s-ok{background:var(--ok);color:#fff}"
    ".badge.s-warn,.dot.s-warn{background:var(--warn);color:#fff}"
    ".badge.s-bad,.dot.s-bad{background:var(--bad);color:#fff}"
    ".badge.s-mute,.dot.s-mute{background:var(--mute);color:#fff}"
    "#rs{margin:0 0 12px;padding:8px 12px 8px 30px;background:#fff4e5;"
    "border-left:4px solid var(--warn);border-radius:6px}"
    "#rs li.w{color:var(--dim)}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(250px,1fr));gap:14px;margin-bottom:14px}"
    ".card{background:#fff;border-radius:8px;padding:12px 16px;"
    "box-shadow:0 1px 2px rgba(15,23,42,.1);margin-bottom:14px;"
    "overflow-x:auto}"
    ".grid .card{margin:0}"
    "h2{font-size:12px;text-transform:uppercase;letter-spacing:.07em;"
    "color:var(--dim);margin:0 0 8px}"
    ".big{font-size:26px;font-weight:600;line-height:1.2}"
    ".big small{font-size:13px;font-weight:400;color:var(--dim)}"
    "dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;"
    "margin:6px 0 0}"
    "dl div{display:contents}dt{color:var(--dim)}"
    "dd{margin:0;text-align:right;overflow-wrap:anywhere}"
    ".big,dd,td{font-variant-numeric:tabular-nums}"
    ".bar{height:6px;background:var(--line);border-radius:3px;margin-top:8px;"
    "overflow:hidden}.bar i{display:block;height:100%;background:var(--c2)}"
    "table{width:100%;border-collapse:collapse}"
    "th{text-align:left;font-weight:600;color:var(--dim);font-size:12px;"
    "border-bottom:1px solid var(--line);padding:4px 8px}"
    "td{padding:5px 8px;border-bottom:1px solid #f2f4f6;vertical-align:top}"
    ".r{text-align:right}.er{color:var(--bad);font-size:12px;"
    "overflow-wrap:anywhere}"
    ".dot{display:inline-block;width:9px;height:9px;border-radius:50%;"
    "margin-right:7px}"
    ".ch{position:relative;margin:4px 0 0 44px}"
    ".ch svg{display:block;width:100%;height:150px;background:#fafbfc;"
    "border-bottom:1px solid #cbd2d9}"
    ".ym{position:absolute;left:-44px;width:40px;text-align:right;"
    "font-size:11px;color:var(--dim)}"
    ".xa{display:flex;justify-content:space-between;font-size:11px;"
    "color:var(--dim)}"
    ".lg{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0 0 44px}"
    ".lg i{display:inline-block;width:10px;height:10px;border-radius:2px;"
    "margin-right:5px}"
    ".sp{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,"
    "1fr));gap:12px;margin-top:12px}"
    ".sp svg{display:block;width:100%;height:32px;margin-top:2px;"
    "background:#fafbfc;border-bottom:1px solid #cbd2d9}"
    ".sp b{font-weight:600}"
    ".a0{fill:var(--c0)}.a1{fill:var(--c1)}.a2{fill:var(--c2)}"
    ".a3{fill:var(--c3)}.k0{background:var(--c0)}.k1{background:var(--c1)}"
    ".k2{background:var(--c2)}.k3{background:var(--c3)}"
    ".ln{fill:none;stroke:var(--c2);stroke-width:1.5;"
    "vector-effect:non-scaling-stroke}"
    "footer{color:var(--dim);font-size:12px;padding:0 24px 20px;"
    "max-width:1180px;margin:0 auto}a{color:var(--c2)}";

/*
 * The script only refreshes what the server rendered: values by their
 * data-k path in /health, the lists, and the chart from /health/history.
 * Formats and markup mirror the C functions below.
 */
static const char status_page_js[] =
    "(function(){'use strict';"
    "var d=document,B=d.body,skew=+B.dataset.now-Date.now()/1e3,"
    "RF=+B.dataset.rf*1e3,AD=+B.dataset.ad,HI=Math.max(+B.dataset.hi*1e3,RF),"
    "lastH=0,DASH='\\u2013',K=['critical','high','normal','low'],"
    "CL={healthy:'ok',connected:'ok',closed:'ok',sent:'ok',clear:'ok',"
    "normal:'ok',critical_only:'bad',"
    "degraded:'warn',connecting:'warn',half_open:'warn',idle:'warn',"
    "queued:'warn',high:'warn',unhealthy:'bad',error:'bad',"
    "disconnected:'bad',open:'bad',dead_letter:'bad',critical:'bad',"
    "fire:'bad'};"
    "function $(i){return d.getElementById(i)}"
    "function cl(v){return's-'+(CL[v]||'mute')}"
    "function esc(s){return String(s==null?'':s).replace(/[&<>\"']/g,"
    "function(c){return'&#'+c.charCodeAt(0)+';'})}"
    "function n(v){return v==null?DASH:String(Math.round(v)).replace("
    "/\\B(?=(\\d{3})+(?!\\d))/g,'\\u2009')}"
    "function b(v){if(v==null)return DASH;var u=['B','KiB','MiB','GiB','TiB'],"
    "i=0;while(v>=1024&&i<4){v/=1024;i++}"
    "return i?v.toFixed(1)+' '+u[i]:Math.round(v)+' B'}"
    "function du(s){if(s==null)return DASH;s=Math.max(0,Math.round(s));"
    "return s<60?s+'s':s<3600?(s/60|0)+'m '+s%60+'s':s<86400?"
    "(s/3600|0)+'h '+(s%3600/60|0)+'m':(s/86400|0)+'d '+(s%86400/3600|0)+'h'}"
    "function now(){return Date.now()/1e3+skew}"
    "function ag(t){return t==null||t<=0?'never':du(now()-t)+' ago'}"
    "function pc(v){return v==null?DASH:v.toFixed(1)+'%'}"
    "var F={t:function(v){return v==null?DASH:String(v)},n:n,b:b,d:du,a:ag,"
    "p:pc};"
    "function get(o,p){p.split('.').forEach(function(k){"
    "o=o==null?null:o[k]});return o}"
    "function fill(h){"
    "d.querySelectorAll('[data-k]').forEach(function(e){"
    "var v=get(h,e.dataset.k);e.textContent=(F[e.dataset.f]||F.t)(v);"
    "if(e.dataset.c!=null)e.className=(e.dataset.c+' '+cl(v)).trim()});"
    "d.querySelectorAll('[data-h]').forEach(function(e){"
    "e.hidden=get(h,e.dataset.h)==null});"
    "var r='';(h.reasons||[]).forEach(function(x){r+='<li>'+esc(x)+'</li>'});"
    "(h.warnings||[]).forEach(function(x){"
    "r+='<li class=w>'+esc(x)+'</li>'});"
    "$('rs').innerHTML=r;$('rs').hidden=!r;"
    "var mx=get(h,'store.max_db_bytes')||+$('dbm').dataset.max,"
    "db=get(h,'store.db_bytes')||0;"
    "$('dbm').style.width=mx>0?Math.min(100,db/mx*100).toFixed(1)+'%':'0';"
    "var a=h.adapters||[],t='';"
    "a.slice(0,AD).forEach(function(x){var c=cl(x.state);"
    "t+='<tr><td><span class=\"dot '+c+'\"></span>'+esc(x.name)+'</td><td>'+"
    "esc(x.type)+'</td><td class='+c+'>'+esc(x.state)+'</td><td>'+"
    "ag(x.last_reading)+'</td><td class=r>'+n(x.readings)+"
    "'</td><td class=r>'+n(x.errors)+'</td><td class=er>'+"
    "esc(x.last_error||'')+'</td></tr>'});"
    "if(a.length>AD)t+='<tr><td colspan=7>and '+(a.length-AD)+"
    "' more in /health</td></tr>';"
    "$('ad').innerHTML=t||'<tr><td colspan=7>no devices</td></tr>'}"
    "function nice(m){if(!(m>0))return 1;"
    "var p=Math.pow(10,Math.floor(Math.log10(m))),f=m/p;"
    "return(f<=1?1:f<=2?2:f<=5?5:10)*p}"
    "function pts(h,ys,W,H,m){var w=h.capacity*h.interval_s,s='';"
    "h.ts.forEach(function(x,i){"
    "var a=(Math.round(h.now*10)-Math.round(x*10))/10;"
    "s+=Math.round(Math.max(0,1-a/w)*W)+"
    "','+Math.round(H-(ys[i]||0)/m*H)+' '});return s}"
    "function area(h,ys,W,H,m,j){var s=pts(h,ys,W,H,m),f=s.split(' ');"
    "return'<polygon class=\"a'+j+'\" points=\"'+f[0].split(',')[0]+','+H+' '+"
    "s+f[f.length-2].split(',')[0]+','+H+'\"/>'}"
    "function chart(h){if(!h.ts)return;var g=$('qc').viewBox.baseVal,"
    "W=g.width,H=g.height,c=[[],[],[],[]],m=1,s='',j;"
    "h.ts.forEach(function(x,i){var v=0;for(j=0;j<4;j++){v+=h[K[j]][i];"
    "c[j][i]=v}m=Math.max(m,v)});m=nice(m);"
    "if(h.ts.length)for(j=3;j>=0;j--)s+=area(h,c[j],W,H,m,j);"
    "$('qc').innerHTML=s;$('qm').textContent=n(m);"
    "[['rate','readings_per_s'],['age','oldest_age_s'],['rss','rss_bytes']]"
    ".forEach(function(p){var e=$('s-'+p[0]),v=e.viewBox.baseVal,"
    "ys=h[p[1]].map(function(x){return x||0});"
    "e.innerHTML='<polyline class=\"ln\" points=\"'+pts(h,ys,v.width,v.height,"
    "nice(Math.max.apply(null,ys.concat([1e-9]))))+'\"/>'});"
    "var t='';(h.events||[]).forEach(function(x){"
    "t+='<tr><td>'+ag(x.ts)+'</td><td>'+esc(x.rule)+'</td><td class='+"
    "cl(x.kind)+'>'+esc(x.kind)+'</td><td>'+esc(x.device)+' / '+"
    "esc(x.sensor)+'</td><td class=r>'+esc(+x.value.toPrecision(6))+"
    "'</td><td class='+cl(x.severity)+'>'+esc(x.severity)+'</td><td>'+"
    "esc(x.state)+'</td></tr>'});"
    "$('ev').innerHTML=t||'<tr><td colspan=7>no events yet</td></tr>'}"
    "function last(a){return a&&a.length?a[a.length-1]:null}"
    "function live(ok){var l=$('live');l.className=ok?'':'off';"
    "l.textContent=ok?'live \\u00b7 updated '+"
    "new Date(now()*1e3).toLocaleTimeString():"
    "'agent unreachable \\u00b7 retrying'}"
    "function json(u){return fetch(u,{cache:'no-store'}).then(function(r){"
    "return r.json()})}"
    "function poll(){json('/health').then(function(h){fill(h);live(1);"
    "if(Date.now()-lastH<HI)return;lastH=Date.now();"
    "return json('/health/history').then(function(x){chart(x);"
    "$('v-rate').textContent=(last(x.readings_per_s)||0).toFixed(1)+'/s';"
    "$('v-age').textContent=du(last(x.oldest_age_s));"
    "$('v-rss').textContent=b(last(x.rss_bytes))})})"
    ".catch(function(){live(0)}).then(function(){setTimeout(poll,RF)})}"
    "poll()})();";

static double
status_page_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Reads every leaf of the /health document into sp->fields. SQLite quotes
 * labels that are not plain alphanumerics ($."agent_id"), some versions
 * more than others; the document's keys hold no quotes, so they are
 * dropped.
 */
static void
status_page_load(struct status_page *sp, const char *json)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	struct status_page_field *f;
	const char *type, *text;
	size_t cap = 0;

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(db,
		"SELECT replace(substr(fullkey, 3), '\"', ''), type, atom "
		"FROM json_tree(?1) "
		"WHERE type NOT IN ('object', 'array')",
		-1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (sp->nfields == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			sp->fields =
			    xreallocarray(sp->fields, cap, sizeof *sp->fields);
		}
		f = &sp->fields[sp->nfields++];
		memset(f, 0, sizeof *f);
		f->key = xstrdup((const char *)sqlite3_column_text(s, 0));
		type = (const char *)sqlite3_column_text(s, 1);
		text = (const char *)sqlite3_column_text(s, 2);
		f->text = xstrdup(text != NULL ? text : "");
		if (strcmp(type, "null") == 0)
			f->type = SP_NULL;
		else if (strcmp(type, "true") == 0 ||
		    strcmp(type, "false") == 0) {
			f->type = SP_BOOL;
			f->num = strcmp(type, "true") == 0;
			free(f->text);
			f->text = xstrdup(type);
		} else if (strcmp(type, "text") == 0)
			f->type = SP_TEXT;
		else {
			f->type = SP_NUM;
			f->num = sqlite3_column_double(s, 2);
		}
	}
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void
status_page_unload(struct status_page *sp)
{
	size_t i;

	for (i = 0; i < sp->nfields; i++) {
		free(sp->fields[i].key);
		free(sp->fields[i].text);
	}
	free(sp->fields);
	sp->fields = NULL;
	sp->nfields = 0;
}

/* The field at key, or NULL when absent or null. */
static const struct status_page_field *
status_page_get(const struct status_page *sp, const char *key)
{
	size_t i;

	for (i = 0; i < sp->nfields; i++) {
		if (strcmp(sp->fields[i].key, key) == 0)
			return sp->fields[i].type == SP_NULL ? NULL
							     : &sp->fields[i];
	}
	return NULL;
}

static const char *
status_page_text(const struct status_page *sp, const char *key)
{
	const struct status_page_field *f = status_page_get(sp, key);

	return f != NULL ? f->text : NULL;
}

static double
status_page_num(const struct status_page *sp, const char *key, double dflt)
{
	const struct status_page_field *f = status_page_get(sp, key);

	return f != NULL && f->type == SP_NUM ? f->num : dflt;
}

/* Text with &, <, >, " and ' as character references. */
static void
status_page_escape(struct evbuffer *out, const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			evbuffer_add(out, "&amp;", 5);
			break;
		case '<':
			evbuffer_add(out, "&lt;", 4);
			break;
		case '>':
			evbuffer_add(out, "&gt;", 4);
			break;
		case '"':
			evbuffer_add(out, "&#34;", 5);
			break;
		case '\'':
			evbuffer_add(out, "&#39;", 5);
			break;
		default:
			evbuffer_add(out, p, 1);
		}
	}
}

static void
status_page_puts(struct status_page *sp, const char *s)
{
	evbuffer_add(sp->out, s, strlen(s));
}

/* The class the script's cl() gives a state name. */
static const char *
status_page_class(const char *state)
{
	static const char *const ok[] = { "healthy", "connected", "closed",
		"sent", "clear", "normal", NULL };
	static const char *const warn[] = { "degraded", "connecting",
		"half_open", "idle", "queued", "high", NULL };
	static const char *const bad[] = { "unhealthy", "error", "disconnected",
		"open", "dead_letter", "critical", "fire", "critical_only",
		NULL };
	size_t i;

	if (state == NULL)
		return "s-mute";
	for (i = 0; ok[i] != NULL; i++)
		if (strcmp(state, ok[i]) == 0)
			return "s-ok";
	for (i = 0; warn[i] != NULL; i++)
		if (strcmp(state, warn[i]) == 0)
			return "s-warn";
	for (i = 0; bad[i] != NULL; i++)
		if (strcmp(state, bad[i]) == 0)
			return "s-bad";
	return "s-mute";
}

/* Integer with thin-space digit groups, as the script's n(). */
static void
status_page_fmt_num(char *buf, size_t len, double v)
{
	char digits[32];
	size_t n, i, o = 0;
	int neg;

	snprintf(digits, sizeof digits, "%lld", (long long)llround(v));
	neg = digits[0] == '-';
	n = strlen(digits);
	for (i = 0; i < n && o + 4 < len; i++) {
		if (i > (size_t)neg && (n - i) % 3 == 0) {
			memcpy(buf + o, STATUS_PAGE_THIN, 3);
			o += 3;
		}
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

/* B, KiB, MiB, GiB, TiB, as the script's b(). */
static void
status_page_fmt_bytes(char *buf, size_t len, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f B", v);
	else
		snprintf(buf, len, "%.1f %s", v, units[i]);
}

/* 42s, 3m 20s, 5h 2m, 2d 4h, as the script's du(). */
static void
status_page_fmt_dur(char *buf, size_t len, double v)
{
	long long s = llround(fmax(0, v));

	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd %lldh", s / 86400, s % 86400 / 3600);
}

static void
status_page_fmt_ago(
    const struct status_page *sp, char *buf, size_t len, double ts)
{
	char d[32];

	if (!(ts > 0)) {
		snprintf(buf, len, "never");
		return;
	}
	status_page_fmt_dur(d, sizeof d, sp->now - ts);
	snprintf(buf, len, "%s ago", d);
}

/* A field formatted for the page, escaped, into out. */
static void
status_page_format(struct status_page *sp, const struct status_page_field *f,
    enum status_page_format fmt)
{
	char buf[64];

	if (f == NULL) {
		status_page_puts(
		    sp, fmt == SP_FMT_AGO ? "never" : STATUS_PAGE_DASH);
		return;
	}
	if (f->type != SP_NUM) {
		status_page_escape(sp->out, f->text);
		return;
	}
	switch (fmt) {
	case SP_FMT_NUM:
		status_page_fmt_num(buf, sizeof buf, f->num);
		break;
	case SP_FMT_BYTES:
		status_page_fmt_bytes(buf, sizeof buf, f->num);
		break;
	case SP_FMT_DUR:
		status_page_fmt_dur(buf, sizeof buf, f->num);
		break;
	case SP_FMT_AGO:
		status_page_fmt_ago(sp, buf, sizeof buf, f->num);
		break;
	case SP_FMT_PERCENT:
		snprintf(buf, sizeof buf, "%.1f%%", f->num);
		break;
	default:
		status_page_escape(sp->out, f->text);
		return;
	}
	status_page_puts(sp, buf);
}

/*
 * <tag data-k="key" data-f="x">value</tag>: a value the script refreshes.
 * base, if not NULL, makes it coloured by state (class "base s-...").
 */
static void
status_page_value(struct status_page *sp, const char *tag, const char *key,
    enum status_page_format fmt, const char *base)
{
	const struct status_page_field *f = status_page_get(sp, key);

	evbuffer_add_printf(sp->out, "<%s data-k=\"%s\" data-f=\"%c\"", tag,
	    key, status_page_format_codes[fmt]);
	if (base != NULL)
		evbuffer_add_printf(sp->out, " data-c=\"%s\" class=\"%s%s%s\"",
		    base, base, *base != '\0' ? " " : "",
		    status_page_class(f != NULL ? f->text : NULL));
	status_page_puts(sp, ">");
	status_page_format(sp, f, fmt);
	evbuffer_add_printf(sp->out, "</%s>", tag);
}

/* <div data-h="key">, hidden while key is null (the script keeps it so). */
static void
status_page_div_unless_null(struct status_page *sp, const char *key)
{
	evbuffer_add_printf(sp->out, "<div data-h=\"%s\"%s>", key,
	    status_page_get(sp, key) == NULL ? " hidden" : "");
}

/* <div><dt>label</dt><dd>value</dd></div>, hidden while hide_key is null. */
static void
status_page_row(struct status_page *sp, const char *label, const char *key,
    enum status_page_format fmt, const char *hide_key)
{
	if (hide_key != NULL)
		status_page_div_unless_null(sp, hide_key);
	else
		status_page_puts(sp, "<div>");
	evbuffer_add_printf(sp->out, "<dt>%s</dt>", label);
	status_page_value(sp, "dd", key, fmt, NULL);
	status_page_puts(sp, "</div>");
}

static void
status_page_head(struct status_page *sp)
{
	const char *id = status_page_text(sp, "agent_id");

	status_page_puts(sp,
	    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width,"
	    "initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>");
	status_page_escape(sp->out, id != NULL ? id : "outpost");
	evbuffer_add_printf(sp->out,
	    " \xc2\xb7 outpost</title><noscript><meta http-equiv=\"refresh\" "
	    "content=\"%d\"></noscript><style>%s</style></head>",
	    STATUS_PAGE_NOSCRIPT_REFRESH_S, status_page_css);
	evbuffer_add_printf(sp->out,
	    "<body data-now=\"%.3f\" data-rf=\"%d\" data-ad=\"%d\" "
	    "data-hi=\"%g\">",
	    sp->now, STATUS_PAGE_REFRESH_S, STATUS_PAGE_ADAPTERS,
	    agent_history(sp->agent) != NULL
		? history_interval(agent_history(sp->agent))
		: 30.0);
	status_page_puts(sp, "<header><h1>");
	status_page_value(sp, "span", "agent_id", SP_FMT_TEXT, NULL);
	status_page_puts(sp, "</h1>");
	status_page_value(sp, "span", "status", SP_FMT_TEXT, "badge");
	status_page_puts(sp, "<span class=\"sub\">outpost ");
	status_page_value(sp, "span", "version", SP_FMT_TEXT, NULL);
	status_page_puts(sp, " \xc2\xb7 up ");
	status_page_value(sp, "span", "uptime_s", SP_FMT_DUR, NULL);
	status_page_puts(sp,
	    "</span><span id=\"live\">server-rendered \xc2\xb7 "
	    "reload to refresh</span></header><main>");
}

/* Why the status is not healthy, and certificate warnings. */
static void
status_page_reasons(struct status_page *sp)
{
	char key[48];
	const char *s;
	size_t i;

	if (status_page_get(sp, "reasons[0]") == NULL &&
	    status_page_get(sp, "warnings[0]") == NULL)
		status_page_puts(sp, "<ul id=\"rs\" hidden>");
	else
		status_page_puts(sp, "<ul id=\"rs\">");
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof key, "reasons[%zu]", i);
		if ((s = status_page_text(sp, key)) == NULL)
			break;
		status_page_puts(sp, "<li>");
		status_page_escape(sp->out, s);
		status_page_puts(sp, "</li>");
	}
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof key, "warnings[%zu]", i);
		if ((s = status_page_text(sp, key)) == NULL)
			break;
		status_page_puts(sp, "<li class=\"w\">");
		status_page_escape(sp->out, s);
		status_page_puts(sp, "</li>");
	}
	status_page_puts(sp, "</ul>");
}

static void
status_page_uplink(struct status_page *sp)
{
	status_page_puts(
	    sp, "<section class=\"card\"><h2>Uplink</h2><div class=\"big\">");
	status_page_value(sp, "span", "connection.state", SP_FMT_TEXT, "");
	status_page_puts(sp, "</div><dl>");
	status_page_puts(sp, "<div><dt>breaker</dt>");
	status_page_value(sp, "dd", "breaker.state", SP_FMT_TEXT, "");
	status_page_puts(sp, "</div>");
	status_page_row(sp, "since", "connection.since", SP_FMT_AGO, NULL);
	status_page_row(
	    sp, "last success", "connection.last_success", SP_FMT_AGO, NULL);
	status_page_row(sp, "failures in a row",
	    "connection.consecutive_failures", SP_FMT_NUM, NULL);
	status_page_row(sp, "last error at", "connection.last_error.layer",
	    SP_FMT_TEXT, "connection.last_error.layer");
	status_page_div_unless_null(sp, "connection.last_error.message");
	status_page_puts(sp, "<dt>error</dt><dd class=\"er\">");
	status_page_value(
	    sp, "span", "connection.last_error.message", SP_FMT_TEXT, NULL);
	status_page_puts(sp, "</dd></div>");
	status_page_row(sp, "next attempt in", "connection.next_attempt_in_s",
	    SP_FMT_DUR, "connection.next_attempt_in_s");
	status_page_row(sp, "records sent", "connection.records_sent",
	    SP_FMT_NUM, "connection.records_sent");
	status_page_puts(sp, "</dl></section>");
}

static void
status_page_queue(struct status_page *sp)
{
	status_page_puts(sp,
	    "<section class=\"card\"><h2>Queue</h2>"
	    "<div class=\"big\">");
	status_page_value(sp, "span", "queue.pending", SP_FMT_NUM, NULL);
	status_page_puts(sp, " <small>pending</small></div><dl>");
	status_page_row(sp, "oldest pending", "queue.oldest_pending_age_s",
	    SP_FMT_DUR, NULL);
	status_page_row(
	    sp, "critical", "queue.by_priority.critical", SP_FMT_NUM, NULL);
	status_page_row(sp, "high", "queue.by_priority.high", SP_FMT_NUM, NULL);
	status_page_row(
	    sp, "normal", "queue.by_priority.normal", SP_FMT_NUM, NULL);
	status_page_row(sp, "low", "queue.by_priority.low", SP_FMT_NUM, NULL);
	status_page_row(sp, "in flight", "queue.in_flight", SP_FMT_NUM, NULL);
	status_page_row(
	    sp, "dead-lettered", "queue.dead_letter", SP_FMT_NUM, NULL);
	status_page_row(sp, "shed", "queue.shed_total", SP_FMT_NUM, NULL);
	status_page_puts(sp, "</dl></section>");
}

/* Size against max_db_mb (from /health, else the config), mode, counts. */
static void
status_page_storage(struct status_page *sp)
{
	const struct config *cfg = agent_config(sp->agent);
	double max_db = status_page_num(
	    sp, "store.max_db_bytes", (double)cfg->store.max_db_mb * 1048576.0);
	double db = status_page_num(sp, "store.db_bytes", 0);
	char buf[32];

	status_page_puts(sp,
	    "<section class=\"card\"><h2>Storage</h2>"
	    "<div class=\"big\">");
	status_page_value(sp, "span", "store.db_bytes", SP_FMT_BYTES, NULL);
	status_page_fmt_bytes(buf, sizeof buf, max_db);
	evbuffer_add_printf(sp->out,
	    " <small>of %s</small></div><div class=\"bar\"><i id=\"dbm\" "
	    "data-max=\"%.0f\" style=\"width:%.1f%%\"></i></div><dl>",
	    buf, max_db, max_db > 0 ? fmin(100, db / max_db * 100) : 0);
	status_page_div_unless_null(sp, "store.mode");
	status_page_puts(sp, "<dt>mode</dt>");
	status_page_value(sp, "dd", "store.mode", SP_FMT_TEXT, "");
	status_page_puts(sp, "</div>");
	status_page_row(sp, "because", "store.mode_reason", SP_FMT_TEXT,
	    "store.mode_reason");
	status_page_row(sp, "WAL", "store.wal_bytes", SP_FMT_BYTES, NULL);
	status_page_row(
	    sp, "disk free", "system.disk_free_bytes", SP_FMT_BYTES, NULL);
	status_page_row(
	    sp, "readings stored", "readings_processed", SP_FMT_NUM, NULL);
	status_page_row(
	    sp, "readings dropped", "readings_dropped", SP_FMT_NUM, NULL);
	status_page_row(
	    sp, "privacy dropped", "privacy.dropped", SP_FMT_NUM, NULL);
	status_page_row(sp, "events", "events_triggered", SP_FMT_NUM, NULL);
	status_page_row(
	    sp, "memory used", "system.mem_used_percent", SP_FMT_PERCENT, NULL);
	status_page_row(sp, "CPU", "system.cpu_percent", SP_FMT_PERCENT, NULL);
	status_page_puts(sp, "</dl></section>");
}

static void
status_page_cards(struct status_page *sp)
{
	status_page_puts(sp, "<div class=\"grid\">");
	status_page_uplink(sp);
	status_page_queue(sp);
	status_page_storage(sp);
	status_page_puts(sp, "</div>");
}

static double
status_page_nice(double m)
{
	double p, f;

	if (!(m > 0))
		return 1;
	p = pow(10, floor(log10(m)));
	f = m / p;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* The chart's columns: x as a share of the window, one y series each. */
struct status_page_series {
	size_t n;
	double *x;		     /* 0 (window ago) .. 1 (now) */
	double *cum[PRIORITY_COUNT]; /* queue, stacked from critical */
	double *rate, *age, *rss;
};

/* "x,y x,y ..." scaled to w by hgt with max on top, as the script's pts. */
static void
status_page_points(struct status_page *sp, const struct status_page_series *c,
    const double *ys, double w, double hgt, double max)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		evbuffer_add_printf(sp->out, "%.0f,%.0f ", round(c->x[i] * w),
		    round(hgt - ys[i] / max * hgt));
}

/* One stacked layer, closed down to the baseline. */
static void
status_page_area(struct status_page *sp, const struct status_page_series *c,
    int layer, double max)
{
	double w = STATUS_PAGE_CHART_W, hgt = STATUS_PAGE_CHART_H;

	evbuffer_add_printf(sp->out,
	    "<polygon class=\"a%d\" points=\"%.0f,%.0f ", layer,
	    round(c->x[0] * w), hgt);
	status_page_points(sp, c, c->cum[layer], w, hgt, max);
	evbuffer_add_printf(
	    sp->out, "%.0f,%.0f\"/>", round(c->x[c->n - 1] * w), hgt);
}

static void
status_page_spark(struct status_page *sp, const struct status_page_series *c,
    const char *id, const char *label, const double *ys, const char *value)
{
	double max = 1e-9;
	size_t i;

	for (i = 0; i < c->n; i++)
		max = fmax(max, ys[i]);
	evbuffer_add_printf(sp->out,
	    "<div>%s <b id=\"v-%s\">%s</b><svg id=\"s-%s\" viewBox=\"0 0 %d "
	    "%d\" preserveAspectRatio=\"none\"><polyline class=\"ln\" "
	    "points=\"",
	    label, id, value, id, STATUS_PAGE_SPARK_W, STATUS_PAGE_SPARK_H);
	status_page_points(sp, c, ys, STATUS_PAGE_SPARK_W, STATUS_PAGE_SPARK_H,
	    status_page_nice(max));
	status_page_puts(sp, "\"/></svg></div>");
}

static void
status_page_window_label(char *buf, size_t len, double s)
{
	if (s >= 120)
		snprintf(buf, len, "%.0f min ago", s / 60);
	else
		snprintf(buf, len, "%.0f s ago", s);
}

/* Fills c from the history; the arrays are one allocation, c->x. */
static double
status_page_series(const struct status_page *sp, const struct history *h,
    struct status_page_series *c)
{
	const struct history_sample *s;
	double window = (double)history_capacity(h) * history_interval(h);
	double max = 1, v;
	size_t i;
	int p;

	c->n = history_count(h);
	c->x = xcalloc((c->n + 1) * (PRIORITY_COUNT + 4), sizeof(double));
	for (p = 0; p < PRIORITY_COUNT; p++)
		c->cum[p] = c->x + (c->n + 1) * (size_t)(p + 1);
	c->rate = c->x + (c->n + 1) * (PRIORITY_COUNT + 1);
	c->age = c->x + (c->n + 1) * (PRIORITY_COUNT + 2);
	c->rss = c->x + (c->n + 1) * (PRIORITY_COUNT + 3);
	for (i = 0; i < c->n; i++) {
		s = history_at(h, i);
		/* Tenths of seconds, as /health/history gives them. */
		c->x[i] = fmax(0,
		    1 -
			(round(sp->now * 10) - round(s->ts * 10)) / 10 /
			    window);
		for (v = 0, p = 0; p < PRIORITY_COUNT; p++) {
			v += (double)s->by_priority[p];
			c->cum[p][i] = v;
		}
		max = fmax(max, v);
		c->rate[i] = s->readings_per_s;
		c->age[i] = fmax(0, s->oldest_age_s);
		c->rss[i] = s->rss_bytes > 0 ? (double)s->rss_bytes : 0;
	}
	return status_page_nice(max);
}

/* The queue chart (stacked by priority) and three sparklines. */
static void
status_page_chart(struct status_page *sp)
{
	static const char *const names[PRIORITY_COUNT] = { "critical", "high",
		"normal", "low" };
	struct history *h = agent_history(sp->agent);
	struct status_page_series c;
	const struct history_sample *s;
	double max, window;
	char lo[32], mid[32], buf[32];
	int p;

	status_page_puts(sp,
	    "<section class=\"card\"><h2>Queue depth by "
	    "priority, last hour</h2>");
	if (h == NULL) {
		status_page_puts(sp, "<p>no history yet</p></section>");
		return;
	}
	memset(&c, 0, sizeof c);
	max = status_page_series(sp, h, &c);
	status_page_fmt_num(buf, sizeof buf, max);
	window = (double)history_capacity(h) * history_interval(h);
	status_page_window_label(lo, sizeof lo, window);
	status_page_window_label(mid, sizeof mid, window / 2);
	evbuffer_add_printf(sp->out,
	    "<div class=\"ch\"><span class=\"ym\" id=\"qm\" style=\"top:-2px\">"
	    "%s</span><span class=\"ym\" style=\"top:140px\">0</span>"
	    "<svg id=\"qc\" viewBox=\"0 0 %d %d\" preserveAspectRatio=\"none\" "
	    "role=\"img\" aria-label=\"queue depth by priority\">",
	    buf, STATUS_PAGE_CHART_W, STATUS_PAGE_CHART_H);
	/* Totals first: each smaller stack paints over the one above it. */
	for (p = PRIORITY_COUNT - 1; p >= 0 && c.n > 0; p--)
		status_page_area(sp, &c, p, max);
	evbuffer_add_printf(sp->out,
	    "</svg><div class=\"xa\"><span>%s</span><span>%s</span>"
	    "<span>now</span></div></div><div class=\"lg\">",
	    lo, mid);
	for (p = 0; p < PRIORITY_COUNT; p++)
		evbuffer_add_printf(sp->out,
		    "<span><i class=\"k%d\"></i>%s</span>", p, names[p]);
	status_page_puts(sp, "</div><div class=\"sp\">");
	s = c.n > 0 ? history_at(h, c.n - 1) : NULL;
	snprintf(buf, sizeof buf, "%.1f/s", s != NULL ? s->readings_per_s : 0);
	status_page_spark(sp, &c, "rate", "readings", c.rate, buf);
	if (s != NULL && s->oldest_age_s >= 0)
		status_page_fmt_dur(buf, sizeof buf, s->oldest_age_s);
	else
		snprintf(buf, sizeof buf, "%s", STATUS_PAGE_DASH);
	status_page_spark(sp, &c, "age", "oldest pending", c.age, buf);
	if (s != NULL && s->rss_bytes >= 0)
		status_page_fmt_bytes(buf, sizeof buf, (double)s->rss_bytes);
	else
		snprintf(buf, sizeof buf, "%s", STATUS_PAGE_DASH);
	status_page_spark(sp, &c, "rss", "memory (RSS)", c.rss, buf);
	status_page_puts(sp, "</div></section>");
	free(c.x);
}

/* adapters[i].field of the /health document, or NULL. */
static const struct status_page_field *
status_page_adapter(const struct status_page *sp, size_t i, const char *field)
{
	char key[64];

	snprintf(key, sizeof key, "adapters[%zu].%s", i, field);
	return status_page_get(sp, key);
}

/* One row, as the script's: escaped text, formatted numbers. */
static void
status_page_adapter_row(struct status_page *sp, size_t i)
{
	const struct status_page_field *name, *type, *state, *last, *err;
	const char *cls;
	char buf[64];

	name = status_page_adapter(sp, i, "name");
	type = status_page_adapter(sp, i, "type");
	state = status_page_adapter(sp, i, "state");
	last = status_page_adapter(sp, i, "last_reading");
	err = status_page_adapter(sp, i, "last_error");
	cls = status_page_class(state != NULL ? state->text : NULL);
	evbuffer_add_printf(
	    sp->out, "<tr><td><span class=\"dot %s\"></span>", cls);
	status_page_escape(sp->out, name != NULL ? name->text : "");
	status_page_puts(sp, "</td><td>");
	status_page_escape(sp->out, type != NULL ? type->text : "");
	evbuffer_add_printf(sp->out, "</td><td class=%s>", cls);
	status_page_escape(sp->out, state != NULL ? state->text : "");
	status_page_fmt_ago(sp, buf, sizeof buf,
	    last != NULL && last->type == SP_NUM ? last->num : 0);
	evbuffer_add_printf(sp->out, "</td><td>%s</td><td class=r>", buf);
	status_page_format(
	    sp, status_page_adapter(sp, i, "readings"), SP_FMT_NUM);
	status_page_puts(sp, "</td><td class=r>");
	status_page_format(
	    sp, status_page_adapter(sp, i, "errors"), SP_FMT_NUM);
	status_page_puts(sp, "</td><td class=er>");
	if (err != NULL)
		status_page_escape(sp->out, err->text);
	status_page_puts(sp, "</td></tr>");
}

/*
 * The devices table, as many rows as fit in budget bytes (at most
 * STATUS_PAGE_ADAPTERS); the others are counted.
 */
static void
status_page_adapters(struct status_page *sp, size_t budget)
{
	size_t i, shown = 0, start = evbuffer_get_length(sp->out);

	status_page_puts(sp,
	    "<section class=\"card\"><h2>Devices</h2><table><thead><tr>"
	    "<th>name</th><th>type</th><th>state</th><th>last reading</th>"
	    "<th class=\"r\">readings</th><th class=\"r\">errors</th>"
	    "<th>last error</th></tr></thead><tbody id=\"ad\">");
	for (i = 0; status_page_adapter(sp, i, "name") != NULL; i++) {
		if (shown >= STATUS_PAGE_ADAPTERS ||
		    evbuffer_get_length(sp->out) - start + STATUS_PAGE_ROW_MAX >
			budget)
			continue;
		status_page_adapter_row(sp, i);
		shown++;
	}
	if (i > shown)
		evbuffer_add_printf(sp->out,
		    "<tr><td colspan=7>and %zu more in /health</td></tr>",
		    i - shown);
	else if (i == 0)
		status_page_puts(sp, "<tr><td colspan=7>no devices</td></tr>");
	status_page_puts(sp, "</tbody></table></section>");
}

static const char *
status_page_state_name(enum store_state s)
{
	if ((unsigned)s >= sizeof status_page_event_states /
		sizeof status_page_event_states[0])
		return "unknown";
	return status_page_event_states[s];
}

static const char *
status_page_severity_name(enum priority p)
{
	if ((unsigned)p >= PRIORITY_COUNT)
		return "unknown";
	return priority_name(p);
}

static void
status_page_event_row_cb(void *arg, const struct store_event *ev)
{
	struct status_page *sp = arg;
	const char *sev = status_page_severity_name(ev->severity);
	char buf[64];

	status_page_fmt_ago(sp, buf, sizeof buf, ev->ts);
	evbuffer_add_printf(sp->out, "<tr><td>%s</td><td>", buf);
	status_page_escape(sp->out, ev->rule);
	evbuffer_add_printf(
	    sp->out, "</td><td class=%s>", status_page_class(ev->kind));
	status_page_escape(sp->out, ev->kind);
	status_page_puts(sp, "</td><td>");
	status_page_escape(sp->out, ev->device);
	status_page_puts(sp, " / ");
	status_page_escape(sp->out, ev->sensor);
	evbuffer_add_printf(sp->out,
	    "</td><td class=r>%.6g</td><td class=%s>%s</td><td>%s</td></tr>",
	    ev->value, status_page_class(sev), sev,
	    status_page_state_name(ev->state));
}

static void
status_page_events(struct status_page *sp)
{
	struct store *st = agent_store(sp->agent);
	int n = -1;

	status_page_puts(sp,
	    "<section class=\"card\"><h2>Recent events</h2><table><thead><tr>"
	    "<th>when</th><th>rule</th><th>kind</th><th>device / sensor</th>"
	    "<th class=\"r\">value</th><th>severity</th><th>upload</th></tr>"
	    "</thead><tbody id=\"ev\">");
	if (st != NULL)
		n = store_recent_events(
		    st, STATUS_PAGE_EVENTS, status_page_event_row_cb, sp);
	if (n == 0)
		status_page_puts(
		    sp, "<tr><td colspan=7>no events yet</td></tr>");
	else if (n < 0)
		status_page_puts(
		    sp, "<tr><td colspan=7>events unavailable</td></tr>");
	status_page_puts(sp, "</tbody></table></section>");
}

/* The page, with the agent's current values, appended to out. */
void
status_page_render(struct agent *ag, struct evbuffer *out)
{
	struct status_page sp;
	struct json_out j;
	struct evbuffer *tail;
	size_t start = evbuffer_get_length(out), used;

	memset(&sp, 0, sizeof sp);
	sp.agent = ag;
	sp.out = out;
	json_out_init(&j);
	health_render(ag, &j);
	sp.now = status_page_clock();
	status_page_load(&sp, j.buf);
	json_out_free(&j);

	status_page_head(&sp);
	status_page_reasons(&sp);
	status_page_cards(&sp);
	status_page_chart(&sp);

	/*
	 * The devices table takes what the page's byte budget leaves: what
	 * follows it (bounded) is rendered first, aside, then appended.
	 */
	if ((tail = evbuffer_new()) == NULL)
		goto out;
	sp.out = tail;
	status_page_events(&sp);
	status_page_puts(&sp,
	    "</main><footer>outpost status page \xc2\xb7 <a href=\"/health\">"
	    "/health</a> \xc2\xb7 <a href=\"/metrics\">/metrics</a> \xc2\xb7 "
	    "<a href=\"/health/history\">/health/history</a></footer><script>");
	status_page_puts(&sp, status_page_js);
	status_page_puts(&sp, "</script></body></html>\n");
	sp.out = out;
	used = evbuffer_get_length(out) - start + evbuffer_get_length(tail);
	status_page_adapters(&sp,
	    used + STATUS_PAGE_ROW_MAX < STATUS_PAGE_MAX_BYTES
		? STATUS_PAGE_MAX_BYTES - used - STATUS_PAGE_ROW_MAX
		: 0);
	evbuffer_add_buffer(out, tail);
	evbuffer_free(tail);
out:
	status_page_unload(&sp);
}

static void
status_page_event_json_cb(void *arg, const struct store_event *ev)
{
	struct json_out *j = arg;

	json_out_object_begin(j, NULL);
	json_out_double(j, "ts", ev->ts);
	json_out_string(j, "rule", ev->rule);
	json_out_string(j, "kind", ev->kind);
	json_out_string(j, "device", ev->device);
	json_out_string(j, "sensor", ev->sensor);
	json_out_double(j, "value", ev->value);
	json_out_string(j, "severity", status_page_severity_name(ev->severity));
	json_out_string(j, "state", status_page_state_name(ev->state));
	json_out_object_end(j);
}

/* The history's columns and the newest rows of the events table. */
void
status_page_render_history(struct agent *ag, struct json_out *j)
{
	struct history *h = agent_history(ag);
	struct store *st = agent_store(ag);

	json_out_object_begin(j, NULL);
	json_out_double(j, "now", round(status_page_clock() * 10) / 10);
	if (h != NULL)
		history_render_json(h, j);
	json_out_array_begin(j, "events");
	if (st != NULL)
		store_recent_events(
		    st, STATUS_PAGE_EVENTS, status_page_event_json_cb, j);
	json_out_array_end(j);
	json_out_object_end(j);
}
