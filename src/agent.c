/*
 * The agent: the event base and every component's lifecycle. Start order is
 * store, pipeline, adapters, health; stop order is the reverse, with a last
 * group commit before the store closes. SIGHUP builds a complete new set of
 * adapters from the new file and swaps them only if all of it is valid.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sqlite3.h>
#if defined(__GLIBC__) && !defined(__UCLIBC__)
#include <malloc.h>
#define AGENT_MALLOC_TRIM 1
#endif

#include "adapter.h"
#include "agent.h"
#include "health.h"
#include "history.h"
#include "json_out.h"
#include "log.h"
#include "pipeline.h"
#include "pressure.h"
#include "privacy.h"
#include "rules.h"
#include "spool.h"
#include "store.h"
#include "summary.h"
#include "sysinfo.h"
#include "uplink.h"
#include "wallclock.h"
#include "xmalloc.h"

#define AGENT_MAINTENANCE_S 30

struct agent {
	struct config *cfg;
	struct event_base *base;
	struct store *store;
	struct spool *spool;
	struct uplink *uplink;
	struct pipeline *pipeline;
	struct sysinfo *sysinfo;
	struct health *health;
	struct adapter **adapters;
	size_t nadapters;
	struct event *sig_term;
	struct event *sig_int;
	struct event *sig_hup;
	struct event *maintenance;
	struct history *history;     /* the status page's last hour */
	struct privacy *privacy;     /* admission: before the ring */
	struct rules *rules;	     /* on committed readings */
	struct event *history_timer; /* [health] history_interval */
	struct wallclock *clock;     /* trust in ts, corrections */
	struct summary *summary;     /* folds closed periods */
	struct pressure *pressure;   /* storage modes and shedding */
	double start_time;
	double start_mono;
	unsigned long long reloads;
	int exit_code;
};

static double
agent_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

size_t
agent_check_config(struct config *cfg)
{
	struct adapter *a;
	char *cause = NULL;
	size_t i;

	for (i = 0; i < cfg->ndevices; i++) {
		a = adapter_new(cfg, &cfg->devices[i], &cause);
		if (a == NULL && cause != NULL) {
			cfg_error(cfg, cfg->devices[i].line, "%s", cause);
			free(cause);
			cause = NULL;
		}
		adapter_free(a);
	}
	config_finish(cfg);
	return cfg->nerrors;
}

/* Builds (configures) adapters for every device of cfg; -1 on error. */
static int
agent_build_adapters(
    struct config *cfg, struct adapter ***out, size_t *n, char **cause)
{
	struct adapter **list = xcalloc(cfg->ndevices + 1, sizeof *list);
	size_t i;

	for (i = 0; i < cfg->ndevices; i++) {
		if ((list[i] = adapter_new(cfg, &cfg->devices[i], cause)) ==
		    NULL) {
			if (*cause == NULL && cfg->nerrors > 0)
				*cause = xstrdup(cfg->errors[0]);
			while (i-- > 0)
				adapter_free(list[i]);
			free(list);
			return -1;
		}
	}
	*out = list;
	*n = cfg->ndevices;
	return 0;
}

/*
 * POST /ingest: the only push device takes it; with several, the query
 * names one (?device=NAME).
 */
static void
agent_ingest_cb(struct evhttp_request *req, void *arg)
{
	struct agent *ag = arg;
	struct adapter *a, *found = NULL;
	struct evkeyvalq q;
	const char *uri = evhttp_request_get_uri(req), *want = NULL;
	const char *query = strchr(uri, '?');
	size_t i, npush = 0;

	/* evhttp_parse_query_str initializes q; empty is all zeros. */
	memset(&q, 0, sizeof q);
	if (query != NULL && evhttp_parse_query_str(query + 1, &q) == 0)
		want = evhttp_find_header(&q, "device");
	for (i = 0; i < ag->nadapters; i++) {
		a = ag->adapters[i];
		if (a->ops->ingest == NULL || a->state == ADAPTER_STOPPED)
			continue;
		npush++;
		if (want == NULL || strcmp(want, a->name) == 0)
			found = found == NULL ? a : found;
	}
	if (found == NULL || (want == NULL && npush > 1)) {
		evhttp_send_error(req, found == NULL ? 404 : 400,
		    want != NULL ? "no such push device"
				 : "several push devices: name one "
				   "with ?device=NAME");
		evhttp_clear_headers(&q);
		return;
	}
	evhttp_clear_headers(&q);
	found->ops->ingest(found, req);
}

