/*
 * The wall clock without an RTC, against a real store and a clock source
 * the test drives: trust by epoch and by kernel synchronisation, readings
 * stamped before trust (through the pipeline) stored unsynced with ids
 * over boot id and monotonic time, their correction once trusted (in the
 * store and in the ring), rows of an earlier boot flagged, the audit
 * trail, and the date parser of [clock] trusted_after.
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
#include "recid.h"
#include "store.h"
#include "wallclock.h"

#define AGENT "unit"
#define EPOCH 1704067200.0 /* 2024-01-01 */
#define Y2000 946684800.0

struct fake {
	double wall;
	uint64_t mono_ns;
	int synced;
};

struct fixture {
	char dir[64];
	struct store *st;
	struct wallclock *c;
	struct fake t;
	struct wallclock_source src;
};

static double
fake_wall(void *arg)
{
	return ((struct fake *)arg)->wall;
}

static uint64_t
fake_mono(void *arg)
{
	return ((struct fake *)arg)->mono_ns;
}

static int
fake_synced(void *arg)
{
	return ((struct fake *)arg)->synced;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct store_opts so = { 0 };
	char *cause = NULL;

	strcpy(f->dir, "/tmp/outpost-clock.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->st = store_open(f->dir, &so, &cause);
	assert_non_null(f->st);
	f->src.wall = fake_wall;
	f->src.mono_ns = fake_mono;
	f->src.kernel_synced = fake_synced;
	f->src.arg = &f->t;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	wallclock_free(f->c);
	store_free(f->st);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct wallclock *
clock_make(struct fixture *f, const char *boot, int require_sync)
{
	struct wallclock_opts o = { EPOCH, require_sync, 1.0 };

	return wallclock_new(f->st, &o, &f->src, boot);
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

static double
query_double(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	double v = NAN;

	assert_int_equal(
	    sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void
reading_at(struct reading *r, int i, double ts, uint64_t mono_ns)
{
	memset(r, 0, sizeof *r);
	strcpy(r->device, "hold");
	strcpy(r->sensor, "temp");
	r->ts = ts;
	r->value = 4 + i;
	r->mono_ns = mono_ns;
	r->priority = PRIORITY_NORMAL;
	r->ts_local = 1;
}

/* Stamps and stores one reading as the pipeline would. */
static void
store_one(struct fixture *f, struct reading *r)
{
	wallclock_stamp(f->c, r);
	if (r->unsynced)
		recid_reading_mono(AGENT, wallclock_boot_id(f->c), r);
	else
		recid_reading(AGENT, r);
	assert_int_equal(store_begin(f->st), 0);
	wallclock_fix(f->c, r);
	assert_int_equal(store_add_reading(f->st, r), 0);
	assert_int_equal(store_commit(f->st), 0);
}

static void
test_parse_time(void **state)
{
	double v;

	assert_int_equal(wallclock_parse_time("2024-01-01", &v), 0);
	assert_true(v == EPOCH);
	assert_int_equal(wallclock_parse_time("2024-01-01T12:00:30Z", &v), 0);
	assert_true(v == EPOCH + 43230);
	assert_int_equal(wallclock_parse_time("2024-01-01 00:00:01", &v), 0);
	assert_true(v == EPOCH + 1);
	assert_int_equal(wallclock_parse_time("1700000000.5", &v), 0);
	assert_true(v == 1700000000.5);
	assert_int_equal(wallclock_parse_time("", &v), -1);
	assert_int_equal(wallclock_parse_time("yesterday", &v), -1);
	assert_int_equal(wallclock_parse_time("2024-13-01", &v), -1);
	assert_int_equal(wallclock_parse_time("2024-01-01junk", &v), -1);
	assert_int_equal(wallclock_parse_time("-5", &v), -1);
}

/*
 * Boot at 2000 (no RTC), 100 s of uptime: readings stored unsynced with
 * mono ids; NTP steps the clock to 2024-06-01 at 160 s of uptime; the
 * next check corrects every row by the monotonic offset, keeps the ids,
 * and audits it.
 */
static void
test_correction_after_trust(void **state)
{
	struct fixture *f = *state;
	struct reading r[3], given;
	unsigned char ids[3][RECORD_ID_LEN];
	struct wallclock_stats cs;
	double now = 1717200000.0;
	int i;

	f->t.wall = Y2000 + 100;
	f->t.mono_ns = 100000000000ULL;
	f->c = clock_make(f, "boot-a", 0);
	assert_int_equal(wallclock_trusted(f->c), 0);
	for (i = 0; i < 3; i++) {
		reading_at(&r[i], i, Y2000 + 100 + i * 10,
		    100000000000ULL + (uint64_t)i * 10000000000ULL);
		store_one(f, &r[i]);
		assert_int_equal(r[i].unsynced, 1);
		memcpy(ids[i], r[i].id, RECORD_ID_LEN);
	}
	/* A source's own timestamp is never ours to correct. */
	reading_at(&given, 9, 1717000000.0, 100000000000ULL);
	given.ts_local = 0;
	store_one(f, &given);
	assert_int_equal(given.unsynced, 0);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings WHERE synced = 0"),
	    3);
	/* The id does not depend on ts: a later correction keeps it. */
	r[0].ts = 12345;
	recid_reading_mono(AGENT, "boot-a", &r[0]);
	assert_memory_equal(r[0].id, ids[0], RECORD_ID_LEN);
	recid_reading_mono(AGENT, "boot-b", &r[0]);
	assert_memory_not_equal(r[0].id, ids[0], RECORD_ID_LEN);
	recid_reading(AGENT, &r[0]);
	assert_memory_not_equal(r[0].id, ids[0], RECORD_ID_LEN);
	assert_true(wallclock_pending(f->c));

	/* Still untrusted: a check changes nothing. */
	f->t.wall = Y2000 + 130;
	f->t.mono_ns = 130000000000ULL;
	assert_int_equal(wallclock_check(f->c), 0);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings WHERE synced = 0"),
	    3);

	f->t.wall = now;
	f->t.mono_ns = 160000000000ULL;
	assert_int_equal(wallclock_check(f->c), 1);
	assert_false(wallclock_pending(f->c));
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings WHERE synced = 0"),
	    0);
	/* Taken at 100, 110, 120 s of uptime; now is 160 s. */
	assert_true(fabs(query_double(
			     f->st, "SELECT ts FROM readings WHERE value = 4") -
			(now - 60)) < 1e-6);
	assert_true(fabs(query_double(
			     f->st, "SELECT ts FROM readings WHERE value = 6") -
			(now - 40)) < 1e-6);
	assert_true(
	    query_double(f->st, "SELECT ts FROM readings WHERE value = 13") ==
	    1717000000.0);
	for (i = 0; i < 3; i++) {
		sqlite3_stmt *s;

		assert_int_equal(sqlite3_prepare_v2(store_db(f->st),
				     "SELECT id FROM readings WHERE value = ?",
				     -1, &s, NULL),
		    SQLITE_OK);
		sqlite3_bind_double(s, 1, 4 + i);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_memory_equal(
		    sqlite3_column_blob(s, 0), ids[i], RECORD_ID_LEN);
		sqlite3_finalize(s);
	}
	assert_int_equal(query_int(f->st,
			     "SELECT json_extract(detail, '$.rows') FROM audit "
			     "WHERE kind = 'clock_corrected'"),
	    3);
	assert_true(fabs(query_double(f->st,
			     "SELECT json_extract(detail, '$.min_shift_s') "
			     "FROM audit WHERE kind = 'clock_corrected'") -
			(now - 60 - (Y2000 + 100))) < 1e-3);
	wallclock_stats(f->c, &cs);
	assert_int_equal(cs.corrected, 3);
	assert_int_equal(cs.stamped_unsynced, 3);

	/* Trusted now: new readings are synced at once. */
	reading_at(&r[0], 20, now + 1, 161000000000ULL);
	store_one(f, &r[0]);
	assert_int_equal(r[0].unsynced, 0);
}

/* A reading stamped untrusted, still buffered when trust comes. */
static void
test_fix_in_the_ring(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct pipeline_opts po = { AGENT, 10.0, 1000 };
	struct pipeline *p = pipeline_new(base, f->st, &po);
	struct pipeline_src *src;
	struct reading r, check;

	f->t.wall = Y2000 + 50;
	f->t.mono_ns = 50000000000ULL;
	f->c = clock_make(f, "boot-a", 0);
	pipeline_set_wallclock(p, f->c);
	src = pipeline_src_new(p, "hold", 16);
	reading_at(&r, 0, Y2000 + 50, 50000000000ULL);
	assert_int_equal(pipeline_submit(src, &r, NULL, NULL), 0);
	/* The clock is stepped before the commit. */
	f->t.wall = 1717200000.0;
	f->t.mono_ns = 55000000000ULL;
	assert_int_equal(wallclock_check(f->c), 1);
	assert_int_equal(pipeline_commit(p), 0);
	assert_int_equal(
	    query_int(f->st, "SELECT synced FROM readings WHERE value = 4"), 1);
	assert_true(fabs(query_double(
			     f->st, "SELECT ts FROM readings WHERE value = 4") -
			(1717200000.0 - 5)) < 1e-6);
	/* Its id is still the one over boot id and monotonic time. */
	reading_at(&check, 0, 0, 50000000000ULL);
	recid_reading_mono(AGENT, "boot-a", &check);
	{
		sqlite3_stmt *s;

		assert_int_equal(sqlite3_prepare_v2(store_db(f->st),
				     "SELECT id FROM readings WHERE value = 4",
				     -1, &s, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_memory_equal(
		    sqlite3_column_blob(s, 0), check.id, RECORD_ID_LEN);
		sqlite3_finalize(s);
	}
	pipeline_src_free(src);
	pipeline_free(p);
	event_base_free(base);
}

/*
 * Rows an earlier boot left unsynced cannot be corrected: flagged (2),
 * kept, marked in their meta, audited once; this boot's own rows are not.
 */
static void
test_earlier_boot_rows_are_flagged(void **state)
{
	struct fixture *f = *state;
	struct reading r;

	f->t.wall = Y2000 + 10;
	f->t.mono_ns = 10000000000ULL;
	f->c = clock_make(f, "boot-a", 0);
	reading_at(&r, 0, Y2000 + 10, 10000000000ULL);
	snprintf(r.meta, sizeof r.meta, "{\"vessel\":\"t7\"}");
	store_one(f, &r);
	reading_at(&r, 1, Y2000 + 11, 11000000000ULL);
	store_one(f, &r);
	wallclock_free(f->c);

	/* The same boot again (a crash and restart): still correctable. */
	f->c = clock_make(f, "boot-a", 0);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings WHERE synced = 0"),
	    2);
	assert_true(wallclock_pending(f->c));
	wallclock_free(f->c);

	/* Another boot, clock trusted from the start. */
	f->t.wall = 1717200000.0;
	f->t.mono_ns = 5000000000ULL;
	f->c = clock_make(f, "boot-b", 0);
	assert_int_equal(wallclock_trusted(f->c), 1);
	assert_int_equal(
	    query_int(f->st, "SELECT count(*) FROM readings WHERE synced = 2"),
	    2);
	assert_true(
	    query_double(f->st, "SELECT max(ts) FROM readings") < EPOCH);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM readings WHERE "
			     "json_extract(meta, '$.clock') = 'unsynced'"),
	    2);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM readings WHERE "
			     "json_extract(meta, '$.vessel') = 't7'"),
	    1);
	assert_int_equal(query_int(f->st,
			     "SELECT json_extract(detail, '$.rows') FROM audit "
			     "WHERE kind = 'clock_uncorrectable'"),
	    2);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM audit WHERE kind = "
			     "'clock_corrected'"),
	    0);
	wallclock_free(f->c);
	f->c = clock_make(f, "boot-b", 0);
	assert_int_equal(query_int(f->st,
			     "SELECT count(*) FROM audit WHERE kind = "
			     "'clock_uncorrectable'"),
	    1);
}

