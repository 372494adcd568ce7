/*
 * Rules: per rule, one small hash table of the sensors its glob matched,
 * each with its own state (ok, pending while `for` runs, firing). Threshold
 * and rate rules move on readings and their timestamps; stale rules on a
 * timer armed at the earliest deadline, never a periodic poll. Events go
 * to the emit callback; ones it cannot store wait in a bounded outbox and
 * are retried before the next one. Exec actions go to the action runner;
 * mqtt actions to one publisher per broker URL, kept across reloads while
 * some rule still uses it.
 */
#include <fnmatch.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "action.h"
#include "config.h"
#include "json_out.h"
#include "log.h"
#include "mqtt_pub.h"
#include "recid.h"
#include "rules.h"
#include "xmalloc.h"

#define RULES_MAX_TRACKS 1024 /* sensors per rule */
#define RULES_OUTBOX 64	      /* events waiting for the store */
#define RULES_NAME_MAX 64
#define RULES_DETAIL_MAX 192
#define RULES_ERROR_MAX 160

enum rules_state {
	RULES_OK,
	RULES_PENDING,
	RULES_FIRING,
};

static const char *const rules_state_names[] = { "ok", "pending", "firing" };
static const char *const rules_kind_names[] = { "threshold", "rate", "stale" };

struct rules_track {
	char sensor[READING_SENSOR_MAX]; /* "" = free slot */
	char device[READING_DEVICE_MAX];
	enum rules_state state;
	double since;	   /* reading ts when the condition began */
	double last_ts;	   /* the previous reading (rate, stale) */
	double last_value; /* */
	int have_last;
	double seen_mono; /* stale: monotonic s of the last reading */
};

struct rules_rule {
	char *name;
	char *sensor; /* glob */
	int literal;  /* sensor has no glob characters */
	enum cfg_rule_kind kind;
	int has_above;
	double above;
	int has_below;
	double below;
	double clear; /* one-sided: the level that clears */
	double for_s;
	double stale_s;
	enum priority severity;
	enum cfg_rule_action action;
	char **command; /* NULL-terminated */
	double timeout_s;
	int action_on;
	char *mqtt_topic; /* mqtt: a template */
	int mqtt_qos;
	struct mqtt_pub *pub;	    /* mqtt: rules.pubs owns it */
	struct rules_track *tracks; /* open addressing, cap a power of 2 */
	size_t cap;
	size_t ntracks;
	int full_logged;
	unsigned long long fired;
	unsigned long long cleared;
	unsigned long long actions;
	unsigned long long action_errors;
	char last_error[RULES_ERROR_MAX];
};

/* An event the store refused, with its own copies of the strings. */
struct rules_unsaved {
	struct rules_event ev;
	char rule[RULES_NAME_MAX];
	char device[READING_DEVICE_MAX];
	char sensor[READING_SENSOR_MAX];
	char detail[RULES_DETAIL_MAX];
};

struct rules {
	char *agent_id;
	struct event_base *base;
	rules_emit_cb *emit;
	void *arg;
	struct rules_rule *rules;
	size_t nrules;
	struct event *timer; /* the next stale deadline */
	struct action_runner *runner;
	struct mqtt_pub **pubs; /* one per broker URL */
	size_t npubs;
	struct rules_unsaved outbox[RULES_OUTBOX];
	size_t noutbox;
	unsigned long long events_lost; /* outbox overflow */
};

static double
rules_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *
rules_event_kind_name(enum rules_event_kind k)
{
	return k == RULES_FIRE ? "fire" : "clear";
}

static size_t
rules_put_string(unsigned char *p, const char *s, size_t max)
{
	size_t len = strnlen(s, max);

	p[0] = (unsigned char)(len >> 8);
	p[1] = (unsigned char)len;
	memcpy(p + 2, s, len);
	return 2 + len;
}