static int
agent_start_adapters(struct agent *ag)
{
	struct adapter *a;
	struct pipeline_src *src;
	size_t i;

	for (i = 0; i < ag->nadapters; i++) {
		a = ag->adapters[i];
		src = pipeline_src_new(
		    ag->pipeline, a->name, (size_t)a->dev->buffer);
		if (adapter_start(a, ag->base, src) == -1) {
			/* One broken input must not stop the others. */
			adapter_error(a, "could not start");
			adapter_set_state(a, ADAPTER_ERROR);
		}
	}
	return 0;
}

/* Stops and frees adapters; their buffered readings are committed first. */
static void
agent_free_adapters(struct agent *ag)
{
	struct pipeline_src *src;
	size_t i;

	for (i = 0; i < ag->nadapters; i++)
		adapter_stop(ag->adapters[i]);
	if (ag->pipeline != NULL)
		pipeline_commit(ag->pipeline);
	for (i = 0; i < ag->nadapters; i++) {
		src = ag->adapters[i]->src;
		adapter_free(ag->adapters[i]);
		pipeline_src_free(src);
	}
	free(ag->adapters);
	ag->adapters = NULL;
	ag->nadapters = 0;
}

static void
agent_apply_logging(const struct config *cfg)
{
	log_configure(cfg->logging.level, cfg->logging.format);
}

static void
agent_spool_opts(const struct config *cfg, struct spool_opts *o)
{
	int p;

	memset(o, 0, sizeof *o);
	for (p = 0; p < PRIORITY_COUNT; p++)
		o->ttl_s[p] = cfg->cloud.ttl_hours[p] * 3600.0;
	o->max_attempts = cfg->cloud.retry.max_attempts;
	o->max_db_bytes = cfg->store.max_db_mb * 1048576LL;
	o->delete_on_ack = cfg->store.retention_hours == 0;
}

static void
agent_wallclock_opts(const struct config *cfg, struct wallclock_opts *o)
{
	memset(o, 0, sizeof *o);
	o->trusted_after_ts = cfg->clock.trusted_after_ts;
	o->require_sync = cfg->clock.require_sync;
	o->check_interval_s = cfg->clock.check_interval_s;
}

static void
agent_storage_opts(
    const struct config *cfg, struct summary_opts *so, struct pressure_opts *po)
{
	memset(so, 0, sizeof *so);
	so->agent_id = cfg->agent.id;
	so->interval_s = cfg->store.summary_interval_s;
	memset(po, 0, sizeof *po);
	po->max_db_bytes = cfg->store.max_db_mb * 1048576LL;
	po->min_age_s = cfg->store.pressure_min_age_s;
	po->check_interval_s = cfg->store.pressure_interval_s;
}

/* Before a fold: readings still buffered belong to the closing period. */
static void
agent_fold_flush_cb(void *arg)
{
	struct agent *ag = arg;

	pipeline_commit(ag->pipeline);
}

/* Summaries and storage pressure, once the pipeline exists. */
static void
agent_build_storage(struct agent *ag)
{
	struct summary_opts so;
	struct pressure_opts po;

	agent_storage_opts(ag->cfg, &so, &po);
	pipeline_set_wallclock(ag->pipeline, ag->clock);
	ag->summary = summary_new(ag->store, &so);
	summary_set_wallclock(ag->summary, ag->clock);
	ag->pressure =
	    pressure_new(ag->store, ag->spool, ag->pipeline, ag->summary, &po);
	wallclock_start(ag->clock, ag->base);
	summary_start(ag->summary, ag->base, agent_fold_flush_cb, ag);
	pressure_start(ag->pressure, ag->base);
}

/* SIGHUP: clock, summaries and pressure take the new values. */
static void
agent_reload_storage(struct agent *ag)
{
	struct wallclock_opts wo;
	struct summary_opts so;
	struct pressure_opts po;

	agent_wallclock_opts(ag->cfg, &wo);
	wallclock_set_opts(ag->clock, &wo);
	agent_storage_opts(ag->cfg, &so, &po);
	summary_set_opts(ag->summary, &so);
	pressure_set_opts(ag->pressure, &po);
}

