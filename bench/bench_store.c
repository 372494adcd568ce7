/*
 * Insert rate of the store (store_add_reading in group commits) against
 * the raw SQLite floor: the same rows, ids, pragmas and indexes through
 * one bare prepared statement, so store.c's own overhead is the ratio.
 * Then the cost of the queue statistics and of a purge on the big table.
 *
 * usage: bench_store [rows]	(default 1000000; scratch dirs in /tmp)
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "recid.h"
#include "store.h"

#define BENCH_TEMPLATES	16

/* Realistic names: a fishing vessel's sensors. */
static const char *const bench_names[BENCH_TEMPLATES][3] = {
	{ "hold", "temp.hold.fore", "celsius" },
	{ "hold", "temp.hold.aft", "celsius" },
	{ "hold", "humidity.hold", "percent" },
	{ "engine", "temp.engine.coolant", "celsius" },
	{ "engine", "rpm.engine.main", "rpm" },
	{ "engine", "pressure.oil", "kPa" },
	{ "engine", "fuel.rate", "l/h" },
	{ "tank", "fuel.level.port", "percent" },
	{ "tank", "fuel.level.starboard", "percent" },
	{ "deck", "wind.speed", "m/s" },
	{ "deck", "wind.direction", "degrees" },
	{ "bridge", "gps.speed", "knots" },
	{ "bridge", "heading", "degrees" },
	{ "winch", "load.winch.port", "kN" },
	{ "winch", "load.winch.starboard", "kN" },
	{ "system", "cpu.usage", "percent" },
};

struct bench {
	struct reading	 templates[BENCH_TEMPLATES];
	unsigned char	(*ids)[RECORD_ID_LEN];	/* one per row */
	long		 rows;
};

