/*
 * The upload queue over the store's three record tables. A claim only
 * reads: the batch in flight lives in memory (the uplink sends one at a
 * time), because writing "in_flight" into every row and then "sent" over
 * it rewrote each row's pages twice per upload, and a crash requeues an
 * unanswered batch anyway (the collector deduplicates by record id). The
 * outcome is one prepared statement per record inside one transaction per
 * batch, so a crash leaves either the old or the new state. Stores written
 * by older versions may hold state 1 rows: start-up requeues them
 * (store_requeue_in_flight).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "spool.h"
#include "store.h"
#include "xmalloc.h"

#define SPOOL_SHED_CHUNK 500
#define SPOOL_EXPIRE_SCAN 2000	/* oldest queued looked at per window */
#define SPOOL_EXPIRE_WINDOWS 50 /* per table and priority per pass */
#define SPOOL_SHED_TARGET 0.9	/* shed down to 90% of the cap */

enum spool_table {
	SPOOL_READINGS,
	SPOOL_EVENTS,
	SPOOL_SUMMARIES,
};

/* Claim order within one priority: events first, they are rare and urgent. */
static const enum spool_table spool_claim_order[SPOOL_TABLES] = { SPOOL_EVENTS,
	SPOOL_SUMMARIES, SPOOL_READINGS };

static const char *const spool_table_names[SPOOL_TABLES] = { "readings",
	"events", "summaries" };

/*
 * Readings stamped before the wall clock was trusted (synced = 0) wait
 * until their ts is corrected (wallclock.c): the collector sees each
 * record with its final timestamp.
 */
static const char *const spool_claim_sql[SPOOL_TABLES] = {
	"SELECT seq, id, device, sensor, ts, value, unit, meta, priority "
	"FROM readings WHERE state = 0 AND priority = ?1 AND synced <> 0 "
	"ORDER BY seq LIMIT ?2",
	"SELECT seq, id, device, sensor, ts, value, rule, kind, severity, "
	"priority FROM events WHERE state = 0 AND priority = ?1 "
	"ORDER BY seq LIMIT ?2",
	"SELECT seq, id, device, sensor, period_start, unit, period_s, min, "
	"max, mean, count, last, priority FROM summaries "
	"WHERE state = 0 AND priority = ?1 ORDER BY seq LIMIT ?2",
};

enum spool_op {
	SPOOL_CLAIM,
	SPOOL_ACK,
	SPOOL_ACK_DELETE,
	SPOOL_NACK,
	SPOOL_REJECT,
	SPOOL_EXPIRE,
	SPOOL_SHED_QUEUED,
	SPOOL_SHED_DEAD,
	SPOOL_SHED_SENT,
	SPOOL_NOPS,
};

#define SPOOL_OPS(t, ts, trusted)                                             \
	{                                                                     \
		NULL, /* spool_claim_sql */                                   \
		    "UPDATE " t " SET state = 2, sent_at = ?2 "               \
		    "WHERE seq = ?1 AND id = ?3",                             \
		    "DELETE FROM " t " WHERE seq = ?1 AND id = ?3",           \
		    "UPDATE " t                                               \
		    " SET attempts = attempts + 1, state = CASE WHEN ?2 > 0 " \
		    "AND attempts + 1 >= ?2 THEN 3 ELSE 0 END "               \
		    "WHERE seq = ?1 AND id = ?3 RETURNING state",             \
		    "UPDATE " t " SET state = 3, attempts = attempts + 1 "    \
		    "WHERE seq = ?1 AND id = ?3",                             \
		    "DELETE FROM " t " WHERE seq IN (SELECT seq FROM " t      \
		    " WHERE state = 0 AND priority = ?1 ORDER BY seq "        \
		    "LIMIT ?3) AND " ts " < ?2" trusted,                      \
		    "DELETE FROM " t " WHERE seq IN (SELECT seq FROM " t      \
		    " WHERE "                                                 \
		    "state = 0 AND priority = ?1 ORDER BY seq LIMIT ?2)",     \
		    "DELETE FROM " t " WHERE seq IN (SELECT seq FROM " t      \
		    " WHERE "                                                 \
		    "state = 3 ORDER BY seq LIMIT ?2)",                       \
		    "DELETE FROM " t " WHERE seq IN (SELECT seq FROM " t      \
		    " WHERE "                                                 \
		    "state = 2 ORDER BY " ts " LIMIT ?2)",                    \
	}

