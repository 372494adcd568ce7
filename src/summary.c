/*
 * Summaries folded from the raw rows. A closed period's summary is
 * recomputed from table "readings" with one grouped query over the ts
 * index, not accumulated in memory from committed readings: the rows are
 * already durable, so a kill -9 loses no partial sums and a restart needs
 * no rebuild; memory does not grow with the number of sensors; and a
 * replay is harmless because the UNIQUE key makes the insert a no-op.
 * The price is one indexed range scan per period, bounded by the
 * readings of that period. Readings whose ts was not trusted (synced <> 1)
 * are left out: their period is unknown. A period is folded once; readings
 * stored later with a ts inside it (a source's own old timestamps, a
 * backward clock step) stay raw and are not added to it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "log.h"
#include "reading.h"
#include "recid.h"
#include "store.h"
#include "summary.h"
#include "wallclock.h"
#include "xmalloc.h"

#define SUMMARY_META_KEY "summary_folded_until"
#define SUMMARY_GRACE_S 2.0 /* at most half a period */
#define SUMMARY_PERIODS_PER_TICK 8

enum summary_stmt {
	SUMMARY_NEXT,
	SUMMARY_GROUPS,
	SUMMARY_LAST,
	SUMMARY_INSERT,
	SUMMARY_NSTMT,
};

static const char *const summary_sql[SUMMARY_NSTMT] = {
	/* The first trusted reading at or after a time: skips empty periods. */
	[SUMMARY_NEXT] = ("SELECT ts FROM readings WHERE ts >= ?1 AND ts < ?2 "
			  "AND synced = 1 ORDER BY ts LIMIT 1"),
	[SUMMARY_GROUPS] =
	    ("SELECT device, sensor, max(unit), min(value), max(value), "
	     "avg(value), count(*), max(ts), min(priority) FROM readings "
	     "WHERE ts >= ?1 AND ts < ?2 AND synced = 1 GROUP BY device, sensor"),
	/* Ties of ts: the one stored last. */
	[SUMMARY_LAST] = ("SELECT value FROM readings WHERE ts = ?1 AND "
			  "device = ?2 AND sensor = ?3 AND synced = 1 "
			  "ORDER BY seq DESC LIMIT 1"),
	[SUMMARY_INSERT] =
	    ("INSERT INTO summaries (id, device, sensor, unit, period_start, "
	     "period_s, min, max, mean, count, last, priority) VALUES "
	     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
	     "ON CONFLICT DO NOTHING"),
};

struct summary {
	struct store *store;
	sqlite3 *db;
	sqlite3_stmt *stmt[SUMMARY_NSTMT];
	char *agent_id;
	double interval_s;
	const struct wallclock *clock;
	struct event *timer;
	void (*flush)(void *);
	void *flush_arg;
	struct summary_stats stats;
	int failing; /* log a failure once, then its recovery */
};

struct summary *
summary_new(struct store *st, const struct summary_opts *opts)
{
	struct summary *sm = xcalloc(1, sizeof *sm);
	char buf[64];
	int i;

	sm->store = st;
	sm->db = store_db(st);
	sm->agent_id = xstrdup(opts->agent_id);
	sm->interval_s = opts->interval_s > 0 ? opts->interval_s : 3600;
	for (i = 0; i < SUMMARY_NSTMT; i++) {
		if (sqlite3_prepare_v3(sm->db, summary_sql[i], -1,
			SQLITE_PREPARE_PERSISTENT, &sm->stmt[i],
			NULL) != SQLITE_OK) {
			/* Our SQL against our schema: failing is a bug. */
			log_error("summary", "prepare: %s: %s",
			    sqlite3_errmsg(sm->db), summary_sql[i]);
			abort();
		}
	}
	if (store_meta_get(st, SUMMARY_META_KEY, buf, sizeof buf) == 0)
		sm->stats.folded_until = strtod(buf, NULL);
	return sm;
}