/* Every reading, before it is buffered: the privacy firewall. */
static int
agent_admit_cb(void *arg, struct reading *r)
{
	struct agent *ag = arg;

	return privacy_admit(ag->privacy, r);
}

/*
 * Per committed reading: rules see only what the store holds (an event
 * never stands for a reading that was lost); the uplink flushes once a
 * batch is waiting.
 */
static void
agent_committed_cb(void *arg, const struct reading *r)
{
	struct agent *ag = arg;

	rules_reading(ag->rules, r, agent_clock(CLOCK_MONOTONIC));
	uplink_committed(ag->uplink, 1);
}

/* A rule event: one row (its own transaction), then the uplink knows. */
static int
agent_event_cb(void *arg, const struct rules_event *ev)
{
	struct agent *ag = arg;
	struct store_event se;

	memset(&se, 0, sizeof se);
	se.ts = ev->ts;
	se.rule = ev->rule;
	se.kind = rules_event_kind_name(ev->kind);
	se.device = ev->device;
	se.sensor = ev->sensor;
	se.value = ev->value;
	se.severity = ev->severity;
	if (store_add_event(ag->store, ev->id, &se, ev->detail) == -1)
		return -1;
	if (ev->severity == PRIORITY_CRITICAL)
		uplink_flush(ag->uplink, "critical event");
	else
		uplink_committed(ag->uplink, 1);
	return 0;
}

/* Privacy and rules from ag->cfg; NULL privacy with *cause on failure. */
static int
agent_build_edge(struct agent *ag, char **cause)
{
	struct rules_opts ro;

	if ((ag->privacy = privacy_new(ag->cfg, cause)) == NULL)
		return -1;
	memset(&ro, 0, sizeof ro);
	ro.agent_id = ag->cfg->agent.id;
	ro.base = ag->base;
	ro.emit = agent_event_cb;
	ro.arg = ag;
	ag->rules = rules_new(ag->cfg, &ro);
	return 0;
}

/* The uplink's last acknowledged batch is written with the readings. */
static int
agent_in_txn_cb(void *arg)
{
	struct agent *ag = arg;

	return spool_settle_in(ag->spool);
}

static void
agent_txn_done_cb(void *arg, int committed)
{
	struct agent *ag = arg;

	spool_settle_done(ag->spool, committed);
}

static void
agent_set_hooks(struct agent *ag)
{
	struct pipeline_hooks hooks;

	memset(&hooks, 0, sizeof hooks);
	hooks.admit = agent_admit_cb;
	hooks.committed = agent_committed_cb;
	hooks.in_txn = agent_in_txn_cb;
	hooks.txn_done = agent_txn_done_cb;
	hooks.arg = ag;
	pipeline_set_hooks(ag->pipeline, &hooks);
}