/*
 * TTL counts from trusted timestamps only: a reading stamped before the
 * wall clock was trusted (synced 0, or 2 from an earlier boot) carries a
 * ts that may be decades off; it stays until uploaded or shed.
 */
static const char *const spool_op_sql[SPOOL_TABLES][SPOOL_NOPS] = {
	SPOOL_OPS("readings", "ts", " AND synced = 1"),
	SPOOL_OPS("events", "ts", ""),
	SPOOL_OPS("summaries", "period_start", ""),
};

struct spool {
	struct store *store;
	sqlite3 *db;
	struct spool_opts opts;
	sqlite3_stmt *stmt[SPOOL_NOPS][SPOOL_TABLES];
	struct spool_batch settled; /* acknowledged, not yet written */
	double settled_at;
	sqlite3_stmt *begin;
	sqlite3_stmt *begin_read;
	sqlite3_stmt *commit;
	sqlite3_stmt *rollback;
	sqlite3_stmt *add_shed;
	sqlite3_stmt *pages;
	sqlite3_stmt *pending;
};

static sqlite3_stmt *
spool_prepare(struct spool *sp, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v3(sp->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
		NULL) != SQLITE_OK) {
		/* Our SQL against our schema: failing here is a bug. */
		log_error(
		    "spool", "prepare: %s: %s", sqlite3_errmsg(sp->db), sql);
		abort();
	}
	return s;
}

/* A per-table statement, prepared when first needed. */
static sqlite3_stmt *
spool_stmt(struct spool *sp, enum spool_op op, int t)
{
	if (sp->stmt[op][t] == NULL)
		sp->stmt[op][t] = spool_prepare(sp,
		    op == SPOOL_CLAIM ? spool_claim_sql[t]
				      : spool_op_sql[t][op]);
	return sp->stmt[op][t];
}

struct spool *
spool_new(struct store *st, const struct spool_opts *opts)
{
	struct spool *sp = xcalloc(1, sizeof *sp);

	sp->store = st;
	sp->db = store_db(st);
	sp->opts = *opts;
	spool_batch_init(&sp->settled, 0);
	sp->begin = spool_prepare(sp, "BEGIN IMMEDIATE");
	sp->begin_read = spool_prepare(sp, "BEGIN");
	sp->commit = spool_prepare(sp, "COMMIT");
	sp->rollback = spool_prepare(sp, "ROLLBACK");
	sp->add_shed = spool_prepare(sp,
	    "UPDATE meta SET value = "
	    "CAST(value AS INTEGER) + ?1 WHERE key = 'shed_total'");
	sp->pages = spool_prepare(sp,
	    "SELECT page_count - freelist_count, "
	    "page_size FROM pragma_page_count(), pragma_freelist_count(), "
	    "pragma_page_size()");
	sp->pending = spool_prepare(sp, "SELECT sum(n) FROM queue_counts");
	return sp;
}

void
spool_free(struct spool *sp)
{
	int op, t;

	if (sp == NULL)
		return;
	spool_settle(sp);
	spool_batch_free(&sp->settled);
	for (op = 0; op < SPOOL_NOPS; op++)
		for (t = 0; t < SPOOL_TABLES; t++)
			sqlite3_finalize(sp->stmt[op][t]);
	sqlite3_finalize(sp->begin);
	sqlite3_finalize(sp->begin_read);
	sqlite3_finalize(sp->commit);
	sqlite3_finalize(sp->rollback);
	sqlite3_finalize(sp->add_shed);
	sqlite3_finalize(sp->pages);
	sqlite3_finalize(sp->pending);
	free(sp);
}

void
spool_set_opts(struct spool *sp, const struct spool_opts *opts)
{
	sp->opts = *opts;
}

void
spool_batch_init(struct spool_batch *b, size_t cap)
{
	int t;

	memset(b, 0, sizeof *b);
	b->cap = cap;
	for (t = 0; t < SPOOL_TABLES; t++) {
		b->seqs[t] = xcalloc(cap, sizeof *b->seqs[t]);
		b->ids[t] = xcalloc(cap, sizeof *b->ids[t]);
	}
}