void
summary_free(struct summary *sm)
{
	int i;

	if (sm == NULL)
		return;
	if (sm->timer != NULL)
		event_free(sm->timer);
	for (i = 0; i < SUMMARY_NSTMT; i++)
		sqlite3_finalize(sm->stmt[i]);
	free(sm->agent_id);
	free(sm);
}

static void summary_schedule(struct summary *, double, int);
static double summary_now(void);

void
summary_set_opts(struct summary *sm, const struct summary_opts *opts)
{
	free(sm->agent_id);
	sm->agent_id = xstrdup(opts->agent_id);
	sm->interval_s = opts->interval_s > 0 ? opts->interval_s : 3600;
	/* A shorter period must not wait for the old one's timer. */
	if (sm->timer != NULL)
		summary_schedule(sm, summary_now(), 0);
}

void
summary_set_wallclock(struct summary *sm, const struct wallclock *c)
{
	sm->clock = c;
}

static void
summary_bind_text(sqlite3_stmt *s, int col, sqlite3_stmt *from, int fcol)
{
	sqlite3_bind_text(s, col, (const char *)sqlite3_column_text(from, fcol),
	    sqlite3_column_bytes(from, fcol), SQLITE_TRANSIENT);
}

/* One period's rows; the caller holds the transaction. */
static int
summary_fold_groups(struct summary *sm, double start, long long *written)
{
	sqlite3_stmt *g = sm->stmt[SUMMARY_GROUPS];
	sqlite3_stmt *last = sm->stmt[SUMMARY_LAST];
	sqlite3_stmt *ins = sm->stmt[SUMMARY_INSERT];
	unsigned char id[RECORD_ID_LEN];
	const char *device, *sensor;
	double last_value;
	int rc, rv = -1;

	*written = 0;
	sqlite3_bind_double(g, 1, start);
	sqlite3_bind_double(g, 2, start + sm->interval_s);
	while ((rc = sqlite3_step(g)) == SQLITE_ROW) {
		device = (const char *)sqlite3_column_text(g, 0);
		sensor = (const char *)sqlite3_column_text(g, 1);
		sqlite3_bind_double(last, 1, sqlite3_column_double(g, 7));
		summary_bind_text(last, 2, g, 0);
		summary_bind_text(last, 3, g, 1);
		rc = sqlite3_step(last);
		last_value = sqlite3_column_double(last, 0);
		sqlite3_reset(last);
		if (rc != SQLITE_ROW)
			goto out;
		recid_summary(sm->agent_id, device != NULL ? device : "",
		    sensor != NULL ? sensor : "", start, sm->interval_s, id);
		sqlite3_bind_blob(ins, 1, id, RECORD_ID_LEN, SQLITE_TRANSIENT);
		summary_bind_text(ins, 2, g, 0);
		summary_bind_text(ins, 3, g, 1);
		summary_bind_text(ins, 4, g, 2);
		sqlite3_bind_double(ins, 5, start);
		sqlite3_bind_double(ins, 6, sm->interval_s);
		sqlite3_bind_double(ins, 7, sqlite3_column_double(g, 3));
		sqlite3_bind_double(ins, 8, sqlite3_column_double(g, 4));
		sqlite3_bind_double(ins, 9, sqlite3_column_double(g, 5));
		sqlite3_bind_int64(ins, 10, sqlite3_column_int64(g, 6));
		sqlite3_bind_double(ins, 11, last_value);
		sqlite3_bind_int(ins, 12, sqlite3_column_int(g, 8));
		rc = sqlite3_step(ins);
		sqlite3_reset(ins);
		if (rc != SQLITE_DONE)
			goto out;
		*written += sqlite3_changes(sm->db);
	}
	if (rc == SQLITE_DONE)
		rv = 0;
out:
	sqlite3_reset(g);
	sqlite3_clear_bindings(ins);
	return rv;
}

/*
 * Folds [start, start + interval) (start may be NULL: only records
 * progress) and records until as the new progress, in one transaction.
 */
static int
summary_commit_period(
    struct summary *sm, const double *start, double until, long long *written)
{
	char buf[64];

