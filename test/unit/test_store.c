/*
 * The store against real files in a scratch directory: modes, pragmas,
 * schema version, group commit, dedup, queue statistics and the work they
 * cost, checkpoints, meta and audit, and a kill -9 after commit.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "log.h"
#include "recid.h"
#include "store.h"

struct fixture {
	char dir[PATH_MAX];  /* scratch root */
	char data[PATH_MAX]; /* store dir inside it */
	struct store *st;
};

static void fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		fail_msg("path too long");
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	fmt(f->dir, sizeof f->dir, "/tmp/test_store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	/* Two levels to create: parents are made too. */
	fmt(f->data, sizeof f->data, "%s/var/outpost", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->st);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct store *
open_store(struct fixture *f, long long checkpoint_pages, int full)
{
	struct store_opts so = { 0 };
	struct store *st;
	char *cause = NULL;

	so.durability_full = full;
	so.checkpoint_pages = checkpoint_pages;
	st = store_open(f->data, &so, &cause);
	if (st == NULL)
		fail_msg("store_open: %s", cause);
	return st;
}

static void
reading_make(struct reading *r, int i, enum priority p)
{
	memset(r, 0, sizeof *r);
	snprintf(r->device, sizeof r->device, "hold");
	snprintf(r->sensor, sizeof r->sensor, "temp.hold.%d", i % 7);
	snprintf(r->unit, sizeof r->unit, "celsius");
	r->ts = 1717000000.0 + i;
	r->value = 4.0 + i * 0.25;
	r->mono_ns = 1000000000ULL + (uint64_t)i;
	r->priority = p;
	recid_reading("trawler-7", r);
}

/* Adds readings first..first+n-1 in one transaction. */
static void
add_batch(struct store *st, int first, int n, enum priority p)
{
	struct reading r;
	int i;

	assert_int_equal(store_begin(st), 0);
	for (i = first; i < first + n; i++) {
		reading_make(&r, i, p);
		assert_int_equal(store_add_reading(st, &r), 0);
	}
	assert_int_equal(store_commit(st), 0);
}

static long long
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	long long v;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("%s: no row: %s", sql, sqlite3_errmsg(db));
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void
query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s;
	const char *t;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("%s: no row: %s", sql, sqlite3_errmsg(db));
	t = (const char *)sqlite3_column_text(s, 0);
	snprintf(buf, len, "%s", t != NULL ? t : "(null)");
	sqlite3_finalize(s);
}

static void
exec_ok(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static mode_t
file_mode(const char *dir, const char *name)
{
	struct stat sb;
	char path[PATH_MAX];

	fmt(path, sizeof path, "%s/%s", dir, name);
	if (stat(path, &sb) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	return sb.st_mode & 07777;
}

static long long
file_size(const char *dir, const char *name)
{
	struct stat sb;
	char path[PATH_MAX];

	fmt(path, sizeof path, "%s/%s", dir, name);
	if (stat(path, &sb) == -1)
		return -1;
	return (long long)sb.st_size;
}

static void
test_open_modes_and_pragmas(void **state)
{
	struct fixture *f = *state;
	char buf[64], parent[PATH_MAX];
	mode_t mask;
	sqlite3 *db;

	/* A lax umask must not leak into the store's files. */
	mask = umask(022);
	f->st = open_store(f, 0, 0);
	add_batch(f->st, 0, 10, PRIORITY_NORMAL);
	assert_int_equal(umask(mask), 022); /* store_open restored it */

	fmt(parent, sizeof parent, "%s/var", f->dir);
	assert_int_equal(file_mode(parent, "."), 0700);
	assert_int_equal(file_mode(f->data, "."), 0700);
	assert_int_equal(file_mode(f->data, "outpost.db"), 0600);
	assert_int_equal(file_mode(f->data, "outpost.db-wal"), 0600);
	assert_int_equal(file_mode(f->data, "outpost.db-shm"), 0600);

	db = store_db(f->st);
	query_text(db, "PRAGMA journal_mode", buf, sizeof buf);
	assert_string_equal(buf, "wal");
	assert_int_equal(
	    query_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "PRAGMA synchronous"), 1);
	assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 0);
	assert_int_equal(query_int(db, "PRAGMA wal_autocheckpoint"), 0);
	assert_int_equal(query_int(db, "PRAGMA cache_size"), -512);
	assert_int_equal(query_int(db, "PRAGMA temp_store"), 2);
	/* Twice the checkpoint threshold of frames of this page size. */
	assert_int_equal(
	    query_int(db, "PRAGMA journal_size_limit"), 2 * 1000 * (4096 + 24));
	assert_int_equal(query_int(db, "PRAGMA busy_timeout"), 100);
	store_free(f->st);

	/* durability = full, and a given cache bound. */
	{
		struct store_opts so = { .durability_full = 1,
			.cache_kib = 2048,
			.page_size = 1024 };
		char *cause = NULL;

		f->st = store_open(f->data, &so, &cause);
		assert_non_null(f->st);
		db = store_db(f->st);
		assert_int_equal(query_int(db, "PRAGMA synchronous"), 2);
		assert_int_equal(query_int(db, "PRAGMA cache_size"), -2048);
		/* The page size of an existing store stays what it was. */
		assert_int_equal(query_int(db, "PRAGMA page_size"), 4096);
	}
}