void
spool_batch_free(struct spool_batch *b)
{
	int t;

	for (t = 0; t < SPOOL_TABLES; t++) {
		free(b->seqs[t]);
		free(b->ids[t]);
	}
	memset(b, 0, sizeof *b);
}

/* The batch is resolved or abandoned: nothing of it is in flight any more. */
static void
spool_batch_clear(struct spool *sp, struct spool_batch *b)
{
	memset(b->n, 0, sizeof b->n);
	memset(b->by_priority, 0, sizeof b->by_priority);
	b->count = 0;
	store_set_claimed(sp->store, b->by_priority);
}

static int
spool_step_done(struct spool *sp, sqlite3_stmt *s, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_error("spool", "%s: %s", what, sqlite3_errmsg(sp->db));
		return -1;
	}
	return 0;
}

static int
spool_begin(struct spool *sp)
{
	return spool_step_done(sp, sp->begin, "begin");
}

static int
spool_commit(struct spool *sp)
{
	if (spool_step_done(sp, sp->commit, "commit") == -1) {
		/* SQLite may have rolled back already (SQLITE_FULL). */
		if (!sqlite3_get_autocommit(sp->db))
			spool_step_done(sp, sp->rollback, "rollback");
		return -1;
	}
	return 0;
}

static void
spool_abort(struct spool *sp)
{
	if (!sqlite3_get_autocommit(sp->db))
		spool_step_done(sp, sp->rollback, "rollback");
}

static const char *
spool_text(sqlite3_stmt *s, int col)
{
	const unsigned char *p = sqlite3_column_text(s, col);

	return p != NULL ? (const char *)p : "";
}

/* Decodes one RETURNING row of table t into an encode record. */
static void
spool_row(sqlite3_stmt *s, int t, struct encode_record *r)
{
	const void *id;

	memset(r, 0, sizeof *r);
	if ((id = sqlite3_column_blob(s, 1)) != NULL &&
	    sqlite3_column_bytes(s, 1) == RECORD_ID_LEN)
		memcpy(r->id, id, RECORD_ID_LEN);
	r->device = spool_text(s, 2);
	r->sensor = spool_text(s, 3);
	r->ts = sqlite3_column_double(s, 4);
	switch (t) {
	case SPOOL_READINGS:
		r->kind = ENCODE_READING;
		r->value = sqlite3_column_double(s, 5);
		r->unit = spool_text(s, 6);
		r->meta = sqlite3_column_type(s, 7) == SQLITE_NULL
		    ? NULL
		    : spool_text(s, 7);
		r->priority = (enum priority)sqlite3_column_int(s, 8);
		break;
	case SPOOL_EVENTS:
		r->kind = ENCODE_EVENT;
		r->value = sqlite3_column_double(s, 5);
		r->rule = spool_text(s, 6);
		r->event_kind = spool_text(s, 7);
		r->severity = (enum priority)sqlite3_column_int(s, 8);
		r->priority = (enum priority)sqlite3_column_int(s, 9);
		break;
	default:
		r->kind = ENCODE_SUMMARY;
		r->unit = spool_text(s, 5);
		r->period_s = sqlite3_column_double(s, 6);
		r->min = sqlite3_column_double(s, 7);
		r->max = sqlite3_column_double(s, 8);
		r->mean = sqlite3_column_double(s, 9);
		r->count = sqlite3_column_int64(s, 10);
		r->last = sqlite3_column_double(s, 11);
		r->value = r->mean;
		r->priority = (enum priority)sqlite3_column_int(s, 12);
	}
}