static double
bench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static void
bench_mkdtemp(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/bench_store.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

/* Row i of the workload: a template, a clock and a slowly moving value. */
static void
bench_row(const struct bench *b, long i, struct reading *r)
{
	*r = b->templates[i % BENCH_TEMPLATES];
	r->ts = 1717000000.0 + (double)i * 0.01;
	r->value = 20.0 + (double)(i % 1000) * 0.125;
	r->mono_ns = 1000000000ULL + (uint64_t)i * 10000000ULL;
	memcpy(r->id, b->ids[i], RECORD_ID_LEN);
}

static void
bench_prepare(struct bench *b, long rows)
{
	uint64_t	 n;
	long		 i;

	b->rows = rows;
	memset(b->templates, 0, sizeof b->templates);
	for (i = 0; i < BENCH_TEMPLATES; i++) {
		snprintf(b->templates[i].device, READING_DEVICE_MAX, "%s",
		    bench_names[i][0]);
		snprintf(b->templates[i].sensor, READING_SENSOR_MAX, "%s",
		    bench_names[i][1]);
		snprintf(b->templates[i].unit, READING_UNIT_MAX, "%s",
		    bench_names[i][2]);
		b->templates[i].priority = i == 3 ? PRIORITY_CRITICAL :
		    PRIORITY_NORMAL;
	}
	/* Ids are the pipeline's cost, not the store's: hash them first. */
	if ((b->ids = calloc((size_t)rows, RECORD_ID_LEN)) == NULL) {
		perror("calloc");
		exit(1);
	}
	for (i = 0; i < rows; i++) {
		n = (uint64_t)i;
		recid_sha256(&n, sizeof n, b->ids[i]);
	}
}

static struct store *
bench_store_open(const char *dir)
{
	struct store_opts	 so = { 0 };
	struct store		*st;
	char			*cause = NULL;

	if ((st = store_open(dir, &so, &cause)) == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		exit(1);
	}
	return st;
}

static void
bench_store_insert(struct bench *b, long txn, const char *dir)
{
	struct store	*st = bench_store_open(dir);
	struct reading	 r;
	double		 t0, t;
	long		 i;

	t0 = bench_now();
	for (i = 0; i < b->rows; i++) {
		if (i % txn == 0 && store_begin(st) == -1)
			goto fail;
		bench_row(b, i, &r);
		if (store_add_reading(st, &r) == -1)
			goto fail;
		if ((i + 1) % txn == 0 || i + 1 == b->rows) {
			if (store_commit(st) == -1)
				goto fail;
			/* What the agent does: a compare, sometimes a copy. */
			store_checkpoint(st, 0);
		}
	}
	t = bench_now() - t0;
	if (store_count_readings(st) != b->rows) {
		fprintf(stderr, "store: %lld rows, wanted %ld\n",
		    store_count_readings(st), b->rows);
		exit(1);
	}
	printf("store_insert txn=%ld rows=%ld rate=%.0f/s\n", txn, b->rows,
	    (double)b->rows / t);
	fflush(stdout);
	store_free(st);
	return;
fail:
	fprintf(stderr, "store: %s\n", store_errmsg(st));
	exit(1);
}

static void
bench_sqlite_check(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "sqlite: %s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

/*
 * The floor: schema made by store_open (so the indexes are exactly the
 * store's), then a connection of its own with the same pragmas and
 * SQLite's own autocheckpoint at the same 1000 pages, one INSERT.
 */
static void
bench_sqlite_floor(struct bench *b, long txn, const char *dir)
{
	sqlite3_stmt	*ins, *begin, *commit;
	sqlite3		*db;
	struct reading	 r;
	char		 path[512];
	double		 t0, t;
	long		 i;

	store_free(bench_store_open(dir));
	snprintf(path, sizeof path, "%s/outpost.db", dir);
	bench_sqlite_check(NULL, sqlite3_open_v2(path, &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL), "open");
	bench_sqlite_check(db, sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -512;"
	    "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 1000",
	    NULL, NULL, NULL), "pragmas");
	bench_sqlite_check(db, sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO "
	    "readings (id, device, sensor, ts, value, unit, meta, priority, "
	    "mono_ns, synced) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	    -1, &ins, NULL), "prepare");
	bench_sqlite_check(db, sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1,
	    &begin, NULL), "prepare");
	bench_sqlite_check(db, sqlite3_prepare_v2(db, "COMMIT", -1, &commit,
	    NULL), "prepare");

	t0 = bench_now();
	for (i = 0; i < b->rows; i++) {
		if (i % txn == 0) {
			bench_sqlite_check(db, sqlite3_step(begin), "begin");
			sqlite3_reset(begin);
		}
		bench_row(b, i, &r);
		sqlite3_bind_blob(ins, 1, r.id, RECORD_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, r.device, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, r.sensor, -1, SQLITE_STATIC);
		sqlite3_bind_double(ins, 4, r.ts);
		sqlite3_bind_double(ins, 5, r.value);
		sqlite3_bind_text(ins, 6, r.unit, -1, SQLITE_STATIC);
		sqlite3_bind_null(ins, 7);
		sqlite3_bind_int(ins, 8, (int)r.priority);
		sqlite3_bind_int64(ins, 9, (sqlite3_int64)r.mono_ns);
		sqlite3_bind_int(ins, 10, 1);
		bench_sqlite_check(db, sqlite3_step(ins), "insert");
		sqlite3_reset(ins);
		if ((i + 1) % txn == 0 || i + 1 == b->rows) {
			bench_sqlite_check(db, sqlite3_step(commit), "commit");
			sqlite3_reset(commit);
		}
	}
	t = bench_now() - t0;
	printf("sqlite_floor txn=%ld rows=%ld rate=%.0f/s\n", txn, b->rows,
	    (double)b->rows / t);
	fflush(stdout);
	sqlite3_finalize(ins);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_close(db);
}

static void
bench_stats(struct store *st, long rows, const char *label)
{
	struct store_queue_stats	 qs;
	double				 t0, t;
	int				 i;

	/* Once to warm the page cache the way a polled /health would. */
	store_queue_stats(st, &qs);
	t0 = bench_now();
	for (i = 0; i < 10; i++) {
		if (store_queue_stats(st, &qs) == -1) {
			fprintf(stderr, "stats: %s\n", store_errmsg(st));
			exit(1);
		}
	}
	t = (bench_now() - t0) / 10;
	printf("store_queue_stats %s rows=%ld pending=%lld time=%.2fms\n",
	    label, rows, qs.pending, t * 1e3);
	fflush(stdout);
}

/* Statistics with everything queued, then with nearly all sent; purge. */
static void
bench_queries(struct bench *b, const char *dir)
{
	struct store	*st = bench_store_open(dir);
	long long	 purged;
	double		 t0, t;

	bench_stats(st, b->rows, "all_queued");
	if (sqlite3_exec(store_db(st), "UPDATE readings SET state = 2, "
	    "sent_at = ts + 1 WHERE seq % 1000 != 0", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "update: %s\n", sqlite3_errmsg(store_db(st)));
		exit(1);
	}
	store_checkpoint(st, 1);
	bench_stats(st, b->rows, "mostly_sent");
	t0 = bench_now();
	if (store_purge_sent(st, 1e12, &purged) == -1) {
		fprintf(stderr, "purge: %s\n", store_errmsg(st));
		exit(1);
	}
	t = bench_now() - t0;
	printf("store_purge_sent rows=%lld time=%.0fms\n", purged, t * 1e3);
	store_free(st);
}

int
main(int argc, char **argv)
{
	static const long	 txns[] = { 100, 1000 };
	struct bench		 b;
	char			 dir[64];
	long			 rows = 1000000;
	size_t			 i;

	if (argc > 1 && (rows = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: bench_store [rows]\n");
		return 1;
	}
	bench_prepare(&b, rows);
	for (i = 0; i < sizeof txns / sizeof *txns; i++) {
		bench_mkdtemp(dir, sizeof dir);
		bench_store_insert(&b, txns[i], dir);
		if (i == sizeof txns / sizeof *txns - 1)
			bench_queries(&b, dir);
		nftw(dir, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS);

		bench_mkdtemp(dir, sizeof dir);
		bench_sqlite_floor(&b, txns[i], dir);
		nftw(dir, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(b.ids);
	return 0;
}
