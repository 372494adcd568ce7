/*
 * Summaries against a real store: min, max, mean, count and last of each
 * sensor and period, checked against values this test computes itself
 * from the readings it inserted; untrusted readings left out; a replay
 * (progress lost) writes nothing twice; the grace before a period is
 * folded; bounded work per call; ids.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "log.h"
#include "recid.h"
#include "store.h"
#include "summary.h"

#define AGENT "unit"
#define PERIOD 60.0
#define T0 1716999990.0 /* 30 s into the period starting 1716999960 */
#define NREADINGS 300
#define NSENSORS 3
#define MAX_GROUPS 64

struct fixture {
	char dir[64];
	struct store *st;
	struct summary *sm;
};

/* What the test expects of one (sensor, period). */
struct expect {
	int sensor;
	double period_start;
	double min, max, sum, last, last_ts;
	long long count;
	int priority;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct store_opts so = { 0 };
	char *cause = NULL;

	strcpy(f->dir, "/tmp/outpost-summary.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->st = store_open(f->dir, &so, &cause);
	assert_non_null(f->st);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	summary_free(f->sm);
	store_free(f->st);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct summary *
summary_make(struct fixture *f)
{
	struct summary_opts so = { AGENT, PERIOD };

	return summary_new(f->st, &so);
}

static void
sensor_names(int k, char *device, size_t dlen, char *sensor, size_t slen)
{
	snprintf(device, dlen, "%s", k == 2 ? "engine" : "hold");
	snprintf(sensor, slen, "%s", k == 1 ? "humidity" : "temp");
}

/* The i-th reading of the data set (deterministic, irregular values). */
static void
reading_nth(struct reading *r, int i)
{
	int k = i % NSENSORS;

	memset(r, 0, sizeof *r);
	sensor_names(
	    k, r->device, sizeof r->device, r->sensor, sizeof r->sensor);
	snprintf(r->unit, sizeof r->unit, "%s", k == 1 ? "%" : "celsius");
	r->ts = T0 + i * 0.7 + k * 0.1;
	r->value = sin(i * 0.37) * 10 + k * 100 + (i % 5) * 0.125;
	r->priority = k == 2 ? PRIORITY_HIGH : PRIORITY_NORMAL;
	r->mono_ns = 5000000000ULL + (uint64_t)i * 1000;
	/* Every 17th was stamped before the clock was trusted. */
	r->unsynced = i % 17 == 0;
	if (r->unsynced)
		recid_reading_mono(AGENT, "boot", r);
	else
		recid_reading(AGENT, r);
}

static void
insert_all(struct fixture *f, int n)
{
	struct reading r;
	int i;

	assert_int_equal(store_begin(f->st), 0);
	for (i = 0; i < n; i++) {
		reading_nth(&r, i);
		assert_int_equal(store_add_reading(f->st, &r), 0);
	}
	assert_int_equal(store_commit(f->st), 0);
}

/* Independent of the SQL: one pass over the same data in C. */
static size_t
expect_all(int n, struct expect *e)
{
	struct reading r;
	size_t ne = 0, j;
	double ps;
	int i;

	for (i = 0; i < n; i++) {
		reading_nth(&r, i);
		if (r.unsynced)
			continue;
		ps = floor(r.ts / PERIOD) * PERIOD;
		for (j = 0; j < ne; j++)
			if (e[j].sensor == i % NSENSORS &&
			    e[j].period_start == ps)
				break;
		if (j == ne) {
			assert_true(ne < MAX_GROUPS);
			memset(&e[ne], 0, sizeof e[ne]);
			e[ne].sensor = i % NSENSORS;
			e[ne].period_start = ps;
			e[ne].min = INFINITY;
			e[ne].max = -INFINITY;
			e[ne].priority = 3;
			ne++;
		}
		e[j].min = fmin(e[j].min, r.value);
		e[j].max = fmax(e[j].max, r.value);
		e[j].sum += r.value;
		e[j].count++;
		if (r.ts >= e[j].last_ts) {
			e[j].last_ts = r.ts;
			e[j].last = r.value;
		}
		if ((int)r.priority < e[j].priority)
			e[j].priority = (int)r.priority;
	}
	return ne;
}

static long long
query_int(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	long long v;

	assert_int_equal(
	    sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Every stored summary matches exactly one expected group. */
static void
check_rows(struct fixture *f, const struct expect *e, size_t ne)
{
	unsigned char id[RECORD_ID_LEN];
	char device[32], sensor[32];
	sqlite3_stmt *s;
	size_t j, seen = 0;
	int k;

	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM summaries"), (long long)ne);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->st),
			     "SELECT device, sensor, unit, period_start, "
			     "period_s, min, max, mean, count, last, "
			     "priority, id, state FROM summaries",
			     -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		for (j = 0; j < ne; j++) {
			k = e[j].sensor;
			sensor_names(
			    k, device, sizeof device, sensor, sizeof sensor);
			if (strcmp((const char *)sqlite3_column_text(s, 0),
				device) == 0 &&
			    strcmp((const char *)sqlite3_column_text(s, 1),
				sensor) == 0 &&
			    sqlite3_column_double(s, 3) == e[j].period_start)
				break;
		}
		assert_true(j < ne);
		assert_string_equal((const char *)sqlite3_column_text(s, 2),
		    k == 1 ? "%" : "celsius");
		assert_true(sqlite3_column_double(s, 4) == PERIOD);
		assert_true(sqlite3_column_double(s, 5) == e[j].min);
		assert_true(sqlite3_column_double(s, 6) == e[j].max);
		assert_true(fabs(sqlite3_column_double(s, 7) -
				e[j].sum / (double)e[j].count) <
		    1e-9 * fmax(1, fabs(e[j].sum)));
		assert_int_equal(sqlite3_column_int64(s, 8), e[j].count);
		assert_true(sqlite3_column_double(s, 9) == e[j].last);
		assert_int_equal(sqlite3_column_int(s, 10), e[j].priority);
		recid_summary(
		    AGENT, device, sensor, e[j].period_start, PERIOD, id);
		assert_int_equal(sqlite3_column_bytes(s, 11), RECORD_ID_LEN);
		assert_memory_equal(
		    sqlite3_column_blob(s, 11), id, RECORD_ID_LEN);
		assert_int_equal(sqlite3_column_int(s, 12), STORE_QUEUED);
		seen++;
	}
	sqlite3_finalize(s);
	assert_int_equal(seen, ne);
}

static void
test_fold_matches_independent_maths(void **state)
{
	struct fixture *f = *state;
	struct expect e[MAX_GROUPS];
	size_t ne;
	double last_ts = T0 + (NREADINGS - 1) * 0.7 + 0.2;
	int n, more = 1;

	insert_all(f, NREADINGS);
	ne = expect_all(NREADINGS, e);
	/* 300 readings over 210 s: 4 or 5 periods for each of 3 sensors. */
	assert_true(ne >= 12);
	f->sm = summary_make(f);
	n = summary_fold(f->sm, last_ts + 2 * PERIOD, 100, &more);
	assert_int_equal(more, 0);
	assert_true(n >= 4);
	check_rows(f, e, ne);
	/* Folded up to the last closed period, recorded in meta. */
	assert_true(summary_folded_until(f->sm) ==
	    floor((last_ts + 2 * PERIOD - 2) / PERIOD) * PERIOD);
	assert_int_equal(query_int(f->st,
			     "SELECT CAST(value AS INTEGER) FROM meta "
			     "WHERE key = 'summary_folded_until'"),
	    (long long)summary_folded_until(f->sm));
}

/* Ties in ts: "last" is the one stored last. */
static void
test_last_breaks_ties_by_insertion(void **state)
{
	struct fixture *f = *state;
	struct reading r;
	int more;

	f->sm = summary_make(f);
	assert_int_equal(store_begin(f->st), 0);
	reading_nth(&r, 1);
	r.ts = 1716999970.5;
	r.value = 1;
	recid_reading(AGENT, &r);
	assert_int_equal(store_add_reading(f->st, &r), 0);
	r.value = 3;
	recid_reading(AGENT, &r);
	assert_int_equal(store_add_reading(f->st, &r), 0);
	r.ts = 1716999965;
	r.value = 7;
	recid_reading(AGENT, &r);
	assert_int_equal(store_add_reading(f->st, &r), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(summary_fold(f->sm, 1717000100, 10, &more), 1);
	assert_int_equal(query_int(f->st,
			     "SELECT last * 1000 + count * 10 + "
			     "max FROM summaries"),
	    3 * 1000 + 3 * 10 + 7);
}

/*
 * A crash after the rows but before progress was recorded cannot happen
 * (one transaction), but a replay must be harmless anyway: rewind the
 * progress and fold again with a fresh object, as a restart would.
 */
static void
test_replay_writes_nothing_twice(void **state)
{
	struct fixture *f = *state;
	struct expect e[MAX_GROUPS];
	struct summary_stats ss;
	size_t ne;
	long long seqsum;
	int more;

	insert_all(f, NREADINGS);
	ne = expect_all(NREADINGS, e);
	f->sm = summary_make(f);
	assert_true(summary_fold(f->sm, T0 + 400, 100, &more) > 0);
	check_rows(f, e, ne);
	seqsum = query_int(f->st, "SELECT sum(seq) FROM summaries");

	summary_free(f->sm);
	assert_int_equal(store_meta_set(f->st, "summary_folded_until", "0"), 0);
	f->sm = summary_make(f);
	assert_true(summary_folded_until(f->sm) == 0);
	assert_true(summary_fold(f->sm, T0 + 400, 100, &more) > 0);
	summary_stats(f->sm, &ss);
	assert_int_equal(ss.rows, 0);
	check_rows(f, e, ne);
	assert_int_equal(
	    query_int(f->st, "SELECT sum(seq) FROM summaries"), seqsum);
}

/* A period is folded only once it closed more than the grace ago. */
static void
test_grace_and_progress(void **state)
{
	struct fixture *f = *state;
	struct reading r;
	double ps = 1716999960;
	int more;

	f->sm = summary_make(f);
	assert_int_equal(store_begin(f->st), 0);
	reading_nth(&r, 3);
	r.ts = ps + 59.9;
	recid_reading(AGENT, &r);
	assert_int_equal(store_add_reading(f->st, &r), 0);
	assert_int_equal(store_commit(f->st), 0);

	assert_int_equal(summary_fold(f->sm, ps + PERIOD + 1.5, 10, &more), 0);
	assert_int_equal(query_int(f->st, "SELECT count(*) FROM summaries"), 0);
	/* Nothing before the open period: progress is recorded, no rows. */
	assert_true(summary_folded_until(f->sm) == ps);
	assert_int_equal(summary_fold(f->sm, ps + PERIOD + 2.5, 10, &more), 1);
	assert_int_equal(query_int(f->st, "SELECT count(*) FROM summaries"), 1);
	assert_true(summary_folded_until(f->sm) == ps + PERIOD);

	/* Empty periods later: progress moves on without rows. */
	assert_int_equal(
	    summary_fold(f->sm, ps + 10 * PERIOD + 2.5, 10, &more), 0);
	assert_true(summary_folded_until(f->sm) == ps + 10 * PERIOD);
	assert_int_equal(query_int(f->st, "SELECT count(*) FROM summaries"), 1);

	/* A reading that arrives for a folded period is not added to it. */
	assert_int_equal(store_begin(f->st), 0);
	r.ts = ps + 30;
	r.value = 1e6;
	recid_reading(AGENT, &r);
	assert_int_equal(store_add_reading(f->st, &r), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(
	    summary_fold(f->sm, ps + 12 * PERIOD + 2.5, 10, &more), 0);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM summaries WHERE max = 1e6"),
	    0);
}

/* At most max_periods per call; "more" says the rest is waiting. */
static void
test_bounded_work(void **state)
{
	struct fixture *f = *state;
	int more, n, total = 0, calls = 0;

	insert_all(f, NREADINGS);
	f->sm = summary_make(f);
	do {
		n = summary_fold(f->sm, T0 + 400, 2, &more);
		assert_true(n >= 0 && n <= 2);
		total += n;
		calls++;
	} while (more);
	/* 210 s of readings from 30 s into a period: 4 periods; the last
	 * call finds only empty ones and records the progress. */
	assert_int_equal(total, 4);
	assert_int_equal(calls, 3);
	assert_int_equal(
	    query_int(
		f->st, "SELECT count(DISTINCT period_start) FROM summaries"),
	    4);
}

/* Summary ids: stable, and never those of a reading with the same numbers. */
static void
test_summary_ids(void **state)
{
	unsigned char a[RECORD_ID_LEN], b[RECORD_ID_LEN];
	struct reading r;

	recid_summary(AGENT, "hold", "temp", 1716999960, 60, a);
	recid_summary(AGENT, "hold", "temp", 1716999960, 60, b);
	assert_memory_equal(a, b, RECORD_ID_LEN);
	recid_summary(AGENT, "hold", "temp", 1716999960, 3600, b);
	assert_memory_not_equal(a, b, RECORD_ID_LEN);
	recid_summary("other", "hold", "temp", 1716999960, 60, b);
	assert_memory_not_equal(a, b, RECORD_ID_LEN);
	memset(&r, 0, sizeof r);
	strcpy(r.device, "hold");
	strcpy(r.sensor, "temp");
	r.ts = 1716999960;
	r.value = 60;
	recid_reading(AGENT, &r);
	assert_memory_not_equal(a, r.id, RECORD_ID_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_fold_matches_independent_maths, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_last_breaks_ties_by_insertion, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_writes_nothing_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_grace_and_progress, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bounded_work, setup, teardown),
		cmocka_unit_test(test_summary_ids),
	};

	log_configure(LOG_WARN, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