long long
spool_claim(struct spool *sp, size_t max, enum priority max_priority,
    spool_record_cb *cb, void *arg, struct spool_batch *b)
{
	struct encode_record r;
	sqlite3_stmt *s;
	int p, i, t, rc;

	spool_batch_clear(sp, b);
	/* An acknowledged batch not yet written would be claimed again. */
	spool_settle(sp);
	if (max > b->cap)
		max = b->cap;
	/* One read snapshot over the three tables; nothing is written. */
	if (spool_step_done(sp, sp->begin_read, "begin") == -1)
		return -1;
	for (p = 0; p <= (int)max_priority && b->count < max; p++) {
		for (i = 0; i < SPOOL_TABLES && b->count < max; i++) {
			t = spool_claim_order[i];
			s = spool_stmt(sp, SPOOL_CLAIM, t);
			sqlite3_bind_int(s, 1, p);
			sqlite3_bind_int64(s, 2, (long long)(max - b->count));
			while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
				spool_row(s, t, &r);
				b->seqs[t][b->n[t]] =
				    sqlite3_column_int64(s, 0);
				memcpy(b->ids[t][b->n[t]], r.id, RECORD_ID_LEN);
				b->n[t]++;
				b->by_priority[p]++;
				b->count++;
				cb(arg, &r);
			}
			sqlite3_reset(s);
			if (rc != SQLITE_DONE) {
				log_error("spool", "claim: %s",
				    sqlite3_errmsg(sp->db));
				spool_abort(sp);
				spool_batch_clear(sp, b);
				return -1;
			}
		}
	}
	if (spool_commit(sp) == -1) {
		spool_batch_clear(sp, b);
		return -1;
	}
	store_set_claimed(sp->store, b->by_priority);
	return (long long)b->count;
}

/*
 * Runs op on every record of the batch inside the open transaction. The
 * id must match too: a row shed while the batch was away may have left
 * its seq to a newer reading.
 */
static int
spool_apply_in(struct spool *sp, const struct spool_batch *b, enum spool_op op,
    double now, long long *dead)
{
	sqlite3_stmt *s;
	size_t i;
	int t, rc;

	for (t = 0; t < SPOOL_TABLES; t++) {
		s = spool_stmt(sp, op, t);
		for (i = 0; i < b->n[t]; i++) {
			sqlite3_bind_int64(s, 1, b->seqs[t][i]);
			if (op == SPOOL_ACK)
				sqlite3_bind_double(s, 2, now);
			else if (op == SPOOL_NACK)
				sqlite3_bind_int64(s, 2, sp->opts.max_attempts);
			sqlite3_bind_blob(
			    s, 3, b->ids[t][i], RECORD_ID_LEN, SQLITE_STATIC);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
				if (dead != NULL &&
				    sqlite3_column_int(s, 0) ==
					STORE_DEAD_LETTER)
					(*dead)++;
			}
			sqlite3_reset(s);
			if (rc != SQLITE_DONE) {
				log_error("spool", "%s: %s",
				    spool_table_names[t],
				    sqlite3_errmsg(sp->db));
				return -1;
			}
		}
	}
	return 0;
}

/* Runs op on every record of the batch in a transaction of its own. */
static int
spool_apply(struct spool *sp, struct spool_batch *b, enum spool_op op,
    double now, long long *dead)
{
	if (b->count == 0)
		return 0;
	/* Whatever the outcome, the batch is no longer in flight: on a
	 * store error its records are still queued and go out again. */
	store_set_claimed(sp->store, NULL);
	if (spool_begin(sp) == -1)
		return -1;
	if (spool_apply_in(sp, b, op, now, dead) == -1) {
		spool_abort(sp);
		return -1;
	}
	if (spool_commit(sp) == -1)
		return -1;
	spool_batch_clear(sp, b);
	return 0;
}

static enum spool_op
spool_ack_op(const struct spool *sp)
{
	/* Kept nothing once sent: deleting spares the page rewrite of
	 * marking the rows sent and the purge that would delete them. */
	return sp->opts.delete_on_ack ? SPOOL_ACK_DELETE : SPOOL_ACK;
}

int
spool_ack(struct spool *sp, struct spool_batch *b, double now)
{
	return spool_apply(sp, b, spool_ack_op(sp), now, NULL);
}

/* Forgets the acknowledged batch: written, or given up on. */
static void
spool_settled_clear(struct spool *sp)
{
	memset(sp->settled.n, 0, sizeof sp->settled.n);
	memset(sp->settled.by_priority, 0, sizeof sp->settled.by_priority);
	sp->settled.count = 0;
	store_set_settled(sp->store, NULL);
}