static void
test_page_size_of_a_new_store(void **state)
{
	struct fixture *f = *state;
	struct store_opts so = { .page_size = 1024 };
	char *cause = NULL, buf[64];

	f->st = store_open(f->data, &so, &cause);
	assert_non_null(f->st);
	assert_int_equal(query_int(store_db(f->st), "PRAGMA page_size"), 1024);
	add_batch(f->st, 0, 500, PRIORITY_NORMAL);
	store_free(f->st);
	so.page_size = 8192;
	f->st = store_open(f->data, &so, &cause);
	assert_non_null(f->st);
	assert_int_equal(query_int(store_db(f->st), "PRAGMA page_size"), 1024);
	assert_int_equal(store_count_readings(f->st), 500);
	query_text(store_db(f->st), "PRAGMA integrity_check", buf, sizeof buf);
	assert_string_equal(buf, "ok");
}

static void
test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	f->st = open_store(f, 0, 0);
	add_batch(f->st, 0, 25, PRIORITY_HIGH);
	assert_int_equal(store_meta_set(f->st, "agent_id", "trawler-7"), 0);
	store_free(f->st);
	f->st = open_store(f, 0, 0);
	assert_int_equal(store_count_readings(f->st), 25);
	assert_int_equal(store_meta_get(f->st, "agent_id", buf, sizeof buf), 0);
	assert_string_equal(buf, "trawler-7");
	assert_int_equal(query_int(store_db(f->st), "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store_opts so = { 0 };
	char *cause = NULL, buf[64];

	f->st = open_store(f, 0, 0);
	add_batch(f->st, 0, 3, PRIORITY_NORMAL);
	exec_ok(store_db(f->st), "PRAGMA user_version = 999");
	store_free(f->st);
	f->st = store_open(f->data, &so, &cause);
	assert_null(f->st);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "schema version 999"));
	assert_non_null(strstr(cause, "newer"));
	assert_non_null(strstr(cause, "outpost.db"));
	free(cause);

	/* The refused file is left as it was. */
	{
		sqlite3 *db;
		char path[PATH_MAX];

		fmt(path, sizeof path, "%s/outpost.db", f->data);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(query_int(db, "PRAGMA user_version"), 999);
		assert_int_equal(
		    query_int(db, "SELECT count(*) FROM readings"), 3);
		query_text(db, "PRAGMA journal_mode", buf, sizeof buf);
		assert_string_equal(buf, "wal");
		sqlite3_close(db);
	}
}

static void
test_not_a_database_refused(void **state)
{
	struct fixture *f = *state;
	struct store_opts so = { 0 };
	char *cause = NULL, path[PATH_MAX];
	FILE *fp;

	f->st = open_store(f, 0, 0);
	store_free(f->st);
	f->st = NULL;
	fmt(path, sizeof path, "%s/outpost.db", f->data);
	assert_non_null(fp = fopen(path, "w"));
	fputs("this is not an SQLite database, it is a note to self\n", fp);
	fclose(fp);
	fmt(path, sizeof path, "%s/outpost.db-wal", f->data);
	unlink(path);
	f->st = store_open(f->data, &so, &cause);
	assert_null(f->st);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "not a database"));
	free(cause);
}

static void
test_one_agent_per_dir(void **state)
{
	struct fixture *f = *state;
	struct store_opts so = { 0 };
	struct store *second;
	char *cause = NULL, want[64];

	f->st = open_store(f, 0, 0);
	second = store_open(f->data, &so, &cause);
	assert_null(second);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "another outpost"));
	fmt(want, sizeof want, "pid %ld", (long)getpid());
	assert_non_null(strstr(cause, want));
	free(cause);
	store_free(f->st);
	f->st = open_store(f, 0, 0);
}