void
rules_event_id(const char *agent_id, const char *rule, const char *sensor,
    double ts, enum rules_event_kind kind, unsigned char out[RECORD_ID_LEN])
{
	unsigned char buf[2 + 256 + 2 + RULES_NAME_MAX + 2 +
	    READING_SENSOR_MAX + 8 + 2 + 5];
	uint64_t bits;
	size_t n = 0;
	int i;

	n += rules_put_string(buf + n, agent_id, 256);
	n += rules_put_string(buf + n, rule, RULES_NAME_MAX);
	n += rules_put_string(buf + n, sensor, READING_SENSOR_MAX);
	memcpy(&bits, &ts, sizeof bits);
	for (i = 7; i >= 0; i--) {
		buf[n + i] = (unsigned char)bits;
		bits >>= 8;
	}
	n += 8;
	n += rules_put_string(buf + n, rules_event_kind_name(kind), 5);
	recid_sha256(buf, n, out);
}

/* FNV-1a: short sensor names, no adversary inside the agent. */
static size_t
rules_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

static struct rules_track *
rules_slot(struct rules_track *tab, size_t cap, const char *sensor)
{
	size_t i = rules_hash(sensor) & (cap - 1);

	while (tab[i].sensor[0] != '\0' && strcmp(tab[i].sensor, sensor) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static void
rules_grow(struct rules_rule *ru, size_t cap)
{
	struct rules_track *tab = xcalloc(cap, sizeof *tab);
	size_t i;

	for (i = 0; i < ru->cap; i++) {
		if (ru->tracks[i].sensor[0] != '\0')
			*rules_slot(tab, cap, ru->tracks[i].sensor) =
			    ru->tracks[i];
	}
	free(ru->tracks);
	ru->tracks = tab;
	ru->cap = cap;
}

/* The sensor's track, created when new (*created set); NULL when full. */
static struct rules_track *
rules_track(struct rules_rule *ru, const char *sensor, int *created)
{
	struct rules_track *t;

	*created = 0;
	if (ru->cap > 0) {
		t = rules_slot(ru->tracks, ru->cap, sensor);
		if (t->sensor[0] != '\0')
			return t;
	}
	if (ru->ntracks >= RULES_MAX_TRACKS) {
		if (!ru->full_logged)
			log_warn("rules",
			    "%s: more than %d sensors match '%s'; "
			    "new ones are not watched",
			    ru->name, RULES_MAX_TRACKS, ru->sensor);
		ru->full_logged = 1;
		return NULL;
	}
	if (2 * (ru->ntracks + 1) > ru->cap)
		rules_grow(ru, ru->cap == 0 ? 8 : 2 * ru->cap);
	t = rules_slot(ru->tracks, ru->cap, sensor);
	memset(t, 0, sizeof *t);
	xstrlcpy(t->sensor, sensor, sizeof t->sensor);
	ru->ntracks++;
	*created = 1;
	return t;
}

static int
rules_match(const struct rules_rule *ru, const char *sensor)
{
	if (ru->literal)
		return strcmp(ru->sensor, sensor) == 0;
	return fnmatch(ru->sensor, sensor, 0) == 0;
}

static void
rules_rule_free(struct rules_rule *ru)
{
	size_t i;

	free(ru->name);
	free(ru->sensor);
	for (i = 0; ru->command != NULL && ru->command[i] != NULL; i++)
		free(ru->command[i]);
	free(ru->command);
	free(ru->mqtt_topic);
	free(ru->tracks);
}

static void
rules_rule_init(struct rules_rule *ru, const struct cfg_rule *c)
{
	size_t i;

	memset(ru, 0, sizeof *ru);
	ru->name = xstrdup(c->name);
	ru->sensor = xstrdup(c->sensor);
	ru->literal = strpbrk(c->sensor, "*?[") == NULL;
	ru->kind = c->kind;
	ru->has_above = c->has_above;
	ru->above = c->above;
	ru->has_below = c->has_below;
	ru->below = c->below;
	if (c->has_clear)
		ru->clear = c->clear;
	else
		ru->clear = c->has_above ? c->above : c->below;
	ru->for_s = c->for_s;
	ru->stale_s = c->stale_s;
	ru->severity = c->severity;
	ru->action = c->action;
	ru->timeout_s = c->timeout_s;
	ru->action_on = c->action_on;
	if (c->action == CFG_ACTION_EXEC) {
		ru->command = xcalloc(c->ncommand + 1, sizeof *ru->command);
		for (i = 0; i < c->ncommand; i++)
			ru->command[i] = xstrdup(c->command[i]);
	}
	if (c->action == CFG_ACTION_MQTT) {
		ru->mqtt_topic = xstrdup(c->mqtt_topic);
		ru->mqtt_qos = c->mqtt_qos;
	}
}

static struct rules_rule *
rules_find(const struct rules *rs, const char *name)
{
	size_t i;

	for (i = 0; i < rs->nrules; i++) {
		if (strcmp(rs->rules[i].name, name) == 0)
			return &rs->rules[i];
	}
	return NULL;
}

static void
rules_action_done_cb(void *arg, const char *tag, int ok, const char *error)
{
	struct rules *rs = arg;
	struct rules_rule *ru;

	/* The rule may be gone since (reload): the runner has logged it. */
	if ((ru = rules_find(rs, tag)) == NULL || ok)
		return;
	ru->action_errors++;
	xstrlcpy(ru->last_error, error, sizeof ru->last_error);
}

/* After a move, each held event points at its own copies again. */
static void
rules_outbox_repoint(struct rules *rs)
{
	struct rules_unsaved *u;
	size_t i;

	for (i = 0; i < rs->noutbox; i++) {
		u = &rs->outbox[i];
		u->ev.rule = u->rule;
		u->ev.device = u->device;
		u->ev.sensor = u->sensor;
		u->ev.detail = u->detail;
	}
}

/* Retries held events in order; 0 when none is left. */
static int
rules_flush_outbox(struct rules *rs)
{
	size_t done = 0;

	while (
	    done < rs->noutbox && rs->emit(rs->arg, &rs->outbox[done].ev) == 0)
		done++;
	if (done == 0)
		return rs->noutbox > 0 ? -1 : 0;
	memmove(&rs->outbox[0], &rs->outbox[done],
	    (rs->noutbox - done) * sizeof rs->outbox[0]);
	rs->noutbox -= done;
	rules_outbox_repoint(rs);
	if (rs->noutbox > 0)
		return -1;
	log_info("rules", "held events stored");
	return 0;
}

static void
rules_hold(struct rules *rs, const struct rules_event *ev)
{
	struct rules_unsaved *u;

	if (rs->noutbox == RULES_OUTBOX) {
		/* The oldest goes: the newest says where things stand. */
		rs->events_lost++;
		log_error("rules",
		    "event of %s (%s) lost: the store keeps "
		    "failing",
		    rs->outbox[0].rule,
		    rules_event_kind_name(rs->outbox[0].ev.kind));
		memmove(&rs->outbox[0], &rs->outbox[1],
		    (RULES_OUTBOX - 1) * sizeof rs->outbox[0]);
		rs->noutbox--;
		rules_outbox_repoint(rs);
	}
	u = &rs->outbox[rs->noutbox++];
	u->ev = *ev;
	xstrlcpy(u->rule, ev->rule, sizeof u->rule);
	xstrlcpy(u->device, ev->device, sizeof u->device);
	xstrlcpy(u->sensor, ev->sensor, sizeof u->sensor);
	xstrlcpy(u->detail, ev->detail, sizeof u->detail);
	u->ev.rule = u->rule;
	u->ev.device = u->device;
	u->ev.sensor = u->sensor;
	u->ev.detail = u->detail;
}

/* Appends s to buf (a topic being built), as much as fits. */
static void
rules_topic_cat(char *buf, size_t len, size_t *n, const char *s, size_t slen)
{
	if (*n + slen >= len)
		slen = *n < len - 1 ? len - 1 - *n : 0;
	memcpy(buf + *n, s, slen);
	*n += slen;
	buf[*n] = '\0';
}

/* The topic template with {rule}, {sensor} and {event} filled in. */
static void
rules_topic(char *buf, size_t len, const struct rules_rule *ru,
    const struct rules_event *ev)
{
	const char *p = ru->mqtt_topic, *v;
	size_t n = 0, k;

	buf[0] = '\0';
	while (*p != '\0') {
		v = NULL;
		if (strncmp(p, "{rule}", k = 6) == 0)
			v = ev->rule;
		else if (strncmp(p, "{sensor}", k = 8) == 0)
			v = ev->sensor;
		else if (strncmp(p, "{event}", k = 7) == 0)
			v = rules_event_kind_name(ev->kind);
		if (v != NULL) {
			rules_topic_cat(buf, len, &n, v, strlen(v));
			p += k;
		} else
			rules_topic_cat(buf, len, &n, p++, 1);
	}
}

/* mqtt: the event as one JSON object on the rule's topic. */
static void
rules_publish(
    struct rules *rs, struct rules_rule *ru, const struct rules_event *ev)
{
	struct json_out j;
	char topic[512], hex[65];

	if (ru->pub == NULL) {
		ru->action_errors++;
		xstrlcpy(ru->last_error, "no publisher for the rule's url",
		    sizeof ru->last_error);
		return;
	}
	rules_topic(topic, sizeof topic, ru, ev);
	recid_hex(ev->id, hex);
	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_string(&j, "rule", ev->rule);
	json_out_string(&j, "event", rules_event_kind_name(ev->kind));
	json_out_string(&j, "sensor", ev->sensor);
	json_out_string(&j, "device", ev->device);
	json_out_double(&j, "value", ev->value);
	json_out_double(&j, "ts", ev->ts);
	json_out_string(&j, "severity", priority_name(ev->severity));
	json_out_string(&j, "agent", rs->agent_id);
	json_out_string(&j, "id", hex);
	json_out_object_end(&j);
	ru->actions++;
	action_publish(
	    rs->runner, ru->pub, ru->name, topic, j.buf, j.len, ru->mqtt_qos);
	json_out_free(&j);
}

static void
rules_run_action(
    struct rules *rs, struct rules_rule *ru, const struct rules_event *ev)
{
	char value[32], ts[40], hex[65];
	char *env[9];
	int i, n = 0;

	if (ru->action != CFG_ACTION_EXEC && ru->action != CFG_ACTION_MQTT)
		return;
	if (!(ru->action_on &
		(ev->kind == RULES_FIRE ? CFG_ACTION_ON_FIRE
					: CFG_ACTION_ON_CLEAR)))
		return;
	if (rs->runner == NULL) {
		/* No loop (tests without a base): nothing can run. */
		ru->action_errors++;
		xstrlcpy(ru->last_error, "no event loop to run actions",
		    sizeof ru->last_error);
		return;
	}
	if (ru->action == CFG_ACTION_MQTT) {
		rules_publish(rs, ru, ev);
		return;
	}
	json_out_format_double(value, ev->value);
	snprintf(ts, sizeof ts, "%.6f", ev->ts);
	recid_hex(ev->id, hex);
	xasprintf(&env[n++], "OUTPOST_RULE=%s", ev->rule);
	xasprintf(
	    &env[n++], "OUTPOST_EVENT=%s", rules_event_kind_name(ev->kind));
	xasprintf(&env[n++], "OUTPOST_SENSOR=%s", ev->sensor);
	xasprintf(&env[n++], "OUTPOST_DEVICE=%s", ev->device);
	xasprintf(&env[n++], "OUTPOST_VALUE=%s", value);
	xasprintf(
	    &env[n++], "OUTPOST_SEVERITY=%s", priority_name(ev->severity));
	xasprintf(&env[n++], "OUTPOST_TS=%s", ts);
	xasprintf(&env[n++], "OUTPOST_EVENT_ID=%s", hex);
	env[n] = NULL;
	ru->actions++;
	action_run(rs->runner, ru->name, (const char *const *)ru->command,
	    (const char *const *)env, ru->timeout_s);
	for (i = 0; i < n; i++)
		free(env[i]);
}

/* A transition: log it, count it, store it (or hold it), act on it. */
static void
rules_emit(struct rules *rs, struct rules_rule *ru, struct rules_track *t,
    enum rules_event_kind kind, double ts, double value, const char *detail)
{
	struct rules_event ev;

	memset(&ev, 0, sizeof ev);
	ev.rule = ru->name;
	ev.kind = kind;
	ev.device = t->device;
	ev.sensor = t->sensor;
	ev.ts = ts;
	ev.value = value;
	ev.severity = ru->severity;
	ev.detail = detail;
	rules_event_id(rs->agent_id, ru->name, t->sensor, ts, kind, ev.id);
	if (kind == RULES_FIRE) {
		ru->fired++;
		log_warn("rules", "%s fired: %s = %g %s", ru->name, t->sensor,
		    value, detail);
	} else {
		ru->cleared++;
		log_info(
		    "rules", "%s cleared: %s = %g", ru->name, t->sensor, value);
	}
	if (rs->emit != NULL &&
	    (rules_flush_outbox(rs) == -1 || rs->emit(rs->arg, &ev) == -1))
		rules_hold(rs, &ev);
	rules_run_action(rs, ru, &ev);
}

static void
rules_detail(char *buf, size_t len, const struct rules_rule *ru, double m)
{
	const char *what = ru->kind == CFG_RULE_RATE ? "rate" : "value";
	char a[32], b[32], c[32], v[32];

	json_out_format_double(a, ru->above);
	json_out_format_double(b, ru->below);
	json_out_format_double(c, ru->clear);
	json_out_format_double(v, m);
	if (ru->has_above && ru->has_below)
		snprintf(buf, len,
		    "{\"condition\":\"outside\",\"%s\":%s,\"above\":%s,"
		    "\"below\":%s,\"for_s\":%g}",
		    what, v, a, b, ru->for_s);
	else
		snprintf(buf, len,
		    "{\"condition\":\"%s%s\",\"%s\":%s,\"threshold\":%s,"
		    "\"clear\":%s,\"for_s\":%g}",
		    ru->kind == CFG_RULE_RATE ? "rate_" : "",
		    ru->has_above ? "above" : "below", what, v,
		    ru->has_above ? a : b, c, ru->for_s);
}

/* Threshold and rate rules: m is the value or the rate. */
static void
rules_eval(struct rules *rs, struct rules_rule *ru, struct rules_track *t,
    const struct reading *r, double m)
{
	char detail[RULES_DETAIL_MAX];
	int fire, clear;

	fire = (ru->has_above && m > ru->above) ||
	    (ru->has_below && m < ru->below);
	if (ru->has_above && ru->has_below)
		clear = !fire;
	else if (ru->has_above)
		clear = m < ru->clear;
	else
		clear = m > ru->clear;

	switch (t->state) {
	case RULES_OK:
		if (!fire)
			break;
		t->since = r->ts;
		t->state = RULES_PENDING;
		/* FALLTHROUGH */
	case RULES_PENDING:
		if (!fire) {
			t->state = RULES_OK;
			break;
		}
		if (r->ts - t->since >= ru->for_s) {
			t->state = RULES_FIRING;
			rules_detail(detail, sizeof detail, ru, m);
			rules_emit(
			    rs, ru, t, RULES_FIRE, r->ts, r->value, detail);
		}
		break;
	case RULES_FIRING:
		if (clear) {
			t->state = RULES_OK;
			rules_detail(detail, sizeof detail, ru, m);
			rules_emit(
			    rs, ru, t, RULES_CLEAR, r->ts, r->value, detail);
		}
		break;
	}
}

double
rules_next_deadline(const struct rules *rs)
{
	const struct rules_rule *ru;
	double next = 0, d;
	size_t i, k;

	for (i = 0; i < rs->nrules; i++) {
		ru = &rs->rules[i];
		if (ru->kind != CFG_RULE_STALE)
			continue;
		for (k = 0; k < ru->cap; k++) {
			if (ru->tracks[k].sensor[0] == '\0' ||
			    ru->tracks[k].state == RULES_FIRING)
				continue;
			d = ru->tracks[k].seen_mono + ru->stale_s;
			if (next == 0 || d < next)
				next = d;
		}
	}
	return next;
}

/* Arms the timer at the earliest stale deadline (or disarms it). */
static void
rules_arm(struct rules *rs, double mono_now)
{
	struct timeval tv;
	double next, wait;

	if (rs->timer == NULL)
		return;
	if ((next = rules_next_deadline(rs)) == 0) {
		evtimer_del(rs->timer);
		return;
	}
	wait = next - mono_now;
	if (wait < 0)
		wait = 0;
	/* A hair late rather than early, so one wake-up finds it due. */
	wait += 0.001;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(rs->timer, &tv);
}

static void
rules_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	rules_tick(
	    arg, rules_clock(CLOCK_REALTIME), rules_clock(CLOCK_MONOTONIC));
}

void
rules_tick(struct rules *rs, double wall_now, double mono_now)
{
	struct rules_rule *ru;
	struct rules_track *t;
	char detail[RULES_DETAIL_MAX];
	size_t i, k;

	if (rs->noutbox > 0)
		rules_flush_outbox(rs);
	for (i = 0; i < rs->nrules; i++) {
		ru = &rs->rules[i];
		if (ru->kind != CFG_RULE_STALE)
			continue;
		for (k = 0; k < ru->cap; k++) {
			t = &ru->tracks[k];
			if (t->sensor[0] == '\0' || t->state == RULES_FIRING ||
			    mono_now - t->seen_mono < ru->stale_s)
				continue;
			t->state = RULES_FIRING;
			snprintf(detail, sizeof detail,
			    "{\"condition\":\"stale\",\"stale_s\":%g,"
			    "\"silent_s\":%.3f}",
			    ru->stale_s, mono_now - t->seen_mono);
			rules_emit(rs, ru, t, RULES_FIRE, wall_now,
			    t->last_value, detail);
		}
	}
	rules_arm(rs, mono_now);
}

/* A literal stale rule watches its sensor before its first reading. */
static void
rules_seed_stale(struct rules_rule *ru, double mono_now)
{
	struct rules_track *t;
	int created;

	if (ru->kind != CFG_RULE_STALE || !ru->literal)
		return;
	if ((t = rules_track(ru, ru->sensor, &created)) != NULL && created)
		t->seen_mono = mono_now;
}

static void
rules_stale_reading(struct rules *rs, struct rules_rule *ru,
    struct rules_track *t, const struct reading *r, double mono_now,
    int created)
{
	char detail[RULES_DETAIL_MAX];
	int rearm = created;

	t->seen_mono = mono_now;
	if (t->state == RULES_FIRING) {
		t->state = RULES_OK;
		snprintf(detail, sizeof detail,
		    "{\"condition\":\"stale\",\"stale_s\":%g}", ru->stale_s);
		rules_emit(rs, ru, t, RULES_CLEAR, r->ts, r->value, detail);
		rearm = 1;
	}
	/* A reading only moves a deadline later: re-arm when it matters. */
	if (rs->timer != NULL && (rearm || !evtimer_pending(rs->timer, NULL)))
		rules_arm(rs, mono_now);
}

void
rules_reading(struct rules *rs, const struct reading *r, double mono_now)
{
	struct rules_rule *ru;
	struct rules_track *t;
	double rate;
	size_t i;
	int created;

	if (rs == NULL || rs->nrules == 0)
		return;
	if (rs->noutbox > 0)
		rules_flush_outbox(rs);
	for (i = 0; i < rs->nrules; i++) {
		ru = &rs->rules[i];
		if (!rules_match(ru, r->sensor))
			continue;
		if ((t = rules_track(ru, r->sensor, &created)) == NULL)
			continue;
		xstrlcpy(t->device, r->device, sizeof t->device);
		switch (ru->kind) {
		case CFG_RULE_THRESHOLD:
			rules_eval(rs, ru, t, r, r->value);
			break;
		case CFG_RULE_RATE:
			if (t->have_last && r->ts <= t->last_ts)
				continue; /* out of order: no rate */
			if (t->have_last) {
				rate = (r->value - t->last_value) /
				    (r->ts - t->last_ts);
				if (isfinite(rate))
					rules_eval(rs, ru, t, r, rate);
			}
			break;
		case CFG_RULE_STALE:
			rules_stale_reading(rs, ru, t, r, mono_now, created);
			break;
		}
		t->last_ts = r->ts;
		t->last_value = r->value;
		t->have_last = 1;
	}
}

static char *
rules_client_id(const struct rules *rs)
{
	char *id;

	xasprintf(&id, "outpost-%s-actions", rs->agent_id);
	return id;
}

/* The publisher for url: the one there is, or a new one. */
static struct mqtt_pub *
rules_pub(struct rules *rs, const char *url)
{
	struct mqtt_pub *pub;
	char err[256], *id;
	size_t i;

	if (rs->base == NULL || url == NULL)
		return NULL;
	for (i = 0; i < rs->npubs; i++) {
		if (strcmp(mqtt_pub_url(rs->pubs[i]), url) == 0)
			return rs->pubs[i];
	}
	id = rules_client_id(rs);
	pub = mqtt_pub_new(rs->base, url, id, NULL, err, sizeof err);
	free(id);
	if (pub == NULL) {
		log_error("rules", "%s: %s", url, err);
		return NULL;
	}
	rs->pubs = xreallocarray(rs->pubs, rs->npubs + 1, sizeof *rs->pubs);
	rs->pubs[rs->npubs++] = pub;
	return pub;
}

/* After a reload: a publisher no rule uses any more goes. */
static void
rules_pubs_prune(struct rules *rs)
{
	size_t i = 0, k;
	int used;

	while (i < rs->npubs) {
		used = 0;
		for (k = 0; k < rs->nrules; k++)
			used |= rs->rules[k].pub == rs->pubs[i];
		if (used) {
			i++;
			continue;
		}
		mqtt_pub_free(rs->pubs[i]);
		memmove(&rs->pubs[i], &rs->pubs[i + 1],
		    (rs->npubs - i - 1) * sizeof *rs->pubs);
		rs->npubs--;
	}
}

static void
rules_build(struct rules *rs, const struct config *cfg)
{
	struct action_opts ao;
	size_t i;
	int exec = 0;

	rs->rules = xcalloc(cfg->nrules + 1, sizeof *rs->rules);
	rs->nrules = cfg->nrules;
	for (i = 0; i < cfg->nrules; i++) {
		rules_rule_init(&rs->rules[i], &cfg->rules[i]);
		exec |= cfg->rules[i].action != CFG_ACTION_LOG;
		if (cfg->rules[i].action == CFG_ACTION_MQTT)
			rs->rules[i].pub =
			    rules_pub(rs, cfg->rules[i].mqtt_url);
	}
	if (exec && rs->base != NULL && rs->runner == NULL) {
		memset(&ao, 0, sizeof ao);
		ao.done = rules_action_done_cb;
		ao.arg = rs;
		rs->runner = action_runner_new(rs->base, &ao);
	}
}

struct rules *
rules_new(const struct config *cfg, const struct rules_opts *opts)
{
	struct rules *rs = xcalloc(1, sizeof *rs);
	double mono_now = opts->mono_now;
	size_t i;

	if (mono_now == 0)
		mono_now = rules_clock(CLOCK_MONOTONIC);
	rs->agent_id = xstrdup(opts->agent_id != NULL ? opts->agent_id : "");
	rs->base = opts->base;
	rs->emit = opts->emit;
	rs->arg = opts->arg;
	if (rs->base != NULL)
		rs->timer = evtimer_new(rs->base, rules_timer_cb, rs);
	rules_build(rs, cfg);
	for (i = 0; i < rs->nrules; i++)
		rules_seed_stale(&rs->rules[i], mono_now);
	rules_arm(rs, mono_now);
	return rs;
}

/* Moves what old knew of a rule into its successor of the same name. */
static void
rules_adopt(struct rules_rule *ru, struct rules_rule *old)
{
	size_t k;
	int created;
	struct rules_track *t;

	ru->fired = old->fired;
	ru->cleared = old->cleared;
	ru->actions = old->actions;
	ru->action_errors = old->action_errors;
	memcpy(ru->last_error, old->last_error, sizeof ru->last_error);
	if (ru->kind != old->kind)
		return;
	for (k = 0; k < old->cap; k++) {
		if (old->tracks[k].sensor[0] == '\0' ||
		    !rules_match(ru, old->tracks[k].sensor))
			continue;
		if ((t = rules_track(ru, old->tracks[k].sensor, &created)) !=
		    NULL)
			*t = old->tracks[k];
	}
}

void
rules_reconfigure(struct rules *rs, const struct config *cfg, double mono_now)
{
	struct rules_rule *old = rs->rules, *prev;
	size_t nold = rs->nrules, i, k;

	if (mono_now == 0)
		mono_now = rules_clock(CLOCK_MONOTONIC);
	rules_build(rs, cfg);
	for (i = 0; i < rs->nrules; i++) {
		prev = NULL;
		for (k = 0; k < nold; k++) {
			if (strcmp(old[k].name, rs->rules[i].name) == 0) {
				prev = &old[k];
				break;
			}
		}
		if (prev != NULL)
			rules_adopt(&rs->rules[i], prev);
		rules_seed_stale(&rs->rules[i], mono_now);
	}
	for (i = 0; i < nold; i++)
		rules_rule_free(&old[i]);
	free(old);
	rules_pubs_prune(rs);
	rules_arm(rs, mono_now);
}

void
rules_set_agent_id(struct rules *rs, const char *agent_id)
{
	char *id;
	size_t i;

	free(rs->agent_id);
	rs->agent_id = xstrdup(agent_id);
	id = rules_client_id(rs);
	for (i = 0; i < rs->npubs; i++)
		mqtt_pub_set_client_id(rs->pubs[i], id);
	free(id);
}

void
rules_free(struct rules *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	if (rs->noutbox > 0 && rules_flush_outbox(rs) == -1)
		log_error(
		    "rules", "%zu events could not be stored", rs->noutbox);
	/* Before the runner: what is unsent is reported through it. */
	for (i = 0; i < rs->npubs; i++)
		mqtt_pub_free(rs->pubs[i]);
	free(rs->pubs);
	action_runner_free(rs->runner);
	if (rs->timer != NULL)
		event_free(rs->timer);
	for (i = 0; i < rs->nrules; i++)
		rules_rule_free(&rs->rules[i]);
	free(rs->rules);
	free(rs->agent_id);
	free(rs);
}

size_t
rules_count(const struct rules *rs)
{
	return rs != NULL ? rs->nrules : 0;
}

size_t
rules_unsaved(const struct rules *rs)
{
	return rs != NULL ? rs->noutbox : 0;
}

int
rules_stat(const struct rules *rs, size_t i, struct rules_stat *out)
{
	const struct rules_rule *ru;
	enum rules_state worst = RULES_OK;
	size_t k;

	if (rs == NULL || i >= rs->nrules)
		return -1;
	ru = &rs->rules[i];
	memset(out, 0, sizeof *out);
	for (k = 0; k < ru->cap; k++) {
		if (ru->tracks[k].sensor[0] == '\0')
			continue;
		if (ru->tracks[k].state == RULES_FIRING)
			out->firing++;
		if (ru->tracks[k].state > worst)
			worst = ru->tracks[k].state;
	}
	out->name = ru->name;
	out->kind = rules_kind_names[ru->kind];
	out->state = rules_state_names[worst];
	out->fired = ru->fired;
	out->cleared = ru->cleared;
	out->actions = ru->actions;
	out->action_errors = ru->action_errors;
	out->last_error = ru->last_error;
	return 0;
}

void
rules_status(const struct rules *rs, struct json_out *j)
{
	struct rules_stat st;
	size_t i;

	json_out_array_begin(j, "rules");
	for (i = 0; rs != NULL && rules_stat(rs, i, &st) == 0; i++) {
		json_out_object_begin(j, NULL);
		json_out_string(j, "name", st.name);
		json_out_string(j, "kind", st.kind);
		json_out_string(j, "sensor", rs->rules[i].sensor);
		json_out_string(j, "state", st.state);
		json_out_int(j, "firing", (long long)st.firing);
		json_out_int(j, "fired", (long long)st.fired);
		json_out_int(j, "cleared", (long long)st.cleared);
		json_out_string(j, "action",
		    rs->rules[i].action == CFG_ACTION_EXEC	 ? "exec"
			: rs->rules[i].action == CFG_ACTION_MQTT ? "mqtt"
								 : "log");
		json_out_int(j, "actions", (long long)st.actions);
		json_out_int(j, "action_errors", (long long)st.action_errors);
		if (st.last_error[0] != '\0')
			json_out_string(j, "last_error", st.last_error);
		else
			json_out_null(j, "last_error");
		json_out_object_end(j);
	}
	json_out_array_end(j);
}
