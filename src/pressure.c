/*
 * Storage pressure: a periodic check of the store's live size (pages in
 * use, not the file, which never shrinks) against max_db_mb and of
 * SQLITE_FULL from the reading path. It decides the mode, purges what the
 * summaries already cover, asks the spool to shed, and tells the pipeline
 * what to admit. The shedding itself is spool.c's; the fold is summary.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "json_out.h"
#include "log.h"
#include "pipeline.h"
#include "pressure.h"
#include "spool.h"
#include "store.h"
#include "summary.h"
#include "xmalloc.h"

#define PRESSURE_CHUNK 1000	 /* rows per purge transaction */
#define PRESSURE_MAX_CHUNKS 64	 /* per check: bounded work on the loop */
#define PRESSURE_FULL_SHED 0.9	 /* on SQLITE_FULL, shed to 90% of live */
#define PRESSURE_AUDIT_PENDING 8 /* transitions waiting for room */
#define PRESSURE_PURGE_IDLE_S 60 /* after a purge found nothing */

enum pressure_stmt {
	PRESSURE_PURGE_SENT,
	PRESSURE_PURGE_OLD,
	PRESSURE_COUNT_SHED,
	PRESSURE_NSTMT,
};

/*
 * Raw readings whose period is folded (ts < folded_until, and trusted: a
 * synced <> 1 reading is in no summary): the uploaded ones first, then
 * unsent normal and low ones older than min_age. In-flight, dead-letter,
 * high and critical readings are left to the spool's order.
 */
static const char *const pressure_sql[PRESSURE_NSTMT] = {
	[PRESSURE_PURGE_SENT] =
	    ("DELETE FROM readings WHERE seq IN (SELECT seq "
	     "FROM readings WHERE ts < ?1 AND synced = 1 "
	     "AND state = 2 LIMIT ?2)"),
	[PRESSURE_PURGE_OLD] = ("DELETE FROM readings WHERE seq IN (SELECT seq "
				"FROM readings WHERE ts < ?1 AND ts < ?3 AND "
				"synced = 1 AND state = 0 AND priority >= 2 "
				"LIMIT ?2)"),
	[PRESSURE_COUNT_SHED] = ("UPDATE meta SET value = CAST(value AS "
				 "INTEGER) + ?1 WHERE key = 'shed_total'"),
};

static const char *const pressure_mode_names[] = { "normal", "degraded",
	"critical_only" };

struct pressure {
	struct store *store;
	sqlite3 *db;
	struct spool *spool;
	struct pipeline *pipeline;
	struct summary *summary;
	struct pressure_opts opts;
	sqlite3_stmt *stmt[PRESSURE_NSTMT];
	struct event *timer;
	char reason[256];
	int full_shed;			     /* shed since SQLITE_FULL */
	double purge_idle_until;	     /* monotonic s; 0 = purge now */
	double purge_idle_folded;	     /* folded_until then */
	unsigned long long failures_at_shed; /* pipeline commit failures */
	char *audit[PRESSURE_AUDIT_PENDING]; /* not yet written */
	size_t naudit;
	struct pressure_stats stats;
};

static double
pressure_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
pressure_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *
pressure_mode_name(enum pressure_mode m)
{
	if ((unsigned)m > PRESSURE_CRITICAL_ONLY)
		return "unknown";
	return pressure_mode_names[m];
}

enum pressure_mode
pressure_next_mode(enum pressure_mode cur, double fill, int full)
{
	if (fill >= PRESSURE_CRITICAL_AT)
		return PRESSURE_CRITICAL_ONLY;
	if (cur == PRESSURE_CRITICAL_ONLY && fill >= PRESSURE_CRITICAL_UNTIL)
		return PRESSURE_CRITICAL_ONLY;
	if (full || fill >= PRESSURE_DEGRADED_AT)
		return PRESSURE_DEGRADED;
	if (cur != PRESSURE_NORMAL && fill >= PRESSURE_DEGRADED_UNTIL)
		return PRESSURE_DEGRADED;
	return PRESSURE_NORMAL;
}

struct pressure *
pressure_new(struct store *st, struct spool *sp, struct pipeline *p,
    struct summary *sm, const struct pressure_opts *opts)
{
	struct pressure *pr = xcalloc(1, sizeof *pr);
	int i;

	pr->store = st;
	pr->db = store_db(st);
	pr->spool = sp;
	pr->pipeline = p;
	pr->summary = sm;
	pr->opts = *opts;
	pr->stats.since = pressure_now();
	for (i = 0; i < PRESSURE_NSTMT; i++) {
		if (sqlite3_prepare_v3(pr->db, pressure_sql[i], -1,
			SQLITE_PREPARE_PERSISTENT, &pr->stmt[i],
			NULL) != SQLITE_OK) {
			/* Our SQL against our schema: failing is a bug. */
			log_error("pressure", "prepare: %s: %s",
			    sqlite3_errmsg(pr->db), pressure_sql[i]);
			abort();
		}
	}
	return pr;
}