static void
test_group_commit_and_dedup(void **state)
{
	struct fixture *f = *state;
	struct reading r;
	int i;

	f->st = open_store(f, 0, 0);
	assert_int_equal(store_count_readings(f->st), 0);
	add_batch(f->st, 0, 1000, PRIORITY_NORMAL);
	assert_int_equal(store_count_readings(f->st), 1000);

	/* The same readings again, and twice within one transaction. */
	add_batch(f->st, 0, 1000, PRIORITY_NORMAL);
	assert_int_equal(store_count_readings(f->st), 1000);
	assert_int_equal(store_begin(f->st), 0);
	for (i = 0; i < 2; i++) {
		reading_make(&r, 5000, PRIORITY_LOW);
		assert_int_equal(store_add_reading(f->st, &r), 0);
	}
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_count_readings(f->st), 1001);

	/* Same device, sensor and value, other ts: another reading. */
	reading_make(&r, 5000, PRIORITY_LOW);
	r.ts += 0.5;
	recid_reading("trawler-7", &r);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_add_reading(f->st, &r), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_count_readings(f->st), 1002);
	assert_int_equal(store_count_events(f->st), 0);
}

static void
test_rollback_and_refusals(void **state)
{
	struct fixture *f = *state;
	struct reading r;
	int i;

	f->st = open_store(f, 0, 0);
	add_batch(f->st, 0, 10, PRIORITY_NORMAL);
	assert_int_equal(store_begin(f->st), 0);
	for (i = 100; i < 150; i++) {
		reading_make(&r, i, PRIORITY_NORMAL);
		assert_int_equal(store_add_reading(f->st, &r), 0);
	}
	store_rollback(f->st);
	assert_int_equal(store_count_readings(f->st), 10);
	store_rollback(f->st); /* none open: harmless */
	assert_int_equal(store_count_readings(f->st), 10);

	/* Refused readings leave the transaction usable. */
	assert_int_equal(store_begin(f->st), 0);
	reading_make(&r, 200, PRIORITY_NORMAL);
	r.value = NAN;
	assert_int_equal(store_add_reading(f->st, &r), -1);
	assert_non_null(strstr(store_errmsg(f->st), "hold/temp.hold.4"));
	reading_make(&r, 201, PRIORITY_NORMAL);
	r.ts = INFINITY;
	assert_int_equal(store_add_reading(f->st, &r), -1);
	reading_make(&r, 202, PRIORITY_NORMAL);
	r.priority = PRIORITY_COUNT;
	assert_int_equal(store_add_reading(f->st, &r), -1);
	reading_make(&r, 203, PRIORITY_NORMAL);
	assert_int_equal(store_add_reading(f->st, &r), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_count_readings(f->st), 11);

	/* A second BEGIN fails with SQLite's word for it. */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_begin(f->st), -1);
	assert_non_null(strstr(store_errmsg(f->st), "within a transaction"));
	store_rollback(f->st);

	/* A read-only handle: BEGIN IMMEDIATE fails, nothing is half-open. */
	exec_ok(store_db(f->st), "PRAGMA query_only = 1");
	assert_int_equal(store_begin(f->st), -1);
	assert_true(sqlite3_get_autocommit(store_db(f->st)));
	exec_ok(store_db(f->st), "PRAGMA query_only = 0");
	add_batch(f->st, 300, 5, PRIORITY_NORMAL);
	assert_int_equal(store_count_readings(f->st), 16);
}

