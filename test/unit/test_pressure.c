/*
 * Storage pressure against a real store: the mode thresholds and their
 * margins, the purge of summarized raw readings (and only those), the
 * admission of critical readings only at 95%, SQLITE_FULL through
 * max_page_count (shed low and normal, keep high and critical, recover
 * after a commit that writes), and the audit of every transition.
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
#include <event2/event.h>
#include <sqlite3.h>

#include "log.h"
#include "pipeline.h"
#include "pressure.h"
#include "recid.h"
#include "spool.h"
#include "store.h"
#include "summary.h"

#define AGENT "unit"
#define NOW 1717200000.0

struct fixture {
	char dir[64];
	struct event_base *base;
	struct store *st;
	struct spool *sp;
	struct pipeline *p;
	struct summary *sm;
	struct pressure *pr;
};

struct acks {
	int ok;
	int refused;
};

static void
acks_cb(int ok, void *arg)
{
	struct acks *a = arg;

	if (ok)
		a->ok++;
	else
		a->refused++;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct store_opts so = { 0 };
	struct spool_opts spo;
	struct pipeline_opts po = { AGENT, 10.0, 1000 };
	struct summary_opts smo = { AGENT, 60 };
	char *cause = NULL;

	strcpy(f->dir, "/tmp/outpost-pressure.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->st = store_open(f->dir, &so, &cause);
	assert_non_null(f->st);
	memset(&spo, 0, sizeof spo);
	f->sp = spool_new(f->st, &spo);
	f->base = event_base_new();
	f->p = pipeline_new(f->base, f->st, &po);
	f->sm = summary_new(f->st, &smo);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	pressure_free(f->pr);
	summary_free(f->sm);
	pipeline_free(f->p);
	spool_free(f->sp);
	store_free(f->st);
	event_base_free(f->base);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
pressure_make(struct fixture *f, long long max_db_bytes)
{
	struct pressure_opts o = { max_db_bytes, 3600, 1 };

	if (f->pr == NULL)
		f->pr = pressure_new(f->st, f->sp, f->p, f->sm, &o);
	else
		pressure_set_opts(f->pr, &o);
}

static long long
query_int(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	long long v = -1;

	assert_int_equal(
	    sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void
exec_ok(struct store *st, const char *sql)
{
	assert_int_equal(
	    sqlite3_exec(store_db(st), sql, NULL, NULL, NULL), SQLITE_OK);
}

/* n readings of one priority from ts on, 0.5 s apart, meta to fill pages. */
static int
add_readings(struct fixture *f, int first, int n, double ts, enum priority p)
{
	struct reading r;
	int i;

	if (store_begin(f->st) == -1)
		return -1;
	for (i = first; i < first + n; i++) {
		memset(&r, 0, sizeof r);
		snprintf(r.device, sizeof r.device, "dev%d", i % 3);
		snprintf(r.sensor, sizeof r.sensor, "temp");
		snprintf(r.meta, sizeof r.meta, "{\"pad\":\"%0120d\"}", i);
		r.ts = ts + (i - first) * 0.5;
		r.value = i;
		r.priority = p;
		recid_reading(AGENT, &r);
		if (store_add_reading(f->st, &r) == -1) {
			store_rollback(f->st);
			return -1;
		}
	}
	return store_commit(f->st);
}

static void
test_next_mode(void **state)
{
	static const struct {
		enum pressure_mode cur;
		double fill;
		int full;
		enum pressure_mode want;
	} t[] = {
		{ PRESSURE_NORMAL, 0.10, 0, PRESSURE_NORMAL },
		{ PRESSURE_NORMAL, 0.79, 0, PRESSURE_NORMAL },
		{ PRESSURE_NORMAL, 0.80, 0, PRESSURE_DEGRADED },
		{ PRESSURE_NORMAL, 0.10, 1, PRESSURE_DEGRADED },
		{ PRESSURE_DEGRADED, 0.76, 0, PRESSURE_DEGRADED },
		{ PRESSURE_DEGRADED, 0.74, 0, PRESSURE_NORMAL },
		{ PRESSURE_NORMAL, 0.95, 0, PRESSURE_CRITICAL_ONLY },
		{ PRESSURE_DEGRADED, 0.99, 1, PRESSURE_CRITICAL_ONLY },
		{ PRESSURE_CRITICAL_ONLY, 0.93, 0, PRESSURE_CRITICAL_ONLY },
		{ PRESSURE_CRITICAL_ONLY, 0.91, 0, PRESSURE_DEGRADED },
		{ PRESSURE_CRITICAL_ONLY, 0.50, 1, PRESSURE_DEGRADED },
		{ PRESSURE_CRITICAL_ONLY, 0.50, 0, PRESSURE_NORMAL },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof *t; i++)
		assert_int_equal(
		    pressure_next_mode(t[i].cur, t[i].fill, t[i].full),
		    t[i].want);
	assert_string_equal(
	    pressure_mode_name(PRESSURE_CRITICAL_ONLY), "critical_only");
}