void
pressure_free(struct pressure *pr)
{
	size_t i;

	if (pr == NULL)
		return;
	if (pr->timer != NULL)
		event_free(pr->timer);
	for (i = 0; i < PRESSURE_NSTMT; i++)
		sqlite3_finalize(pr->stmt[i]);
	for (i = 0; i < pr->naudit; i++)
		free(pr->audit[i]);
	free(pr);
}

void
pressure_set_opts(struct pressure *pr, const struct pressure_opts *opts)
{
	struct timeval tv;

	pr->opts = *opts;
	if (pr->timer != NULL) {
		tv.tv_sec = (time_t)opts->check_interval_s;
		tv.tv_usec =
		    (suseconds_t)((opts->check_interval_s - (double)tv.tv_sec) *
			1e6);
		evtimer_add(pr->timer, &tv);
	}
}

static long long
pressure_live_bytes(struct pressure *pr)
{
	return spool_live_bytes(pr->spool);
}

static double
pressure_fill(const struct pressure *pr, long long live)
{
	if (pr->opts.max_db_bytes <= 0 || live < 0)
		return 0;
	return (double)live / (double)pr->opts.max_db_bytes;
}

/* One chunk of one purge statement in its own transaction; rows or -1. */
static long long
pressure_purge_chunk(
    struct pressure *pr, enum pressure_stmt i, double folded, double old)
{
	sqlite3_stmt *s = pr->stmt[i];
	long long n;
	int rc;

	if (store_begin(pr->store) == -1)
		return -1;
	sqlite3_bind_double(s, 1, folded);
	sqlite3_bind_int(s, 2, PRESSURE_CHUNK);
	if (i == PRESSURE_PURGE_OLD)
		sqlite3_bind_double(s, 3, old);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		goto fail;
	n = sqlite3_changes(pr->db);
	/* Unsent rows are lost to the collector: counted as shed. */
	if (i == PRESSURE_PURGE_OLD && n > 0) {
		s = pr->stmt[PRESSURE_COUNT_SHED];
		sqlite3_bind_int64(s, 1, n);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	if (store_commit(pr->store) == -1)
		return -1;
	return n;
fail:
	log_error("pressure", "purge: %s", sqlite3_errmsg(pr->db));
	store_rollback(pr->store);
	return -1;
}

/* Purges summarized raw readings until live bytes reach target. */
static void
pressure_purge(struct pressure *pr, double now, long long target)
{
	static const enum pressure_stmt order[] = { PRESSURE_PURGE_SENT,
		PRESSURE_PURGE_OLD };
	double folded =
	    pr->summary != NULL ? summary_folded_until(pr->summary) : 0;
	long long n, total = 0, unsent = 0;
	size_t i;
	int chunks = 0, tried = 0;

	if (folded <= 0)
		return;
	/*
	 * The purge walks the ts index up to folded_until: when it found
	 * nothing, walking it again every check would scan the table for
	 * nothing. Wait for newly folded periods or a minute.
	 */
	if (pr->purge_idle_until > pressure_mono() &&
	    folded == pr->purge_idle_folded)
		return;
	for (i = 0; i < sizeof order / sizeof *order; i++) {
		while (chunks < PRESSURE_MAX_CHUNKS &&
		    pressure_live_bytes(pr) > target) {
			chunks++;
			tried = 1;
			n = pressure_purge_chunk(
			    pr, order[i], folded, now - pr->opts.min_age_s);
			if (n <= 0)
				break;
			total += n;
			if (order[i] == PRESSURE_PURGE_OLD)
				unsent += n;
		}
	}
	pr->stats.purged_summarized += (unsigned long long)total;
	pr->purge_idle_until =
	    total == 0 && tried ? pressure_mono() + PRESSURE_PURGE_IDLE_S : 0;
	pr->purge_idle_folded = folded;
	if (total > 0)
		log_info("pressure",
		    "purged %lld summarized raw readings (%lld not uploaded, "
		    "older than %.0f s)",
		    total, unsent, pr->opts.min_age_s);
}

/*
 * SQLITE_FULL: the disk (or max_pages) is full whatever max_db_mb says.
 * Free a tenth of the live data, in the spool's order but keeping high
 * and critical records: those already acknowledged stay, new ones are
 * refused at the source (not acknowledged) until there is room. Shed
 * again only after another commit failed, not at every check.
 */
static void
pressure_full(struct pressure *pr, double now)
{
	struct pipeline_stats ps;
	long long live, target, shed = 0;

	pipeline_stats(pr->pipeline, &ps);
	if (pr->full_shed && ps.commit_failures == pr->failures_at_shed)
		return;
	pr->full_shed = 1;
	pr->failures_at_shed = ps.commit_failures;
	if ((live = pressure_live_bytes(pr)) <= 0)
		return;
	target = (long long)((double)live * PRESSURE_FULL_SHED);
	pressure_purge(pr, now, target);
	if (spool_shed_to(pr->spool, target, PRIORITY_NORMAL, &shed) == 0)
		pr->stats.shed_full += (unsigned long long)shed;
}

/* Transitions wait in memory while the store cannot take them. */
static void
pressure_audit_flush(struct pressure *pr)
{
	size_t i, done = 0;

	for (i = 0; i < pr->naudit; i++) {
		if (store_audit(pr->store, "store_mode", pr->audit[i]) == -1)
			break;
		free(pr->audit[i]);
		done++;
	}
	memmove(pr->audit, pr->audit + done,
	    (pr->naudit - done) * sizeof *pr->audit);
	pr->naudit -= done;
}

static void
pressure_set_mode(
    struct pressure *pr, enum pressure_mode mode, double now, double fill)
{
	enum pressure_mode old = pr->stats.mode;
	struct json_out j;