static void
test_stored_columns_and_views(void **state)
{
	struct fixture *f = *state;
	struct reading r;
	sqlite3_stmt *s;
	sqlite3 *db;
	char hex[65];

	f->st = open_store(f, 0, 0);
	db = store_db(f->st);
	reading_make(&r, 3, PRIORITY_CRITICAL);
	snprintf(r.meta, sizeof r.meta, "{\"vessel\":\"trawler-7\"}");
	r.ts = 1717000000.25;
	recid_reading("trawler-7", &r);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_add_reading(f->st, &r), 0);
	reading_make(&r, 4, PRIORITY_LOW);
	r.mono_ns = 0;
	assert_int_equal(store_add_reading(f->st, &r), 0);
	assert_int_equal(store_commit(f->st), 0);

	assert_int_equal(
	    sqlite3_prepare_v2(db,
		"SELECT id, device, sensor, "
		"ts, value, unit, meta, priority, state, attempts, "
		"next_retry_at, "
		"sent_at, mono_ns, synced FROM readings ORDER BY seq",
		-1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	reading_make(&r, 3, PRIORITY_CRITICAL);
	r.ts = 1717000000.25;
	recid_reading("trawler-7", &r);
	assert_int_equal(sqlite3_column_type(s, 0), SQLITE_BLOB);
	assert_int_equal(sqlite3_column_bytes(s, 0), RECORD_ID_LEN);
	assert_memory_equal(sqlite3_column_blob(s, 0), r.id, RECORD_ID_LEN);
	assert_string_equal((const char *)sqlite3_column_text(s, 1), "hold");
	assert_string_equal(
	    (const char *)sqlite3_column_text(s, 2), "temp.hold.3");
	assert_true(sqlite3_column_double(s, 3) == 1717000000.25);
	assert_true(sqlite3_column_double(s, 4) == 4.75);
	assert_string_equal((const char *)sqlite3_column_text(s, 5), "celsius");
	assert_string_equal((const char *)sqlite3_column_text(s, 6),
	    "{\"vessel\":\"trawler-7\"}");
	assert_int_equal(sqlite3_column_int(s, 7), 0);
	assert_int_equal(sqlite3_column_int(s, 8), STORE_QUEUED);
	assert_int_equal(sqlite3_column_int(s, 9), 0);
	assert_true(sqlite3_column_double(s, 10) == 0);
	assert_int_equal(sqlite3_column_type(s, 11), SQLITE_NULL);
	assert_int_equal(sqlite3_column_int64(s, 12), 1000000003);
	assert_int_equal(sqlite3_column_int(s, 13), 1);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(s, 6), SQLITE_NULL);  /* meta "" */
	assert_int_equal(sqlite3_column_type(s, 12), SQLITE_NULL); /* mono 0 */
	sqlite3_finalize(s);

	/* The operators' view: hex as on the wire, names, UTC time. */
	assert_int_equal(
	    sqlite3_prepare_v2(db,
		"SELECT id_hex, time, "
		"priority, state, sent_time FROM readings_v ORDER BY seq",
		-1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	recid_hex(r.id, hex);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), hex);
	assert_string_equal((const char *)sqlite3_column_text(s, 1),
	    "2024-05-29T16:26:40.250Z");
	assert_string_equal(
	    (const char *)sqlite3_column_text(s, 2), "critical");
	assert_string_equal((const char *)sqlite3_column_text(s, 3), "queued");
	assert_int_equal(sqlite3_column_type(s, 4), SQLITE_NULL);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 2), "low");
	sqlite3_finalize(s);

	/* The schema refuses what the code would never write. */
	assert_int_not_equal(
	    sqlite3_exec(db, "UPDATE readings SET state = 7", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(
	    sqlite3_exec(db,
		"INSERT INTO events (id, rule, "
		"kind, device, sensor, ts, value, severity, priority) VALUES "
		"(zeroblob(32), 'r', 'maybe', 'd', 's', 1, 1, 0, 0)",
		NULL, NULL, NULL),
	    SQLITE_OK);
	exec_ok(db, "SELECT * FROM events_v, summaries_v, audit_v, queue_v");
	assert_int_equal(query_int(db, "SELECT sum(records) FROM queue_v"), 2);
}

/* Readings, plus an event and a summary written as spool/rules would. */
static void
fill_queue(struct store *st)
{
	struct reading r;
	sqlite3 *db = store_db(st);
	int i;

	assert_int_equal(store_begin(st), 0);
	for (i = 0; i < 40; i++) {
		reading_make(&r, i, (enum priority)(i % PRIORITY_COUNT));
		/* Stamped out of arrival order: oldest is not the first row. */
		r.ts = 1717000100.0 - i;
		recid_reading("trawler-7", &r);
		assert_int_equal(store_add_reading(st, &r), 0);
	}
	assert_int_equal(store_commit(st), 0);
	/* seq 1..40; priorities cycle 0,1,2,3; ts 1717000100 - (seq - 1). */
	exec_ok(db,
	    "UPDATE readings SET state = 2, sent_at = 1717000200 "
	    "WHERE seq <= 10");
	exec_ok(
	    db, "UPDATE readings SET state = 1 WHERE seq BETWEEN 11 AND 14");
	exec_ok(
	    db, "UPDATE readings SET state = 3 WHERE seq BETWEEN 15 AND 16");
	exec_ok(db,
	    "INSERT INTO events (id, rule, kind, device, sensor, ts, "
	    "value, severity, priority, state) VALUES "
	    "(randomblob(32), 'overheat', 'fire', 'hold', 'temp.hold.0', "
	    "1717000500.5, 31.5, 0, 0, 0), "
	    "(randomblob(32), 'overheat', 'clear', 'hold', 'temp.hold.0', "
	    "1717000510.5, 29.5, 0, 0, 1)");
	exec_ok(db,
	    "INSERT INTO summaries (id, device, sensor, period_start, "
	    "period_s, min, max, mean, count, last, priority, state) VALUES "
	    "(randomblob(32), 'hold', 'temp.hold.1', 1716990000, 600, 1, 5, "
	    "3, 60, 4, 3, 0)");
	assert_int_equal(store_meta_set(st, "shed_total", "7"), 0);
}

static void
test_queue_stats(void **state)
{
	struct fixture *f = *state;
	struct store_queue_stats qs;

	f->st = open_store(f, 0, 0);
	assert_int_equal(store_queue_stats(f->st, &qs), 0);
	assert_int_equal(qs.pending, 0);
	assert_true(qs.oldest_pending_ts == 0);
	assert_int_equal(qs.shed_total, 0);

	fill_queue(f->st);
	assert_int_equal(store_queue_stats(f->st, &qs), 0);
	/* Readings seq 17..40 queued: 24, six of each priority. */
	assert_int_equal(qs.pending, 24 + 1 + 1);
	assert_int_equal(qs.by_priority[PRIORITY_CRITICAL], 6 + 1);
	assert_int_equal(qs.by_priority[PRIORITY_HIGH], 6);
	assert_int_equal(qs.by_priority[PRIORITY_NORMAL], 6);
	assert_int_equal(qs.by_priority[PRIORITY_LOW], 6 + 1);
	assert_int_equal(qs.in_flight, 4 + 1);
	assert_int_equal(qs.dead_letter, 2);
	assert_int_equal(qs.shed_total, 7);
	/* The summary's period is the oldest thing waiting. */
	assert_true(qs.oldest_pending_ts == 1716990000.0);
	exec_ok(store_db(f->st), "DELETE FROM summaries");
	assert_int_equal(store_queue_stats(f->st, &qs), 0);
	/* Then the reading stamped earliest (seq 40), not the first queued
	 * (among the first 64 queued of each priority). */
	assert_true(qs.oldest_pending_ts == 1717000061.0);
	assert_int_equal(qs.pending, 25);
}

static void
test_requeue_in_flight(void **state)
{
	struct fixture *f = *state;
	struct store_queue_stats qs;
	long long n = -1;

	f->st = open_store(f, 0, 0);
	assert_int_equal(store_requeue_in_flight(f->st, &n), 0);
	assert_int_equal(n, 0);
	fill_queue(f->st);
	assert_int_equal(store_requeue_in_flight(f->st, &n), 0);
	assert_int_equal(n, 4 + 1);
	assert_int_equal(store_queue_stats(f->st, &qs), 0);
	assert_int_equal(qs.in_flight, 0);
	assert_int_equal(qs.pending, 26 + 5);
	assert_int_equal(qs.dead_letter, 2); /* never retried */
	assert_int_equal(query_int(store_db(f->st),
			     "SELECT count(*) FROM "
			     "readings WHERE state = 2"),
	    10);
	assert_int_equal(store_requeue_in_flight(f->st, &n), 0);
	assert_int_equal(n, 0);
}

static void
test_purge_sent(void **state)
{
	struct fixture *f = *state;
	long long n = -1;

	f->st = open_store(f, 0, 0);
	fill_queue(f->st);
	exec_ok(store_db(f->st),
	    "UPDATE events SET state = 2, "
	    "sent_at = 1717000300");
	/* Sent readings are stamped 1717000091..1717000100. */
	assert_int_equal(store_purge_sent(f->st, 1717000095.0, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(store_count_readings(f->st), 36);
	assert_int_equal(store_count_events(f->st), 2);
	assert_int_equal(store_purge_sent(f->st, 1e12, &n), 0);
	assert_int_equal(n, 6 + 2);
	assert_int_equal(store_count_events(f->st), 0);
	/* Queued, in-flight and dead-letter rows are never purged. */
	assert_int_equal(store_count_readings(f->st), 30);
}

/* Finds the store's prepared statement whose SQL starts with prefix. */
static sqlite3_stmt *
find_stmt(sqlite3 *db, const char *prefix)
{
	sqlite3_stmt *s = NULL;

	while ((s = sqlite3_next_stmt(db, s)) != NULL) {
		if (strncmp(sqlite3_sql(s), prefix, strlen(prefix)) == 0)
			return s;
	}
	fail_msg("no statement starting with %s", prefix);
	return NULL;
}

/* Concatenated EXPLAIN QUERY PLAN details of a statement. */
static void
query_plan(sqlite3 *db, sqlite3_stmt *stmt, char *buf, size_t len)
{
	sqlite3_stmt *s;
	char *sql;
	size_t off = 0;

	if (asprintf(&sql, "EXPLAIN QUERY PLAN %s", sqlite3_sql(stmt)) == -1)
		fail_msg("asprintf");
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	buf[0] = '\0';
	while (sqlite3_step(s) == SQLITE_ROW && off < len)
		off += (size_t)snprintf(
		    buf + off, len - off, "%s\n", sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
	free(sql);
}

/*
 * With many sent rows and few pending ones, the statistics, the requeue
 * and the purge do work in proportion to the few: no statement of the
 * store scans a table, and the VM steps stay far below the row count.
 */
static void
test_stats_cost_bounded(void **state)
{
	static const char *const prefixes[] = { "SELECT priority, n, CASE",
		"SELECT (SELECT count(*) FROM readings WHERE state = 1)",
		"SELECT CAST(value AS INTEGER) FROM meta",
		"UPDATE readings SET state = 0", "UPDATE events SET state = 0",
		"UPDATE summaries SET state = 0", "DELETE FROM readings",
		"DELETE FROM events", "DELETE FROM summaries" };
	struct fixture *f = *state;
	struct store_queue_stats qs;
	sqlite3_stmt *s = NULL;
	sqlite3 *db;
	char plan[2048];
	long long n, steps;
	size_t i;
	int hit, miss, hi;

	f->st = open_store(f, 0, 0);
	db = store_db(f->st);
	for (i = 0; i < 20; i++)
		add_batch(f->st, (int)i * 1000, 1000, PRIORITY_NORMAL);
	exec_ok(db,
	    "UPDATE readings SET state = 2, sent_at = ts + 1 "
	    "WHERE seq > 5");

	/* No plan line is a bare "SCAN <table>" (a full table scan). */
	while ((s = sqlite3_next_stmt(db, s)) != NULL) {
		if (strncmp(sqlite3_sql(s), "SELECT", 6) != 0 &&
		    strncmp(sqlite3_sql(s), "UPDATE", 6) != 0 &&
		    strncmp(sqlite3_sql(s), "DELETE", 6) != 0)
			continue;
		query_plan(db, s, plan, sizeof plan);
		if (strstr(plan, "SCAN readings\n") != NULL ||
		    strstr(plan, "SCAN events\n") != NULL ||
		    strstr(plan, "SCAN summaries\n") != NULL)
			fail_msg("full scan in %s:\n%s", sqlite3_sql(s), plan);
	}
	query_plan(db, find_stmt(db, prefixes[0]), plan, sizeof plan);
	assert_non_null(strstr(plan, "COVERING INDEX readings_pending"));
	assert_non_null(strstr(plan, "COVERING INDEX events_pending"));
	assert_non_null(strstr(plan, "COVERING INDEX summaries_pending"));

	for (i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
		sqlite3_stmt_status(
		    find_stmt(db, prefixes[i]), SQLITE_STMTSTATUS_VM_STEP, 1);
	/* Pages fetched catch what VM steps miss (count(*) is one step). */
	sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_HIT, &hit, &hi, 1);
	sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &miss, &hi, 1);
	assert_int_equal(store_queue_stats(f->st, &qs), 0);
	sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_HIT, &hit, &hi, 0);
	sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &miss, &hi, 0);
	if (hit + miss > 40)
		fail_msg("queue stats fetched %d pages", hit + miss);
	assert_true(store_db_bytes(f->st) > 200 * 4096);
	assert_int_equal(qs.pending, 5);
	assert_int_equal(qs.in_flight, 0);
	assert_int_equal(store_requeue_in_flight(f->st, &n), 0);
	assert_int_equal(store_purge_sent(f->st, 0, &n), 0);
	assert_int_equal(n, 0);
	for (i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
		steps = sqlite3_stmt_status(
		    find_stmt(db, prefixes[i]), SQLITE_STMTSTATUS_VM_STEP, 0);
		if (steps > 500)
			fail_msg("%s: %lld VM steps over 20000 rows",
			    prefixes[i], steps);
	}
}

/* The statistics' counts against a real count over the table. */
static void
assert_counts_true(struct store *st)
{
	sqlite3 *db = store_db(st);
	struct store_queue_stats qs;
	char sql[160];
	int p;

	assert_int_equal(store_queue_stats(st, &qs), 0);
	for (p = 0; p < PRIORITY_COUNT; p++) {
		snprintf(sql, sizeof sql,
		    "SELECT (SELECT count(*) FROM readings WHERE state = 0 AND "
		    "priority = %d) + (SELECT count(*) FROM events WHERE "
		    "state = 0 AND priority = %d)",
		    p, p);
		assert_int_equal(qs.by_priority[p], query_int(db, sql));
	}
}

/*
 * Many queued: the counts come from queue_counts, kept by triggers through
 * every kind of change (the agent's and a shell's), and reading them
 * touches a few pages whatever the backlog.
 */
static void
test_queue_counts_follow_every_change(void **state)
{
	struct fixture *f = *state;
	struct store_queue_stats qs;
	sqlite3 *db;
	int hit, miss, hi;

	f->st = open_store(f, 0, 0);
	db = store_db(f->st);
	add_batch(f->st, 0, 6000, PRIORITY_NORMAL);
	add_batch(f->st, 6000, 3000, PRIORITY_LOW);
	add_batch(f->st, 0, 100, PRIORITY_NORMAL); /* replays: ignored */
	assert_counts_true(f->st);
	sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_HIT, &hit, &hi, 1);
	sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &miss, &hi, 1);
	assert_int_equal(store_queue_stats(f->st, &qs), 0);
	sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_HIT, &hit, &hi, 0);
	sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &miss, &hi, 0);
	if (hit + miss > 40)
		fail_msg(
		    "queue stats fetched %d pages for 9000 queued", hit + miss);
	assert_int_equal(qs.pending, 9000);

	exec_ok(db, "UPDATE readings SET state = 2 WHERE seq <= 1000");
	assert_counts_true(f->st);
	exec_ok(db,
	    "UPDATE readings SET state = 3 WHERE seq BETWEEN 1001 AND "
	    "1100");
	assert_counts_true(f->st);
	exec_ok(db,
	    "UPDATE readings SET state = 0 WHERE seq BETWEEN 1001 AND "
	    "1050");
	assert_counts_true(f->st);
	exec_ok(db,
	    "UPDATE readings SET priority = 0 WHERE seq BETWEEN 2000 "
	    "AND 2099");
	assert_counts_true(f->st);
	exec_ok(db, "DELETE FROM readings WHERE seq BETWEEN 5000 AND 7000");
	assert_counts_true(f->st);
	exec_ok(db, "DELETE FROM readings WHERE state = 2");
	assert_counts_true(f->st);
	exec_ok(db,
	    "INSERT INTO events (id, rule, kind, device, sensor, ts, value, "
	    "severity, priority) VALUES (randomblob(32), 'r', 'fire', 'd', "
	    "'s', 1, 2, 1, 1)");
	assert_counts_true(f->st);
	assert_int_equal(store_queue_stats(f->st, &qs), 0);
	assert_int_equal(qs.by_priority[PRIORITY_HIGH], 1);
}