int
spool_ack_later(struct spool *sp, struct spool_batch *b, double now)
{
	int t;

	if (b->count == 0)
		return 0;
	spool_settle(sp); /* at most one batch waits */
	if (sp->settled.cap < b->cap) {
		spool_batch_free(&sp->settled);
		spool_batch_init(&sp->settled, b->cap);
	}
	for (t = 0; t < SPOOL_TABLES; t++) {
		memcpy(sp->settled.seqs[t], b->seqs[t],
		    b->n[t] * sizeof *b->seqs[t]);
		memcpy(
		    sp->settled.ids[t], b->ids[t], b->n[t] * sizeof *b->ids[t]);
		sp->settled.n[t] = b->n[t];
	}
	memcpy(sp->settled.by_priority, b->by_priority, sizeof b->by_priority);
	sp->settled.count = b->count;
	sp->settled_at = now;
	spool_batch_clear(sp, b);
	store_set_settled(sp->store, sp->settled.by_priority);
	return 0;
}

int
spool_settle_in(struct spool *sp)
{
	if (sp->settled.count == 0)
		return 0;
	return spool_apply_in(
	    sp, &sp->settled, spool_ack_op(sp), sp->settled_at, NULL);
}

void
spool_settle_done(struct spool *sp, int committed)
{
	if (committed)
		spool_settled_clear(sp);
}

void
spool_settle(struct spool *sp)
{
	if (sp->settled.count == 0)
		return;
	if (spool_begin(sp) == -1 || spool_settle_in(sp) == -1 ||
	    spool_commit(sp) == -1) {
		spool_abort(sp);
		/* Not kept for a retry: the store is failing, and the batch
		 * must not block the claims that drain it. */
		log_error("spool",
		    "an acknowledged batch of %zu records could not be "
		    "marked sent: it will be sent again",
		    sp->settled.count);
	}
	spool_settled_clear(sp);
}

int
spool_nack(struct spool *sp, struct spool_batch *b, long long *dead)
{
	long long n = 0;
	int rc = spool_apply(sp, b, SPOOL_NACK, 0, &n);

	if (dead != NULL)
		*dead = n;
	return rc;
}

int
spool_reject(struct spool *sp, struct spool_batch *b)
{
	return spool_apply(sp, b, SPOOL_REJECT, 0, NULL);
}

int
spool_release(struct spool *sp, struct spool_batch *b)
{
	/* The records were never marked: forgetting the batch requeues it. */
	spool_batch_clear(sp, b);
	return 0;
}

static int
spool_count_shed(struct spool *sp, long long n)
{
	sqlite3_bind_int64(sp->add_shed, 1, n);
	return spool_step_done(sp, sp->add_shed, "shed count");
}

int
spool_expire(struct spool *sp, double now, long long *shed)
{
	sqlite3_stmt *s;
	long long n = 0, d;
	int p, t, w;

	*shed = 0;
	if (spool_begin(sp) == -1)
		return -1;
	for (p = 0; p < PRIORITY_COUNT; p++) {
		if (sp->opts.ttl_s[p] <= 0)
			continue;
		for (t = 0; t < SPOOL_TABLES; t++) {
			s = spool_stmt(sp, SPOOL_EXPIRE, t);
			sqlite3_bind_int(s, 1, p);
			sqlite3_bind_double(s, 2, now - sp->opts.ttl_s[p]);
			sqlite3_bind_int(s, 3, SPOOL_EXPIRE_SCAN);
			/*
			 * Only the oldest arrivals are looked at, a window at
			 * a time, and the next window only while a whole one
			 * expired: a scan of every queued record took seconds
			 * of the loop at 10M pending (bench/bench_backlog.sh).
			 * A late record stamped long ago waits for its turn
			 * at the head (or for shedding).
			 */
			for (w = 0; w < SPOOL_EXPIRE_WINDOWS; w++) {
				if (spool_step_done(sp, s, "expire") == -1)
					goto fail;
				d = sqlite3_changes(sp->db);
				n += d;
				if (d < SPOOL_EXPIRE_SCAN)
					break;
			}
		}
	}
	if (n > 0 && spool_count_shed(sp, n) == -1)
		goto fail;
	if (spool_commit(sp) == -1)
		return -1;
	*shed = n;
	if (n > 0)
		log_warn("spool", "%lld records expired past their TTL", n);
	return 0;
fail:
	spool_abort(sp);
	return -1;
}