/* SIGHUP: validate the whole new config, then swap; else keep the old. */
static void
agent_reload(struct agent *ag)
{
	struct config *cfg;
	struct adapter **adapters = NULL;
	struct privacy *privacy = NULL;
	size_t nadapters = 0, i;
	char *cause = NULL;
	struct json_out j;
	struct spool_opts so;

	if (strcmp(ag->cfg->path, "(embedded)") == 0)
		cfg = config_load(NULL, &cause);
	else
		cfg = config_load(ag->cfg->path, &cause);
	if (cfg == NULL) {
		log_error("agent", "reload refused, keeping the old config: %s",
		    cause);
		goto out;
	}
	if (agent_check_config(cfg) > 0) {
		for (i = 0; i < cfg->nerrors; i++)
			log_error(
			    "agent", "reload refused: %s", cfg->errors[i]);
		goto out;
	}
	if (strcmp(cfg->agent.data_dir, ag->cfg->agent.data_dir) != 0 ||
	    strcmp(cfg->health.listen, ag->cfg->health.listen) != 0)
		log_warn("agent",
		    "data_dir and health.listen changes take "
		    "effect at the next start");
	if ((privacy = privacy_new(cfg, &cause)) == NULL) {
		log_error("agent", "reload refused: %s", cause);
		goto out;
	}
	if (agent_build_adapters(cfg, &adapters, &nadapters, &cause) == -1) {
		log_error("agent", "reload refused: %s", cause);
		goto out;
	}
	if (uplink_reconfigure(ag->uplink, cfg, &cause) == -1) {
		log_error("agent", "reload refused: %s", cause);
		for (i = 0; i < nadapters; i++)
			adapter_free(adapters[i]);
		free(adapters);
		goto out;
	}
	/* Room first (max_pages): the buffered readings commit below. */
	store_set_max_pages(ag->store, cfg->store.max_pages);
	agent_free_adapters(ag);
	/* Keep the running store and listener settings until restart. */
	free(cfg->agent.data_dir);
	cfg->agent.data_dir = xstrdup(ag->cfg->agent.data_dir);
	free(cfg->health.listen);
	cfg->health.listen = xstrdup(ag->cfg->health.listen);
	config_free(ag->cfg);
	ag->cfg = cfg;
	cfg = NULL;
	agent_apply_logging(ag->cfg);
	pipeline_set_agent_id(ag->pipeline, ag->cfg->agent.id);
	/* Rebuilt, not patched: only counters and rule states carry over. */
	privacy_carry(privacy, ag->privacy);
	privacy_free(ag->privacy);
	ag->privacy = privacy;
	privacy = NULL;
	rules_set_agent_id(ag->rules, ag->cfg->agent.id);
	rules_reconfigure(ag->rules, ag->cfg, agent_clock(CLOCK_MONOTONIC));
	agent_spool_opts(ag->cfg, &so);
	spool_set_opts(ag->spool, &so);
	agent_reload_storage(ag);
	ag->adapters = adapters;
	ag->nadapters = nadapters;
	agent_start_adapters(ag);
	ag->reloads++;
	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_string(&j, "path", ag->cfg->path);
	json_out_int(&j, "devices", (long long)ag->nadapters);
	json_out_object_end(&j);
	store_audit(ag->store, "reload", j.buf);
	json_out_free(&j);
	log_info("agent", "config reloaded from %s: %zu devices", ag->cfg->path,
	    ag->nadapters);
out:
	privacy_free(privacy);
	free(cause);
	config_free(cfg);
}

static void
agent_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct agent *ag = arg;

	switch (sig) {
	case SIGHUP:
		log_info("agent", "SIGHUP: reloading the config");
		agent_reload(ag);
		break;
	default:
		log_info("agent", "signal %d: stopping", (int)sig);
		agent_stop(ag);
	}
}

/*
 * Gives back what start-up or a burst left behind, at the idle points (after
 * start-up and after each maintenance pass). SQLite frees its cache pages
 * not in use: the cache would otherwise keep up to cache_size of pages the
 * idle loop never touches again, and the few a commit needs are read back
 * from the kernel's page cache. Then glibc returns free heap pages to the
 * kernel (it keeps them otherwise); musl does that on its own.
 */
static void
agent_trim_memory(struct agent *ag)
{
	sqlite3_db_release_memory(store_db(ag->store));
#ifdef AGENT_MALLOC_TRIM
	malloc_trim(0);
#endif
}

/* Storage upkeep: TTL, the size cap, retention, a bounded WAL. */
static void
agent_maintenance(struct agent *ag)
{
	double now = agent_clock(CLOCK_REALTIME);
	long long n = 0;

	spool_expire(ag->spool, now, &n);
	pressure_check(ag->pressure, now);
	/* retention_hours = 0 keeps nothing once sent, it is not "forever". */
	store_purge_sent(ag->store,
	    now - (double)ag->cfg->store.retention_hours * 3600.0, &n);
	store_checkpoint(ag->store, 0);
	agent_trim_memory(ag);
}

static void
agent_maintenance_cb(evutil_socket_t fd, short what, void *arg)
{
	agent_maintenance(arg);
}

static void
agent_history_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *ag = arg;

	history_sample(ag->history, ag);
}