	if (mode == old)
		return;
	pr->stats.mode = mode;
	pr->stats.since = now;
	pr->stats.transitions++;
	pipeline_set_min_priority(pr->pipeline,
	    mode == PRESSURE_CRITICAL_ONLY ? PRIORITY_CRITICAL : PRIORITY_LOW);
	if (mode == PRESSURE_NORMAL)
		log_info("pressure", "store mode %s -> %s",
		    pressure_mode_name(old), pressure_mode_name(mode));
	else
		log_warn("pressure", "store mode %s -> %s: %s",
		    pressure_mode_name(old), pressure_mode_name(mode),
		    pr->reason);
	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_string(&j, "from", pressure_mode_name(old));
	json_out_string(&j, "to", pressure_mode_name(mode));
	json_out_string(&j, "reason", pr->reason);
	json_out_double(&j, "fill", floor(fill * 1000) / 1000);
	json_out_bool(&j, "full", pr->stats.full);
	json_out_double(&j, "at", now);
	json_out_object_end(&j);
	if (pr->naudit == PRESSURE_AUDIT_PENDING) {
		/* The oldest unwritten one goes; the log has it. */
		free(pr->audit[0]);
		memmove(pr->audit, pr->audit + 1,
		    (PRESSURE_AUDIT_PENDING - 1) * sizeof *pr->audit);
		pr->naudit--;
	}
	pr->audit[pr->naudit++] = xstrdup(j.buf);
	json_out_free(&j);
}

static void
pressure_set_reason(struct pressure *pr, enum pressure_mode mode, double fill)
{
	double mb = (double)pr->opts.max_db_bytes / 1048576.0;

	pr->reason[0] = '\0';
	if (mode == PRESSURE_CRITICAL_ONLY)
		snprintf(pr->reason, sizeof pr->reason,
		    "store at %.0f%% of max_db_mb (%g MB): only critical "
		    "readings are admitted",
		    fill * 100, mb);
	else if (mode == PRESSURE_DEGRADED && pr->stats.full)
		snprintf(pr->reason, sizeof pr->reason,
		    "store full (%s): shedding, readings refused until there "
		    "is room",
		    store_errmsg(pr->store));
	else if (mode == PRESSURE_DEGRADED)
		snprintf(pr->reason, sizeof pr->reason,
		    "store at %.0f%% of max_db_mb (%g MB): summarized readings "
		    "are purged first",
		    fill * 100, mb);
}

enum pressure_mode
pressure_check(struct pressure *pr, double now)
{
	long long live, shed = 0;
	double fill;
	enum pressure_mode next;

	live = pressure_live_bytes(pr);
	fill = pressure_fill(pr, live);
	pr->stats.full = store_full(pr->store);
	if (fill >= PRESSURE_DEGRADED_AT ||
	    (pr->stats.mode != PRESSURE_NORMAL &&
		fill >= PRESSURE_DEGRADED_UNTIL))
		pressure_purge(pr, now,
		    (long long)((double)pr->opts.max_db_bytes *
			PRESSURE_DEGRADED_UNTIL));
	spool_shed(pr->spool, &shed);
	if (pr->stats.full)
		pressure_full(pr, now);
	else
		pr->full_shed = 0;
	live = pressure_live_bytes(pr);
	fill = pressure_fill(pr, live);
	pr->stats.live_bytes = live;
	pr->stats.fill = fill;
	next = pressure_next_mode(pr->stats.mode, fill, pr->stats.full);
	pressure_set_reason(pr, next, fill);
	pressure_set_mode(pr, next, now, fill);
	if (pr->naudit > 0)
		pressure_audit_flush(pr);
	return pr->stats.mode;
}

enum pressure_mode
pressure_mode(const struct pressure *pr)
{
	return pr->stats.mode;
}

const char *
pressure_reason(const struct pressure *pr)
{
	return pr->reason;
}

void
pressure_stats(const struct pressure *pr, struct pressure_stats *out)
{
	*out = pr->stats;
}

static void
pressure_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	pressure_check(arg, pressure_now());
}

int
pressure_start(struct pressure *pr, struct event_base *base)
{
	struct timeval tv;

	if (pr->timer == NULL &&
	    (pr->timer = event_new(
		 base, -1, EV_PERSIST, pressure_timer_cb, pr)) == NULL)
		return -1;
	tv.tv_sec = (time_t)pr->opts.check_interval_s;
	tv.tv_usec =
	    (suseconds_t)((pr->opts.check_interval_s - (double)tv.tv_sec) *
		1e6);
	return evtimer_add(pr->timer, &tv);
}