/* require_sync: the epoch is not enough; synchronisation once is. */
static void
test_require_sync(void **state)
{
	struct fixture *f = *state;
	struct reading r;

	f->t.wall = 1717200000.0;
	f->t.mono_ns = 1000000000ULL;
	f->t.synced = 0;
	f->c = clock_make(f, "boot-a", 1);
	assert_int_equal(wallclock_trusted(f->c), 0);
	reading_at(&r, 0, f->t.wall, f->t.mono_ns);
	store_one(f, &r);
	assert_int_equal(r.unsynced, 1);
	f->t.synced = 1;
	f->t.wall += 3600; /* NTP stepped it an hour on */
	f->t.mono_ns += 2000000000ULL;
	assert_int_equal(wallclock_check(f->c), 1);
	assert_true(fabs(query_double(f->st, "SELECT ts FROM readings") -
			(1717200000.0 + 3600 - 2)) < 1e-6);
	/* Losing synchronisation later does not make it untrusted... */
	f->t.synced = 0;
	assert_int_equal(wallclock_check(f->c), 1);
	/* ...but a clock set back before the epoch does. */
	f->t.wall = Y2000;
	assert_int_equal(wallclock_check(f->c), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test_setup_teardown(
		    test_correction_after_trust, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fix_in_the_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_earlier_boot_rows_are_flagged, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_require_sync, setup, teardown),
	};

	log_configure(LOG_WARN, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