/* The status page's chart: one sample now, then one per interval. */
static void
agent_start_history(struct agent *ag)
{
	double interval_s = ag->cfg->health.history_interval_s;
	struct timeval tv;

	if (!(interval_s > 0))
		interval_s = 30;
	tv.tv_sec = (time_t)interval_s;
	tv.tv_usec = (suseconds_t)((interval_s - (double)tv.tv_sec) * 1e6);
	ag->history = history_new(HISTORY_POINTS, interval_s);
	ag->history_timer =
	    event_new(ag->base, -1, EV_PERSIST, agent_history_cb, ag);
	evtimer_add(ag->history_timer, &tv);
	history_sample(ag->history, ag);
}

struct agent *
agent_new(struct config *cfg, char **cause)
{
	struct agent *ag = xcalloc(1, sizeof *ag);
	struct store_opts so;
	struct pipeline_opts po;
	struct spool_opts spo;
	struct wallclock_opts wo;
	struct timeval tv = { AGENT_MAINTENANCE_S, 0 };
	long long requeued = 0;

	ag->cfg = cfg;
	ag->start_time = agent_clock(CLOCK_REALTIME);
	ag->start_mono = agent_clock(CLOCK_MONOTONIC);
	agent_apply_logging(cfg);
	signal(SIGPIPE, SIG_IGN);

	if ((ag->base = event_base_new()) == NULL) {
		*cause = xstrdup("event_base_new failed");
		goto fail;
	}
	memset(&so, 0, sizeof so);
	so.durability_full = cfg->store.durability == STORE_DURABILITY_FULL;
	so.checkpoint_pages = cfg->store.checkpoint_pages;
	so.max_pages = cfg->store.max_pages;
	so.page_size = cfg->store.page_size;
	if ((ag->store = store_open(cfg->agent.data_dir, &so, cause)) == NULL)
		goto fail;
	if (store_requeue_in_flight(ag->store, &requeued) == 0 && requeued > 0)
		log_info("agent",
		    "%lld records were in flight at the last "
		    "stop: queued again",
		    requeued);
	store_meta_set(ag->store, "agent_id", cfg->agent.id);
	agent_wallclock_opts(cfg, &wo);
	ag->clock = wallclock_new(ag->store, &wo, NULL, NULL);

	agent_spool_opts(cfg, &spo);
	ag->spool = spool_new(ag->store, &spo);
	if ((ag->uplink = uplink_new(
		 ag->base, ag->store, ag->spool, cfg, cause)) == NULL)
		goto fail;

	memset(&po, 0, sizeof po);
	po.agent_id = cfg->agent.id;
	po.commit_interval_s = cfg->store.commit_interval_s;
	po.commit_max = (size_t)cfg->store.commit_max;
	ag->pipeline = pipeline_new(ag->base, ag->store, &po);
	agent_set_hooks(ag);
	agent_build_storage(ag);
	if (agent_build_edge(ag, cause) == -1)
		goto fail;
	ag->sysinfo = sysinfo_new("/", cfg->agent.data_dir);

	if (agent_build_adapters(cfg, &ag->adapters, &ag->nadapters, cause) ==
	    -1)
		goto fail;
	if ((ag->health = health_new(ag, cfg->health.listen, cause)) == NULL)
		goto fail;
	health_set_ingest(ag->health, agent_ingest_cb, ag);
	agent_start_adapters(ag);

	ag->sig_term = evsignal_new(ag->base, SIGTERM, agent_signal_cb, ag);
	ag->sig_int = evsignal_new(ag->base, SIGINT, agent_signal_cb, ag);
	ag->sig_hup = evsignal_new(ag->base, SIGHUP, agent_signal_cb, ag);
	evsignal_add(ag->sig_term, NULL);
	evsignal_add(ag->sig_int, NULL);
	evsignal_add(ag->sig_hup, NULL);
	ag->maintenance =
	    event_new(ag->base, -1, EV_PERSIST, agent_maintenance_cb, ag);
	evtimer_add(ag->maintenance, &tv);
	agent_maintenance(ag);
	agent_start_history(ag);
	store_audit(ag->store, "start", NULL);
	log_info("agent",
	    "outpost running: agent %s, %zu devices, store %s, "
	    "health on %s",
	    cfg->agent.id, ag->nadapters, cfg->agent.data_dir,
	    cfg->health.listen);
	return ag;
fail:
	agent_free(ag);
	return NULL;
}