/*
 * At >= 80%: summarized readings that were uploaded, and unsent normal
 * and low ones older than min_age, are purged; critical, in-flight, recent
 * and not yet summarized readings stay.
 */
static void
test_purge_summarized(void **state)
{
	struct fixture *f = *state;
	struct pressure_stats ps;
	long long live, before, shed;
	int more;

	/* Two hours ago, 400 readings per priority class. */
	assert_int_equal(add_readings(f, 0, 400, NOW - 7200, PRIORITY_LOW), 0);
	assert_int_equal(
	    add_readings(f, 400, 400, NOW - 7200, PRIORITY_NORMAL), 0);
	assert_int_equal(
	    add_readings(f, 800, 400, NOW - 7200, PRIORITY_CRITICAL), 0);
	/* Half an hour ago (younger than min_age), and the open period. */
	assert_int_equal(
	    add_readings(f, 1200, 100, NOW - 1800, PRIORITY_NORMAL), 0);
	assert_int_equal(add_readings(f, 1300, 50, NOW - 30, PRIORITY_LOW), 0);
	/* The collector took some of the old ones; one batch is in flight. */
	exec_ok(f->st, "UPDATE readings SET state = 2 WHERE value < 100");
	exec_ok(f->st,
	    "UPDATE readings SET state = 1 WHERE value BETWEEN "
	    "400 AND 409");
	assert_true(summary_fold(f->sm, NOW, 1000, &more) > 0);
	assert_int_equal(more, 0);
	before = query_int(f->st, "SELECT count(*) FROM readings");
	assert_int_equal(before, 1350);

	live = spool_live_bytes(f->sp);
	pressure_make(f, (long long)(live / 0.85));
	shed = query_int(f->st,
	    "SELECT value FROM meta WHERE key = "
	    "'shed_total'");
	assert_int_equal(pressure_check(f->pr, NOW), PRESSURE_NORMAL);
	pressure_stats(f->pr, &ps);
	/* 400 low + 390 normal (10 in flight), of which 100 were sent. */
	assert_int_equal(ps.purged_summarized, 790);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings"), before - 790);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM readings "
			     "WHERE priority = 0"),
	    400);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings WHERE state = 1"),
	    10);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM readings "
			     "WHERE value >= 1200"),
	    150);
	/* Unsent rows lost to the collector are counted as shed. */
	assert_int_equal(query_int(f->st,
			     "SELECT value FROM meta WHERE key "
			     "= 'shed_total'"),
	    shed + 690);
	/* The summaries that stand for them are still there. */
	assert_true(
	    query_int(f->st, "SELECT sum(count) FROM summaries") >= 1200);
	/* Below 80%, nothing is purged. */
	exec_ok(f->st, "DELETE FROM audit");
	pressure_make(f, spool_live_bytes(f->sp) * 2);
	before = query_int(f->st, "SELECT count(*) FROM readings");
	pressure_check(f->pr, NOW + 10000);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings"), before);
}