static void
test_checkpoint(void **state)
{
	struct fixture *f = *state;
	long long db_size, wal;

	/* Threshold far away: a plain checkpoint leaves the WAL alone. */
	f->st = open_store(f, 1000000, 0);
	add_batch(f->st, 0, 2000, PRIORITY_NORMAL);
	db_size = file_size(f->data, "outpost.db");
	wal = store_wal_bytes(f->st);
	assert_true(wal > 0);
	assert_int_equal(wal, file_size(f->data, "outpost.db-wal"));
	assert_int_equal(store_checkpoint(f->st, 0), 0);
	assert_int_equal(file_size(f->data, "outpost.db"), db_size);
	assert_int_equal(store_wal_bytes(f->st), wal);

	/* Forced: copied into the database and the WAL truncated to 0. */
	assert_int_equal(store_checkpoint(f->st, 1), 0);
	assert_int_equal(store_wal_bytes(f->st), 0);
	assert_true(file_size(f->data, "outpost.db") > db_size);
	assert_int_equal(
	    store_db_bytes(f->st), file_size(f->data, "outpost.db"));
	assert_int_equal(store_db_bytes(f->st) % 4096, 0);
	assert_int_equal(store_count_readings(f->st), 2000);
	store_free(f->st);

	/* Threshold of 10 pages: the next plain checkpoint copies. */
	f->st = open_store(f, 10, 0);
	add_batch(f->st, 2000, 2000, PRIORITY_NORMAL);
	db_size = file_size(f->data, "outpost.db");
	assert_true(store_wal_bytes(f->st) > 10 * 4096);
	assert_int_equal(store_checkpoint(f->st, 0), 0);
	assert_true(file_size(f->data, "outpost.db") > db_size);
	/* Copied already: the next one has nothing over the threshold. */
	db_size = file_size(f->data, "outpost.db");
	assert_int_equal(store_checkpoint(f->st, 0), 0);
	assert_int_equal(file_size(f->data, "outpost.db"), db_size);

	/* Purged pages stay in the file as free pages. */
	assert_int_equal(store_db_free_bytes(f->st), 0);
	exec_ok(store_db(f->st), "DELETE FROM readings");
	assert_true(store_db_free_bytes(f->st) > 0);
	assert_true(store_db_free_bytes(f->st) < store_db_bytes(f->st));
}