int
agent_run(struct agent *ag)
{
	event_base_dispatch(ag->base);
	return ag->exit_code;
}

void
agent_stop(struct agent *ag)
{
	event_base_loopbreak(ag->base);
}

void
agent_free(struct agent *ag)
{
	if (ag == NULL)
		return;
	health_free(ag->health);
	agent_free_adapters(ag);
	if (ag->sig_term != NULL)
		event_free(ag->sig_term);
	if (ag->sig_int != NULL)
		event_free(ag->sig_int);
	if (ag->sig_hup != NULL)
		event_free(ag->sig_hup);
	if (ag->maintenance != NULL)
		event_free(ag->maintenance);
	if (ag->history_timer != NULL)
		event_free(ag->history_timer);
	history_free(ag->history);
	/* They use the pipeline; the pipeline's last commit uses the clock. */
	pressure_free(ag->pressure);
	summary_free(ag->summary);
	pipeline_free(ag->pipeline);
	/* After the last commit's rule events, before the store closes. */
	rules_free(ag->rules);
	privacy_free(ag->privacy);
	uplink_free(ag->uplink);
	spool_free(ag->spool);
	wallclock_free(ag->clock);
	if (ag->store != NULL) {
		store_audit(ag->store, "stop", NULL);
		store_checkpoint(ag->store, 1);
		store_free(ag->store);
	}
	sysinfo_free(ag->sysinfo);
	if (ag->base != NULL)
		event_base_free(ag->base);
	config_free(ag->cfg);
	free(ag);
}

struct event_base *
agent_base(struct agent *ag)
{
	return ag->base;
}

const struct config *
agent_config(struct agent *ag)
{
	return ag->cfg;
}

struct store *
agent_store(struct agent *ag)
{
	return ag->store;
}

struct spool *
agent_spool(struct agent *ag)
{
	return ag->spool;
}

struct uplink *
agent_uplink(struct agent *ag)
{
	return ag->uplink;
}

struct pipeline *
agent_pipeline(struct agent *ag)
{
	return ag->pipeline;
}

struct sysinfo *
agent_sysinfo(struct agent *ag)
{
	return ag->sysinfo;
}

size_t
agent_adapter_count(struct agent *ag)
{
	return ag->nadapters;
}

struct adapter *
agent_adapter_at(struct agent *ag, size_t i)
{
	return i < ag->nadapters ? ag->adapters[i] : NULL;
}

double
agent_start_time(struct agent *ag)
{
	return ag->start_time;
}

double
agent_uptime_s(struct agent *ag)
{
	return agent_clock(CLOCK_MONOTONIC) - ag->start_mono;
}

unsigned long long
agent_reloads(struct agent *ag)
{
	return ag->reloads;
}

struct history *
agent_history(struct agent *ag)
{
	return ag->history;
}

struct wallclock *
agent_wallclock(struct agent *ag)
{
	return ag->clock;
}

struct summary *
agent_summary(struct agent *ag)
{
	return ag->summary;
}

struct pressure *
agent_pressure(struct agent *ag)
{
	return ag->pressure;
}

struct privacy *
agent_privacy(struct agent *ag)
{
	return ag->privacy;
}

struct rules *
agent_rules(struct agent *ag)
{
	return ag->rules;
}

int
agent_admin_flush(struct agent *ag, char **cause)
{
	if (pipeline_commit(ag->pipeline) == -1) {
		xasprintf(cause, "commit failed: %s", store_errmsg(ag->store));
		return -1;
	}
	uplink_flush(ag->uplink, "admin request");
	store_audit(ag->store, "admin_flush", NULL);
	return 0;
}

int
agent_admin_purge(
    struct agent *ag, double older_than_s, long long *purged, char **cause)
{
	char detail[64];

	if (store_purge_sent(ag->store,
		agent_clock(CLOCK_REALTIME) - older_than_s, purged) == -1) {
		xasprintf(cause, "purge failed: %s", store_errmsg(ag->store));
		return -1;
	}
	snprintf(detail, sizeof detail,
	    "{\"older_than_s\":%.0f,\"purged\":%lld}", older_than_s, *purged);
	store_audit(ag->store, "admin_purge", detail);
	return 0;
}