/* 95%: critical only, audited; back down through degraded to normal. */
static void
test_modes_and_admission(void **state)
{
	struct fixture *f = *state;
	struct pipeline_src *src = pipeline_src_new(f->p, "dev", 64);
	struct acks a = { 0, 0 };
	struct reading r;
	long long live;

	assert_int_equal(
	    add_readings(f, 0, 500, NOW - 10, PRIORITY_CRITICAL), 0);
	live = spool_live_bytes(f->sp);
	pressure_make(f, (long long)(live / 0.97));
	assert_int_equal(pressure_check(f->pr, NOW), PRESSURE_CRITICAL_ONLY);
	assert_non_null(strstr(pressure_reason(f->pr), "only critical"));

	memset(&r, 0, sizeof r);
	strcpy(r.device, "dev");
	strcpy(r.sensor, "temp");
	r.ts = NOW;
	r.value = 1;
	r.priority = PRIORITY_LOW;
	assert_int_equal(pipeline_submit(src, &r, acks_cb, &a), -1);
	assert_int_equal(a.refused, 1);
	r.priority = PRIORITY_HIGH;
	assert_int_equal(pipeline_submit(src, &r, acks_cb, &a), -1);
	r.priority = PRIORITY_CRITICAL;
	assert_int_equal(pipeline_submit(src, &r, acks_cb, &a), 0);
	assert_int_equal(pipeline_commit(f->p), 0);
	assert_int_equal(a.ok, 1);
	assert_int_equal(a.refused, 2);

	/* Room given: 85% is under the critical margin, over 80%. */
	pressure_make(f, (long long)(spool_live_bytes(f->sp) / 0.85));
	assert_int_equal(pressure_check(f->pr, NOW + 1), PRESSURE_DEGRADED);
	r.priority = PRIORITY_LOW;
	assert_int_equal(pipeline_submit(src, &r, acks_cb, &a), 0);
	pressure_make(f, spool_live_bytes(f->sp) * 4);
	assert_int_equal(pressure_check(f->pr, NOW + 2), PRESSURE_NORMAL);
	assert_string_equal(pressure_reason(f->pr), "");

	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM audit WHERE "
			     "kind = 'store_mode'"),
	    3);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM audit WHERE kind = "
			     "'store_mode' AND json_extract(detail, '$.to') = "
			     "'critical_only' AND json_extract(detail, "
			     "'$.from') = 'normal'"),
	    1);
	pipeline_src_free(src);
}

/*
 * SQLITE_FULL (max_page_count standing in for a full disk): the store
 * says so, the check sheds low and normal to make room but keeps high and
 * critical, reports degraded with the reason, and returns to normal after
 * a commit that wrote.
 */
static void
test_full_sheds_and_recovers(void **state)
{
	struct fixture *f = *state;
	long long pages, crit;
	int i, rc = 0;

	pressure_make(f, 64LL * 1048576);
	assert_int_equal(
	    add_readings(f, 0, 200, NOW - 100, PRIORITY_CRITICAL), 0);
	assert_int_equal(add_readings(f, 200, 200, NOW - 90, PRIORITY_HIGH), 0);
	pages = query_int(f->st, "PRAGMA page_count");
	assert_int_equal(store_set_max_pages(f->st, pages + 40), 0);
	for (i = 0; i < 100 && rc == 0; i++)
		rc = add_readings(f, 1000 + i * 50, 50, NOW - 80 + i,
		    i % 2 ? PRIORITY_LOW : PRIORITY_NORMAL);
	assert_int_equal(rc, -1);
	assert_int_equal(store_full(f->st), 1);
	crit = query_int(f->st,
	    "SELECT count(*) FROM readings WHERE "
	    "priority <= 1");
	assert_int_equal(crit, 400);

	assert_int_equal(pressure_check(f->pr, NOW), PRESSURE_DEGRADED);
	assert_non_null(strstr(pressure_reason(f->pr), "store full"));
	assert_true(query_int(f->st,
			"SELECT value FROM meta WHERE key = "
			"'shed_total'") > 0);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM readings "
			     "WHERE priority <= 1"),
	    crit);
	/* The room made is used: a commit that writes clears the flag. */
	assert_int_equal(add_readings(f, 9000, 20, NOW, PRIORITY_HIGH), 0);
	assert_int_equal(store_full(f->st), 0);
	assert_int_equal(pressure_check(f->pr, NOW + 1), PRESSURE_NORMAL);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM audit WHERE "
			     "kind = 'store_mode'"),
	    2);

	/* Nothing sheddable left: full again, and it stays so. */
	exec_ok(f->st, "DELETE FROM readings WHERE priority >= 2");
	rc = 0;
	for (i = 0; i < 200 && rc == 0; i++)
		rc = add_readings(
		    f, 20000 + i * 50, 50, NOW + i, PRIORITY_CRITICAL);
	assert_int_equal(rc, -1);
	crit = query_int(f->st, "SELECT count(*) FROM readings");
	assert_int_equal(pressure_check(f->pr, NOW + 2), PRESSURE_DEGRADED);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings"), crit);
	assert_int_equal(store_full(f->st), 1);
	/* Room returns (the limit is lifted): writes work again. */
	assert_int_equal(store_set_max_pages(f->st, 0), 0);
	assert_int_equal(
	    add_readings(f, 90000, 50, NOW + 300, PRIORITY_CRITICAL), 0);
	assert_int_equal(pressure_check(f->pr, NOW + 3), PRESSURE_NORMAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_mode),
		cmocka_unit_test_setup_teardown(
		    test_purge_summarized, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_modes_and_admission, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_full_sheds_and_recovers, setup, teardown),
	};

	log_configure(LOG_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