static void
test_meta_and_audit(void **state)
{
	struct fixture *f = *state;
	struct timespec now;
	sqlite3_stmt *s;
	char buf[32], small[4];
	double ts;

	f->st = open_store(f, 0, 0);
	assert_int_equal(store_meta_get(f->st, "agent_id", buf, sizeof buf), 1);
	assert_string_equal(buf, "");
	assert_int_equal(
	    store_meta_get(f->st, "shed_total", buf, sizeof buf), 0);
	assert_string_equal(buf, "0");
	assert_int_equal(
	    store_meta_get(f->st, "created_at", buf, sizeof buf), 0);
	clock_gettime(CLOCK_REALTIME, &now);
	assert_true(llabs(atoll(buf) - (long long)now.tv_sec) < 60);

	assert_int_equal(store_meta_set(f->st, "agent_id", "trawler-7"), 0);
	assert_int_equal(store_meta_set(f->st, "agent_id", "trawler-8"), 0);
	assert_int_equal(store_meta_get(f->st, "agent_id", buf, sizeof buf), 0);
	assert_string_equal(buf, "trawler-8");
	assert_int_equal(
	    store_meta_get(f->st, "agent_id", small, sizeof small), -1);
	assert_non_null(strstr(store_errmsg(f->st), "longer than 4"));
	assert_int_equal(store_meta_set(f->st, "cleared", NULL), 0);
	assert_int_equal(store_meta_get(f->st, "cleared", buf, sizeof buf), 0);
	assert_string_equal(buf, "");

	assert_int_equal(store_audit(f->st, "start", NULL), 0);
	assert_int_equal(store_audit(f->st, "admin_purge",
			     "{\"older_than_s\":604800,\"purged\":12}"),
	    0);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->st),
			     "SELECT ts, kind, "
			     "detail FROM audit ORDER BY seq",
			     -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	ts = sqlite3_column_double(s, 0);
	assert_true(fabs(ts - (double)now.tv_sec) < 60);
	assert_string_equal((const char *)sqlite3_column_text(s, 1), "start");
	assert_int_equal(sqlite3_column_type(s, 2), SQLITE_NULL);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal(
	    (const char *)sqlite3_column_text(s, 1), "admin_purge");
	assert_string_equal((const char *)sqlite3_column_text(s, 2),
	    "{\"older_than_s\":604800,\"purged\":12}");
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
}