long long
spool_live_bytes(struct spool *sp)
{
	long long bytes = -1;

	if (sqlite3_step(sp->pages) == SQLITE_ROW)
		bytes = sqlite3_column_int64(sp->pages, 0) *
		    sqlite3_column_int64(sp->pages, 1);
	sqlite3_reset(sp->pages);
	return bytes;
}

long long
spool_pending(struct spool *sp)
{
	long long n = -1;

	if (sqlite3_step(sp->pending) == SQLITE_ROW)
		n = sqlite3_column_int64(sp->pending, 0);
	sqlite3_reset(sp->pending);
	return n;
}

/* One chunk of one shedding step; the number of rows deleted, or -1. */
static long long
spool_shed_chunk(struct spool *sp, enum spool_op op, int priority)
{
	sqlite3_stmt *s;
	long long n = 0;
	int t;

	for (t = 0; t < SPOOL_TABLES; t++) {
		s = spool_stmt(sp, op, t);
		if (op == SPOOL_SHED_QUEUED)
			sqlite3_bind_int(s, 1, priority);
		sqlite3_bind_int(s, 2, SPOOL_SHED_CHUNK);
		if (spool_step_done(sp, s, "shed") == -1)
			return -1;
		n += sqlite3_changes(sp->db);
	}
	return n;
}

/*
 * Sheds until the live data is at most target bytes, never touching
 * queued records more urgent than last.
 */
static int
spool_shed_down(struct spool *sp, long long target, enum priority last,
    const char *why, long long *shed)
{
	/* Delivered history first, then the queue from low to critical;
	 * dead letters are kept for inspection until normal goes. */
	static const struct {
		enum spool_op op;
		int priority;
	} steps[] = {
		{ SPOOL_SHED_SENT, 0 },
		{ SPOOL_SHED_QUEUED, PRIORITY_LOW },
		{ SPOOL_SHED_DEAD, 0 },
		{ SPOOL_SHED_QUEUED, PRIORITY_NORMAL },
		{ SPOOL_SHED_QUEUED, PRIORITY_HIGH },
		{ SPOOL_SHED_QUEUED, PRIORITY_CRITICAL },
	};
	long long n, undelivered = 0;
	size_t i;

	*shed = 0;
	for (i = 0; i < sizeof steps / sizeof *steps; i++) {
		if (steps[i].op == SPOOL_SHED_QUEUED &&
		    steps[i].priority < (int)last)
			break;
		while (spool_live_bytes(sp) > target) {
			if (spool_begin(sp) == -1)
				return -1;
			if ((n = spool_shed_chunk(
				 sp, steps[i].op, steps[i].priority)) == -1) {
				spool_abort(sp);
				return -1;
			}
			if (steps[i].op != SPOOL_SHED_SENT && n > 0 &&
			    spool_count_shed(sp, n) == -1) {
				spool_abort(sp);
				return -1;
			}
			if (spool_commit(sp) == -1)
				return -1;
			if (steps[i].op != SPOOL_SHED_SENT)
				undelivered += n;
			if (n == 0)
				break;
		}
	}
	*shed = undelivered;
	if (undelivered > 0)
		log_warn("spool", "%s: shed %lld undelivered records", why,
		    undelivered);
	return 0;
}

int
spool_shed(struct spool *sp, long long *shed)
{
	char why[64];

	*shed = 0;
	if (sp->opts.max_db_bytes <= 0 ||
	    spool_live_bytes(sp) <= sp->opts.max_db_bytes)
		return 0;
	snprintf(
	    why, sizeof why, "store above %lld bytes", sp->opts.max_db_bytes);
	return spool_shed_down(sp,
	    (long long)(sp->opts.max_db_bytes * SPOOL_SHED_TARGET),
	    PRIORITY_CRITICAL, why, shed);
}

int
spool_shed_to(struct spool *sp, long long target_bytes, enum priority last,
    long long *shed)
{
	*shed = 0;
	if (spool_live_bytes(sp) <= target_bytes)
		return 0;
	return spool_shed_down(sp, target_bytes, last, "store full", shed);
}