	*written = 0;
	if (store_begin(sm->store) == -1)
		return -1;
	if (start != NULL && summary_fold_groups(sm, *start, written) == -1)
		goto fail;
	snprintf(buf, sizeof buf, "%.17g", until);
	if (store_meta_set(sm->store, SUMMARY_META_KEY, buf) == -1)
		goto fail;
	if (store_commit(sm->store) == -1) {
		*written = 0;
		return -1;
	}
	sm->stats.folded_until = until;
	return 0;
fail:
	*written = 0;
	store_rollback(sm->store);
	return -1;
}

/* The first trusted reading in [from, to): 1 found, 0 none, -1 error. */
static int
summary_next(struct summary *sm, double from, double to, double *ts)
{
	sqlite3_stmt *s = sm->stmt[SUMMARY_NEXT];
	int rc;

	sqlite3_bind_double(s, 1, from);
	sqlite3_bind_double(s, 2, to);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ts = sqlite3_column_double(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

int
summary_fold(struct summary *sm, double now, int max_periods, int *more)
{
	double p = sm->interval_s, grace = fmin(SUMMARY_GRACE_S, p / 2);
	double closed, start, ts;
	long long written;
	int rc, n = 0;

	*more = 0;
	closed = floor((now - grace) / p) * p;
	/* Aligned to the current period length, which a reload may change:
	 * a partly folded period of the old length is skipped. */
	start = ceil(sm->stats.folded_until / p) * p;
	while (start < closed && n < max_periods) {
		if ((rc = summary_next(sm, start, closed, &ts)) == -1)
			goto fail;
		if (rc == 0) {
			if (summary_commit_period(sm, NULL, closed, &written) ==
			    -1)
				goto fail;
			start = closed;
			break;
		}
		start = floor(ts / p) * p;
		if (summary_commit_period(sm, &start, start + p, &written) ==
		    -1)
			goto fail;
		sm->stats.periods++;
		sm->stats.rows += (unsigned long long)written;
		log_debug("summary", "period %.3f + %g s: %lld summaries",
		    start, p, written);
		start += p;
		n++;
	}
	*more = start < closed;
	if (sm->failing) {
		log_info("summary", "folding works again");
		sm->failing = 0;
	}
	return n;
fail:
	sm->stats.failures++;
	if (!sm->failing)
		log_error("summary", "fold failed: %s", sqlite3_errmsg(sm->db));
	sm->failing = 1;
	return -1;
}

double
summary_folded_until(const struct summary *sm)
{
	return sm->stats.folded_until;
}

void
summary_stats(const struct summary *sm, struct summary_stats *out)
{
	*out = sm->stats;
}

static double
summary_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The wait is computed from the wall clock at every turn and never longer
 * than one period, so a clock step delays a fold by at most one period.
 */
static void
summary_schedule(struct summary *sm, double now, int more)
{
	double p = sm->interval_s, grace = fmin(SUMMARY_GRACE_S, p / 2);
	double wait = 0;
	struct timeval tv;

	if (!more) {
		wait = floor((now - grace) / p) * p + p + grace - now;
		wait = fmax(0.01, fmin(wait, p));
	}
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(sm->timer, &tv);
}

static void
summary_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct summary *sm = arg;
	double now;
	int more = 0;

	if (sm->clock == NULL || wallclock_trusted(sm->clock)) {
		if (sm->flush != NULL)
			sm->flush(sm->flush_arg);
		summary_fold(
		    sm, summary_now(), SUMMARY_PERIODS_PER_TICK, &more);
	}
	now = summary_now();
	summary_schedule(sm, now, more);
}

int
summary_start(struct summary *sm, struct event_base *base,
    void (*flush)(void *arg), void *arg)
{
	sm->flush = flush;
	sm->flush_arg = arg;
	if (sm->timer == NULL &&
	    (sm->timer = evtimer_new(base, summary_timer_cb, sm)) == NULL)
		return -1;
	summary_schedule(sm, summary_now(), 0);
	return 0;
}