/*
 * A child commits batches, reports each count on a pipe only after
 * store_commit returned, starts one more batch and SIGKILLs itself. The
 * parent must find every reported reading and none of the last batch.
 */
static void
test_kill9_after_commit(void **state)
{
	struct fixture *f = *state;
	struct store *st;
	struct reading r;
	long long n = 0, got = 0, v;
	char buf[16];
	pid_t pid;
	int fds[2], status, b, i;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(fds[0]);
		st = open_store(f, 0, 0);
		for (b = 0; b < 5; b++) {
			if (store_begin(st) == -1)
				_exit(3);
			for (i = 0; i < 200; i++) {
				reading_make(&r, b * 200 + i, PRIORITY_NORMAL);
				if (store_add_reading(st, &r) == -1)
					_exit(3);
			}
			if (store_commit(st) == -1)
				_exit(3);
			n += 200;
			if (write(fds[1], &n, sizeof n) != sizeof n)
				_exit(4);
		}
		store_begin(st);
		for (i = 0; i < 100; i++) {
			reading_make(&r, 10000 + i, PRIORITY_NORMAL);
			store_add_reading(st, &r);
		}
		kill(getpid(), SIGKILL);
		_exit(5);
	}
	close(fds[1]);
	while (read(fds[0], &v, sizeof v) == sizeof v)
		got = v;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(got, 1000);
	/* Nothing was checkpointed: recovery reads the WAL. */
	assert_true(file_size(f->data, "outpost.db-wal") > 0);

	f->st = open_store(f, 0, 0);
	assert_int_equal(store_count_readings(f->st), got);
	query_text(store_db(f->st), "PRAGMA integrity_check", buf, sizeof buf);
	assert_string_equal(buf, "ok");
	/* The lock died with the child. */
	add_batch(f->st, 20000, 1, PRIORITY_LOW);
	assert_int_equal(store_count_readings(f->st), got + 1);
}

static void
test_integrity_after_everything(void **state)
{
	struct fixture *f = *state;
	long long n;
	char buf[16];

	f->st = open_store(f, 10, 0);
	fill_queue(f->st);
	add_batch(f->st, 1000, 3000, PRIORITY_LOW);
	assert_int_equal(store_checkpoint(f->st, 0), 0);
	assert_int_equal(store_requeue_in_flight(f->st, &n), 0);
	assert_int_equal(store_purge_sent(f->st, 1e12, &n), 0);
	assert_int_equal(store_checkpoint(f->st, 1), 0);
	query_text(store_db(f->st), "PRAGMA integrity_check", buf, sizeof buf);
	assert_string_equal(buf, "ok");
	store_free(f->st);
	f->st = open_store(f, 10, 0);
	query_text(store_db(f->st), "PRAGMA integrity_check", buf, sizeof buf);
	assert_string_equal(buf, "ok");
	assert_int_equal(store_count_readings(f->st), 30 + 3000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_open_modes_and_pragmas, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_page_size_of_a_new_store, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_queue_counts_follow_every_change, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_not_a_database_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_one_agent_per_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_group_commit_and_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rollback_and_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stored_columns_and_views, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_queue_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_requeue_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_purge_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stats_cost_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_meta_and_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kill9_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_integrity_after_everything, setup, teardown),
	};
	FILE *devnull;

	/* Failures are logged by design here; keep the test output readable. */
	if ((devnull = fopen("/dev/null", "w")) != NULL)
		log_set_stream(devnull);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
